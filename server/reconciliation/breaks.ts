import { createHash, randomUUID } from "node:crypto";
import type { Insertable, Kysely, Selectable, Transaction } from "kysely";
import type { BreakStatus, Database, ReconBreakHistoryTable, ReconBreaksTable } from "../db/schema";
import type { BreakAction, BreakClass, BreakFinding, BreakHistoryEntry, Details, ReconBreak } from "./types";

/**
 * Breaks as stored, and what a run does to them. A break's id is the hash of its item's key, not
 * of its class, so one item keeps one break (and one history) as its class changes.
 *
 * After a run:
 * - a finding with no break yet opens one (`opened`);
 * - an open break found again stays open, with the run's details (`reclassified` when its class changed);
 * - a resolved break found again is reopened (`reopened`): whoever resolved it, the problem is back;
 * - an open break the run covers (its date in the run's range and its currency in the run's) but
 *   did not find is resolved by `reconciliation` (`cleared`): the sides agree now, or the item is
 *   pending again (and will be reopened if it breaks once more).
 */

export const RECONCILIATION_ACTOR = "reconciliation";
const INSERT_CHUNK = 400;

/** The stable id of the break of an item key (`uetr:…`, `entry:…`, `chain:…`, `reserves:…`). */
export function breakId(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

export interface RunCoverage {
  id: string;
  from: string;
  to: string;
  /** Empty: every currency. */
  currencies: readonly string[];
  /** Currencies whose reserves the run checked. */
  reserveCurrencies: readonly string[];
  at: number;
}

type BreakRow = Selectable<ReconBreaksTable>;

/** Applies a run's findings to the stored breaks, in the caller's transaction. */
export async function applyFindings(trx: Transaction<Database>, run: RunCoverage, findings: readonly BreakFinding[]): Promise<void> {
  const byId = new Map(findings.map((finding) => [breakId(finding.key), finding]));
  const existing = new Map<string, BreakRow>();
  const ids = [...byId.keys()];
  for (let i = 0; i < ids.length; i += INSERT_CHUNK) {
    const rows = await trx.selectFrom("recon_breaks").selectAll().where("id", "in", ids.slice(i, i + INSERT_CHUNK)).execute();
    for (const row of rows) existing.set(row.id, row);
  }
  const inserts: Insertable<ReconBreaksTable>[] = [];
  const history: Insertable<ReconBreakHistoryTable>[] = [];
  const record = (breakId: string, action: BreakAction, cls: string, status: BreakStatus, note: string | null = null) =>
    history.push({ id: randomUUID(), break_id: breakId, run_id: run.id, action, class: cls, status, note, actor: RECONCILIATION_ACTOR, at: run.at });

  for (const [id, finding] of byId) {
    const details = JSON.stringify({ ...finding.details, date: finding.date });
    const row = existing.get(id);
    if (!row) {
      inserts.push({
        id,
        class: finding.class,
        status: "open",
        keys: JSON.stringify(finding.keys),
        currency: finding.currency,
        details,
        first_run_id: run.id,
        last_run_id: run.id,
        first_seen_at: run.at,
        last_seen_at: run.at,
        resolved_at: null,
        resolved_by: null,
        resolution_note: null,
      });
      record(id, "opened", finding.class, "open");
      continue;
    }
    await trx
      .updateTable("recon_breaks")
      .set({ class: finding.class, status: "open", currency: finding.currency, details, last_run_id: run.id, last_seen_at: run.at, resolved_at: null, resolved_by: null, resolution_note: null })
      .where("id", "=", id)
      .execute();
    if (row.status === "resolved") record(id, "reopened", finding.class, "open", `was ${row.class}, resolved by ${row.resolved_by}`);
    else if (row.class !== finding.class) record(id, "reclassified", finding.class, "open", `was ${row.class}`);
  }
  for (let i = 0; i < inserts.length; i += INSERT_CHUNK) await trx.insertInto("recon_breaks").values(inserts.slice(i, i + INSERT_CHUNK)).execute();

  const note = `not found by run ${run.id}`;
  for (const row of await coveredOpenBreaks(trx, run)) {
    if (byId.has(row.id)) continue;
    await trx
      .updateTable("recon_breaks")
      .set({ status: "resolved", resolved_at: run.at, resolved_by: RECONCILIATION_ACTOR, resolution_note: note })
      .where("id", "=", row.id)
      .where("status", "=", "open")
      .execute();
    record(row.id, "cleared", row.class, "resolved", note);
  }
  for (let i = 0; i < history.length; i += INSERT_CHUNK) await trx.insertInto("recon_break_history").values(history.slice(i, i + INSERT_CHUNK)).execute();
}

/** Open breaks whose item the run looked at: reserves it checked, items dated in its range and currencies. */
async function coveredOpenBreaks(trx: Transaction<Database>, run: RunCoverage): Promise<BreakRow[]> {
  const open = await trx.selectFrom("recon_breaks").selectAll().where("status", "=", "open").execute();
  return open.filter((row) => {
    if (row.class === "reserve_mismatch") return run.reserveCurrencies.includes(row.currency!);
    const date = (JSON.parse(row.details) as Details).date;
    const inRange = typeof date === "string" && date >= run.from && date <= run.to;
    return inRange && (run.currencies.length === 0 || (row.currency !== null && run.currencies.includes(row.currency)));
  });
}

/** Appends one history entry (a person's action, outside any run). */
export async function addHistory(
  db: Kysely<Database> | Transaction<Database>,
  entry: { breakId: string; action: BreakAction; class: string; status: BreakStatus; note: string | null; actor: string; at: number },
): Promise<void> {
  await db
    .insertInto("recon_break_history")
    .values({ id: randomUUID(), break_id: entry.breakId, run_id: null, action: entry.action, class: entry.class, status: entry.status, note: entry.note, actor: entry.actor, at: entry.at })
    .execute();
}

export async function loadHistory(db: Kysely<Database> | Transaction<Database>, id: string): Promise<BreakHistoryEntry[]> {
  const rows = await db.selectFrom("recon_break_history").selectAll().where("break_id", "=", id).orderBy("at").orderBy("id").execute();
  return rows.map((row) => ({
    action: row.action as BreakAction,
    class: row.class as BreakClass,
    status: row.status,
    note: row.note,
    actor: row.actor,
    runId: row.run_id,
    at: Number(row.at),
  }));
}

export function toBreak(row: BreakRow): ReconBreak {
  return {
    id: row.id,
    class: row.class as BreakClass,
    status: row.status,
    keys: JSON.parse(row.keys) as Record<string, string>,
    currency: row.currency,
    details: JSON.parse(row.details) as Details,
    firstRunId: row.first_run_id,
    lastRunId: row.last_run_id,
    firstSeenAt: Number(row.first_seen_at),
    lastSeenAt: Number(row.last_seen_at),
    resolvedAt: row.resolved_at === null ? null : Number(row.resolved_at),
    resolvedBy: row.resolved_by,
    resolutionNote: row.resolution_note,
  };
}
