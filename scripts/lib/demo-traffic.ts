import { randomInt } from "node:crypto";
import { currencyExponent, majorToMinorUnits } from "../../server/config/currencies";
import { sourceToTarget } from "../../server/fx/convert";
import { divideHalfEven, formatDecimal, normalize, parsePositiveDecimal, pow10 } from "../../server/fx/decimal";
import type { DemoApi } from "./demo-api";
import { creditTransferXml } from "./demo-iso20022";
import { DEFAULT_DEMO_LIMITS, type DemoBank } from "./demo";
import type { DemoKeys } from "./demo-relay";
import { seededRandom } from "./seeded-random";

/**
 * The demo's steady flow of payments through the relay's HTTP API, with the demo banks' keys: gross
 * payments (some sent as ISO 20022 pacs.008), net payments (settled when their currency's window
 * closes on schedule) and cross-currency payments (an FX quote, then a payment naming it), one
 * every one to two seconds.
 *
 * It must run for days without draining a bank: amounts are small against the 10 million each bank
 * holds, debtor and creditor are drawn uniformly (so each bank pays as much as it receives, on
 * average), and each currency pair has one FX provider for both directions (it buys what it sells).
 * A refused or failed payment is a warning, never the end of the network.
 */

export type TrafficKind = "gross" | "pacs008" | "net" | "fx";

export interface DemoTraffic {
  /** Payments accepted by the relay so far, by kind. */
  readonly sent: Readonly<Record<TrafficKind, number>>;
  stop(): Promise<void>;
}

/** Each bag of six holds three gross payments (one a pacs.008), two net and one cross-currency, shuffled. */
const KIND_BAG: readonly TrafficKind[] = ["gross", "gross", "pacs008", "net", "net", "fx"];

/**
 * Payment sizes in whole units, about $50 to $25,000, except in yen: the demo banks' single-payment
 * cap is a million units of every currency, only ¥1,000,000 ($6,700) in yen.
 */
const AMOUNT_RANGE_MAJOR: Readonly<Record<string, readonly [bigint, bigint]>> = {
  GBP: [40n, 20_000n],
  EUR: [50n, 23_000n],
  USD: [50n, 25_000n],
  CNY: [350n, 180_000n],
  HKD: [400n, 195_000n],
  JPY: [7_500n, 900_000n],
};

/** Mid rates in US dollars per unit, from which every cross rate is derived (so they agree). */
const USD_VALUE: Readonly<Record<string, string>> = { GBP: "1.27", EUR: "1.08", USD: "1", CNY: "0.138", HKD: "0.128", JPY: "0.0067" };

/** Invented customers of the demo banks, named as creditors. */
const CREDITORS = ["Rhein Maschinenbau GmbH", "Thames Textiles Ltd", "Hudson Freight Inc", "Pearl Delta Electronics Co", "Harbour Logistics Ltd", "Sakura Foods KK"];

const KIND_NAMES: Readonly<Record<TrafficKind, string>> = { gross: "gross", pacs008: "pacs.008", net: "net", fx: "cross-currency" };

const RATE_VALIDITY_MS = 2 * 3_600_000;
const RATE_REFRESH_MS = 3_600_000;

/** base/quote from the dollar values, exact to 8 decimal places: GBP/JPY = 1.27 / 0.0067 = 189.55223881. */
export function demoRate(base: string, quote: string): string {
  const b = parsePositiveDecimal(USD_VALUE[base])!;
  const q = parsePositiveDecimal(USD_VALUE[quote])!;
  const scale = 8;
  const units = divideHalfEven(b.units * pow10(q.scale + scale), q.units * pow10(b.scale));
  return formatDecimal(normalize({ units, scale }));
}

/** The provider of a currency pair: the same bank in both directions, so that it buys back what it sells. */
export function fxProvider(currencies: readonly string[], a: string, b: string, banks: number): number {
  return (currencies.indexOf(a) + currencies.indexOf(b)) % banks;
}

export async function startDemoTraffic(options: {
  api: DemoApi;
  keys: DemoKeys;
  banks: readonly DemoBank[];
  currencies: readonly string[];
  /** Milliseconds between payments, drawn uniformly from this range. */
  intervalMs?: readonly [number, number];
  /** The banks' single-payment cap on chain, in whole units of every currency. */
  singlePaymentCapMajor?: bigint;
  seed?: number;
  log?: (line: string) => void;
  warn?: (line: string) => void;
  summaryEveryMs?: number;
}): Promise<DemoTraffic> {
  const { api, keys, banks, currencies } = options;
  const log = options.log ?? (() => undefined);
  const warn = throttled(options.warn ?? (() => undefined), 30_000);
  const [minMs, maxMs] = options.intervalMs ?? [1_000, 2_000];
  const random = seededRandom(options.seed ?? randomInt(2 ** 31));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const sent: Record<TrafficKind, number> = { gross: 0, pacs008: 0, net: 0, fx: 0 };
  let refused = 0;
  let bag: TrafficKind[] = [];
  let ratesPostedAt = 0;
  let sequence = 0;

  /** Every pair's rate, posted by treasury for its provider, valid two hours and refreshed hourly. */
  async function postRates(): Promise<void> {
    const validUntil = new Date(Date.now() + RATE_VALIDITY_MS).toISOString();
    const byProvider = new Map<number, { pair: string; rate: string; spreadBps: number; validUntil: string }[]>();
    for (const base of currencies) {
      for (const quote of currencies) {
        if (base === quote) continue;
        const provider = fxProvider(currencies, base, quote, banks.length);
        const rates = byProvider.get(provider) ?? [];
        rates.push({ pair: `${base}/${quote}`, rate: demoRate(base, quote), spreadBps: 25, validUntil });
        byProvider.set(provider, rates);
      }
    }
    for (const [provider, rates] of byProvider) await api("PUT", "/v1/fx/rates", keys.treasury, { provider: banks[provider].bic, rates });
    ratesPostedAt = Date.now();
  }

  function amount(currency: string): bigint {
    const [low, high] = AMOUNT_RANGE_MAJOR[currency] ?? [50n, 20_000n];
    const [min, max] = [majorToMinorUnits(low, currency), majorToMinorUnits(high, currency)];
    // Minor units drawn as an integer (32 random bits scaled to the span): no float touches the amount.
    const draw = (BigInt(Math.floor(random() * 2 ** 32)) * (max - min + 1n)) >> 32n;
    // Round to whole units above a thousand units, as most commercial payments are.
    const whole = pow10(currencyExponent(currency));
    const value = min + draw;
    return value > 1_000n * whole ? (value / whole) * whole : value;
  }

  /** A source amount whose converted amount stays under the target currency's cap (£20,000 is ¥3.8 million). */
  function fxSourceAmount(source: string, target: string): bigint {
    const drawn = amount(source);
    const cap = (majorToMinorUnits(options.singlePaymentCapMajor ?? DEFAULT_DEMO_LIMITS.singlePaymentCapMajor, target) * 9n) / 10n;
    const converted = sourceToTarget(drawn, parsePositiveDecimal(demoRate(source, target))!, { source: currencyExponent(source), target: currencyExponent(target) });
    return converted <= cap ? drawn : (drawn * cap) / converted;
  }

  /** Two distinct banks, neither of them `excluded`. */
  function parties(excluded?: number): [number, number] {
    const eligible = banks.map((_b, i) => i).filter((i) => i !== excluded);
    const debtor = pick(eligible);
    return [debtor, pick(eligible.filter((i) => i !== debtor))];
  }

  async function sendOne(kind: TrafficKind): Promise<void> {
    sequence += 1;
    const endToEndId = `DEMO-${kind.toUpperCase()}-${Date.now().toString(36).toUpperCase()}-${sequence}`;
    const creditor = { name: pick(CREDITORS) };
    if (kind === "fx") {
      const source = pick(currencies);
      const target = pick(currencies.filter((c) => c !== source));
      const [debtor, payee] = parties(fxProvider(currencies, source, target, banks.length));
      const key = keys.banks[banks[debtor].bic];
      const quote = await api<{ id: string; source: { value: string } }>("POST", "/v1/quotes", key, { sourceCurrency: source, targetCurrency: target, sourceAmount: fxSourceAmount(source, target).toString() });
      await api("POST", "/v1/payments", key, {
        endToEndId,
        debtorAgent: { bic: banks[debtor].bic },
        creditorAgent: { bic: banks[payee].bic },
        amount: { value: quote.source.value, currency: source },
        quoteId: quote.id,
        creditor,
      });
      return;
    }
    const currency = pick(currencies);
    const [debtor, payee] = parties();
    if (kind === "pacs008") {
      const message = creditTransferXml({
        endToEndId,
        debtorAgent: banks[debtor].bic,
        creditorAgent: banks[payee].bic,
        amount: amount(currency),
        currency,
        debtorName: pick(CREDITORS),
        creditorName: creditor.name,
        at: new Date(),
      });
      await api("POST", "/v1/iso20022/pacs.008", keys.banks[banks[debtor].bic], message, { xml: true });
      return;
    }
    await api("POST", "/v1/payments", keys.banks[banks[debtor].bic], {
      endToEndId,
      debtorAgent: { bic: banks[debtor].bic },
      creditorAgent: { bic: banks[payee].bic },
      amount: { value: amount(currency).toString(), currency },
      creditor,
      ...(kind === "net" ? { settlement: "net" } : {}),
    });
  }

  async function step(): Promise<void> {
    if (bag.length === 0) bag = shuffle([...KIND_BAG], random);
    const kind = bag.pop()!;
    try {
      if (Date.now() - ratesPostedAt >= RATE_REFRESH_MS) await postRates();
      await sendOne(kind);
      sent[kind] += 1;
    } catch (error) {
      refused += 1;
      warn(`Warning: demo traffic: a ${KIND_NAMES[kind]} payment failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      current = step().finally(schedule);
    }, minMs + Math.floor(random() * (maxMs - minMs)));
  };

  await postRates().catch((error) => warn(`Warning: demo traffic: FX rates not posted: ${error instanceof Error ? error.message : String(error)}`));
  const summaryEvery = options.summaryEveryMs ?? 60_000;
  let reported = { ...sent, refused };
  const summary = setInterval(() => {
    const kinds = Object.keys(KIND_NAMES) as TrafficKind[];
    const delta = (k: TrafficKind) => sent[k] - reported[k];
    const total = kinds.reduce((sum, k) => sum + delta(k), 0);
    log(`Demo traffic: ${total} payments in the last ${summaryEvery / 1000} s (${kinds.map((k) => `${delta(k)} ${KIND_NAMES[k]}`).join(", ")}), ${refused - reported.refused} refused`);
    reported = { ...sent, refused };
  }, summaryEvery);
  summary.unref();
  log(`Demo traffic: a payment every ${minMs / 1000}-${maxMs / 1000} s (gross, pacs.008, net and cross-currency; --no-traffic turns it off)`);
  schedule();

  return {
    sent,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      clearInterval(summary);
      await current;
    },
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** The same warning at most once per `everyMs`: a relay that is down must not flood the terminal. */
function throttled(warn: (line: string) => void, everyMs: number): (line: string) => void {
  const lastShown = new Map<string, number>();
  return (line) => {
    const at = Date.now();
    if (at - (lastShown.get(line) ?? -Infinity) < everyMs) return;
    if (lastShown.size >= 1_000) lastShown.clear(); // days of distinct failures must not grow it without end
    lastShown.set(line, at);
    warn(line);
  };
}
