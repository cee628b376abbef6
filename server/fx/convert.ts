import { divideHalfEven, normalize, pow10, type Decimal } from "./decimal";

/**
 * Conversion between minor units of two currencies at a rate in major units.
 *
 * A rate is target major units per one source major unit (GBP/JPY 187.25: £1 buys ¥187.25). With
 * exponents e_s and e_t (GBP 2, JPY 0, BHD 3), `s` source minor units are worth exactly
 *   s × rate × 10^e_t / 10^e_s   target minor units,
 * and that exact rational is rounded once, half-even, to a whole target minor unit. Going the
 * other way, t target minor units cost t × 10^e_s / (rate × 10^e_t) source minor units, rounded
 * half-even to a whole source minor unit.
 *
 * The spread is in basis points of the posted rate: the payer's (client) rate is
 * rate × (10,000 − spreadBps) / 10,000, itself an exact decimal (four more places at most).
 */

/** A whole rate in basis points; a spread is 0 to this many. */
export const BASIS_POINTS = 10_000;

/** The rate the payer gets: the posted rate less the provider's spread. */
export function clientRate(rate: Decimal, spreadBps: number): Decimal {
  return normalize({ units: rate.units * BigInt(BASIS_POINTS - spreadBps), scale: rate.scale + 4 });
}

/** Source minor units → target minor units at `rate`, rounded half-even on the target's minor unit. */
export function sourceToTarget(sourceMinor: bigint, rate: Decimal, exponents: { source: number; target: number }): bigint {
  return divideHalfEven(sourceMinor * rate.units * pow10(exponents.target), pow10(rate.scale + exponents.source));
}

/**
 * Target minor units → the source minor units that buy them at `rate`, rounded half-even on the
 * source's minor unit. The rate must be positive.
 */
export function targetToSource(targetMinor: bigint, rate: Decimal, exponents: { source: number; target: number }): bigint {
  return divideHalfEven(targetMinor * pow10(rate.scale + exponents.source), rate.units * pow10(exponents.target));
}

/**
 * The provider's fee, in target minor units: what the source amount is worth at the posted rate
 * less what it is worth at the client rate, each rounded half-even. Never negative (rounding is
 * monotonic and the client rate is at most the posted one); for a source-amount quote it is
 * exactly what the payee would have received more without the spread.
 */
export function spreadFee(sourceMinor: bigint, posted: Decimal, client: Decimal, exponents: { source: number; target: number }): bigint {
  return sourceToTarget(sourceMinor, posted, exponents) - sourceToTarget(sourceMinor, client, exponents);
}
