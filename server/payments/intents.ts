import type { Db } from "../db/database";
import { enqueueChainIntent, termsToPayload, type LockIntentPayload } from "../chain/outbox";
import { uetrToBytes16, ZERO_BYTES16, ZERO_BYTES32, type LockTerms } from "../chain/typed-data";
import type { PaymentContext } from "./store";
import type { Payment } from "./types";

/**
 * The chain intents a payment implies. Release and refund must pass the escrow the exact terms it
 * hashed at lock, so they are read back from the payment's lock intent (what was sent) rather than
 * rebuilt from participants and tokens, whose addresses may have changed since.
 */

/** A refund is sent this long after expiry: the chain refuses it before block time reaches expiry. */
export const REFUND_DELAY_MS = 15_000;

/** Seconds since the epoch, as the escrow's uint64 expiry. */
export const expirySeconds = (payment: Payment): bigint => BigInt(Math.floor(payment.expiresAt / 1000));

/** `linkedUetr`: the other leg of a PvP pair; absent for a gross payment. */
export function lockPayload(payment: Payment, parties: { payer: string; payee: string; token: string }, linkedUetr?: string): LockIntentPayload {
  return {
    payer: parties.payer,
    request: {
      uetr: uetrToBytes16(payment.uetr),
      payee: parties.payee,
      token: parties.token,
      amount: payment.amount.value.toString(),
      expiry: expirySeconds(payment).toString(),
      hashlock: ZERO_BYTES32, // attested release: the operator or the payee signs
      linkedUetr: linkedUetr === undefined ? ZERO_BYTES16 : uetrToBytes16(linkedUetr),
    },
  };
}

export async function enqueueLock(ctx: PaymentContext, db: Db, payment: Payment, payload: LockIntentPayload): Promise<void> {
  await enqueueChainIntent(db, { kind: "lock", uetr: payment.uetr, payload }, ctx.now());
}

export async function lockTerms(ctx: PaymentContext, db: Db, payment: Payment): Promise<LockTerms> {
  const intent = await db
    .selectFrom("chain_intents")
    .select("payload")
    .where("uetr", "=", payment.uetr)
    .where("kind", "=", "lock")
    .executeTakeFirst();
  const payload = intent ? (JSON.parse(intent.payload) as LockIntentPayload) : await rebuiltLockPayload(ctx, db, payment);
  const { request } = payload;
  return { ...request, payer: payload.payer, amount: BigInt(request.amount), expiry: BigInt(request.expiry) };
}

/** Only for a payment whose lock intent is gone (e.g. pruned): today's addresses, same terms otherwise. */
async function rebuiltLockPayload(ctx: PaymentContext, db: Db, payment: Payment): Promise<LockIntentPayload> {
  const address = async (bic: string) =>
    (await db.selectFrom("participants").select("address").where("bic", "=", bic).executeTakeFirstOrThrow()).address;
  const token = ctx.chain.tokenAddress(payment.amount.currency);
  if (!token) throw new Error(`payment ${payment.uetr}: no token for ${payment.amount.currency}`);
  return lockPayload(payment, { payer: await address(payment.debtorAgent), payee: await address(payment.creditorAgent), token });
}

export async function enqueueRelease(ctx: PaymentContext, db: Db, payment: Payment): Promise<void> {
  const terms = await lockTerms(ctx, db, payment);
  await enqueueChainIntent(db, { kind: "release", uetr: payment.uetr, payload: termsToPayload(terms) }, ctx.now());
}

export async function enqueueRefund(ctx: PaymentContext, db: Db, payment: Payment): Promise<void> {
  const terms = await lockTerms(ctx, db, payment);
  const notBefore = payment.expiresAt + REFUND_DELAY_MS;
  await enqueueChainIntent(db, { kind: "refund", uetr: payment.uetr, payload: termsToPayload(terms), notBefore }, ctx.now());
}

/**
 * Withdraws the payment's lock intent so it is never sent. Refused (false) once the submitter
 * holds a lease on it or has sent it: the lock may then land on chain whatever we record.
 */
export async function withdrawLock(ctx: PaymentContext, db: Db, payment: Payment): Promise<boolean> {
  let query = db
    .selectFrom("chain_intents")
    .select(["id", "status", "lease_until"])
    .where("uetr", "=", payment.uetr)
    .where("kind", "=", "lock");
  if (ctx.dialect === "postgres") query = query.forUpdate();
  const intent = await query.executeTakeFirst();
  if (!intent) return true;
  const now = ctx.now();
  const leased = intent.lease_until !== null && Number(intent.lease_until) > now;
  if (intent.status !== "pending" || leased) return false;
  await db
    .updateTable("chain_intents")
    .set({ status: "failed", last_error: "cancelled", lease_owner: null, lease_until: null, updated_at: now })
    .where("id", "=", intent.id)
    .execute();
  return true;
}
