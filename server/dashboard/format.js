// Amounts arrive as digit strings in minor units; they are formatted with BigInt and string
// arithmetic only, because a float would round large or many-decimal amounts.

const THREE_DECIMALS = new Set(["BHD", "KWD", "OMR", "JOD", "TND", "LYD", "IQD"]);

/** The ISO 4217 exponent of the currencies Corridor settles. */
export function decimalsOf(currency) {
  if (currency === "JPY") return 0;
  return THREE_DECIMALS.has(currency) ? 3 : 2;
}

function groupThousands(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** "245000", "GBP" → "2,450.00 GBP"; "-1500", "JPY" → "-1,500 JPY". A null value is a dash. */
export function formatMoney(value, currency) {
  if (value === null || value === undefined || value === "") return "—";
  const text = String(value);
  if (!/^-?\d+$/.test(text)) return `${text} ${currency}`;
  const units = BigInt(text);
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString();
  const places = decimalsOf(currency);
  const padded = digits.padStart(places + 1, "0");
  const whole = groupThousands(padded.slice(0, padded.length - places));
  const fraction = places > 0 ? `.${padded.slice(padded.length - places)}` : "";
  return `${negative ? "-" : ""}${whole}${fraction} ${currency}`;
}

/** Basis points (an integer) as a percentage with two decimals: 1234 → "12.34 %". */
export function formatBps(bps) {
  if (bps === null || bps === undefined) return "—";
  const n = Math.trunc(bps);
  const sign = n < 0 ? "-" : "";
  const abs = Math.abs(n);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")} %`;
}

/** The share of gross value a window did not have to move: 10000 - netToGrossBps. */
export function liquiditySavingBps(netToGrossBps) {
  return netToGrossBps === null || netToGrossBps === undefined ? null : 10_000 - netToGrossBps;
}

const timeFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});

/** An ISO string or epoch milliseconds as local date and time; null is a dash. */
export function formatTime(value) {
  if (value === null || value === undefined) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : timeFormat.format(date);
}

export function isoOf(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

/** A long hex or id shortened for a table cell; the full value stays in the title and the copy. */
export function shorten(text, head = 10, tail = 6) {
  if (!text) return "—";
  return text.length <= head + tail + 1 ? text : `${text.slice(0, head)}…${text.slice(-tail)}`;
}
