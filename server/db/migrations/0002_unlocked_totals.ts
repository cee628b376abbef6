import type { Kysely } from "kysely";

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and typed loosely */

/**
 * unlocked_totals: per debtor bank and currency, the sum of its RECEIVED and SUBMITTED payments,
 * so that the funds check at intake reads one row instead of every payment not yet locked.
 * Filled from the payments already there (summed as bigint in code, as every amount is).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("unlocked_totals")
    .addColumn("bic", "text", (c) => c.notNull())
    .addColumn("currency", "text", (c) => c.notNull())
    .addColumn("amount", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("unlocked_totals_pk", ["bic", "currency"])
    .execute();

  const rows: { debtor_bic: string; currency: string; amount: string }[] = await db
    .selectFrom("payments")
    .select(["debtor_bic", "currency", "amount"])
    .where("status", "in", ["RECEIVED", "SUBMITTED"])
    .execute();
  const totals = new Map<string, { bic: string; currency: string; amount: bigint }>();
  for (const row of rows) {
    const key = `${row.debtor_bic}\n${row.currency}`;
    const total = totals.get(key) ?? { bic: row.debtor_bic, currency: row.currency, amount: 0n };
    total.amount += BigInt(row.amount);
    totals.set(key, total);
  }
  for (const total of totals.values()) {
    await db.insertInto("unlocked_totals").values({ ...total, amount: total.amount.toString() }).execute();
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("unlocked_totals").ifExists().execute();
}
