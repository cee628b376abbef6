/**
 * ISO 4217 minor-unit exponents of the currencies Corridor knows. A deposit token's `decimals()`
 * equals its currency's exponent, so one token unit is exactly one minor unit.
 */
const EXPONENTS: Readonly<Record<string, number>> = Object.freeze({
  AED: 2, AUD: 2, BHD: 3, BRL: 2, CAD: 2, CHF: 2, CLF: 4, CNY: 2, CZK: 2, DKK: 2, EUR: 2, GBP: 2,
  HKD: 2, HUF: 2, IDR: 2, ILS: 2, INR: 2, ISK: 0, JOD: 3, JPY: 0, KRW: 0, KWD: 3, MXN: 2, MYR: 2,
  NOK: 2, NZD: 2, OMR: 3, PHP: 2, PLN: 2, QAR: 2, SAR: 2, SEK: 2, SGD: 2, THB: 2, TND: 3, TRY: 2,
  TWD: 2, USD: 2, VND: 0, ZAR: 2,
});

export class UnknownCurrencyError extends Error {
  readonly code = "unknown_currency";
  constructor(readonly currency: string) {
    super(`unknown currency ${JSON.stringify(currency)}: not an ISO 4217 code Corridor supports`);
  }
}

export function isKnownCurrency(currency: string): boolean {
  return Object.prototype.hasOwnProperty.call(EXPONENTS, currency);
}

/** The number of decimal places of a currency's minor unit (GBP 2, JPY 0, BHD 3). */
export function currencyExponent(currency: string): number {
  if (!isKnownCurrency(currency)) throw new UnknownCurrencyError(currency);
  return EXPONENTS[currency];
}

/** Converts whole major units to minor units: `toMinorUnits(5n, "BHD")` is 5000n. */
export function majorToMinorUnits(major: bigint, currency: string): bigint {
  return major * 10n ** BigInt(currencyExponent(currency));
}
