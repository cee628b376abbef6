import type { Kysely } from "kysely";
import type { Database } from "../db/schema";
import type { PaymentStatus } from "../db/schema";
import type { Caller, Payment, StatusChange } from "./types";
import { bicSpellings, toPayment } from "./store";

/** One status change and the payment as it is now. */
export interface PaymentEvent {
  /** Opaque; pass it back as `after` to read on from here. */
  cursor: string;
  change: StatusChange;
  payment: Payment;
}

export interface PaymentFeed {
  /** The cursor a new reader starts from: changes from now on. */
  start(): string;
  /**
   * Status changes after `cursor`, oldest first, the caller's own only for a bank. Changes younger
   * than the settle lag are left for the next read: a transaction stamps its changes before it
   * commits, so a younger stamp may still be joined by an older one committing late.
   */
  read(caller: Caller, cursor: string, limit: number, options?: { statuses?: readonly PaymentStatus[] }): Promise<{ events: PaymentEvent[]; cursor: string }>;
  /** Whether `cursor` is one this feed hands out. */
  isCursor(cursor: string): boolean;
}

/** How long after its stamp a status change is surely committed (write transactions are short). */
const SETTLE_LAG_MS = 1_000;
const CURSOR = /^(\d{1,16})-(.{0,120})$/;

export function createPaymentFeed(deps: { db: Kysely<Database>; now?: () => number }): PaymentFeed {
  const { db } = deps;
  const now = deps.now ?? Date.now;
  const encode = (at: number, id: string) => `${at}-${id}`;

  return {
    start: () => encode(now() - SETTLE_LAG_MS, ""),
    isCursor: (cursor) => CURSOR.test(cursor),
    async read(caller, cursor, limit, options = {}) {
      const match = CURSOR.exec(cursor);
      if (!match) throw new Error(`not a feed cursor: ${cursor}`);
      const after = { at: Number(match[1]), id: match[2] };
      const until = now() - SETTLE_LAG_MS;
      if (caller.role === "bank" && caller.bic === null) return { events: [], cursor };
      let query = db
        .selectFrom("payment_status_history as h")
        .innerJoin("payments as p", "p.uetr", "h.uetr")
        .selectAll("p")
        .select(["h.id as change_id", "h.status as change_status", "h.at as change_at", "h.reason as change_reason", "h.tx_hash as change_tx_hash", "h.block_number as change_block"])
        .where((eb) => eb.or([eb("h.at", ">", after.at), eb.and([eb("h.at", "=", after.at), eb("h.id", ">", after.id)])]))
        .where("h.at", "<=", until);
      if (options.statuses) query = query.where("h.status", "in", [...options.statuses]);
      if (caller.role === "bank") {
        const own = bicSpellings(caller.bic!);
        query = query.where((eb) => eb.or([eb("p.debtor_bic", "in", own), eb("p.creditor_bic", "in", own)]));
      }
      const rows = await query.orderBy("h.at").orderBy("h.id").limit(limit).execute();
      const events = rows.map(({ change_id, change_status, change_at, change_reason, change_tx_hash, change_block, ...payment }) => ({
        cursor: encode(Number(change_at), change_id),
        change: {
          status: change_status,
          at: Number(change_at),
          reason: change_reason,
          txHash: change_tx_hash,
          blockNumber: change_block === null ? null : Number(change_block),
        },
        payment: toPayment(payment),
      }));
      if (events.length > 0) return { events, cursor: events[events.length - 1].cursor };
      // Nothing new up to the lag line: move there, so an idle reader's next read starts late.
      return { events, cursor: until > after.at ? encode(until, "") : cursor };
    },
  };
}
