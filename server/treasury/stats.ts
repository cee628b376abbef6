import { sql, type Kysely } from "kysely";
import type { Database, PaymentStatus } from "../db/schema";

export interface PaymentStats {
  from: number;
  to: number;
  /** One entry per minute of the range, oldest first: the status changes entered in it. */
  perMinute: { minute: number; counts: Partial<Record<PaymentStatus, number>> }[];
  /** Payments that reached SETTLED in the range: how long each took from intake. */
  timeToSettle: { count: number; p50Ms: number | null; p95Ms: number | null; buckets: { leSeconds: number | null; count: number }[] };
  /** Payments taken in during the range, by source and target currency (the same without FX). */
  corridors: { from: string; to: string; count: number; amount: bigint }[];
}

/** Upper bounds of the time-to-settle histogram, in seconds (the last bucket is open). */
export const SETTLE_BUCKETS_SECONDS = [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600] as const;
const MINUTE = 60_000;

export async function readPaymentStats(db: Kysely<Database>, range: { minutes: number; now: number }): Promise<PaymentStats> {
  const to = range.now;
  const firstMinute = Math.floor(to / MINUTE) - range.minutes + 1;
  const from = firstMinute * MINUTE;
  const [perMinute, timeToSettle, corridors] = await Promise.all([
    readPerMinute(db, firstMinute, range.minutes),
    readTimeToSettle(db, from),
    readCorridors(db, from),
  ]);
  return { from, to, perMinute, timeToSettle, corridors };
}

async function readPerMinute(db: Kysely<Database>, firstMinute: number, minutes: number): Promise<PaymentStats["perMinute"]> {
  // A literal, not a parameter: the same expression must appear in the select and the group by.
  const minute = sql<number>`at / ${sql.lit(MINUTE)}`;
  const rows = await db
    .selectFrom("payment_status_history")
    .select([minute.as("minute"), "status", db.fn.countAll<number>().as("count")])
    .where("at", ">=", firstMinute * MINUTE)
    .groupBy([minute, "status"])
    .execute();
  const series = Array.from({ length: minutes }, (_, i) => ({ minute: (firstMinute + i) * MINUTE, counts: {} as Partial<Record<PaymentStatus, number>> }));
  for (const row of rows) {
    const slot = series[Number(row.minute) - firstMinute];
    if (slot) slot.counts[row.status] = Number(row.count);
  }
  return series;
}

async function readTimeToSettle(db: Kysely<Database>, from: number): Promise<PaymentStats["timeToSettle"]> {
  const rows = await db
    .selectFrom("payment_status_history as h")
    .innerJoin("payments as p", "p.uetr", "h.uetr")
    .select(sql<number>`h.at - p.created_at`.as("took"))
    .where("h.status", "=", "SETTLED")
    .where("h.at", ">=", from)
    .execute();
  const took = rows.map((row) => Number(row.took)).sort((a, b) => a - b);
  const buckets = [...SETTLE_BUCKETS_SECONDS, null].map((leSeconds) => ({ leSeconds, count: 0 }));
  let bucket = 0;
  for (const ms of took) {
    while (buckets[bucket].leSeconds !== null && ms > buckets[bucket].leSeconds! * 1_000) bucket += 1;
    buckets[bucket].count += 1;
  }
  const percentile = (p: number) => (took.length === 0 ? null : took[Math.min(took.length - 1, Math.ceil((p / 100) * took.length) - 1)]);
  return { count: took.length, p50Ms: percentile(50), p95Ms: percentile(95), buckets };
}

async function readCorridors(db: Kysely<Database>, from: number): Promise<PaymentStats["corridors"]> {
  // A cross-currency payment is two linked legs: count it once, by its first leg, towards the second's currency.
  const rows = await db
    .selectFrom("payments as p")
    .leftJoin("pvp_links as first", "first.uetr_a", "p.uetr")
    .leftJoin("payments as target", "target.uetr", "first.uetr_b")
    .select(["p.currency as from", "target.currency as to", "p.amount"])
    .where("p.created_at", ">=", from)
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom("pvp_links as second").select("second.uetr_b").whereRef("second.uetr_b", "=", "p.uetr"))))
    .execute();
  const corridors = new Map<string, PaymentStats["corridors"][number]>();
  for (const row of rows) {
    const to = row.to ?? row.from;
    const key = `${row.from}>${to}`;
    const corridor = corridors.get(key) ?? { from: row.from, to, count: 0, amount: 0n };
    corridor.count += 1;
    corridor.amount += BigInt(row.amount);
    corridors.set(key, corridor);
  }
  return [...corridors.values()].sort((a, b) => b.count - a.count || a.from.localeCompare(b.from) || a.to.localeCompare(b.to));
}
