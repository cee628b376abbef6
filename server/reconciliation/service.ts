import { randomUUID } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import { isKnownCurrency } from "../config/currencies";
import type { Dialect } from "../db/database";
import type { Database, ReconRunsTable } from "../db/schema";
import { failure, success, type Result } from "../shared/result";
import { addHistory, applyFindings, loadHistory, RECONCILIATION_ACTOR, toBreak } from "./breaks";
import { countChainEvents, loadRange, loadUnkeyed, uetrRanges, type LoadScope } from "./loader";
import { createMatcher } from "./matcher";
import { readReserveFigures, reserveFinding } from "./reserves";
import { BREAK_CLASSES, type BreakFinding, type ReconBreak, type ReconCounts, type ReconErrorCode, type ReconRun, type ReconciliationService } from "./types";

export * from "./types";
export { breakId, RECONCILIATION_ACTOR } from "./breaks";

export interface ReconciliationDeps {
  db: Kysely<Database>;
  dialect: Dialect;
  /** The currency of a deposit token's address (any letter case), undefined for an unknown token. */
  currencyOfToken(address: string): string | undefined;
  /** The token's total supply on chain, in minor units. */
  tokenSupply(currency: string): Promise<bigint>;
  config: {
    /** A settled item the bank has not reported yet is pending, not a break, this long. */
    graceSeconds: number;
    /** The operator's reserve bank account (statement account id) per currency. */
    reserveAccounts: Record<string, string>;
  };
}

export const MAX_PAGE_SIZE = 500;
const DAY_MS = 86_400_000;

/**
 * The reconciliation service: a run reads chain events, ledger transfers and statement entries
 * for a date range range by range (loader.ts), matches them (matcher.ts, pure), checks reserves
 * (reserves.ts), and records the run and its breaks (breaks.ts) in one transaction.
 */
export function createReconciliationService(deps: ReconciliationDeps): ReconciliationService {
  const { db } = deps;
  let lastTick = 0;
  // History is read in (at, id) order: a strictly increasing clock keeps one break's entries in order.
  const tick = () => (lastTick = Math.max(Date.now(), lastTick + 1));

  async function reconcileRange(runId: string, from: string, to: string, currencies: string[], now: number): Promise<ReconCounts> {
    const started = Date.now();
    const fromMs = Date.parse(`${from}T00:00:00Z`);
    const scope: LoadScope = { db, from, to, fromMs, toMs: Date.parse(`${to}T00:00:00Z`) + DAY_MS, currencyOfToken: deps.currencyOfToken };
    const unkeyed = await loadUnkeyed(scope);
    const matcher = createMatcher({ from, to, currencies, now, graceMs: deps.config.graceSeconds * 1000, paymentsByEndToEnd: unkeyed.paymentsByEndToEnd });
    matcher.add(unkeyed.batch);
    for (const range of uetrRanges(await countChainEvents(scope))) matcher.add(await loadRange(scope, range, unkeyed.covered));
    const result = matcher.finish();

    const reserveCurrencies = (currencies.length > 0 ? currencies : Object.keys(deps.config.reserveAccounts).sort()).filter(
      (currency) => deps.config.reserveAccounts[currency] !== undefined,
    );
    const findings: BreakFinding[] = result.breaks;
    for (const currency of reserveCurrencies) {
      const account = deps.config.reserveAccounts[currency];
      const finding = reserveFinding(currency, await readReserveFigures(db, currency, account, deps.tokenSupply), account, to);
      if (!finding) continue;
      findings.push(finding);
      result.counts.breaks.reserve_mismatch = (result.counts.breaks.reserve_mismatch ?? 0) + 1;
    }
    const at = tick();
    await db.transaction().execute((trx) => applyFindings(trx, { id: runId, from, to, currencies, reserveCurrencies, at }, findings));
    return { ...result.counts, reservesChecked: reserveCurrencies.length, durationMs: Date.now() - started };
  }

  async function loadBreak(id: string, withHistory: boolean): Promise<ReconBreak | undefined> {
    const row = await db.selectFrom("recon_breaks").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) return undefined;
    return withHistory ? { ...toBreak(row), history: await loadHistory(db, id) } : toBreak(row);
  }

  return {
    async run(input) {
      const invalid = validateRun(input);
      if (invalid) return invalid;
      const currencies = [...new Set(input.currencies ?? [])].sort();
      const id = randomUUID();
      const startedAt = tick();
      await db
        .insertInto("recon_runs")
        .values({
          id,
          from_date: input.from,
          to_date: input.to,
          currencies: JSON.stringify(currencies),
          status: "running",
          counts: null,
          error: null,
          requested_by: input.requestedBy,
          started_at: startedAt,
          finished_at: null,
        })
        .execute();
      try {
        const counts = await reconcileRange(id, input.from, input.to, currencies, input.now ?? Date.now());
        await db.updateTable("recon_runs").set({ status: "completed", counts: JSON.stringify(counts), finished_at: tick() }).where("id", "=", id).execute();
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        await db.updateTable("recon_runs").set({ status: "failed", error: message, finished_at: tick() }).where("id", "=", id).execute();
        throw error;
      }
      return success((await this.getRun(id))!);
    },

    async getRun(id) {
      const row = await db.selectFrom("recon_runs").selectAll().where("id", "=", id).executeTakeFirst();
      return row && toRun(row);
    },

    async listRuns(filter) {
      const rows = await db.selectFrom("recon_runs").selectAll().orderBy("started_at", "desc").orderBy("id", "desc").limit(pageSize(filter.limit)).execute();
      return rows.map(toRun);
    },

    async listBreaks(filter) {
      if (filter.class !== undefined && !(BREAK_CLASSES as readonly string[]).includes(filter.class)) {
        return failure("invalid_break_class", `no break class ${filter.class}`, { class: filter.class, classes: [...BREAK_CLASSES] });
      }
      const after = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor);
      if (after && !after.ok) return after;
      const limit = pageSize(filter.limit);
      let query = db.selectFrom("recon_breaks").selectAll().orderBy("id").limit(limit + 1);
      if (filter.status) query = query.where("status", "=", filter.status);
      if (filter.class) query = query.where("class", "=", filter.class);
      if (filter.currency) query = query.where("currency", "=", filter.currency);
      if (after) query = query.where("id", ">", after.value);
      const rows = await query.execute();
      const breaks = rows.slice(0, limit).map(toBreak);
      const nextCursor = rows.length > limit ? Buffer.from(breaks[breaks.length - 1].id).toString("base64url") : null;
      return success({ breaks, nextCursor });
    },

    getBreak: (id) => loadBreak(id, true),

    async resolveBreak(id, input) {
      const at = tick();
      const updated = await db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable("recon_breaks")
          .set({ status: "resolved", resolved_at: at, resolved_by: input.actor, resolution_note: input.note })
          .where("id", "=", id)
          .where("status", "=", "open")
          .returning("class")
          .executeTakeFirst();
        if (result) await addHistory(trx, { breakId: id, action: "resolved", class: result.class, status: "resolved", note: input.note, actor: input.actor, at });
        return result !== undefined;
      });
      const found = await loadBreak(id, true);
      if (!found) return failure("break_not_found", `no break ${id}`, { id });
      if (updated || (found.resolvedBy === input.actor && found.resolutionNote === input.note)) return success(found);
      return failure("break_already_resolved", `break ${id} was resolved by ${found.resolvedBy}`, {
        id,
        resolvedBy: found.resolvedBy ?? RECONCILIATION_ACTOR,
        resolvedAt: found.resolvedAt,
      });
    },
  };
}

function validateRun(input: { from: string; to: string; currencies?: string[] }): Result<never, ReconErrorCode> | undefined {
  if (!isDate(input.from) || !isDate(input.to) || input.from > input.to) {
    return failure("invalid_date_range", "from and to must be dates (YYYY-MM-DD) with from on or before to", { from: input.from, to: input.to });
  }
  const unknown = (input.currencies ?? []).filter((currency) => !isKnownCurrency(currency));
  if (unknown.length > 0) return failure("unknown_currency", `unknown currency ${unknown.join(", ")}`, { currencies: unknown });
  return undefined;
}

/** A real calendar date in YYYY-MM-DD (2025-02-30 is not). */
function isDate(value: string): boolean {
  const time = Date.parse(`${value}T00:00:00Z`);
  return /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(time) && new Date(time).toISOString().startsWith(value);
}

function pageSize(limit: number): number {
  return Math.min(Math.max(Math.trunc(limit) || 1, 1), MAX_PAGE_SIZE);
}

function decodeCursor(cursor: string): Result<string, ReconErrorCode> {
  const id = Buffer.from(cursor, "base64url").toString("utf8");
  return /^[0-9a-f]{64}$/.test(id) ? success(id) : failure("invalid_cursor", "the cursor is not one this service returned");
}

function toRun(row: Selectable<ReconRunsTable>): ReconRun {
  return {
    id: row.id,
    from: row.from_date,
    to: row.to_date,
    currencies: JSON.parse(row.currencies) as string[],
    status: row.status,
    counts: row.counts === null ? null : (JSON.parse(row.counts) as ReconCounts),
    error: row.error,
    requestedBy: row.requested_by,
    startedAt: Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
  };
}
