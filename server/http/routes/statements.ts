import { Router } from "express";
import type { Kysely, Selectable } from "kysely";
import type { Transact } from "../../db/batcher";
import { z } from "zod";
import type { Database, StatementEntriesTable, StatementsTable } from "../../db/schema";
import { parseCamt } from "../../iso20022/camt";
import type { StatementService } from "../../statements/service";
import { ApiError, refusal } from "../errors";
import { runIdempotent } from "../idempotency";
import { callerOf, parse, requireRole } from "../middleware";
import { messageKey, readIsoMessage } from "./iso20022";

const ListStatementsQuery = z.strictObject({
  accountId: z.string().min(1).max(70).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
const StatementParams = z.strictObject({ id: z.string().regex(/^stmt_[0-9a-f]{40}$/, "a statement id") });

/**
 * Bank statements in (camt.053 / camt.054, by treasury: a credit on a reserve account can lead to
 * a mint, so banks do not post them) and out (the stored statements with their entries).
 */
export function statementRoutes(deps: { db: Kysely<Database>; transact: Transact; statements: StatementService }): Router {
  const { db, transact, statements } = deps;
  const router = Router();
  router.use(requireRole("treasury", "admin"));

  router.post("/", async (req, res) => {
    const caller = callerOf(res);
    const message = readIsoMessage(parseCamt, req.body);
    const outcome = await runIdempotent(db, caller, req, async (trx) => {
      const imported = await statements.import(trx, message, caller.keyId);
      if (!imported.ok) return refusal(imported);
      const created = imported.value.some((s) => s.created);
      return { status: created ? 201 : 200, body: { kind: message.kind, messageId: message.messageId, statements: imported.value } };
    }, { atomic: true, transact, defaultKey: messageKey(message.kind, message.messageId) });
    res.status(outcome.status).json(outcome.body);
  });

  router.get("/", async (req, res) => {
    const query = parse(ListStatementsQuery, req.query, "query");
    res.json({ statements: (await statements.list(query)).map(statementToJson) });
  });

  router.get("/:id", async (req, res) => {
    const { id } = parse(StatementParams, req.params, "path");
    const found = await statements.get(id);
    if (!found) throw new ApiError(404, "statement_not_found", `no statement ${id}`, { id });
    res.json({ ...statementToJson(found.statement), entries: found.entries.map(entryToJson) });
  });

  return router;
}

type StatementRow = Selectable<StatementsTable>;
type EntryRow = Selectable<StatementEntriesTable>;

function statementToJson(row: StatementRow) {
  const balance = (amount: string | null, date: string | null) => (amount === null ? null : { value: amount, currency: row.account_currency, date });
  return {
    id: row.id,
    kind: row.kind,
    messageId: row.message_id,
    statementId: row.statement_id,
    accountId: row.account_id,
    servicerBic: row.servicer_bic,
    fromDate: row.from_date,
    toDate: row.to_date,
    openingBalance: balance(row.opening_balance, row.opening_date),
    closingBalance: balance(row.closing_balance, row.closing_date),
    importedAt: new Date(Number(row.imported_at)).toISOString(),
  };
}

function entryToJson(row: EntryRow) {
  return {
    id: row.id,
    amount: { value: row.amount, currency: row.currency },
    creditDebit: row.credit_debit,
    status: row.status,
    bookingDate: row.booking_date,
    valueDate: row.value_date,
    bankTransactionCode: row.bank_tx_code,
    isCharge: row.is_charge === 1,
    reversal: row.reversal === 1,
    references: { uetr: row.uetr, endToEndId: row.end_to_end_id, instructionId: row.instr_id, transactionId: row.tx_id, acctSvcrRef: row.acct_svcr_ref, entryRef: row.entry_ref },
    counterpartyBic: row.counterparty_bic,
  };
}
