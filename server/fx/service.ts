import { randomUUID } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import { currencyExponent, isKnownCurrency } from "../config/currencies";
import type { Db } from "../db/database";
import type { Database, FxQuotesTable, FxRatesTable } from "../db/schema";
import { bicSpellings, canonicalBic, inTransaction, sameBic } from "../payments/store";
import type { Caller } from "../payments/types";
import { failure, success, type Result } from "../shared/result";
import { BASIS_POINTS, clientRate, sourceToTarget, spreadFee, targetToSource } from "./convert";
import { compareDecimals, formatDecimal, parsePositiveDecimal, type Decimal } from "./decimal";
import type { FxErrorCode, FxRate, FxService, Quote, RateInput } from "./types";

export type { FxErrorCode, FxRate, FxService, Quote, QuoteRequest, RateInput } from "./types";

/**
 * FX rates and quotes. Providers post rates per pair; a quote converts at the best rate valid now
 * and holds it for the quote TTL, until one payment uses it. See docs/architecture.md (FX) for the
 * rounding, spread and fee model; the arithmetic is in convert.ts and decimal.ts.
 */
export interface FxServiceDeps {
  db: Kysely<Database>;
  /** Only currencies with a deposit token settle, so only they may be quoted. */
  hasToken(currency: string): boolean;
  /** How long a quote stays open. */
  quoteTtlMs: number;
  now?: () => number;
}

/** A rate may be posted for at most this long ahead: providers re-post, stale prices expire. */
export const MAX_RATE_VALIDITY_MS = 24 * 3_600_000;
/** The largest amount the escrow accepts (2^128 - 1 minor units), for converted amounts too. */
const MAX_AMOUNT = (1n << 128n) - 1n;

type Outcome<T> = Result<T, FxErrorCode>;

const quoteNotFound = (id: string) => failure("quote_not_found" as const, `no quote ${id}`, { id });

export function createFxService(deps: FxServiceDeps): FxService {
  const now = deps.now ?? Date.now;

  function checkCurrency(currency: string): Outcome<string> {
    if (isKnownCurrency(currency) && deps.hasToken(currency)) return success(currency);
    return failure("currency_not_supported", `${currency} has no deposit token on Corridor`, { currency });
  }

  /** Every rule a posted rate must meet; the first broken one is the answer. */
  function checkRate(input: RateInput, at: number): Outcome<{ validFrom: number }> {
    const pair = `${input.base}/${input.quote}`;
    for (const currency of [input.base, input.quote]) {
      const supported = checkCurrency(currency);
      if (!supported.ok) return supported;
    }
    if (input.base === input.quote) return failure("invalid_pair", `${pair} converts a currency to itself`, { pair });
    if (!parsePositiveDecimal(input.rate)) {
      return failure("invalid_rate", `${pair}: rate ${JSON.stringify(input.rate)} is not a positive decimal of at most 18 significant digits`, { pair });
    }
    if (!Number.isInteger(input.spreadBps) || input.spreadBps < 0 || input.spreadBps > BASIS_POINTS) {
      return failure("invalid_rate", `${pair}: spreadBps is whole basis points from 0 to 10000`, { pair });
    }
    const validFrom = input.validFrom ?? at;
    if (input.validUntil <= at || input.validUntil <= validFrom || input.validUntil > at + MAX_RATE_VALIDITY_MS) {
      return failure("invalid_validity", `${pair}: validUntil must be in the future, after validFrom, and at most 24 hours ahead`, { pair });
    }
    return success({ validFrom });
  }

  async function providerOf(caller: Caller, named: string | undefined): Promise<Outcome<string>> {
    if (caller.role === "bank") {
      if (caller.bic === null) return failure("bic_required", "this API key belongs to no bank");
      if (named !== undefined && !sameBic(named, caller.bic)) return failure("forbidden_agent", "a bank posts rates as itself only", { provider: named });
      named = caller.bic;
    }
    if (named === undefined) return failure("bic_required", "name the provider bank whose rates these are");
    const participant = await deps.db.selectFrom("participants").select("bic").where("bic", "in", bicSpellings(named)).executeTakeFirst();
    return participant ? success(participant.bic) : failure("unknown_participant", `no participant ${named}`, { bic: named });
  }

  async function bestRate(db: Db, base: string, quote: string, at: number) {
    const rows = await db
      .selectFrom("fx_rates")
      .selectAll()
      .where("base", "=", base)
      .where("quote", "=", quote)
      .where("valid_from", "<=", at)
      .where("valid_until", ">", at)
      .where("spread_bps", "<", BASIS_POINTS) // a 100 % spread converts nothing
      .execute();
    let best: { row: Selectable<FxRatesTable>; posted: Decimal; client: Decimal } | undefined;
    for (const row of rows) {
      const posted = parsePositiveDecimal(row.rate)!;
      const candidate = { row, posted, client: clientRate(posted, row.spread_bps) };
      if (!best || beats(candidate, best)) best = candidate;
    }
    return best;
  }

  return {
    async postRates(caller, input) {
      const at = now();
      const provider = await providerOf(caller, input.provider);
      if (!provider.ok) return provider;
      const seen = new Set<string>();
      const rows: FxRatesTable[] = [];
      for (const rate of input.rates) {
        const checked = checkRate(rate, at);
        if (!checked.ok) return checked;
        const pair = `${rate.base}/${rate.quote}`;
        if (seen.has(pair)) return failure("invalid_pair", `${pair} is posted twice`, { pair });
        seen.add(pair);
        rows.push({
          provider_bic: provider.value,
          base: rate.base,
          quote: rate.quote,
          rate: formatDecimal(parsePositiveDecimal(rate.rate)!),
          spread_bps: rate.spreadBps,
          valid_from: checked.value.validFrom,
          valid_until: rate.validUntil,
          updated_at: at,
        });
      }
      await inTransaction(deps.db, async (trx) => {
        for (const row of rows) {
          await trx
            .insertInto("fx_rates")
            .values(row)
            .onConflict((oc) =>
              oc.columns(["provider_bic", "base", "quote"]).doUpdateSet({
                rate: row.rate,
                spread_bps: row.spread_bps,
                valid_from: row.valid_from,
                valid_until: row.valid_until,
                updated_at: row.updated_at,
              }),
            )
            .execute();
        }
      });
      return success(rows.map(toRate));
    },

    async listRates(caller, filter) {
      if (caller.role === "bank" && caller.bic === null) return [];
      const provider = caller.role === "bank" ? caller.bic! : filter.provider;
      let query = deps.db.selectFrom("fx_rates").selectAll().where("valid_until", ">", now());
      if (provider !== undefined) query = query.where("provider_bic", "in", bicSpellings(provider));
      const rows = await query.orderBy("base").orderBy("quote").orderBy("provider_bic").execute();
      return rows.map(toRate);
    },

    async createQuote(caller, request, db = deps.db) {
      if (caller.role !== "bank" || caller.bic === null) return failure("bic_required", "quotes are for a paying bank's API key");
      for (const currency of [request.sourceCurrency, request.targetCurrency]) {
        const supported = checkCurrency(currency);
        if (!supported.ok) return supported;
      }
      const pair = `${request.sourceCurrency}/${request.targetCurrency}`;
      if (request.sourceCurrency === request.targetCurrency) return failure("invalid_pair", `${pair} converts a currency to itself`, { pair });
      const at = now();
      const best = await bestRate(db, request.sourceCurrency, request.targetCurrency, at);
      if (!best) return failure("no_rate", `no provider has a valid rate for ${pair}`, { pair });

      const exponents = { source: currencyExponent(request.sourceCurrency), target: currencyExponent(request.targetCurrency) };
      const { side, value } = request.fixed;
      const source = side === "source" ? value : targetToSource(value, best.client, exponents);
      const target = side === "target" ? value : sourceToTarget(value, best.client, exponents);
      if (source === 0n || target === 0n) {
        return failure("amount_too_small", `the amount converts to zero minor units of ${side === "source" ? request.targetCurrency : request.sourceCurrency}`, { pair });
      }
      if (source > MAX_AMOUNT || target > MAX_AMOUNT) return failure("amount_too_large", "the converted amount is above 2^128 - 1 minor units", { pair });

      const row: FxQuotesTable = {
        id: randomUUID(),
        key_id: caller.keyId,
        bic: canonicalBic(caller.bic),
        provider_bic: best.row.provider_bic,
        fixed_side: side,
        source_currency: request.sourceCurrency,
        source_amount: source.toString(),
        target_currency: request.targetCurrency,
        target_amount: target.toString(),
        posted_rate: best.row.rate,
        spread_bps: best.row.spread_bps,
        rate: formatDecimal(best.client),
        fee_amount: spreadFee(source, best.posted, best.client, exponents).toString(),
        fee_currency: request.targetCurrency,
        expires_at: at + deps.quoteTtlMs,
        status: "open",
        used_by: null,
        used_at: null,
        created_at: at,
      };
      await db.insertInto("fx_quotes").values(row).execute();
      return success(toQuote(row, at));
    },

    async getQuote(caller, id, db = deps.db) {
      const row = await db.selectFrom("fx_quotes").selectAll().where("id", "=", id).executeTakeFirst();
      if (!row || (caller.role === "bank" && !sameBic(caller.bic, row.bic))) return quoteNotFound(id);
      return success(toQuote(row, now()));
    },

    async consumeQuote(db, caller, id, usedBy) {
      const at = now();
      const row = await db.selectFrom("fx_quotes").selectAll().where("id", "=", id).executeTakeFirst();
      // Only the paying bank may use its quote; for any other caller it does not exist.
      if (!row || !sameBic(caller.bic, row.bic)) return quoteNotFound(id);
      if (row.status === "used") return failure("quote_used", `quote ${id} was already used`, { id, usedBy: row.used_by });
      if (row.expires_at <= at) return failure("quote_expired", `quote ${id} expired at ${new Date(row.expires_at).toISOString()}`, { id });
      // The status condition makes the change once: on PostgreSQL a concurrent twin waits for
      // this row's lock and then finds it used; on SQLite writers take turns.
      const updated = await db
        .updateTable("fx_quotes")
        .set({ status: "used", used_by: usedBy, used_at: at })
        .where("id", "=", id)
        .where("status", "=", "open")
        .executeTakeFirst();
      if (updated.numUpdatedRows !== 1n) return failure("quote_used", `quote ${id} was already used`, { id });
      return success(toQuote({ ...row, status: "used", used_by: usedBy, used_at: at }, at));
    },
  };
}

/**
 * Which of two valid rates a payer gets: the higher client rate (more target per source unit);
 * on a tie, the rate posted first (a provider that matches a price later does not take the
 * flow from the one that set it), then the lower provider BIC, so the choice is deterministic.
 */
function beats(a: { row: Selectable<FxRatesTable>; client: Decimal }, b: { row: Selectable<FxRatesTable>; client: Decimal }): boolean {
  const byRate = compareDecimals(a.client, b.client);
  if (byRate !== 0) return byRate > 0;
  if (a.row.updated_at !== b.row.updated_at) return a.row.updated_at < b.row.updated_at;
  return a.row.provider_bic < b.row.provider_bic;
}

function toRate(row: Selectable<FxRatesTable>): FxRate {
  return {
    provider: row.provider_bic,
    base: row.base,
    quote: row.quote,
    rate: row.rate,
    spreadBps: row.spread_bps,
    validFrom: row.valid_from,
    validUntil: row.valid_until,
    updatedAt: row.updated_at,
  };
}

/** An open quote past its expiry reads as expired; the row keeps `open` (nothing sweeps it). */
function toQuote(row: Selectable<FxQuotesTable>, at: number): Quote {
  return {
    id: row.id,
    bic: row.bic,
    provider: row.provider_bic,
    fixedSide: row.fixed_side,
    source: { value: BigInt(row.source_amount), currency: row.source_currency },
    target: { value: BigInt(row.target_amount), currency: row.target_currency },
    postedRate: row.posted_rate,
    spreadBps: row.spread_bps,
    rate: row.rate,
    fee: { value: BigInt(row.fee_amount), currency: row.fee_currency },
    status: row.status === "used" ? "used" : row.expires_at <= at ? "expired" : "open",
    usedBy: row.used_by,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
  };
}
