import { PostgresAdapter } from "kysely";
import type { Db, Dialect } from "../db/database";
import type { Money } from "../payments/types";
import { failure, success, type Result } from "../shared/result";
import type { SanctionsList } from "./sanctions";

/**
 * Pre-settlement risk screen: the sanctions list, a single-payment cap and a daily volume cap per
 * debtor bank per currency. Volumes are kept per UTC day in risk_daily_volumes as digit strings and
 * added as bigint in code (never summed in SQL, never floats).
 *
 * check and record run in the caller's transaction. record is a read-modify-write under a row lock
 * on PostgreSQL, so concurrent records never lose an update. check reads without creating a row, so
 * two concurrent first payments of a day could both pass it; the payment service closes that gap by
 * locking the debtor's ledger account (same bank and currency) before it checks.
 */

export type RiskErrorCode = "limit_exceeded" | "sanctioned_party";

/** The parts of a payment the screen looks at (a NewPayment fits). */
export interface RiskPayment {
  debtorAgent: string;
  creditorAgent: string;
  amount: Money;
  debtor?: { name?: string | null };
  creditor?: { name?: string | null };
}

/** Caps in minor units; undefined means no cap. A cap of zero refuses every payment. */
export interface RiskLimits {
  singlePaymentCap(bic: string, currency: string): bigint | undefined;
  dailyVolumeCap(bic: string, currency: string): bigint | undefined;
}

export interface RiskServiceDeps {
  db: Db;
  sanctions: SanctionsList;
  limits: RiskLimits;
  /** Whether to lock volume rows (PostgreSQL); found from the database handle when omitted. */
  dialect?: Dialect;
  now?: () => number;
}

export interface RiskService {
  check(db: Db, payment: RiskPayment): Promise<Result<void, RiskErrorCode>>;
  /** Adds the payment's amount to its debtor bank's volume of the current UTC day. */
  record(db: Db, payment: RiskPayment): Promise<void>;
  /** The debtor bank's recorded volume on a UTC day (`YYYY-MM-DD`, today by default). */
  dailyVolume(bic: string, currency: string, day?: string, db?: Db): Promise<bigint>;
}

/** Caps for one kind of limit: per currency, and for the currencies not named. */
export interface CurrencyCaps {
  all?: bigint;
  byCurrency: Record<string, bigint>;
}

/** The same caps for every bank, per currency: what a relay configured by environment uses. */
export function currencyLimits(caps: { singlePayment?: CurrencyCaps; dailyVolume?: CurrencyCaps }): RiskLimits {
  const capOf = (setting: CurrencyCaps | undefined, currency: string) => setting?.byCurrency[currency] ?? setting?.all;
  return {
    singlePaymentCap: (_bic, currency) => capOf(caps.singlePayment, currency),
    dailyVolumeCap: (_bic, currency) => capOf(caps.dailyVolume, currency),
  };
}

export function utcDay(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}

export function createRiskService(deps: RiskServiceDeps): RiskService {
  const now = deps.now ?? Date.now;
  const locks = (db: Db) => (deps.dialect ?? dialectOf(db)) === "postgres";

  async function readVolume(db: Db, key: VolumeKey, forUpdate: boolean): Promise<bigint> {
    let query = db
      .selectFrom("risk_daily_volumes")
      .select("amount")
      .where("bic", "=", key.bic)
      .where("currency", "=", key.currency)
      .where("day", "=", key.day);
    if (forUpdate) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    return row ? BigInt(row.amount) : 0n;
  }

  function checkLimits(used: bigint, payment: RiskPayment): Result<void, RiskErrorCode> {
    const { value, currency } = payment.amount;
    const single = deps.limits.singlePaymentCap(payment.debtorAgent, currency);
    if (single !== undefined && value > single) {
      return failure("limit_exceeded", `${value} ${currency} exceeds the single-payment cap of ${single}`, {
        limit: "single_payment",
        cap: single.toString(),
        amount: value.toString(),
      });
    }
    const daily = deps.limits.dailyVolumeCap(payment.debtorAgent, currency);
    if (daily !== undefined && used + value > daily) {
      return failure("limit_exceeded", `${value} ${currency} would bring today's volume to ${used + value}, over the cap of ${daily}`, {
        limit: "daily_volume",
        cap: daily.toString(),
        used: used.toString(),
        amount: value.toString(),
      });
    }
    return success(undefined);
  }

  return {
    async check(db, payment) {
      const hit = deps.sanctions.screen({
        debtorAgent: payment.debtorAgent,
        creditorAgent: payment.creditorAgent,
        debtorName: payment.debtor?.name,
        creditorName: payment.creditor?.name,
      });
      if (hit) {
        return failure("sanctioned_party", `the ${hit.party} matches a sanctions list entry`, {
          party: hit.party,
          screened: hit.screened,
          entry: hit.entry,
        });
      }
      const used = await readVolume(db, volumeKey(payment, now()), locks(db));
      return checkLimits(used, payment);
    },

    async record(db, payment) {
      const key = volumeKey(payment, now());
      // Create the row or take the one there, and read it: an upsert that changes nothing, so that
      // there is always a row, locked (PostgreSQL) until the transaction ends; then add and write.
      const row = await db
        .insertInto("risk_daily_volumes")
        .values({ ...key, amount: "0" })
        .onConflict((oc) => oc.columns(["bic", "currency", "day"]).doUpdateSet((eb) => ({ amount: eb.ref("risk_daily_volumes.amount") })))
        .returning("amount")
        .executeTakeFirstOrThrow();
      const used = BigInt(row.amount);
      await db
        .updateTable("risk_daily_volumes")
        .set({ amount: (used + payment.amount.value).toString() })
        .where("bic", "=", key.bic)
        .where("currency", "=", key.currency)
        .where("day", "=", key.day)
        .execute();
    },

    dailyVolume(bic, currency, day = utcDay(now()), db = deps.db) {
      return readVolume(db, { bic, currency, day }, false);
    },
  };
}

interface VolumeKey {
  bic: string;
  currency: string;
  day: string;
}

function volumeKey(payment: RiskPayment, at: number): VolumeKey {
  return { bic: payment.debtorAgent, currency: payment.amount.currency, day: utcDay(at) };
}

function dialectOf(db: Db): Dialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? "postgres" : "sqlite";
}
