import type { Selectable } from "kysely";
import type { Db, Dialect } from "../db/database";
import type { LedgerAccountKind, LedgerAccountsTable, LedgerTransferKind, LedgerTransfersTable } from "../db/schema";
import { failure, success, type Result } from "../shared/result";

/**
 * Double-entry ledger with TigerBeetle's rules: transfers are immutable; a transfer is posted at
 * once or pending, and a pending transfer is later posted or voided by a second transfer that
 * names it (at most once); ids are chosen by the caller, so a retried write returns the first
 * result. Every transfer debits one account and credits another by the same amount, so the sum of
 * debits equals the sum of credits at every moment. Only an account that allows it may have more
 * debits (posted and pending) than posted credits.
 *
 * Every write must run inside the caller's database transaction; on PostgreSQL the accounts it
 * touches are locked in id order for its duration.
 */

export type LedgerErrorCode =
  | "invalid_amount"
  | "same_account"
  | "account_not_found"
  | "currency_mismatch"
  | "exceeds_credits"
  | "transfer_exists_with_different_fields"
  | "pending_transfer_not_found"
  | "pending_transfer_already_resolved";

export interface LedgerAccount {
  id: string;
  kind: LedgerAccountKind;
  bic: string | null;
  currency: string;
  allowNegative: boolean;
  debitsPosted: bigint;
  creditsPosted: bigint;
  debitsPending: bigint;
  creditsPending: bigint;
}

export interface LedgerTransfer {
  id: string;
  kind: LedgerTransferKind;
  debitAccountId: string;
  creditAccountId: string;
  currency: string;
  amount: bigint;
  pendingId: string | null;
  uetr: string | null;
  reference: string | null;
  createdAt: number;
}

export interface NewTransfer {
  id: string;
  debitAccountId: string;
  creditAccountId: string;
  amount: bigint;
  /** `pending` reserves the amount until posted or voided; `posted` moves it at once. */
  phase: "posted" | "pending";
  uetr?: string;
  reference?: string;
}

export interface ResolvePending {
  id: string;
  pendingId: string;
}

export interface LedgerService {
  /** Creates the account if it does not exist; returns it either way. */
  ensureAccount(db: Db, account: { id: string; kind: LedgerAccountKind; bic: string | null; currency: string }): Promise<LedgerAccount>;
  createTransfer(db: Db, transfer: NewTransfer): Promise<Result<LedgerTransfer, LedgerErrorCode>>;
  postPending(db: Db, resolve: ResolvePending): Promise<Result<LedgerTransfer, LedgerErrorCode>>;
  /**
   * Posts many pending transfers at once (a settled window's payments), all or none: a few queries
   * per 500 rather than several per transfer. A resolve already made with the same id is skipped.
   */
  postPendingMany(db: Db, resolves: readonly ResolvePending[]): Promise<Result<number, LedgerErrorCode>>;
  voidPending(db: Db, resolve: ResolvePending): Promise<Result<LedgerTransfer, LedgerErrorCode>>;
  getAccount(db: Db, id: string): Promise<LedgerAccount | undefined>;
  listAccounts(db: Db, filter?: { bic?: string; currency?: string }): Promise<LedgerAccount[]>;
  transfersOf(db: Db, uetr: string): Promise<LedgerTransfer[]>;
  /** Sum of all debits and all credits (posted and pending) per currency; they are always equal. */
  totals(db: Db): Promise<Map<string, { debits: bigint; credits: bigint }>>;
}

export const bankAccountId = (bic: string, currency: string) => `bank:${bic}:${currency}`;
/** A bank's obligations in settlement windows (net payments), beside its bank account. */
export const nettingAccountId = (bic: string, currency: string) => `netting:${bic}:${currency}`;
export const reserveAccountId = (currency: string) => `reserve:${currency}`;
export const feeAccountId = (currency: string) => `fee:${currency}`;

function toRow(transfer: LedgerTransfer) {
  return {
    id: transfer.id,
    kind: transfer.kind,
    debit_account_id: transfer.debitAccountId,
    credit_account_id: transfer.creditAccountId,
    currency: transfer.currency,
    amount: transfer.amount.toString(),
    pending_id: transfer.pendingId,
    uetr: transfer.uetr,
    reference: transfer.reference,
    created_at: transfer.createdAt,
  };
}

export function createLedgerService(deps: { dialect: Dialect; now?: () => number }): LedgerService {
  const now = deps.now ?? Date.now;

  async function lockAccounts(db: Db, ids: string[]): Promise<Map<string, LedgerAccount>> {
    const sorted = [...new Set(ids)].sort();
    let query = db.selectFrom("ledger_accounts").selectAll().where("id", "in", sorted).orderBy("id");
    if (deps.dialect === "postgres") query = query.forUpdate();
    const rows = await query.execute();
    return new Map(rows.map((row) => [row.id, toAccount(row)]));
  }

  async function saveBalances(db: Db, account: LedgerAccount): Promise<void> {
    await db
      .updateTable("ledger_accounts")
      .set({
        debits_posted: account.debitsPosted.toString(),
        credits_posted: account.creditsPosted.toString(),
        debits_pending: account.debitsPending.toString(),
        credits_pending: account.creditsPending.toString(),
      })
      .where("id", "=", account.id)
      .execute();
  }

  async function existing(db: Db, id: string): Promise<LedgerTransfer | undefined> {
    const row = await db.selectFrom("ledger_transfers").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toTransfer(row);
  }

  async function insert(db: Db, transfer: LedgerTransfer): Promise<void> {
    await db.insertInto("ledger_transfers").values(toRow(transfer)).execute();
  }

  async function resolvePending(
    db: Db,
    resolve: ResolvePending,
    kind: "post_pending" | "void_pending",
  ): Promise<Result<LedgerTransfer, LedgerErrorCode>> {
    const prior = await existing(db, resolve.id);
    if (prior) {
      return prior.kind === kind && prior.pendingId === resolve.pendingId
        ? success(prior)
        : failure("transfer_exists_with_different_fields", `transfer ${resolve.id} exists with other fields`, { id: resolve.id });
    }
    const pending = await existing(db, resolve.pendingId);
    if (!pending || pending.kind !== "pending") {
      return failure("pending_transfer_not_found", `no pending transfer ${resolve.pendingId}`, { pendingId: resolve.pendingId });
    }
    const accounts = await lockAccounts(db, [pending.debitAccountId, pending.creditAccountId]);
    const resolved = await db.selectFrom("ledger_transfers").select("id").where("pending_id", "=", pending.id).executeTakeFirst();
    if (resolved?.id === resolve.id) {
      // A concurrent retry of this very request committed while we waited for the lock.
      const prior = (await existing(db, resolve.id))!;
      return prior.kind === kind
        ? success(prior)
        : failure("transfer_exists_with_different_fields", `transfer ${resolve.id} exists with other fields`, { id: resolve.id });
    }
    if (resolved) {
      return failure("pending_transfer_already_resolved", `pending transfer ${pending.id} was already resolved by ${resolved.id}`, {
        pendingId: pending.id,
        resolvedBy: resolved.id,
      });
    }
    const debit = accounts.get(pending.debitAccountId)!;
    const credit = accounts.get(pending.creditAccountId)!;
    debit.debitsPending -= pending.amount;
    credit.creditsPending -= pending.amount;
    if (kind === "post_pending") {
      debit.debitsPosted += pending.amount;
      credit.creditsPosted += pending.amount;
    }
    const transfer: LedgerTransfer = { ...pending, id: resolve.id, kind, pendingId: pending.id, createdAt: now() };
    await insert(db, transfer);
    await saveBalances(db, debit);
    await saveBalances(db, credit);
    return success(transfer);
  }

  return {
    async ensureAccount(db, account) {
      const found = await db.selectFrom("ledger_accounts").selectAll().where("id", "=", account.id).executeTakeFirst();
      if (found) return toAccount(found);
      await db
        .insertInto("ledger_accounts")
        .values({
          id: account.id,
          kind: account.kind,
          bic: account.bic,
          currency: account.currency,
          allow_negative: account.kind === "reserve" || account.kind === "netting" ? 1 : 0,
          debits_posted: "0",
          credits_posted: "0",
          debits_pending: "0",
          credits_pending: "0",
          created_at: now(),
        })
        .onConflict((oc) => oc.column("id").doNothing())
        .execute();
      const row = await db.selectFrom("ledger_accounts").selectAll().where("id", "=", account.id).executeTakeFirstOrThrow();
      return toAccount(row);
    },

    async createTransfer(db, input) {
      if (input.amount <= 0n) return failure("invalid_amount", "a transfer amount must be a positive integer", { amount: input.amount.toString() });
      if (input.debitAccountId === input.creditAccountId) {
        return failure("same_account", "a transfer must debit and credit two different accounts", { account: input.debitAccountId });
      }
      // Locked first: a concurrent retry of this transfer waits here, then finds the first one.
      const accounts = await lockAccounts(db, [input.debitAccountId, input.creditAccountId]);
      const prior = await existing(db, input.id);
      if (prior) {
        const same =
          prior.kind === input.phase &&
          prior.debitAccountId === input.debitAccountId &&
          prior.creditAccountId === input.creditAccountId &&
          prior.amount === input.amount;
        return same
          ? success(prior)
          : failure("transfer_exists_with_different_fields", `transfer ${input.id} exists with other fields`, { id: input.id });
      }
      const debit = accounts.get(input.debitAccountId);
      const credit = accounts.get(input.creditAccountId);
      if (!debit || !credit) {
        const missing = !debit ? input.debitAccountId : input.creditAccountId;
        return failure("account_not_found", `no ledger account ${missing}`, { account: missing });
      }
      if (debit.currency !== credit.currency) {
        return failure("currency_mismatch", `accounts are in ${debit.currency} and ${credit.currency}`, {
          debitCurrency: debit.currency,
          creditCurrency: credit.currency,
        });
      }
      const available = debit.creditsPosted - debit.debitsPosted - debit.debitsPending;
      if (!debit.allowNegative && input.amount > available) {
        return failure("exceeds_credits", `account ${debit.id} has ${available} available, ${input.amount} needed`, {
          account: debit.id,
          available: available.toString(),
          amount: input.amount.toString(),
        });
      }
      if (input.phase === "pending") {
        debit.debitsPending += input.amount;
        credit.creditsPending += input.amount;
      } else {
        debit.debitsPosted += input.amount;
        credit.creditsPosted += input.amount;
      }
      const transfer: LedgerTransfer = {
        id: input.id,
        kind: input.phase,
        debitAccountId: debit.id,
        creditAccountId: credit.id,
        currency: debit.currency,
        amount: input.amount,
        pendingId: null,
        uetr: input.uetr ?? null,
        reference: input.reference ?? null,
        createdAt: now(),
      };
      await insert(db, transfer);
      await saveBalances(db, debit);
      await saveBalances(db, credit);
      return success(transfer);
    },

    postPending: (db, resolve) => resolvePending(db, resolve, "post_pending"),
    voidPending: (db, resolve) => resolvePending(db, resolve, "void_pending"),

    async postPendingMany(db, resolves) {
      const CHUNK = 500;
      const pendings = new Map<string, LedgerTransfer>();
      const resolvedBy = new Map<string, string>();
      for (let k = 0; k < resolves.length; k += CHUNK) {
        const ids = resolves.slice(k, k + CHUNK).map((r) => r.pendingId);
        for (const row of await db.selectFrom("ledger_transfers").selectAll().where("id", "in", ids).execute()) pendings.set(row.id, toTransfer(row));
        const resolving = await db.selectFrom("ledger_transfers").select(["id", "pending_id"]).where("pending_id", "in", ids).execute();
        for (const row of resolving) resolvedBy.set(row.pending_id!, row.id);
      }
      const transfers: LedgerTransfer[] = [];
      for (const resolve of resolves) {
        const pending = pendings.get(resolve.pendingId);
        if (!pending || pending.kind !== "pending") {
          return failure("pending_transfer_not_found", `no pending transfer ${resolve.pendingId}`, { pendingId: resolve.pendingId });
        }
        const by = resolvedBy.get(resolve.pendingId);
        if (by === resolve.id) continue; // posted before, by this very resolve
        if (by !== undefined) {
          return failure("pending_transfer_already_resolved", `pending transfer ${pending.id} was already resolved by ${by}`, { pendingId: pending.id, resolvedBy: by });
        }
        transfers.push({ ...pending, id: resolve.id, kind: "post_pending", pendingId: pending.id, createdAt: now() });
      }
      if (transfers.length === 0) return success(0);
      const accounts = await lockAccounts(db, transfers.flatMap((t) => [t.debitAccountId, t.creditAccountId]));
      for (const t of transfers) {
        const debit = accounts.get(t.debitAccountId)!;
        const credit = accounts.get(t.creditAccountId)!;
        debit.debitsPending -= t.amount;
        debit.debitsPosted += t.amount;
        credit.creditsPending -= t.amount;
        credit.creditsPosted += t.amount;
      }
      for (let k = 0; k < transfers.length; k += CHUNK) {
        await db.insertInto("ledger_transfers").values(transfers.slice(k, k + CHUNK).map(toRow)).execute();
      }
      for (const account of accounts.values()) await saveBalances(db, account);
      return success(transfers.length);
    },

    async getAccount(db, id) {
      const row = await db.selectFrom("ledger_accounts").selectAll().where("id", "=", id).executeTakeFirst();
      return row && toAccount(row);
    },

    async listAccounts(db, filter = {}) {
      let query = db.selectFrom("ledger_accounts").selectAll().orderBy("id");
      if (filter.bic) query = query.where("bic", "=", filter.bic);
      if (filter.currency) query = query.where("currency", "=", filter.currency);
      return (await query.execute()).map(toAccount);
    },

    async transfersOf(db, uetr) {
      const rows = await db.selectFrom("ledger_transfers").selectAll().where("uetr", "=", uetr).orderBy("created_at").orderBy("id").execute();
      return rows.map(toTransfer);
    },

    async totals(db) {
      const rows = await db.selectFrom("ledger_accounts").selectAll().execute();
      const totals = new Map<string, { debits: bigint; credits: bigint }>();
      for (const account of rows.map(toAccount)) {
        const sum = totals.get(account.currency) ?? { debits: 0n, credits: 0n };
        sum.debits += account.debitsPosted + account.debitsPending;
        sum.credits += account.creditsPosted + account.creditsPending;
        totals.set(account.currency, sum);
      }
      return totals;
    },
  };
}

function toAccount(row: Selectable<LedgerAccountsTable>): LedgerAccount {
  return {
    id: row.id,
    kind: row.kind,
    bic: row.bic,
    currency: row.currency,
    allowNegative: row.allow_negative === 1,
    debitsPosted: BigInt(row.debits_posted),
    creditsPosted: BigInt(row.credits_posted),
    debitsPending: BigInt(row.debits_pending),
    creditsPending: BigInt(row.credits_pending),
  };
}

function toTransfer(row: Selectable<LedgerTransfersTable>): LedgerTransfer {
  return {
    id: row.id,
    kind: row.kind,
    debitAccountId: row.debit_account_id,
    creditAccountId: row.credit_account_id,
    currency: row.currency,
    amount: BigInt(row.amount),
    pendingId: row.pending_id,
    uetr: row.uetr,
    reference: row.reference,
    createdAt: Number(row.created_at),
  };
}
