import { classify, netSettlements, toBookings, type Booking, type Item } from "./classify";
import type {
  BreakFinding,
  ChainRecord,
  LedgerRecord,
  MatchCounts,
  PaymentReference,
  PendingItem,
  StatementRecord,
} from "./types";

/**
 * The matching, pure: records in, breaks, pending items and counts out. No storage, no clock.
 *
 * Keys, in order:
 * 1. UETR (the movement id for funds movements): a statement entry's own, else
 * 2. its EndToEndId, looked up among the payments (when several payments share it, the one with
 *    the entry's amount and currency; when that is not exactly one, the entry stays unkeyed);
 * 3. amount + currency + date, among what is still unmatched at the end: an unkeyed chain event
 *    joins an item with a ledger record and no chain event, then an unkeyed booking joins an item
 *    with chain or ledger records and no statement booking (first come, by record id, one each).
 *    The date of a chain or ledger record is the UTC date of its time.
 *
 * Scope: statement entries dated outside [from, to] are ignored; an item is reported when one of
 * its statement entries is in range or one of its chain or ledger records is timed within
 * [from 00:00Z, to + 1 00:00Z) — so a payment settled another day is reconciled with the
 * statement that books it, and an unmatched record of another day is not reported.
 * With `currencies`, only items with a record in one of them are reported.
 *
 * Records arrive in batches (`add`), each holding every record of the UETRs it contains; an item
 * whose three sides are all present is classified at once and forgotten, so memory holds only
 * the incomplete ones until `finish` tries the fallback keys on them.
 */

export interface MatchOptions {
  from: string;
  to: string;
  currencies?: readonly string[];
  now: number;
  graceMs: number;
  paymentsByEndToEnd: ReadonlyMap<string, readonly PaymentReference[]>;
}

export interface MatchBatch {
  chain: readonly ChainRecord[];
  ledger: readonly LedgerRecord[];
  statement: readonly StatementRecord[];
}

export interface MatchResult {
  breaks: BreakFinding[];
  pending: PendingItem[];
  counts: MatchCounts;
}

export interface Matcher {
  add(batch: MatchBatch): void;
  finish(): MatchResult;
}

const DAY_MS = 86_400_000;

/** Payments by EndToEndId, for the second key. */
export function indexPayments(payments: readonly PaymentReference[]): Map<string, PaymentReference[]> {
  const index = new Map<string, PaymentReference[]>();
  for (const payment of payments) {
    const list = index.get(payment.endToEndId);
    if (list) list.push(payment);
    else index.set(payment.endToEndId, [payment]);
  }
  return index;
}

/** The UETR an entry without one belongs to, by its EndToEndId; undefined when none or ambiguous. */
export function uetrByEndToEnd(entry: StatementRecord, index: ReadonlyMap<string, readonly PaymentReference[]>): string | undefined {
  if (entry.endToEndId === null) return undefined;
  const candidates = index.get(entry.endToEndId) ?? [];
  if (candidates.length === 1) return candidates[0].uetr.toLowerCase();
  const same = candidates.filter((p) => p.amount === entry.amount && p.currency === entry.currency);
  return same.length === 1 ? same[0].uetr.toLowerCase() : undefined;
}

/** The UTC calendar date of an epoch-ms time. */
export function utcDate(time: number): string {
  return new Date(time).toISOString().slice(0, 10);
}

/** Reconciles one set of records: a matcher fed a single batch. */
export function reconcile(batch: MatchBatch, options: MatchOptions): MatchResult {
  const matcher = createMatcher(options);
  matcher.add(batch);
  return matcher.finish();
}

export function createMatcher(options: MatchOptions): Matcher {
  const fromMs = Date.parse(`${options.from}T00:00:00Z`);
  const toMs = Date.parse(`${options.to}T00:00:00Z`) + DAY_MS;
  const currencies = options.currencies?.length ? new Set(options.currencies) : undefined;
  const breaks: BreakFinding[] = [];
  const pending: PendingItem[] = [];
  const counts: MatchCounts = {
    chain: { read: 0, matched: 0 },
    ledger: { read: 0, matched: 0 },
    statement: { read: 0, matched: 0 },
    items: 0,
    matchedItems: 0,
    pendingItems: 0,
    chargesLinked: 0,
    breaks: {},
  };
  const incomplete: Item[] = [];
  const unkeyedChain: ChainRecord[] = [];
  const unkeyedEntries: StatementRecord[] = [];

  const inRange = (time: number) => time >= fromMs && time < toMs;
  const inScope = (item: Item) =>
    (item.statement.length > 0 || item.chain.some((r) => inRange(r.time)) || item.ledger.some((r) => inRange(r.time))) &&
    (!currencies || itemCurrencies(item).some((c) => currencies.has(c)));

  function settle(item: Item): void {
    if (!inScope(item)) return;
    const outcome = classify(item, options);
    counts.items += 1;
    counts.chargesLinked += outcome.chargesLinked;
    counts.chain.read += item.chain.length;
    counts.ledger.read += item.ledger.length;
    counts.statement.read += item.statement.length;
    if (outcome.kind === "matched") {
      counts.matchedItems += 1;
      counts.chain.matched += item.chain.length;
      counts.ledger.matched += item.ledger.length;
      counts.statement.matched += item.statement.length;
    } else if (outcome.kind === "pending") {
      counts.pendingItems += 1;
      pending.push({ key: item.key, reason: outcome.reason });
    } else {
      counts.breaks[outcome.class] = (counts.breaks[outcome.class] ?? 0) + 1;
      breaks.push({
        key: item.key,
        keys: item.keys,
        class: outcome.class,
        currency: itemCurrencies(item)[0] ?? null,
        date: itemDate(item),
        details: outcome.details,
      });
    }
  }

  return {
    add(batch) {
      const items = new Map<string, Item>();
      const itemOf = (uetr: string) => {
        const key = uetr.toLowerCase();
        let item = items.get(key);
        if (!item) {
          item = { key: `uetr:${key}`, keys: { uetr: key }, chain: [], ledger: [], statement: [], matchedBy: "uetr" };
          items.set(key, item);
        }
        return item;
      };
      for (const record of batch.chain) {
        if (record.uetr === null) unkeyedChain.push(record);
        else itemOf(record.uetr).chain.push(record);
      }
      for (const record of batch.ledger) itemOf(record.uetr).ledger.push(record);
      for (const entry of batch.statement) {
        if (entry.status === "INFO" || entry.date < options.from || entry.date > options.to) continue;
        const uetr = entry.uetr ?? uetrByEndToEnd(entry, options.paymentsByEndToEnd);
        if (uetr === undefined) {
          unkeyedEntries.push(entry);
          continue;
        }
        const item = itemOf(uetr);
        item.statement.push(entry);
        if (entry.uetr === null) item.matchedBy = "end_to_end_id";
      }
      for (const item of items.values()) {
        const complete = item.chain.length > 0 && item.ledger.length > 0 && item.statement.some((e) => !e.isCharge);
        if (complete) settle(item);
        else if (inScope(item)) incomplete.push(item); // fallback keys are dated in range: an item out of scope stays out
      }
    },

    finish() {
      const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
      const lackingChain = fallbackIndex(incomplete.filter((i) => i.chain.length === 0 && netSettlements(i.ledger).net > 0));
      for (const record of unkeyedChain.sort(byId)) {
        const item = takeCandidate(lackingChain, fallbackKey(record.amount, record.currency, utcDate(record.time)));
        if (item) item.chain.push(record);
        else incomplete.push({ key: `chain:${record.id}`, keys: { chainEventId: record.id }, chain: [record], ledger: [], statement: [], matchedBy: "uetr" });
      }
      const lackingStatement = fallbackIndex(
        incomplete.filter((i) => i.chain.length + i.ledger.length > 0 && !i.statement.some((e) => !e.isCharge)),
      );
      for (const booking of toBookings(unkeyedEntries.sort(byId))) {
        const item = booking.isCharge ? undefined : takeCandidate(lackingStatement, fallbackKey(booking.amount, booking.currency, booking.date));
        if (item) {
          item.statement.push(...booking.entries);
          item.matchedBy = "amount_currency_date";
        } else {
          incomplete.push(bookingItem(booking));
        }
      }
      for (const item of incomplete) settle(item);
      incomplete.length = 0;
      return { breaks, pending, counts };
    },
  };
}

function bookingItem(booking: Booking): Item {
  const first = booking.entries[0];
  const reference = first.acctSvcrRef ?? first.id;
  const keys: Record<string, string> = { accountId: first.accountId, [first.acctSvcrRef === null ? "entryId" : "acctSvcrRef"]: reference };
  if (first.endToEndId !== null) keys.endToEndId = first.endToEndId;
  return { key: `entry:${first.accountId}:${reference}`, keys, chain: [], ledger: [], statement: booking.entries, matchedBy: "amount_currency_date" };
}

function fallbackKey(amount: bigint, currency: string | undefined, date: string): string {
  return `${amount}|${currency ?? "?"}|${date}`;
}

/** Items by the fallback key of their ledger settlement (else chain event), oldest key first. */
function fallbackIndex(items: readonly Item[]): Map<string, Item[]> {
  const index = new Map<string, Item[]>();
  for (const item of items) {
    const record = netSettlements(item.ledger).latest ?? item.chain[0];
    if (!record) continue;
    const key = fallbackKey(record.amount, record.currency, utcDate(record.time));
    const list = index.get(key);
    if (list) list.push(item);
    else index.set(key, [item]);
  }
  for (const list of index.values()) list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return index;
}

function takeCandidate(index: Map<string, Item[]>, key: string): Item | undefined {
  return index.get(key)?.shift();
}

function itemCurrencies(item: Item): string[] {
  const found = new Set<string>();
  for (const record of item.ledger) found.add(record.currency);
  for (const record of item.chain) if (record.currency !== undefined) found.add(record.currency);
  for (const entry of item.statement) found.add(entry.currency);
  return [...found];
}

/** The statement's date when the bank booked it, else the day the chain or ledger settled it. */
function itemDate(item: Item): string {
  if (item.statement.length > 0) return item.statement[0].date;
  const times = [...item.chain, ...item.ledger].map((r) => r.time);
  return utcDate(Math.max(...times));
}
