import { randomUUID } from "node:crypto";
import type { Transaction } from "kysely";
import type { Db } from "../db/database";
import type { Database } from "../db/schema";
import type { Quote } from "../fx/types";
import { bankAccountId } from "../ledger/service";
import { failure, success, type Result } from "../shared/result";
import { activeParticipant, admitLeg, checkInput, duplicate, findAgents, newPayment, uetrTaken, writeLeg, type Checked } from "./intake";
import { bicSpellings, inTransaction, sameBic, type PaymentContext } from "./store";
import type { Caller, NewPayment, Payment, PaymentErrorCode } from "./types";

/**
 * Intake of a cross-currency payment: a quote of the debtor bank's becomes two payments, settled
 * payment-versus-payment, in one transaction:
 *
 * - leg A (the caller's UETR): debtor bank -> liquidity provider, the quote's source amount;
 * - leg B (a new UETR): provider -> creditor bank, the quote's target amount.
 *
 * `amount` stays required and must equal the quote's source amount and currency (quote_mismatch
 * otherwise), so that a client never pays an amount it did not state. Each leg passes its payer's
 * risk screen and funds check (the provider must hold the target amount); any refusal refuses the
 * whole payment. Every check reads; the quote is consumed (once, even under concurrency) only
 * after all of them pass, so a refusal leaves nothing written, not even a used quote.
 */

type Outcome<T> = Result<T, PaymentErrorCode>;

const NO_PARTY = { name: null, account: null };

export function createPvPPayment(ctx: PaymentContext, caller: Caller, input: NewPayment & { quoteId: string }, db?: Db): Promise<Outcome<Payment>> {
  const checked = checkInput(ctx, caller, input);
  if (!checked.ok) return Promise.resolve(checked);
  return inTransaction(db ?? ctx.db, (trx) => storePair(ctx, trx, caller, input, checked.value));
}

async function openQuote(ctx: PaymentContext, trx: Transaction<Database>, caller: Caller, id: string): Promise<Outcome<Quote>> {
  const found = ctx.fx ? await ctx.fx.getQuote(caller, id, trx) : undefined;
  // Only the paying bank uses its quote; for treasury and admin, as for other banks, it does not exist.
  if (!found?.ok || !sameBic(caller.bic, found.value.bic)) return failure("quote_not_found", `no quote ${id}`, { id });
  const quote = found.value;
  if (quote.status === "used") return failure("quote_used", `quote ${id} was already used`, { id, usedBy: quote.usedBy });
  if (quote.status === "expired") return failure("quote_expired", `quote ${id} expired at ${new Date(quote.expiresAt).toISOString()}`, { id });
  return success(quote);
}

/**
 * PostgreSQL: both payers' accounts locked in id order before either leg is checked, so that two
 * pairs with opposite payers (one bank's source account, the other's target account) wait for each
 * other instead of deadlocking. Each leg's check then reads its row under a lock already held.
 */
async function lockPayerAccounts(ctx: PaymentContext, trx: Transaction<Database>, legs: Payment[]): Promise<void> {
  if (ctx.dialect !== "postgres") return;
  const ids = legs.map((leg) => bankAccountId(leg.debtorAgent, leg.amount.currency)).sort();
  await trx.selectFrom("ledger_accounts").select("id").where("id", "in", ids).orderBy("id").forUpdate().execute();
}

async function storePair(ctx: PaymentContext, trx: Transaction<Database>, caller: Caller, input: NewPayment & { quoteId: string }, checked: Checked): Promise<Outcome<Payment>> {
  const opened = await openQuote(ctx, trx, caller, input.quoteId);
  if (!opened.ok) return opened;
  const quote = opened.value;
  if (input.amount.currency !== quote.source.currency || input.amount.value !== quote.source.value) {
    return failure("quote_mismatch", `the amount must be the quote's source amount, ${quote.source.value} ${quote.source.currency}`, {
      quoteId: quote.id,
      source: { value: quote.source.value.toString(), currency: quote.source.currency },
    });
  }
  const agents = await findAgents(trx, input.debtorAgent, input.creditorAgent);
  if (!agents.ok) return agents;
  const [debtor, creditor] = agents.value;
  const providers = await trx.selectFrom("participants").selectAll().where("bic", "in", bicSpellings(quote.provider)).execute();
  const provider = activeParticipant(providers, bicSpellings(quote.provider), quote.provider);
  if (!provider.ok) return provider;
  if (sameBic(provider.value.bic, debtor.bic) || sameBic(provider.value.bic, creditor.bic)) {
    // The escrow refuses a leg whose payer is its payee; such a bank needs no exchange through itself.
    return failure("quote_mismatch", `the quote's provider ${provider.value.bic} is a party to the payment`, { quoteId: quote.id });
  }
  if (checked.callerUetr && (await uetrTaken(trx, checked.uetr))) return duplicate(checked.uetr);

  const base = newPayment(ctx, input, checked, debtor.bic, provider.value.bic);
  // Names are screened where they are paid: the debtor on leg A, the creditor on leg B.
  const legA: Payment = { ...base, creditor: NO_PARTY };
  const legB: Payment = { ...base, uetr: randomUUID(), debtorAgent: provider.value.bic, creditorAgent: creditor.bic, amount: quote.target, debtor: NO_PARTY };
  await lockPayerAccounts(ctx, trx, [legA, legB]);
  const admittedA = await admitLeg(ctx, trx, legA, debtor, provider.value);
  if (!admittedA.ok) return admittedA;
  const admittedB = await admitLeg(ctx, trx, legB, provider.value, creditor);
  if (!admittedB.ok) return admittedB;

  const consumed = await ctx.fx!.consumeQuote(trx, caller, quote.id, legA.uetr);
  if (!consumed.ok) return consumed; // a concurrent payment used it first
  if (!(await writeLeg(ctx, trx, admittedA.value, legB.uetr))) return duplicate(legA.uetr);
  if (!(await writeLeg(ctx, trx, admittedB.value, legA.uetr))) throw new Error(`generated UETR ${legB.uetr} taken`);
  await trx
    .insertInto("pvp_links")
    .values({ uetr_a: legA.uetr, uetr_b: legB.uetr, quote_id: quote.id, provider_bic: provider.value.bic, creditor_bic: creditor.bic, created_at: ctx.now() })
    .execute();
  return success({
    ...legA,
    fx: { quoteId: quote.id, provider: provider.value.bic, leg: "A", linkedUetr: legB.uetr, creditorAgent: creditor.bic, source: legA.amount, target: legB.amount },
  });
}
