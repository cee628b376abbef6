import type { ChainIntentsTable } from "../db/schema";
import { payloadToTerms, type LockIntentPayload, type TermsIntentPayload } from "./outbox";
import { ZERO_BYTES32, type LockTerms } from "./typed-data";
import type { DecodedRevert, EscrowCalls } from "./contracts";
import type { CallPreflight, PreparedCall } from "./preflight";

/**
 * What the submitter sends for the pending intents it claimed: each kind (locks, releases, refunds)
 * goes out as one batch call (lockBatchFor, releaseBatch, refundBatch), all or none on chain. The
 * chain's state is not read first: the batch's preflight proves every payment in it is ready, and
 * only when it would revert is each intent preflighted alone; the escrow's custom error then says
 * what became of a refused one (already locked, released or refunded: done, or failed; else
 * retried), and the rest go out together. The submitter owns leases, nonces and storage.
 */

export type Intent = ChainIntentsTable;
export type IntentPatch = Partial<Pick<Intent, "status" | "attempts" | "next_attempt_at" | "tx_hash" | "last_error">>;

/** What the senders may do with the intents this run holds the lease of; every write is fenced on it. */
export interface IntentActions {
  escrow: EscrowCalls;
  /** Checks a call as the signer before it is signed; a revert is a value. */
  preflight: CallPreflight["preflight"];
  /** Writes the intents' next state and ends their lease. */
  settle(intents: Intent[], patch: IntentPatch): Promise<void>;
  /** Back to pending after a backoff; final once the intent has used its attempts. */
  retryOrGiveUp(intent: Intent, reason: string): Promise<void>;
  /** The chain refuses the intent for good: it fails, and its payment or funds movement is told why. */
  fail(intent: Intent, reason: string): Promise<void>;
  /** Signs one transaction for `intents` with the next nonce and stores it with them; its broadcast follows. */
  submit(intents: Intent[], call: PreparedCall): Promise<void>;
  /** A read-only eth_call; resolves to the returned data. */
  call(to: string, data: string): Promise<string>;
  /** The signer's EIP-712 PvPRelease signature over both legs, settlePvP's authorization. */
  attestPvP(legA: LockTerms, legB: LockTerms): Promise<string>;
}

const PAYMENT_STATE = { None: 0n, Locked: 1n, Released: 2n, Refunded: 3n } as const;
/** `release`'s authorization when an attester sends the call itself. */
const SENT_BY_ATTESTER = "0x";
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

/** Locks for their payers, as one lockBatchFor (the banks' operator allowances let the signer lock). */
export async function sendLocks(actions: IntentActions, intents: Intent[]): Promise<void> {
  const { escrow } = actions;
  const locks = intents.map((intent) => ({ intent, lock: JSON.parse(intent.payload) as LockIntentPayload }));
  await sendBatched(actions, locks, {
    one: (l) => escrow.lockData(l.lock),
    many: (ls) => escrow.lockBatchData(ls.map((l) => l.lock)),
    async refuse({ intent }, revert) {
      if (revert.name === "PaymentAlreadyExists") return actions.settle([intent], DONE); // a lock already on chain is done
      if (revert.name === "EnforcedPause") return actions.retryOrGiveUp(intent, revert.reason); // the escrow resumes
      return actions.fail(intent, revert.reason);
    },
  });
}

/** Releases (attested by the signer, which sends them) and refunds, each kind in its own batch. */
export async function sendTermsIntents(actions: IntentActions, intents: Intent[]): Promise<void> {
  const { escrow } = actions;
  const items = intents.map((intent) => ({ intent, terms: payloadToTerms(JSON.parse(intent.payload) as TermsIntentPayload) }));
  const hashlocked = items.filter((i) => i.intent.kind === "release" && i.terms.hashlock !== ZERO_BYTES32);
  for (const { intent, terms } of hashlocked) await settleHashlocked(actions, intent, terms);
  // The signer holds the escrow's attester role: a release it sends itself is its attestation, so
  // no EIP-712 signature is made per payment (nor checked on chain).
  const releases = items
    .filter((i) => i.intent.kind === "release" && i.terms.hashlock === ZERO_BYTES32)
    .map((i) => ({ ...i, authorization: SENT_BY_ATTESTER }));
  await sendBatched(actions, releases, {
    one: (r) => escrow.releaseData(r),
    many: (rs) => escrow.releaseBatchData(rs),
    refuse: (r, revert) => refuseTerms(actions, r.intent, revert),
  });
  const refunds = items.filter((i) => i.intent.kind === "refund");
  await sendBatched(actions, refunds, {
    one: (r) => escrow.refundData(r.terms),
    many: (rs) => escrow.refundBatchData(rs.map((r) => r.terms)),
    refuse: (r, revert) => refuseTerms(actions, r.intent, revert),
  });
}

/** The relay holds no preimage: such a release is done only if the payment was released by others. */
async function settleHashlocked(actions: IntentActions, intent: Intent, terms: LockTerms): Promise<void> {
  const state = await actions.escrow.paymentState(terms.uetr);
  if (state === PAYMENT_STATE.None) return actions.retryOrGiveUp(intent, "payment not locked on chain"); // lock in flight?
  if (state === PAYMENT_STATE.Locked) {
    return actions.settle([intent], { status: "failed", last_error: "hashlocked payment: the relay holds no preimage" });
  }
  return settleFromOutcome(actions, intent, state === PAYMENT_STATE.Released ? "released" : "refunded");
}

/** A payment already released or refunded: done if that is what the intent wanted, else failed. */
function settleFromOutcome(actions: IntentActions, intent: Intent, outcome: "released" | "refunded"): Promise<void> {
  const wanted = intent.kind === "release" ? "released" : "refunded";
  return actions.settle([intent], outcome === wanted ? DONE : { status: "failed", last_error: `payment already ${outcome}` });
}

/** Why the escrow refuses a release or refund, read from the revert of its preflight. */
function refuseTerms(actions: IntentActions, intent: Intent, revert: DecodedRevert): Promise<void> {
  if (revert.name === "PaymentAlreadyReleased") return settleFromOutcome(actions, intent, "released");
  if (revert.name === "PaymentAlreadyRefunded") return settleFromOutcome(actions, intent, "refunded");
  if (revert.name === "PaymentNotFound") return actions.retryOrGiveUp(intent, "payment not locked on chain"); // lock in flight?
  return actions.retryOrGiveUp(intent, revert.reason);
}

async function sendBatched<T extends Item>(actions: IntentActions, items: T[], calls: BatchCalls<T>): Promise<void> {
  if (items.length === 0) return;
  const preflight = (data: string, smaller?: () => string) => actions.preflight(actions.escrow.address, data, smaller);
  if (items.length > 1) {
    const batch = await preflight(calls.many(items), () => calls.many(items.slice(0, 2)));
    if (batch.ok) return actions.submit(items.map((i) => i.intent), batch.call);
  }
  // The batch would revert (or there is one item): try each alone to find the refused ones.
  const singles = await Promise.all(items.map((item) => preflight(calls.one(item))));
  const accepted: { item: T; call: PreparedCall }[] = [];
  for (const [k, result] of singles.entries()) {
    if (result.ok) accepted.push({ item: items[k], call: result.call });
    else await calls.refuse(items[k], result.revert);
  }
  if (accepted.length > 1) {
    const rest = accepted.map((a) => a.item);
    const batch = await preflight(calls.many(rest), () => calls.many(rest.slice(0, 2)));
    if (batch.ok) return actions.submit(rest.map((i) => i.intent), batch.call);
  }
  // Each passes alone but not together (e.g. a shared allowance): send them one by one.
  for (const { item, call } of accepted) await actions.submit([item.intent], call);
}
