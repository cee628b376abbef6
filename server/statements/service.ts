import { createHash } from "node:crypto";
import type { Insertable, Kysely, Selectable } from "kysely";
import type { Db } from "../db/database";
import type { Database, StatementEntriesTable, StatementsTable } from "../db/schema";
import type { AccountStatement, CamtMessage, StatementEntry } from "../iso20022/camt";
import { failure, success, type Failure, type Result } from "../shared/result";

/**
 * Bank statements (camt.053 end of day, camt.054 notifications), stored as received: every entry
 * with its references, amount, direction, status, dates, bank transaction code, charge and
 * reversal flags, and each statement's opening and closing balances.
 *
 * A statement's id comes from its identity (kind, servicer, account, statement id), so importing it
 * again changes nothing; the same identity with other content is a conflict (a corrected statement
 * carries a new id). An entry with several transaction details (a batch booking) is stored as one
 * row per transaction when each names its amount, so that each payment's UETR has its own row;
 * otherwise as one row with the first transaction's references.
 */

export type StatementErrorCode = "statement_conflict";

export interface ImportedStatement {
  id: string;
  kind: CamtMessage["kind"];
  accountId: string;
  statementId: string;
  /** False when the statement was already there (nothing was written). */
  created: boolean;
  entries: number;
}

/** Called in the import's transaction for each newly stored entry (e.g. funds-in on a reserve account). */
export type EntryHandler = (db: Db, entry: Insertable<StatementEntriesTable>) => Promise<void>;

export interface StatementService {
  import(db: Db, message: CamtMessage, importedBy: string): Promise<Result<ImportedStatement[], StatementErrorCode>>;
  /** Newest import first. */
  list(filter: { accountId?: string; limit: number }): Promise<Selectable<StatementsTable>[]>;
  /** A statement with its entries in order. */
  get(id: string): Promise<{ statement: Selectable<StatementsTable>; entries: Selectable<StatementEntriesTable>[] } | undefined>;
}

export function createStatementService(deps: { db: Kysely<Database>; onNewEntry?: EntryHandler; now?: () => number }): StatementService {
  const now = deps.now ?? Date.now;

  async function importOne(trx: Db, kind: CamtMessage["kind"], messageId: string, createdAt: string, statement: AccountStatement, importedBy: string) {
    const id = statementKey(kind, statement);
    const contentHash = sha256(JSON.stringify(statement, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value)));
    const existing = await trx.selectFrom("statements").select("content_hash").where("id", "=", id).executeTakeFirst();
    const summary: ImportedStatement = { id, kind, accountId: statement.accountId, statementId: statement.statementId, created: !existing, entries: 0 };
    if (existing) {
      if (existing.content_hash === contentHash) return success(summary);
      return failure("statement_conflict", `statement ${statement.statementId} of ${statement.accountId} was imported with other content`, { statementId: statement.statementId, accountId: statement.accountId });
    }
    const at = now();
    await trx
      .insertInto("statements")
      .values({
        id,
        kind,
        message_id: messageId,
        statement_id: statement.statementId,
        account_id: statement.accountId,
        account_currency: statement.accountCurrency,
        servicer_bic: statement.servicerBic,
        created_at: Date.parse(statement.createdAt ?? createdAt) || at,
        from_date: statement.fromDate,
        to_date: statement.toDate,
        opening_balance: statement.openingBalance?.amount.toString() ?? null,
        opening_date: statement.openingBalance?.date ?? null,
        closing_balance: statement.closingBalance?.amount.toString() ?? null,
        closing_date: statement.closingBalance?.date ?? null,
        content_hash: contentHash,
        imported_by: importedBy,
        imported_at: at,
      })
      .execute();
    const rows = statement.entries.flatMap((entry, index) => entryRows(id, statement.accountId, entry, index, at));
    for (let start = 0; start < rows.length; start += 500) {
      await trx.insertInto("statement_entries").values(rows.slice(start, start + 500)).execute();
    }
    for (const row of rows) await deps.onNewEntry?.(trx, row);
    return success({ ...summary, entries: rows.length });
  }

  async function importAll(trx: Db, message: CamtMessage, importedBy: string): Promise<Result<ImportedStatement[], StatementErrorCode>> {
    const imported: ImportedStatement[] = [];
    for (const statement of message.statements) {
      const one = await importOne(trx, message.kind, message.messageId, message.creationDateTime, statement, importedBy);
      if (!one.ok) return one;
      imported.push(one.value);
    }
    return success(imported);
  }

  return {
    // A message is imported whole or not at all: in the caller's transaction, whose owner rolls it
    // back on a failure; otherwise in one of our own, rolled back here.
    async import(db, message, importedBy) {
      if (db.isTransaction) return importAll(db, message, importedBy);
      try {
        return await db.transaction().execute(async (trx) => {
          const imported = await importAll(trx, message, importedBy);
          if (!imported.ok) throw new RolledBack(imported);
          return imported;
        });
      } catch (error) {
        if (error instanceof RolledBack) return error.failure;
        throw error;
      }
    },

    async list(filter) {
      let query = deps.db.selectFrom("statements").selectAll().orderBy("imported_at", "desc").orderBy("id").limit(filter.limit);
      if (filter.accountId) query = query.where("account_id", "=", filter.accountId);
      return query.execute();
    },

    async get(id) {
      const statement = await deps.db.selectFrom("statements").selectAll().where("id", "=", id).executeTakeFirst();
      if (!statement) return undefined;
      const entries = await deps.db.selectFrom("statement_entries").selectAll().where("statement_id", "=", id).orderBy("id").execute();
      return { statement, entries };
    },
  };
}

class RolledBack extends Error {
  constructor(readonly failure: Failure<StatementErrorCode>) {
    super(failure.message);
  }
}

function statementKey(kind: CamtMessage["kind"], s: AccountStatement): string {
  return `stmt_${sha256([kind, s.servicerBic ?? "", s.accountId, s.statementId, s.electronicSequence ?? ""].join("\n")).slice(0, 40)}`;
}

function entryRows(statementId: string, accountId: string, entry: StatementEntry, index: number, at: number): Insertable<StatementEntriesTable>[] {
  const base = {
    statement_id: statementId,
    account_id: accountId,
    entry_ref: entry.entryRef,
    acct_svcr_ref: entry.acctSvcrRef,
    credit_debit: entry.creditDebit,
    status: entry.status,
    booking_date: entry.bookingDate,
    value_date: entry.valueDate,
    bank_tx_code: entry.bankTransactionCode,
    is_charge: entry.isCharge ? 1 : 0,
    reversal: entry.reversal ? 1 : 0,
    imported_at: at,
  };
  const split = entry.transactions.length > 1 && entry.transactions.every((t) => t.amount !== null);
  const details = split ? entry.transactions : [entry.transactions[0]];
  return details.map((tx, txIndex) => ({
    ...base,
    id: `${statementId}:${index}${split ? `:${txIndex}` : ""}`,
    uetr: tx?.uetr?.toLowerCase() ?? null,
    end_to_end_id: tx?.endToEndId ?? null,
    instr_id: tx?.instructionId ?? null,
    tx_id: tx?.transactionId ?? null,
    tx_acct_svcr_ref: tx?.acctSvcrRef ?? null,
    amount: (split ? tx!.amount! : entry.amount).value.toString(),
    currency: (split ? tx!.amount! : entry.amount).currency,
    counterparty_bic: tx?.counterpartyBic ?? null,
  }));
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
