import { currencyExponent, isKnownCurrency } from "../config/currencies";
import { IsoMessageError } from "./errors";

/** ISO 20022 ActiveCurrencyAndAmount: at most 18 significant digits in all. */
const MAX_TOTAL_DIGITS = 18;
const PLAIN_DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/**
 * Converts an ISO 20022 amount text ("2450", "2450.1", "2450.10") to exact minor units.
 *
 * Strict by design: only plain non-negative decimals (no sign, exponent, spaces or bare point),
 * and no more fraction digits than the currency's exponent, even zeros ("5.0" JPY is refused),
 * because an amount written beyond the currency's precision is a sign of a wrong currency.
 * Throws IsoMessageError("invalid_element") with `details.problem` one of
 * "unknown_currency" | "not_a_decimal" | "too_many_decimals" | "too_many_digits".
 */
export function decimalToMinorUnits(text: string, currency: string): bigint {
  if (!isKnownCurrency(currency)) throw amountError("unknown_currency", text, currency);
  const match = PLAIN_DECIMAL.exec(text);
  if (!match) throw amountError("not_a_decimal", text, currency);
  const exponent = currencyExponent(currency);
  const fraction = match[2] ?? "";
  if (fraction.length > exponent) throw amountError("too_many_decimals", text, currency);
  const digits = match[1].replace(/^0+(?=\d)/, "") + fraction;
  if (digits.replace(/^0+/, "").length > MAX_TOTAL_DIGITS) throw amountError("too_many_digits", text, currency);
  return BigInt(digits + "0".repeat(exponent - fraction.length));
}

/**
 * Writes minor units as the ISO 20022 decimal text: 245000n GBP is "2450.00", 2450n JPY is "2450".
 * Throws IsoMessageError("invalid_element") for a currency Corridor does not know.
 */
export function minorUnitsToDecimal(value: bigint, currency: string): string {
  if (!isKnownCurrency(currency)) throw amountError("unknown_currency", value.toString(), currency);
  const exponent = currencyExponent(currency);
  const sign = value < 0n ? "-" : "";
  const digits = (value < 0n ? -value : value).toString().padStart(exponent + 1, "0");
  if (exponent === 0) return sign + digits;
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

function amountError(problem: string, text: string, currency: string): IsoMessageError {
  return new IsoMessageError("invalid_element", `invalid amount ${JSON.stringify(text)} ${currency}: ${problem.replace(/_/g, " ")}`, {
    problem,
    value: text,
    currency,
  });
}
