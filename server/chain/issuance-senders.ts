import { depositTokenInterface, type DecodedRevert } from "./contracts";
import type { Intent, IntentActions } from "./intent-senders";
import type { IssuanceIntentPayload } from "./outbox";

/**
 * Funds movements' mints and burns: one transaction per intent, `mint` / `burn(account, amount,
 * evidence)` on the intent's deposit token (the token has no batch call). The token's custom error,
 * decoded from a refused preflight, says what becomes of the intent.
 */

/** Refusals no retry can change: the intent itself is malformed. */
const MALFORMED = new Set(["ZeroAmount", "MissingEvidence"]);

/** Preflights every claimed mint and burn, then sends each accepted one alone, in claim order. */
export async function sendIssuanceIntents(actions: IntentActions, intents: Intent[]): Promise<void> {
  const checked = await Promise.all(
    intents.map((intent) => {
      const { to, data } = issuanceCall(intent);
      return actions.preflight(to, data);
    }),
  );
  for (const [k, result] of checked.entries()) {
    if (result.ok) await actions.submit([intents[k]], result.call);
    else await refuseIssuance(actions, intents[k], result.revert);
  }
}

function issuanceCall(intent: Intent): { to: string; data: string } {
  const payload = JSON.parse(intent.payload) as IssuanceIntentPayload;
  const args = [payload.account, BigInt(payload.amount), payload.evidence];
  return { to: payload.token, data: depositTokenInterface.encodeFunctionData(intent.kind, args) };
}

function refuseIssuance(actions: IntentActions, intent: Intent, revert: DecodedRevert): Promise<void> {
  // The token takes each evidence once and this one is the movement's own: the supply already moved
  // for it (an earlier send whose fate went unrecorded, or a racing worker's). Sending again could
  // only be refused; the indexer reports the event to the funds service.
  if (revert.name === "EvidenceAlreadyUsed") return actions.settle([intent], { status: "done", last_error: null });
  if (revert.name !== null && MALFORMED.has(revert.name)) return actions.fail(intent, revert.reason);
  // A paused token, a holder the registry does not let receive, a balance or allowance short of a
  // burn, a signer without ISSUER_ROLE: each can change, so the intent waits until its attempts run out.
  return actions.retryOrGiveUp(intent, revert.reason);
}
