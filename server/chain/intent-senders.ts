import type { ChainIntentsTable } from "../db/schema";
import { payloadToTerms, type LockIntentPayload, type TermsIntentPayload } from "./outbox";
import { ZERO_BYTES32, type LockTerms } from "./typed-data";
import type { DecodedRevert, EscrowCalls, PreparedCall } from "./contracts";

/**
 * What the submitter sends for the pending intents it claimed: each kind (locks, releases, refunds)
 * goes out as one batch call (lockBatchFor, releaseBatch, refundBatch), all or none on chain. An
 * intent already settled on chain is done without a transaction. A batch that would revert is
 * split: each intent is preflighted alone, the refused ones are retried or failed on their own,
 * and the rest go out together. The submitter owns leases, nonces and storage (see `IntentActions`).
 */

export type Intent = ChainIntentsTable;
export type IntentPatch = Partial<Pick<Intent, "status" | "attempts" | "next_attempt_at" | "tx_hash" | "last_error">>;

/** What the senders may do with the intents this run holds the lease of; every write is fenced on it. */
export interface IntentActions {
  escrow: EscrowCalls;
  /** Writes the intents' next state and ends their lease. */
  settle(intents: Intent[], patch: IntentPatch): Promise<void>;
  /** Back to pending after a backoff; final once the intent has used its attempts. */
  retryOrGiveUp(intent: Intent, reason: string): Promise<void>;
  /** The chain refuses the lock for good: the payment is rejected and the intent failed. */
  rejectLock(intent: Intent, reason: string): Promise<void>;
  /** Signs one transaction for `intents` with the next nonce, stores it with them, then broadcasts it. */
  submit(intents: Intent[], call: PreparedCall): Promise<void>;
}

const PAYMENT_STATE = { None: 0n, Locked: 1n, Released: 2n, Refunded: 3n } as const;
const DONE = { status: "done", last_error: null } as const;

interface Item {
  intent: Intent;
}

/** How one kind of intent is called on the escrow, alone and batched, and what a refusal means. */
interface BatchCalls<T extends Item> {
  one(item: T): string;
  many(items: T[]): string;
  refuse(item: T, revert: DecodedRevert): Promise<void>;
}

export async function sendLocks(actions: IntentActions, intents: Intent[]): Promise<void> {
  if (intents.length === 0) return;
  const { escrow } = actions;
  const items = intents.map((intent) => ({ intent, lock: JSON.parse(intent.payload) as LockIntentPayload }));
  const states = await Promise.all(items.map((i) => escrow.paymentState(i.lock.request.uetr)));
  await actions.settle(items.filter((_, k) => states[k] !== PAYMENT_STATE.None).map((i) => i.intent), DONE); // a lock already on chain is done
  await sendBatched(actions, items.filter((_, k) => states[k] === PAYMENT_STATE.None), {
    one: (i) => escrow.lockData(i.lock),
    many: (items) => escrow.lockBatchData(items.map((i) => i.lock)),
    async refuse({ intent }, revert) {
      if (revert.name === "PaymentAlreadyExists") return actions.settle([intent], DONE);
      if (revert.name === "EnforcedPause") return actions.retryOrGiveUp(intent, revert.reason); // the escrow resumes
      return actions.rejectLock(intent, revert.reason);
    },
  });
}

/** Releases (attested by the signer) and refunds, each kind in its own batch. */
export async function sendTermsIntents(actions: IntentActions, intents: Intent[]): Promise<void> {
  const { escrow } = actions;
  const live = await liveTerms(actions, intents);
  const refunds = live.filter((i) => i.intent.kind === "refund");
  const releases = await Promise.all(
    live.filter((i) => i.intent.kind === "release").map(async (i) => ({ ...i, authorization: await escrow.attest(i.terms) })),
  );
  await sendBatched(actions, releases, {
    one: (r) => escrow.releaseData(r),
    many: (rs) => escrow.releaseBatchData(rs),
    refuse: (r, revert) => refuseTerms(actions, r.intent, revert),
  });
  await sendBatched(actions, refunds, {
    one: (r) => escrow.refundData(r.terms),
    many: (rs) => escrow.refundBatchData(rs.map((r) => r.terms)),
    refuse: (r, revert) => refuseTerms(actions, r.intent, revert),
  });
}

/** The intents whose payment is locked on chain; the others are settled here from its state. */
async function liveTerms(actions: IntentActions, intents: Intent[]): Promise<{ intent: Intent; terms: LockTerms }[]> {
  const items = intents.map((intent) => ({ intent, terms: payloadToTerms(JSON.parse(intent.payload) as TermsIntentPayload) }));
  const states = await Promise.all(items.map((i) => actions.escrow.paymentState(i.terms.uetr)));
  const live: { intent: Intent; terms: LockTerms }[] = [];
  for (const [k, item] of items.entries()) {
    const { intent, terms } = item;
    if (states[k] === PAYMENT_STATE.Locked) {
      if (intent.kind === "release" && terms.hashlock !== ZERO_BYTES32) {
        await actions.settle([intent], { status: "failed", last_error: "hashlocked payment: the relay holds no preimage" });
      } else {
        live.push(item);
      }
    } else if (states[k] === PAYMENT_STATE.None) {
      await actions.retryOrGiveUp(intent, "payment not locked on chain"); // lock in flight?
    } else {
      await settleFromOutcome(actions, intent, states[k] === PAYMENT_STATE.Released ? "released" : "refunded");
    }
  }
  return live;
}

/** A payment already released or refunded: done if that is what the intent wanted, else failed. */
function settleFromOutcome(actions: IntentActions, intent: Intent, outcome: "released" | "refunded"): Promise<void> {
  const wanted = intent.kind === "release" ? "released" : "refunded";
  return actions.settle([intent], outcome === wanted ? DONE : { status: "failed", last_error: `payment already ${outcome}` });
}

function refuseTerms(actions: IntentActions, intent: Intent, revert: DecodedRevert): Promise<void> {
  // Settled on chain since its state was read (another relay process, or the payer's own call).
  if (revert.name === "PaymentAlreadyReleased") return settleFromOutcome(actions, intent, "released");
  if (revert.name === "PaymentAlreadyRefunded") return settleFromOutcome(actions, intent, "refunded");
  return actions.retryOrGiveUp(intent, revert.reason);
}

async function sendBatched<T extends Item>(actions: IntentActions, items: T[], calls: BatchCalls<T>): Promise<void> {
  if (items.length === 0) return;
  const { escrow } = actions;
  if (items.length > 1) {
    const batch = await escrow.preflight(calls.many(items));
    if (batch.ok) return actions.submit(items.map((i) => i.intent), batch.call);
  }
  // The batch would revert (or there is one item): try each alone to find the refused ones.
  const singles = await Promise.all(items.map((item) => escrow.preflight(calls.one(item))));
  const accepted: { item: T; call: PreparedCall }[] = [];
  for (const [k, result] of singles.entries()) {
    if (result.ok) accepted.push({ item: items[k], call: result.call });
    else await calls.refuse(items[k], result.revert);
  }
  if (accepted.length > 1) {
    const rest = accepted.map((a) => a.item);
    const batch = await escrow.preflight(calls.many(rest));
    if (batch.ok) return actions.submit(rest.map((i) => i.intent), batch.call);
  }
  // Each passes alone but not together (e.g. a shared allowance): send them one by one.
  for (const { item, call } of accepted) await actions.submit([item.intent], call);
}
