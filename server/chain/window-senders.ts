import { nettingInterface, type DecodedRevert } from "./contracts";
import type { Intent, IntentActions } from "./intent-senders";
import type { SettleWindowIntentPayload } from "./outbox";

/**
 * Settlement windows: one `NettingSettlement.settleWindow` transaction per intent. A refused
 * preflight's custom error says what becomes of it: a window already settled with this root is
 * done (an earlier send whose fate went unrecorded; the indexer reports it); a pause, or a signer
 * without the settler role, may change, so the intent waits; anything else (an approval that does
 * not verify, a cap, a balance or an allowance short) fails the window, whose payments move to the
 * next window with the reason.
 */

/** Refusals that can change by themselves, so the intent is tried again. */
const TRANSIENT = new Set(["EnforcedPause", "AccessControlUnauthorizedAccount"]);

export async function sendWindowSettlements(actions: IntentActions, intents: Intent[]): Promise<void> {
  for (const intent of intents) {
    const payload = JSON.parse(intent.payload) as SettleWindowIntentPayload;
    const positions = payload.positions.map((p) => ({ bank: p.bank, token: p.token, amount: BigInt(p.amount) }));
    const data = nettingInterface.encodeFunctionData("settleWindow", [payload.windowId, payload.paymentsRoot, positions, payload.approvals]);
    const checked = await actions.preflight(payload.contract, data);
    if (checked.ok) await actions.submit([intent], checked.call);
    else await refuse(actions, intent, payload, checked.revert);
  }
}

async function refuse(actions: IntentActions, intent: Intent, payload: SettleWindowIntentPayload, revert: DecodedRevert): Promise<void> {
  if (revert.name === "WindowAlreadySettled") {
    const [root] = nettingInterface.decodeFunctionResult("paymentsRootOf", await actions.call(payload.contract, nettingInterface.encodeFunctionData("paymentsRootOf", [payload.windowId])));
    if (String(root).toLowerCase() === payload.paymentsRoot.toLowerCase()) return actions.settle([intent], { status: "done", last_error: null });
    return actions.fail(intent, `window already settled on chain with another root (${String(root)})`);
  }
  if (revert.name === null || TRANSIENT.has(revert.name)) return actions.retryOrGiveUp(intent, revert.reason);
  return actions.fail(intent, revert.reason);
}
