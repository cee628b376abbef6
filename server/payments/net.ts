import type { Transaction } from "kysely";
import type { Db } from "../db/database";
import type { Database } from "../db/schema";
import { bankAccountId, nettingAccountId } from "../ledger/service";
import { failure, success, type Result } from "../shared/result";
import { insertPayment } from "./intake";
import { transition, transitionMany, recordStatus } from "./lifecycle";
import { PaymentLedgerError } from "./ledger-steps";
import { loadPayment, toPayment, type PaymentContext } from "./store";
import type { Payment, PaymentErrorCode } from "./types";

/**
 * Net payments: queued in their currency's open settlement window instead of escrowed. The ledger
 * books each as a pending transfer between the two banks' netting accounts (which may go
 * negative: a window's obligations need no prefunding), posted when the window settles on chain.
 * The window's net amounts then move between each bank's netting and bank accounts, so bank
 * accounts change by exactly the net positions the chain moved, and netting accounts return to
 * zero.
 *
 * Reorgs: a rolled-back window settlement opens epoch k of each payment: `<uetr>:net:reorg:<k>:unpost`
 * moves the amount back and `<uetr>:net:reorg:<k>` is the pending obligation again; epoch 0 uses
 * `<uetr>:net`. Window transfers follow the same rule with `window:<id>[:reorg:<k>]:<bic>`.
 */

/** What the payments need of the settlement windows. */
export interface NetWindows {
  /** The id of the currency's open window (opened if there is none), held until the transaction ends. */
  join(trx: Transaction<Database>, currency: string): Promise<string>;
}

/** A window's settlement as the chain reported it. */
export interface WindowObservation {
  windowId: string;
  txHash: string;
  blockNumber: number;
}

/** One bank's net amount of a window (negative: it paid in). */
export interface NetAmount {
  bic: string;
  amount: bigint;
}

type Outcome<T> = Result<T, PaymentErrorCode>;

/** Rows read or written per query when a window's payments move together. */
const CHUNK = 500;

export async function queueNetPayment(ctx: PaymentContext, trx: Transaction<Database>, payment: Payment): Promise<Outcome<Payment>> {
  if (!ctx.windows) return failure("net_settlement_unavailable", "this relay runs no settlement windows", {});
  const screened = await ctx.risk.check(trx, payment);
  if (!screened.ok) return screened;
  const windowId = await ctx.windows.join(trx, payment.amount.currency);
  const queued: Payment = { ...payment, status: "QUEUED", windowId };
  if (!(await insertPayment(trx, queued))) return failure("duplicate_uetr", `a payment with UETR ${payment.uetr} exists`, { uetr: payment.uetr });
  await recordStatus(ctx, trx, queued, { status: "QUEUED", reason: `in settlement window ${windowId}` }, { first: true });
  await ctx.risk.record(trx, queued);
  await obligate(ctx, trx, queued, `${queued.uetr}:net`);
  return success(queued);
}

/** A queued payment the debtor withdraws before its window closes: its obligation is voided. */
export async function cancelNetPayment(ctx: PaymentContext, trx: Transaction<Database>, payment: Payment, reason: string): Promise<Payment> {
  const ids = await netIds(ctx, trx, payment.uetr);
  orThrow(payment, "void", await ctx.ledger.voidPending(trx, { id: `${ids.pending}:void`, pendingId: ids.pending }));
  return transition(ctx, trx, payment, { status: "CANCELLED", reason });
}

/** Moves queued payments to another window (deferred at close, or their window failed). */
export async function requeueNetPayments(ctx: PaymentContext, db: Db, uetrs: readonly string[], windowId: string, reason: string): Promise<void> {
  for (const uetr of uetrs) {
    const payment = await loadPayment(ctx, db, uetr, true);
    if (payment?.status !== "QUEUED" || payment.windowId === windowId) continue;
    await db.updateTable("payments").set({ window_id: windowId }).where("uetr", "=", uetr).execute();
    await transition(ctx, db, { ...payment, windowId }, { status: "QUEUED", reason: `${reason}; now in settlement window ${windowId}` });
  }
}

/**
 * The window settled on chain: each included payment's obligation is posted and it is SETTLED;
 * then each bank's net amount moves between its netting and bank accounts. Idempotent: payments
 * already SETTLED are skipped, and the window transfers' ids make a repeat a no-op.
 */
export async function settleNetPayments(ctx: PaymentContext, db: Db, uetrs: readonly string[], nets: readonly NetAmount[], currency: string, o: WindowObservation): Promise<void> {
  const epoch = await windowEpoch(ctx, db, o.windowId, nets);
  const queued: Payment[] = [];
  const pendingIds = new Map<string, string>();
  for (let k = 0; k < uetrs.length; k += CHUNK) {
    const chunk = uetrs.slice(k, k + CHUNK);
    let query = db.selectFrom("payments").selectAll().where("uetr", "in", chunk).where("status", "=", "QUEUED");
    if (ctx.dialect === "postgres") query = query.forUpdate();
    queued.push(...(await query.execute()).map(toPayment));
    // A payment whose earlier settlement a reorg rolled back owes its latest epoch's obligation.
    const reorged = await db.selectFrom("ledger_transfers").select(["id", "uetr"]).where("uetr", "in", chunk).where("id", "like", "%:net:reorg:%").execute();
    for (const { uetr, id } of reorged) pendingIds.set(uetr!, pendingAfter(uetr!, [id], pendingIds.get(uetr!)));
  }
  const resolves = queued.map((p) => {
    const pending = pendingIds.get(p.uetr) ?? `${p.uetr}:net`;
    return { id: `${pending}:post`, pendingId: pending };
  });
  const posted = await ctx.ledger.postPendingMany(db, resolves);
  if (!posted.ok) throw new PaymentLedgerError(o.windowId, "net post", posted.code, posted.message);
  await transitionMany(ctx, db, queued, { status: "SETTLED", txHash: o.txHash, blockNumber: o.blockNumber, reason: `settled net in window ${o.windowId}` });
  for (const { bic, amount } of nets) {
    const [bank, netting] = await ensureAccounts(ctx, db, bic, currency);
    const id = `${windowBase(o.windowId, epoch)}:${bic}`;
    const [debit, credit] = amount < 0n ? [bank, netting] : [netting, bank];
    const moved = await ctx.ledger.createTransfer(db, { id, debitAccountId: debit, creditAccountId: credit, amount: abs(amount), phase: "posted", reference: `window ${o.windowId}` });
    if (!moved.ok) throw new PaymentLedgerError(o.windowId, `window net of ${bic}`, moved.code, moved.message);
  }
}

/** The pending obligation of the latest epoch among a payment's reorg transfer ids. */
function pendingAfter(uetr: string, ids: readonly string[], current: string | undefined): string {
  const prefix = `${uetr}:net:reorg:`;
  const epochOf = (id: string | undefined) => (id === undefined ? 0 : Number(id.slice(prefix.length).split(":")[0]));
  const latest = Math.max(epochOf(current), ...ids.map(epochOf));
  return `${prefix}${latest}`;
}

/** The window's settlement was rolled back by a reorg: everything above is compensated in a new epoch. */
export async function unsettleNetPayments(ctx: PaymentContext, db: Db, uetrs: readonly string[], nets: readonly NetAmount[], currency: string, o: WindowObservation): Promise<void> {
  const epoch = await windowEpoch(ctx, db, o.windowId, nets);
  for (const { bic, amount } of nets) {
    const [bank, netting] = await ensureAccounts(ctx, db, bic, currency);
    const [debit, credit] = amount < 0n ? [netting, bank] : [bank, netting];
    const back = await ctx.ledger.createTransfer(db, { id: `window:${o.windowId}:reorg:${epoch + 1}:unsettle:${bic}`, debitAccountId: debit, creditAccountId: credit, amount: abs(amount), phase: "posted", reference: `window ${o.windowId} rolled back` });
    if (!back.ok) throw new PaymentLedgerError(o.windowId, `window unsettle of ${bic}`, back.code, back.message);
  }
  for (const uetr of uetrs) {
    const payment = await loadPayment(ctx, db, uetr, true);
    if (payment?.status !== "SETTLED") continue;
    const k = (await netIds(ctx, db, uetr)).epoch + 1;
    const [debtor, creditor] = [nettingAccountId(payment.debtorAgent, currency), nettingAccountId(payment.creditorAgent, currency)];
    const back = await ctx.ledger.createTransfer(db, { id: `${uetr}:net:reorg:${k}:unpost`, debitAccountId: creditor, creditAccountId: debtor, amount: payment.amount.value, phase: "posted", uetr, reference: "reorg unpost" });
    orThrow(payment, "reorg unpost", back);
    await obligate(ctx, db, payment, `${uetr}:net:reorg:${k}`);
    const reason = `window settlement in block ${o.blockNumber} rolled back by a chain reorganization`;
    await transition(ctx, db, payment, { status: "QUEUED", reason, txHash: o.txHash, blockNumber: o.blockNumber });
  }
}

async function obligate(ctx: PaymentContext, db: Db, payment: Payment, id: string): Promise<void> {
  const { currency, value } = payment.amount;
  const [, debtor] = await ensureAccounts(ctx, db, payment.debtorAgent, currency);
  const [, creditor] = await ensureAccounts(ctx, db, payment.creditorAgent, currency);
  orThrow(payment, "obligation", await ctx.ledger.createTransfer(db, { id, debitAccountId: debtor, creditAccountId: creditor, amount: value, phase: "pending", uetr: payment.uetr, reference: "net obligation" }));
}

async function ensureAccounts(ctx: PaymentContext, db: Db, bic: string, currency: string): Promise<[string, string]> {
  const bank = await ctx.ledger.ensureAccount(db, { id: bankAccountId(bic, currency), kind: "bank", bic, currency });
  const netting = await ctx.ledger.ensureAccount(db, { id: nettingAccountId(bic, currency), kind: "netting", bic, currency });
  return [bank.id, netting.id];
}

/** The payment's current obligation: `<uetr>:net` or the pending transfer of its latest reorg epoch. */
async function netIds(ctx: PaymentContext, db: Db, uetr: string): Promise<{ epoch: number; pending: string }> {
  const prefix = `${uetr}:net:reorg:`;
  let epoch = 0;
  for (const transfer of await ctx.ledger.transfersOf(db, uetr)) {
    if (transfer.id.startsWith(prefix)) epoch = Math.max(epoch, Number(transfer.id.slice(prefix.length).split(":")[0]));
  }
  return { epoch, pending: epoch === 0 ? `${uetr}:net` : `${prefix}${epoch}` };
}

const windowBase = (windowId: string, epoch: number) => (epoch === 0 ? `window:${windowId}` : `window:${windowId}:reorg:${epoch}`);

/** The window's reorg epoch: how many of its settlements were rolled back (their unsettle transfers exist). */
async function windowEpoch(ctx: PaymentContext, db: Db, windowId: string, nets: readonly NetAmount[]): Promise<number> {
  if (nets.length === 0) return 0;
  let epoch = 0;
  while ((await db.selectFrom("ledger_transfers").select("id").where("id", "=", `window:${windowId}:reorg:${epoch + 1}:unsettle:${nets[0].bic}`).executeTakeFirst()) !== undefined) epoch++;
  return epoch;
}

function orThrow<T>(payment: Payment, step: string, result: Result<T, string>): T {
  if (!result.ok) throw new PaymentLedgerError(payment.uetr, `net ${step}`, result.code as never, result.message);
  return result.value;
}

const abs = (n: bigint) => (n < 0n ? -n : n);
