import type { Db } from "../db/database";
import type { FxQuoteSide } from "../db/schema";
import type { Caller, Money } from "../payments/types";
import type { Result } from "../shared/result";

export type FxErrorCode =
  | "currency_not_supported"
  | "invalid_pair"
  | "invalid_rate"
  | "invalid_validity"
  | "bic_required"
  | "forbidden_agent"
  | "unknown_participant"
  | "no_rate"
  | "amount_too_small"
  | "amount_too_large"
  | "quote_not_found"
  | "quote_expired"
  | "quote_used";

/** One rate as a provider posts it; times are epoch milliseconds. */
export interface RateInput {
  base: string;
  quote: string;
  /** Quote-currency major units per base major unit, an exact decimal string ("187.25"). */
  rate: string;
  /** Basis points of the rate kept by the provider, 0 to 10,000. */
  spreadBps: number;
  /** Default: now. */
  validFrom?: number;
  validUntil: number;
}

export interface FxRate {
  provider: string;
  base: string;
  quote: string;
  rate: string;
  spreadBps: number;
  validFrom: number;
  validUntil: number;
  updatedAt: number;
}

export interface QuoteRequest {
  sourceCurrency: string;
  targetCurrency: string;
  /** The amount asked for exactly, in minor units of the source or the target currency. */
  fixed: { side: FxQuoteSide; value: bigint };
}

export type QuoteStatus = "open" | "used" | "expired";

export interface Quote {
  id: string;
  /** The paying bank, the only one that may see or use the quote. */
  bic: string;
  provider: string;
  fixedSide: FxQuoteSide;
  source: Money;
  target: Money;
  /** The provider's posted rate and spread, and the client rate the amounts were converted at. */
  postedRate: string;
  spreadBps: number;
  rate: string;
  fee: Money;
  status: QuoteStatus;
  usedBy: string | null;
  expiresAt: number;
  createdAt: number;
}

export interface FxService {
  /** Replaces the provider's rates for the pairs given, all or none. Banks post as themselves. */
  postRates(caller: Caller, input: { provider?: string; rates: RateInput[] }): Promise<Result<FxRate[], FxErrorCode>>;
  /** Rates not yet expired: a bank's own; treasury and admin see every provider's (or one's). */
  listRates(caller: Caller, filter: { provider?: string }): Promise<FxRate[]>;
  /** A quote at the best valid rate for the pair, open for the quote TTL. */
  createQuote(caller: Caller, request: QuoteRequest, db?: Db): Promise<Result<Quote, FxErrorCode>>;
  /** The paying bank, treasury and admin see a quote; for anyone else it does not exist. */
  getQuote(caller: Caller, id: string, db?: Db): Promise<Result<Quote, "quote_not_found">>;
  /**
   * Marks an open, unexpired quote of the caller's bank used by `usedBy` (a payment's UETR),
   * exactly once even under concurrent calls; meant for the payment's own transaction.
   */
  consumeQuote(db: Db, caller: Caller, id: string, usedBy: string): Promise<Result<Quote, "quote_not_found" | "quote_expired" | "quote_used">>;
}
