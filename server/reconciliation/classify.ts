import type { BreakClass, ChainRecord, Details, LedgerRecord, PendingItem, StatementRecord } from "./types";

/**
 * One item: everything the three sides say about one payment or funds movement, gathered under one
 * key (its UETR or movement id; for records that carry none, the record's own id).
 */
export interface Item {
  key: string;
  keys: Record<string, string>;
  chain: ChainRecord[];
  ledger: LedgerRecord[];
  statement: StatementRecord[];
  /** How the statement entries were tied to the item, when not by UETR. */
  matchedBy: "uetr" | "end_to_end_id" | "amount_currency_date";
}

export type Outcome =
  | { kind: "matched"; chargesLinked: number }
  | { kind: "pending"; reason: PendingItem["reason"]; chargesLinked: number }
  | { kind: "break"; class: BreakClass; details: Details; chargesLinked: number };

/** One bank booking: the entries that report it (a camt.054 notification and the camt.053 line). */
export interface Booking {
  entries: StatementRecord[];
  amount: bigint;
  currency: string;
  date: string;
  booked: boolean;
  isCharge: boolean;
  isReversal: boolean;
}

export interface ClassifyOptions {
  now: number;
  graceMs: number;
}

/**
 * Groups entries into bookings: the same (account, AcctSvcrRef, amount, direction) is one booking
 * reported twice, not a duplicate. Entries without an AcctSvcrRef cannot be told apart, so each is
 * its own booking. A booking is booked once any of its reports is BOOK (the 053 after a PDNG 054).
 */
export function toBookings(entries: readonly StatementRecord[]): Booking[] {
  const byIdentity = new Map<string, Booking>();
  for (const entry of entries) {
    if (entry.status === "INFO") continue;
    const identity =
      entry.acctSvcrRef === null
        ? `id|${entry.id}`
        : `ref|${entry.accountId}|${entry.acctSvcrRef}|${entry.amount}|${entry.direction}|${entry.isCharge}|${entry.isReversal}`;
    const booking = byIdentity.get(identity);
    if (booking) {
      booking.entries.push(entry);
      booking.booked ||= entry.status === "BOOK";
      continue;
    }
    byIdentity.set(identity, {
      entries: [entry],
      amount: entry.amount,
      currency: entry.currency,
      date: entry.date,
      booked: entry.status === "BOOK",
      isCharge: entry.isCharge,
      isReversal: entry.isReversal,
    });
  }
  return [...byIdentity.values()];
}

/** The ledger's settlements still standing: each `:unrelease` cancels one `:release`. */
export function netSettlements(ledger: readonly LedgerRecord[]): { net: number; latest: LedgerRecord | undefined } {
  let net = 0;
  let latest: LedgerRecord | undefined;
  for (const record of ledger) {
    if (record.undoes) {
      net -= 1;
      continue;
    }
    net += 1;
    if (!latest || record.time > latest.time) latest = record;
  }
  return { net, latest };
}

/**
 * Classifies one item. At most one break per item, the first that applies in this order (each
 * later check assumes the earlier ones passed, so a reported class names the root problem):
 *
 * 1. duplicate — more than one chain event, more than one standing ledger settlement, or more
 *    than one principal booking (after folding a booking reported twice into one);
 * 2. unknown_entry — statement entries (charges included) and no chain or ledger record at all;
 * 3. missing_on_chain — a ledger settlement (or ledger records fully undone, with a statement) but no chain event;
 * 4. missing_in_ledger — a chain event but no standing ledger settlement;
 * 5. missing_in_statement — chain and ledger agree there was a settlement, the bank reports no
 *    principal or reversal booking, and the settlement is older than the grace period (within
 *    it the item is pending);
 * 6. currency_mismatch, then 7. amount_mismatch — across chain, ledger and the principal booking
 *    (the reversal's when there is no principal one); skipped, as pending, while the principal
 *    booking is only PDNG;
 * 8. reversed_after_settlement — the bank reversed (RvslInd) a booking of a settled item.
 *
 * Charge bookings (CHRG) are linked to the item and never compared.
 */
export function classify(item: Item, options: ClassifyOptions): Outcome {
  const bookings = toBookings(item.statement);
  const charges = bookings.filter((b) => b.isCharge);
  const principal = bookings.filter((b) => !b.isCharge && !b.isReversal);
  const reversals = bookings.filter((b) => !b.isCharge && b.isReversal);
  const chargesLinked = item.chain.length + item.ledger.length > 0 ? charges.length : 0;
  const { net, latest } = netSettlements(item.ledger);
  const chain = item.chain[0] as ChainRecord | undefined;
  const statement = principal[0] ?? reversals[0];
  const broken = (cls: BreakClass): Outcome => ({ kind: "break", class: cls, details: describe(item, chain, latest, net, statement, bookings.length), chargesLinked });

  if (item.chain.length > 1 || net > 1 || principal.length > 1) return broken("duplicate");
  if (item.chain.length === 0 && item.ledger.length === 0) {
    const onlyPending = bookings.length > 0 && bookings.every((b) => !b.booked);
    return onlyPending ? { kind: "pending", reason: "statement_pending", chargesLinked } : broken("unknown_entry");
  }
  if (!chain) return net > 0 || bookings.length > 0 ? broken("missing_on_chain") : { kind: "matched", chargesLinked };
  if (!latest || net < 1) return broken("missing_in_ledger");
  if (!statement) {
    const settledAt = Math.max(chain.time, latest.time);
    return options.now - settledAt <= options.graceMs
      ? { kind: "pending", reason: "within_grace", chargesLinked }
      : broken("missing_in_statement");
  }
  if (reversals.length === 0 && !statement.booked) return { kind: "pending", reason: "statement_pending", chargesLinked };
  if (chain.currency !== latest.currency || latest.currency !== statement.currency) return broken("currency_mismatch");
  if (chain.amount !== latest.amount || latest.amount !== statement.amount) return broken("amount_mismatch");
  if (reversals.length > 0) return broken("reversed_after_settlement");
  return { kind: "matched", chargesLinked };
}

function describe(
  item: Item,
  chain: ChainRecord | undefined,
  ledger: LedgerRecord | undefined,
  net: number,
  statement: Booking | undefined,
  bookings: number,
): Details {
  return {
    kind: chain?.kind ?? ledger?.kind ?? "payment",
    matchedBy: item.matchedBy,
    chainEvents: item.chain.length,
    chainAmount: chain ? chain.amount.toString() : null,
    chainCurrency: chain?.currency ?? null,
    ledgerSettlements: net,
    ledgerAmount: ledger ? ledger.amount.toString() : null,
    ledgerCurrency: ledger?.currency ?? null,
    statementBookings: bookings,
    statementAmount: statement ? statement.amount.toString() : null,
    statementCurrency: statement?.currency ?? null,
    statementEntries: item.statement.map((entry) => entry.id).join(",") || null,
  };
}
