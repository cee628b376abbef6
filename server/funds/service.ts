import { randomUUID } from "node:crypto";
import type { Insertable, Kysely, Selectable } from "kysely";
import type { Db, Dialect } from "../db/database";
import type { Database, FundsMovementsTable, StatementEntriesTable } from "../db/schema";
import { enqueueChainIntent } from "../chain/outbox";
import { movementEvidence } from "../chain/evidence";
import type { FundsChainHooks, FundsObservation } from "../chain/funds-hooks";
import { bankAccountId, reserveAccountId, type LedgerService } from "../ledger/service";
import { bicSpellings, inTransaction, sameBic } from "../payments/store";
import type { Caller, Money } from "../payments/types";
import { failure, success, type Result } from "../shared/result";
import { isUuidV4 } from "../shared/uuid";

/**
 * Funds-in and funds-out: tokens are minted only against reserve evidence and burned on redemption.
 *
 * - Funds-in: a booked credit on a currency's reserve account whose counterparty is a registered
 *   bank becomes a movement awaiting treasury approval (or approved at once when configured).
 *   Approval enqueues the mint, whose evidence names the movement, so the token refuses a second
 *   mint for it. The ledger books reserve → bank when the Minted event is confirmed.
 * - Funds-out: a bank (or treasury for it) asks to redeem; the amount is held at once (a pending
 *   transfer bank → reserve, `funds:<id>:burn:hold`, so intake cannot spend it), the burn is
 *   enqueued, and the Burned event posts the hold (`funds:<id>:burn`). A burn the chain refuses for
 *   good voids the hold. Reconciliation reads `funds:<id>:mint` and `funds:<id>:burn`.
 *
 * Reorgs: a rolled-back Minted or Burned event is undone by a compensating transfer of epoch k
 * (`funds:<id>:reorg:<k>:unmint|unburn`), and applying it again books `funds:<id>:reorg:<k>:mint|burn`
 * — ledger transfers are immutable, so history shows the event and its reversal.
 */

export type FundsErrorCode =
  | "movement_not_found"
  | "movement_not_awaiting_approval"
  | "unknown_participant"
  | "currency_not_supported"
  | "invalid_amount"
  | "insufficient_funds"
  | "forbidden_agent";

export interface FundsMovement {
  id: string;
  direction: "in" | "out";
  bic: string;
  amount: Money;
  statementEntryId: string | null;
  status: FundsMovementsTable["status"];
  statusReason: string | null;
  requestedBy: string;
  approvedBy: string | null;
  txHash: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface FundsService extends FundsChainHooks {
  /** The statements' new-entry handler: a credit on a reserve account from a registered bank. */
  recordReserveEntry(db: Db, entry: Insertable<StatementEntriesTable>): Promise<void>;
  approve(caller: Caller, id: string, db?: Db): Promise<Result<FundsMovement, FundsErrorCode>>;
  requestFundsOut(caller: Caller, request: { bic: string; amount: Money }, db?: Db): Promise<Result<FundsMovement, FundsErrorCode>>;
  get(id: string): Promise<FundsMovement | undefined>;
  list(filter: { status?: FundsMovement["status"]; direction?: "in" | "out"; limit: number }): Promise<FundsMovement[]>;
}

export interface FundsServiceDeps {
  db: Kysely<Database>;
  dialect: Dialect;
  ledger: LedgerService;
  chain: { tokenAddress(currency: string): string | undefined };
  /** Per currency, the id (IBAN or other) of the operator's reserve account. */
  reserveAccounts: Record<string, string>;
  autoApprove: boolean;
  now?: () => number;
}

export function createFundsService(deps: FundsServiceDeps): FundsService {
  const { db, ledger } = deps;
  const now = deps.now ?? Date.now;

  async function load(trx: Db, id: string, lock = false): Promise<FundsMovement | undefined> {
    let query = trx.selectFrom("funds_movements").selectAll().where("id", "=", id);
    if (lock && deps.dialect === "postgres") query = query.forUpdate();
    const row = await query.executeTakeFirst();
    return row && toMovement(row);
  }

  /** The participant under either spelling of its BIC (8 characters or its XXX branch). */
  function findParticipant(trx: Db, bic: string): Promise<{ bic: string; address: string } | undefined> {
    return trx.selectFrom("participants").select(["bic", "address"]).where("bic", "in", bicSpellings(bic)).executeTakeFirst();
  }

  async function setStatus(trx: Db, id: string, patch: Partial<Pick<Selectable<FundsMovementsTable>, "status" | "status_reason" | "approved_by" | "tx_hash">>) {
    await trx.updateTable("funds_movements").set({ ...patch, updated_at: now() }).where("id", "=", id).execute();
  }

  async function enqueueChainWork(trx: Db, movement: FundsMovement): Promise<void> {
    const address = (await findParticipant(trx, movement.bic))?.address;
    const token = deps.chain.tokenAddress(movement.amount.currency);
    if (!address || !token) throw new Error(`funds movement ${movement.id}: no address or token for ${movement.bic} ${movement.amount.currency}`);
    const kind = movement.direction === "in" ? "mint" : "burn";
    const payload = { token, account: address, amount: movement.amount.value.toString(), evidence: movementEvidence(movement.id) };
    await enqueueChainIntent(trx, { kind, uetr: movement.id, payload }, now());
  }

  async function ensureAccounts(trx: Db, bic: string, currency: string): Promise<void> {
    await ledger.ensureAccount(trx, { id: reserveAccountId(currency), kind: "reserve", bic: null, currency });
    await ledger.ensureAccount(trx, { id: bankAccountId(bic, currency), kind: "bank", bic, currency });
  }

  /** The movement's reorg epoch: how many times a confirmed event of it was rolled back. */
  async function epochOf(trx: Db, id: string): Promise<number> {
    const undone = await trx.selectFrom("ledger_transfers").select("id").where("uetr", "=", id).where("id", "like", `funds:${id}:reorg:%:un%`).execute();
    return undone.length;
  }

  async function applyEvent(trx: Db, kind: "mint" | "burn", o: FundsObservation): Promise<boolean> {
    const movement = await load(trx, o.movementId, true);
    if (!movement || movement.status !== "approved" || movement.direction !== (kind === "mint" ? "in" : "out")) return false;
    const { currency, value } = movement.amount;
    await ensureAccounts(trx, movement.bic, currency);
    const [reserve, bank] = [reserveAccountId(currency), bankAccountId(movement.bic, currency)];
    const epoch = await epochOf(trx, movement.id);
    const booked =
      epoch === 0 && kind === "burn"
        ? await ledger.postPending(trx, { id: `funds:${movement.id}:burn`, pendingId: `funds:${movement.id}:burn:hold` })
        : await ledger.createTransfer(trx, {
            id: epoch === 0 ? `funds:${movement.id}:mint` : `funds:${movement.id}:reorg:${epoch}:${kind}`,
            debitAccountId: kind === "mint" ? reserve : bank,
            creditAccountId: kind === "mint" ? bank : reserve,
            amount: value,
            phase: "posted",
            uetr: movement.id,
            reference: o.txHash,
          });
    if (!booked.ok) throw new Error(`funds movement ${movement.id}: ledger ${kind} failed (${booked.code}): ${booked.message}`);
    await setStatus(trx, movement.id, { status: "completed", tx_hash: o.txHash });
    return true;
  }

  async function unapplyEvent(trx: Db, kind: "mint" | "burn", o: FundsObservation): Promise<boolean> {
    const movement = await load(trx, o.movementId, true);
    if (!movement || movement.status !== "completed") return false;
    const { currency, value } = movement.amount;
    const [reserve, bank] = [reserveAccountId(currency), bankAccountId(movement.bic, currency)];
    const epoch = (await epochOf(trx, movement.id)) + 1;
    const undone = await ledger.createTransfer(trx, {
      id: `funds:${movement.id}:reorg:${epoch}:un${kind}`,
      debitAccountId: kind === "mint" ? bank : reserve,
      creditAccountId: kind === "mint" ? reserve : bank,
      amount: value,
      phase: "posted",
      uetr: movement.id,
      reference: `reorg of ${o.txHash}`,
    });
    if (!undone.ok) throw new Error(`funds movement ${movement.id}: ledger un${kind} failed (${undone.code}): ${undone.message}`);
    await setStatus(trx, movement.id, { status: "approved", tx_hash: null });
    return true;
  }

  return {
    async recordReserveEntry(trx, entry) {
      const isReserveCredit =
        entry.credit_debit === "CRDT" && entry.status === "BOOK" && entry.reversal === 0 && entry.is_charge === 0 && deps.reserveAccounts[entry.currency] === entry.account_id;
      const participant = isReserveCredit && entry.counterparty_bic ? await findParticipant(trx, entry.counterparty_bic) : undefined;
      if (!participant) return;
      const uetr = entry.uetr ?? "";
      const taken = isUuidV4(uetr) && (await load(trx, uetr)) !== undefined;
      const id = isUuidV4(uetr) && !taken ? uetr : randomUUID();
      const at = now();
      const row: Insertable<FundsMovementsTable> = {
        id,
        direction: "in",
        bic: participant.bic,
        currency: entry.currency,
        amount: entry.amount,
        statement_entry_id: entry.id,
        status: deps.autoApprove ? "approved" : "awaiting_approval",
        status_reason: null,
        requested_by: "statement",
        approved_by: deps.autoApprove ? "auto" : null,
        tx_hash: null,
        created_at: at,
        updated_at: at,
      };
      const inserted = await trx.insertInto("funds_movements").values(row).onConflict((oc) => oc.column("statement_entry_id").doNothing()).executeTakeFirst();
      if (deps.autoApprove && inserted.numInsertedOrUpdatedRows === 1n) await enqueueChainWork(trx, (await load(trx, id))!);
    },

    approve(caller, id, trx = db) {
      return inTransaction(trx, async (t) => {
        const movement = await load(t, id, true);
        if (!movement) return failure("movement_not_found", `no funds movement ${id}`, { id });
        if (movement.status !== "awaiting_approval") {
          return failure("movement_not_awaiting_approval", `funds movement ${id} is ${movement.status}`, { status: movement.status });
        }
        await setStatus(t, id, { status: "approved", approved_by: caller.keyId });
        await enqueueChainWork(t, movement);
        return success((await load(t, id))!);
      });
    },

    requestFundsOut(caller, request, trx = db) {
      return inTransaction(trx, async (t) => {
        const { currency, value } = request.amount;
        if (caller.role === "bank" && !sameBic(caller.bic, request.bic)) {
          return failure("forbidden_agent", "a bank redeems only its own tokens", { bic: request.bic });
        }
        if (!deps.chain.tokenAddress(currency)) return failure("currency_not_supported", `no deposit token for ${currency}`, { currency });
        if (value <= 0n) return failure("invalid_amount", "the amount must be a positive whole number of minor units", { value: value.toString() });
        const participant = await findParticipant(t, request.bic);
        if (!participant) return failure("unknown_participant", `${request.bic} is not a registered participant`, { bic: request.bic });
        const { bic } = participant;
        const id = randomUUID();
        await ensureAccounts(t, bic, currency);
        const hold = await ledger.createTransfer(t, { id: `funds:${id}:burn:hold`, debitAccountId: bankAccountId(bic, currency), creditAccountId: reserveAccountId(currency), amount: value, phase: "pending", uetr: id, reference: "funds-out" });
        if (!hold.ok) {
          return failure("insufficient_funds", `${bic} cannot redeem ${value} ${currency}: ${hold.message}`, { currency, amount: value.toString() });
        }
        const at = now();
        await t
          .insertInto("funds_movements")
          .values({ id, direction: "out", bic, currency, amount: value.toString(), statement_entry_id: null, status: "approved", status_reason: null, requested_by: caller.keyId, approved_by: caller.keyId, tx_hash: null, created_at: at, updated_at: at })
          .execute();
        const movement = (await load(t, id))!;
        await enqueueChainWork(t, movement);
        return success(movement);
      });
    },

    get: (id) => load(db, id),

    async list(filter) {
      let query = db.selectFrom("funds_movements").selectAll().orderBy("created_at", "desc").orderBy("id").limit(filter.limit);
      if (filter.status) query = query.where("status", "=", filter.status);
      if (filter.direction) query = query.where("direction", "=", filter.direction);
      return (await query.execute()).map(toMovement);
    },

    onMinted: (trx, o) => applyEvent(trx, "mint", o),
    onBurned: (trx, o) => applyEvent(trx, "burn", o),
    unapplyMinted: (trx, o) => unapplyEvent(trx, "mint", o),
    unapplyBurned: (trx, o) => unapplyEvent(trx, "burn", o),

    async onChainFailed(trx, movementId, kind, reason) {
      const movement = await load(trx, movementId, true);
      if (!movement || movement.status !== "approved") return;
      if (kind === "burn") await ledger.voidPending(trx, { id: `funds:${movementId}:burn:void`, pendingId: `funds:${movementId}:burn:hold` });
      await setStatus(trx, movementId, { status: "rejected", status_reason: reason });
    },
  };
}

function toMovement(row: Selectable<FundsMovementsTable>): FundsMovement {
  return {
    id: row.id,
    direction: row.direction,
    bic: row.bic,
    amount: { value: BigInt(row.amount), currency: row.currency },
    statementEntryId: row.statement_entry_id,
    status: row.status,
    statusReason: row.status_reason,
    requestedBy: row.requested_by,
    approvedBy: row.approved_by,
    txHash: row.tx_hash,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
