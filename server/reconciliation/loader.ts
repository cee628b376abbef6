import { sql, type Expression, type ExpressionBuilder, type Kysely, type Selectable, type SqlBool } from "kysely";
import type { ChainEventsTable, Database, LedgerTransfersTable, StatementEntriesTable } from "../db/schema";
import { indexPayments, uetrByEndToEnd, type MatchBatch } from "./matcher";
import type { ChainRecord, LedgerRecord, MovementKind, PaymentReference, StatementRecord } from "./types";

/**
 * Reads a run's records from the three tables, one UETR range at a time, so that memory holds one
 * range's records (and the incomplete items the matcher keeps) rather than the whole run. Ranges
 * split on the UETR's first character: rows for one UETR always fall in one range, whatever the
 * database's collation, because the ranges cover every string between them.
 */

export interface LoadScope {
  db: Kysely<Database>;
  from: string;
  to: string;
  fromMs: number;
  toMs: number;
  currencyOfToken(address: string): string | undefined;
}

const HEX = [..."0123456789abcdef"];

/** Records per UETR range aimed at: few queries for a small run, short-lived rows for a large one. */
const RECORDS_PER_RANGE = 5_000;

export interface UetrRange {
  from?: string;
  to?: string;
}

/**
 * Splits the UETR space into 1, 16 or 256 ranges on its first one or two hex digits, so that each
 * holds about RECORDS_PER_RANGE of `expected` records: `(−∞, "1")`, `["1", "2")`, … `["f", +∞)`.
 * Rows held at once are what costs here: a million of them alive cost more in garbage collection
 * than reading them does.
 */
export function uetrRanges(expected: number): UetrRange[] {
  const digits = expected <= RECORDS_PER_RANGE ? 0 : expected <= 16 * RECORDS_PER_RANGE ? 1 : 2;
  const prefixes = digits === 0 ? [] : digits === 1 ? HEX : HEX.flatMap((a) => HEX.map((b) => a + b));
  const bounds = prefixes.slice(1);
  return [undefined, ...bounds].map((from, i) => ({ from, to: bounds[i] }));
}

/** How many reconciled chain events the run's time range holds (index only): the run's size. */
export async function countChainEvents(scope: LoadScope): Promise<number> {
  const row = await scope.db
    .selectFrom("chain_events")
    .select((eb) => eb.fn.countAll<number>().as("count"))
    .where("name", "in", Object.keys(CHAIN_EVENTS))
    .where("block_time", ">=", scope.fromMs)
    .where("block_time", "<", scope.toMs)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

const CHAIN_EVENTS: Record<string, MovementKind> = { Released: "payment", Minted: "mint", Burned: "burn" };

/**
 * The events reconciled. The name is wrapped in coalesce so that SQLite's planner, which has no
 * statistics, does not pick the (name, block_time) index over the UETR one and scan every
 * Released event of all time for each range (PostgreSQL's planner has statistics and needs no hint).
 */
function isReconciledEvent(eb: Eb<"chain_events">) {
  return eb(eb.fn.coalesce("name", sql.lit("")), "in", Object.keys(CHAIN_EVENTS));
}
const IN_LIST_CHUNK = 500;

// Only the columns matching reads: a million rows of the rest (hashes, JSON args) cost time and memory.
const CHAIN_COLUMNS = ["id", "name", "uetr", "amount", "token", "block_time"] as const;
const LEDGER_COLUMNS = ["id", "uetr", "currency", "amount", "created_at"] as const;
const STATEMENT_COLUMNS = [
  "id",
  "account_id",
  "acct_svcr_ref",
  "uetr",
  "end_to_end_id",
  "amount",
  "currency",
  "credit_debit",
  "status",
  "value_date",
  "booking_date",
  "is_charge",
  "reversal",
] as const;
type ChainRow = Pick<Selectable<ChainEventsTable>, (typeof CHAIN_COLUMNS)[number]>;
type LedgerRow = Pick<Selectable<LedgerTransfersTable>, (typeof LEDGER_COLUMNS)[number]>;
type StatementRow = Pick<Selectable<StatementEntriesTable>, (typeof STATEMENT_COLUMNS)[number]>;

type Eb<T extends keyof Database> = ExpressionBuilder<Database, T>;

/** The rows of a UETR range; every table read here names its column `uetr`. */
function inUetrRange(range: UetrRange): Expression<SqlBool> {
  const uetr = sql.ref("uetr");
  const bounds = [sql`${uetr} is not null`];
  if (range.from !== undefined) bounds.push(sql`${uetr} >= ${range.from}`);
  if (range.to !== undefined) bounds.push(sql`${uetr} < ${range.to}`);
  return sql<SqlBool>`(${sql.join(bounds, sql` and `)})`;
}

function statementDateInScope(eb: Eb<"statement_entries">, scope: LoadScope) {
  const date = eb.fn.coalesce("value_date", "booking_date");
  return eb.and([eb(date, ">=", scope.from), eb(date, "<=", scope.to), eb("status", "<>", "INFO")]);
}

/** Settlements and their undoing, funds-in and funds-out; every other transfer is not reconciled. */
function isReconciledTransfer(eb: Eb<"ledger_transfers">) {
  return eb.or(["%:release", "%:unrelease", "funds:%:mint", "funds:%:burn", "funds:%:unmint", "funds:%:unburn"].map((pattern) => eb("id", "like", pattern)));
}

/**
 * One UETR range's records: statement entries dated in scope; chain and ledger records timed in
 * scope or sharing a UETR with such an entry (pulled in from any day). UETRs in `skip` were read
 * already (through their EndToEndId) and are left out.
 */
export async function loadRange(scope: LoadScope, range: UetrRange, skip: ReadonlySet<string>): Promise<MatchBatch> {
  const { db } = scope;
  // Chain and ledger records of another day are pulled in by a statement entry of the range.
  const statementUetrs = db
    .selectFrom("statement_entries")
    .select("uetr")
    .where((eb) => eb.and([inUetrRange(range), statementDateInScope(eb, scope)]));
  const [chain, ledger, statement] = await Promise.all([
    db
      .selectFrom("chain_events")
      .select(CHAIN_COLUMNS)
      .where((eb) =>
        eb.and([
          isReconciledEvent(eb),
          inUetrRange(range),
          eb.or([eb.and([eb("block_time", ">=", scope.fromMs), eb("block_time", "<", scope.toMs)]), eb("uetr", "in", statementUetrs)]),
        ]),
      )
      .execute(),
    db
      .selectFrom("ledger_transfers")
      .select(LEDGER_COLUMNS)
      .where((eb) =>
        eb.and([
          inUetrRange(range),
          isReconciledTransfer(eb),
          eb.or([eb.and([eb("created_at", ">=", scope.fromMs), eb("created_at", "<", scope.toMs)]), eb("uetr", "in", statementUetrs)]),
        ]),
      )
      .execute(),
    db
      .selectFrom("statement_entries")
      .select(STATEMENT_COLUMNS)
      .where((eb) => eb.and([inUetrRange(range), statementDateInScope(eb, scope)]))
      .execute(),
  ]);
  const keep = <R extends { uetr: string | null }>(rows: R[]) => (skip.size === 0 ? rows : rows.filter((r) => !skip.has(r.uetr!.toLowerCase())));
  return {
    chain: keep(chain).map((row) => toChainRecord(row, scope)),
    ledger: keep(ledger).map(toLedgerRecord),
    statement: keep(statement).map(toStatementRecord),
  };
}

/**
 * What has no UETR of its own, read before the ranges: statement entries without one (resolved
 * through the payments' EndToEndIds where possible, with every record of the UETRs they resolve
 * to) and chain events without one. Returns the batch, the UETRs it covers, and the payments.
 */
export async function loadUnkeyed(
  scope: LoadScope,
): Promise<{ batch: MatchBatch; covered: Set<string>; paymentsByEndToEnd: Map<string, PaymentReference[]> }> {
  const { db } = scope;
  const entries = await db
    .selectFrom("statement_entries")
    .select(STATEMENT_COLUMNS)
    .where((eb) => eb.and([eb("uetr", "is", null), statementDateInScope(eb, scope)]))
    .execute();
  const endToEndIds = [...new Set(entries.map((e) => e.end_to_end_id).filter((id): id is string => id !== null))];
  const payments: PaymentReference[] = [];
  for (const ids of chunks(endToEndIds)) {
    const rows = await db.selectFrom("payments").select(["uetr", "end_to_end_id", "amount", "currency"]).where("end_to_end_id", "in", ids).execute();
    for (const row of rows) payments.push({ uetr: row.uetr, endToEndId: row.end_to_end_id, amount: BigInt(row.amount), currency: row.currency });
  }
  const paymentsByEndToEnd = indexPayments(payments);
  const statement = entries.map(toStatementRecord);
  const covered = new Set(statement.map((e) => uetrByEndToEnd(e, paymentsByEndToEnd)).filter((u): u is string => u !== undefined));

  const chain: ChainRecord[] = [];
  const ledger: LedgerRecord[] = [];
  for (const uetrs of chunks(uetrsAsStored(covered))) {
    const [chainRows, ledgerRows, entryRows] = await Promise.all([
      db.selectFrom("chain_events").select(CHAIN_COLUMNS).where(isReconciledEvent).where("uetr", "in", uetrs).execute(),
      db.selectFrom("ledger_transfers").select(LEDGER_COLUMNS).where("uetr", "in", uetrs).where(isReconciledTransfer).execute(),
      db.selectFrom("statement_entries").select(STATEMENT_COLUMNS).where("uetr", "in", uetrs).where((eb) => statementDateInScope(eb, scope)).execute(),
    ]);
    chain.push(...chainRows.map((row) => toChainRecord(row, scope)));
    ledger.push(...ledgerRows.map(toLedgerRecord));
    statement.push(...entryRows.map(toStatementRecord));
  }
  const unkeyedChain = await db
    .selectFrom("chain_events")
    .select(CHAIN_COLUMNS)
    .where("name", "in", Object.keys(CHAIN_EVENTS))
    .where("uetr", "is", null)
    .where("block_time", ">=", scope.fromMs)
    .where("block_time", "<", scope.toMs)
    .execute();
  chain.push(...unkeyedChain.map((row) => toChainRecord(row, scope)));
  return { batch: { chain, ledger, statement }, covered, paymentsByEndToEnd };
}

/** UETRs are matched in lower case; rows may store either case, so both spellings are asked for. */
function uetrsAsStored(uetrs: Set<string>): string[] {
  return [...new Set([...uetrs].flatMap((u) => [u, u.toUpperCase()]))];
}

function chunks<T>(values: readonly T[]): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < values.length; i += IN_LIST_CHUNK) result.push(values.slice(i, i + IN_LIST_CHUNK));
  return result;
}

function toChainRecord(row: ChainRow, scope: LoadScope): ChainRecord {
  return {
    id: row.id,
    kind: CHAIN_EVENTS[row.name],
    uetr: row.uetr,
    // An event indexed before amounts were kept compares as 0: a mismatch to look at, not a crash.
    amount: BigInt(row.amount ?? 0),
    currency: row.token === null ? undefined : scope.currencyOfToken(row.token),
    time: Number(row.block_time ?? 0),
  };
}

function toLedgerRecord(row: LedgerRow): LedgerRecord {
  const kind: MovementKind = /:(un)?mint$/.test(row.id) ? "mint" : /:(un)?burn$/.test(row.id) ? "burn" : "payment";
  return {
    id: row.id,
    kind,
    uetr: row.uetr!,
    amount: BigInt(row.amount),
    currency: row.currency,
    time: Number(row.created_at),
    // A reorganization's compensating transfer (funds-service and payment epochs alike).
    undoes: /:un(release|mint|burn)$/.test(row.id),
  };
}

function toStatementRecord(row: StatementRow): StatementRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    acctSvcrRef: row.acct_svcr_ref,
    uetr: row.uetr,
    endToEndId: row.end_to_end_id,
    amount: BigInt(row.amount),
    currency: row.currency,
    direction: row.credit_debit,
    status: row.status === "BOOK" || row.status === "PDNG" ? row.status : "INFO",
    date: (row.value_date ?? row.booking_date)!,
    isCharge: row.is_charge === 1,
    isReversal: row.reversal === 1,
  };
}
