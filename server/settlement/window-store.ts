import { randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import type { Db, Dialect } from "../db/database";
import type { SettlementWindowsTable } from "../db/schema";
import type { Window, WindowPosition } from "./types";

/** Rows of settlement_windows and the queries every part of the window service shares. */

export function toWindow(row: Selectable<SettlementWindowsTable>): Window {
  const positions = row.positions ? (JSON.parse(row.positions) as (Omit<WindowPosition, "amount"> & { amount: string })[]) : [];
  return {
    id: row.id,
    currency: row.currency,
    sequence: Number(row.sequence),
    state: row.state,
    round: Number(row.round),
    openedAt: Number(row.opened_at),
    closesAt: Number(row.closes_at),
    closedAt: row.closed_at === null ? null : Number(row.closed_at),
    approvalDeadline: row.approval_deadline === null ? null : Number(row.approval_deadline),
    excludedBics: JSON.parse(row.excluded_bics) as string[],
    paymentsRoot: row.payments_root,
    positions: positions.map((p) => ({ ...p, amount: BigInt(p.amount) })),
    deferred: row.deferred ? (JSON.parse(row.deferred) as Window["deferred"]) : [],
    paymentCount: Number(row.payment_count),
    grossTotal: BigInt(row.gross_total),
    txHash: row.tx_hash,
    blockNumber: row.block_number === null ? null : Number(row.block_number),
    settledAt: row.settled_at === null ? null : Number(row.settled_at),
    failureReason: row.failure_reason,
    updatedAt: Number(row.updated_at),
  };
}

export const positionsJson = (positions: readonly WindowPosition[]) => JSON.stringify(positions.map((p) => ({ ...p, amount: p.amount.toString() })));

/** Loads a window; `lock`: "update" holds it for writing, "share" keeps it from changing (PostgreSQL). */
export async function loadWindow(db: Db, dialect: Dialect, id: string, lock?: "update" | "share"): Promise<Window | undefined> {
  let query = db.selectFrom("settlement_windows").selectAll().where("id", "=", id);
  if (lock && dialect === "postgres") query = lock === "update" ? query.forUpdate() : query.forShare();
  const row = await query.executeTakeFirst();
  return row && toWindow(row);
}

/**
 * The currency's open window, opened now if there is none, held (shared) until the transaction
 * ends so that a close waits for the payments joining it. Two transactions opening one at once:
 * the unique index on open windows keeps one, and the other reads it.
 */
export async function openWindowOf(db: Db, dialect: Dialect, currency: string, now: number, intervalMs: number): Promise<string> {
  for (let attempt = 0; attempt < 3; attempt++) {
    let query = db.selectFrom("settlement_windows").select("id").where("currency", "=", currency).where("state", "=", "OPEN");
    if (dialect === "postgres") query = query.forShare();
    const open = await query.executeTakeFirst();
    if (open) return open.id;
    const last = await db.selectFrom("settlement_windows").select((eb) => eb.fn.max("sequence").as("sequence")).where("currency", "=", currency).executeTakeFirst();
    await db
      .insertInto("settlement_windows")
      .values({
        id: randomUUID(),
        currency,
        sequence: Number(last?.sequence ?? 0) + 1,
        state: "OPEN",
        round: 0,
        opened_at: now,
        closes_at: now + intervalMs,
        closed_at: null,
        approval_deadline: null,
        excluded_bics: "[]",
        payments_root: null,
        positions: null,
        deferred: null,
        payment_count: 0,
        gross_total: "0",
        tx_hash: null,
        block_number: null,
        settled_at: null,
        failure_reason: null,
        updated_at: now,
      })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }
  throw new Error(`could not open a settlement window for ${currency}`);
}

/** A window's id as NettingSettlement takes it: the UUID's 16 bytes, then 16 zero bytes. */
export function chainWindowId(id: string): string {
  return `0x${id.replace(/-/g, "").toLowerCase()}${"0".repeat(32)}`;
}

export function windowIdFromChain(word: string): string {
  const hex = word.toLowerCase().replace(/^0x/, "").slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
