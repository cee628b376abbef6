import type { Kysely } from "kysely";
import type { Database } from "../db/schema";
import { canonicalBic } from "../payments/store";

/** An open window as it stands: its queued obligations, bank to bank, and where they net to. */
export interface WindowProjection {
  paymentCount: number;
  grossTotal: bigint;
  /** By BIC; negative for banks that would pay in. Zero nets are left out. */
  positions: { bic: string; amount: bigint }[];
  /** Summed per ordered pair of banks. */
  obligations: { debtor: string; creditor: string; count: number; amount: bigint }[];
}

/**
 * Projects an open window from its queued payments. `onlyBic` limits the obligations and
 * positions to one bank's own (a bank does not see the others'); the totals stay whole.
 */
export async function projectOpenWindow(db: Kysely<Database>, windowId: string, onlyBic?: string): Promise<WindowProjection> {
  const rows = await db
    .selectFrom("payments")
    .select(["debtor_bic", "creditor_bic", "amount"])
    .where("window_id", "=", windowId)
    .where("status", "=", "QUEUED")
    .execute();
  const pairs = new Map<string, WindowProjection["obligations"][number]>();
  const nets = new Map<string, bigint>();
  let grossTotal = 0n;
  for (const row of rows) {
    const debtor = canonicalBic(row.debtor_bic);
    const creditor = canonicalBic(row.creditor_bic);
    const amount = BigInt(row.amount);
    grossTotal += amount;
    const key = `${debtor}>${creditor}`;
    const pair = pairs.get(key) ?? { debtor, creditor, count: 0, amount: 0n };
    pair.count += 1;
    pair.amount += amount;
    pairs.set(key, pair);
    nets.set(debtor, (nets.get(debtor) ?? 0n) - amount);
    nets.set(creditor, (nets.get(creditor) ?? 0n) + amount);
  }
  const mine = onlyBic === undefined ? () => true : (bic: string) => bic === canonicalBic(onlyBic);
  return {
    paymentCount: rows.length,
    grossTotal,
    positions: [...nets].filter(([bic, amount]) => amount !== 0n && mine(bic)).map(([bic, amount]) => ({ bic, amount })).sort((a, b) => a.bic.localeCompare(b.bic)),
    obligations: [...pairs.values()].filter((p) => mine(p.debtor) || mine(p.creditor)).sort((a, b) => a.debtor.localeCompare(b.debtor) || a.creditor.localeCompare(b.creditor)),
  };
}
