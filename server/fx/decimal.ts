/**
 * Exact decimals for FX rates, in bigint only: a rate is `units / 10^scale` (187.25 is 18725 / 10^2).
 * Floats would turn a posted "0.1" into 0.1000000000000000055…, and amounts of up to 2^128 minor
 * units are far beyond a double's 53 bits, so no rate or amount here is ever a JavaScript number.
 */
export interface Decimal {
  /** Positive or zero; without trailing zeros when scale > 0 (one spelling per value). */
  readonly units: bigint;
  readonly scale: number;
}

/** The most significant digits a posted rate may have (more is noise, and is refused). */
export const MAX_SIGNIFICANT_DIGITS = 18;

const DECIMAL_TEXT = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

/**
 * Reads a positive decimal string ("187.25", "0.0049") with at most 18 significant digits; no
 * sign, exponent, leading zeros or bare point. Returns undefined for anything else.
 */
export function parsePositiveDecimal(text: string): Decimal | undefined {
  const match = DECIMAL_TEXT.exec(text);
  if (!match) return undefined;
  const fraction = match[2] ?? "";
  const value = normalize({ units: BigInt(match[1] + fraction), scale: fraction.length });
  if (value.units === 0n || value.units.toString().length > MAX_SIGNIFICANT_DIGITS) return undefined;
  return value;
}

/** The shortest exact spelling: "187.25", "0.0049", "5". */
export function formatDecimal(value: Decimal): string {
  if (value.scale === 0) return value.units.toString();
  const digits = value.units.toString().padStart(value.scale + 1, "0");
  return `${digits.slice(0, -value.scale)}.${digits.slice(-value.scale)}`;
}

/** Drops trailing fractional zeros, so that equal values have equal fields. */
export function normalize(value: Decimal): Decimal {
  let { units, scale } = value;
  while (scale > 0 && units % 10n === 0n) {
    units /= 10n;
    scale -= 1;
  }
  return { units, scale };
}

/** -1, 0 or 1 as a is below, equal to or above b (exact, by aligning the scales). */
export function compareDecimals(a: Decimal, b: Decimal): number {
  const scale = Math.max(a.scale, b.scale);
  const left = a.units * pow10(scale - a.scale);
  const right = b.units * pow10(scale - b.scale);
  return left === right ? 0 : left < right ? -1 : 1;
}

export function pow10(exponent: number): bigint {
  return 10n ** BigInt(exponent);
}

/**
 * numerator / denominator rounded to the nearest integer, a tie to the even one (banker's
 * rounding: over many conversions, ties round up as often as down, so no side gains on average).
 * Both are non-negative; the denominator is positive.
 */
export function divideHalfEven(numerator: bigint, denominator: bigint): bigint {
  if (numerator < 0n || denominator <= 0n) throw new RangeError("divideHalfEven takes a non-negative numerator and a positive denominator");
  const quotient = numerator / denominator;
  const twiceRemainder = 2n * (numerator % denominator);
  if (twiceRemainder > denominator) return quotient + 1n;
  if (twiceRemainder === denominator) return quotient % 2n === 0n ? quotient : quotient + 1n;
  return quotient;
}
