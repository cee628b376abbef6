import type { DecodedRevert } from "./contracts";
import type { Intent, IntentActions } from "./intent-senders";
import { payloadToTerms, type PvPIntentPayload } from "./outbox";

/**
 * Cross-currency pairs: one `settlePvP(legA, legB, authorization)` transaction per intent, which
 * releases both legs or neither. Unlike `release`, the escrow takes no empty authorization from
 * an attester sender for a pair: the signer attests with an EIP-712 PvPRelease signature over
 * both legs' term hashes. A refused preflight's custom error says what becomes of the intent; the
 * legs themselves stay LOCKED and are refunded at expiry if the pair never settles.
 */

/** Refusals no retry can change: the pair can no longer settle together. */
const FINAL = new Set(["PaymentAlreadyRefunded", "LockExpired", "TermsMismatch", "PvPLegsNotLinked", "PvPSameToken", "PvPCounterpartyMismatch", "PvPConditionMismatch"]);

export async function sendPvPIntents(actions: IntentActions, intents: Intent[]): Promise<void> {
  for (const intent of intents) {
    const payload = JSON.parse(intent.payload) as PvPIntentPayload;
    const legA = payloadToTerms({ terms: payload.legA });
    const legB = payloadToTerms({ terms: payload.legB });
    const authorization = await actions.attestPvP(legA, legB);
    const checked = await actions.preflight(actions.escrow.address, actions.escrow.settlePvPData(legA, legB, authorization));
    if (checked.ok) await actions.submit([intent], checked.call);
    else await refusePvP(actions, intent, checked.revert);
  }
}

function refusePvP(actions: IntentActions, intent: Intent, revert: DecodedRevert): Promise<void> {
  // Both legs are released together or not at all, so one released leg means the pair settled.
  if (revert.name === "PaymentAlreadyReleased") return actions.settle([intent], { status: "done", last_error: null });
  if (revert.name !== null && FINAL.has(revert.name)) return actions.fail(intent, revert.reason);
  // A leg's lock in flight (PaymentNotFound), a paused escrow or token, a suspended payee: each can change.
  return actions.retryOrGiveUp(intent, revert.reason);
}
