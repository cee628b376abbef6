import { randomUUID } from "node:crypto";
import type { Db } from "../db/database";
import type { ChainIntentKind } from "../db/schema";
import type { LockTerms } from "./typed-data";

/**
 * The transactional outbox of chain work. A state change and the intent it implies are written in
 * one database transaction; the submitter later claims due intents by lease and sends them. At most
 * one intent per payment and kind exists (a unique index), so enqueueing is idempotent.
 */

/** JSON form of a lock: the payer and the escrow's LockRequest, amounts and times as strings. */
export interface LockIntentPayload {
  payer: string;
  request: {
    uetr: string;
    payee: string;
    token: string;
    amount: string;
    expiry: string;
    hashlock: string;
    linkedUetr: string;
  };
}

/** JSON form of the terms of a locked payment, for release and refund. */
export interface TermsIntentPayload {
  terms: { [K in keyof LockTerms]: string };
}

/** JSON form of a PvP pair's terms, for settlePvP (leg A pays the provider, who pays leg B). */
export interface PvPIntentPayload {
  legA: TermsIntentPayload["terms"];
  legB: TermsIntentPayload["terms"];
}

/**
 * A funds movement's mint or burn (the intent's uetr is the movement id): `DepositToken.mint` /
 * `burn(account, amount, evidence)` on `token`, where evidence is `movementEvidence(movementId)`.
 */
export interface IssuanceIntentPayload {
  token: string;
  account: string;
  /** Minor units, as a decimal string. */
  amount: string;
  evidence: string;
}

/**
 * A settlement window's `NettingSettlement.settleWindow` call (the intent's uetr is the window id):
 * the round's root, positions (amounts as decimal strings, negative for payers) and approvals.
 */
export interface SettleWindowIntentPayload {
  /** The NettingSettlement contract. */
  contract: string;
  windowId: string;
  paymentsRoot: string;
  positions: { bank: string; token: string; amount: string }[];
  approvals: string[];
}

export type IntentPayload<K extends ChainIntentKind> = K extends "lock"
  ? LockIntentPayload
  : K extends "mint" | "burn"
    ? IssuanceIntentPayload
    : K extends "pvp"
      ? PvPIntentPayload
      : K extends "settle_window"
        ? SettleWindowIntentPayload
        : TermsIntentPayload;

/**
 * Writes an intent in the caller's transaction. `uetr` is the payment's UETR, or for a mint or burn
 * the funds movement's id; a second intent of the same uetr and kind is ignored.
 */
export async function enqueueChainIntent<K extends ChainIntentKind>(
  db: Db,
  intent: { kind: K; uetr: string; payload: IntentPayload<K>; notBefore?: number },
  now = Date.now(),
): Promise<void> {
  await db
    .insertInto("chain_intents")
    .values({
      id: randomUUID(),
      kind: intent.kind,
      uetr: intent.uetr,
      payload: JSON.stringify(intent.payload),
      status: "pending",
      attempts: 0,
      next_attempt_at: intent.notBefore ?? now,
      lease_owner: null,
      lease_until: null,
      tx_hash: null,
      last_error: null,
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.columns(["uetr", "kind"]).doNothing())
    .execute();
}

export function termsToPayload(terms: LockTerms): TermsIntentPayload {
  return {
    terms: {
      uetr: terms.uetr,
      payer: terms.payer,
      payee: terms.payee,
      token: terms.token,
      amount: terms.amount.toString(),
      expiry: terms.expiry.toString(),
      hashlock: terms.hashlock,
      linkedUetr: terms.linkedUetr,
    },
  };
}

export function payloadToTerms(payload: TermsIntentPayload): LockTerms {
  const t = payload.terms;
  return { ...t, amount: BigInt(t.amount), expiry: BigInt(t.expiry) };
}
