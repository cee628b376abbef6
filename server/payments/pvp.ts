import type { Selectable } from "kysely";
import type { Db } from "../db/database";
import type { PvpLinksTable } from "../db/schema";
import { enqueueChainIntent, termsToPayload } from "../chain/outbox";
import { enqueueRelease, lockTerms } from "./intents";
import { loadPayment, type PaymentContext } from "./store";
import type { Payment, PvPView } from "./types";

/**
 * The two legs of a cross-currency payment settle together: never a release of one leg (the
 * escrow refuses it, LinkedLegRequiresPvP), but one `pvp` chain intent, keyed on leg A, that
 * sends settlePvP once both legs are locked. A leg whose partner never locks is refunded at
 * expiry like any locked payment.
 */

type Link = Selectable<PvpLinksTable>;

export async function pvpLinkOf(db: Db, uetr: string): Promise<Link | undefined> {
  return db
    .selectFrom("pvp_links")
    .selectAll()
    .where((eb) => eb.or([eb("uetr_a", "=", uetr), eb("uetr_b", "=", uetr)]))
    .executeTakeFirst();
}

/**
 * Enqueues what settles a locked payment: its release, or for a PvP leg, the pair's settlePvP once
 * the other leg is locked too. False when that leg is not locked yet (its own lock, when it comes,
 * settles the pair under AUTO_RELEASE; otherwise a later confirm does).
 */
export async function enqueueSettlement(ctx: PaymentContext, db: Db, payment: Payment): Promise<boolean> {
  const link = await pvpLinkOf(db, payment.uetr);
  if (!link) {
    await enqueueRelease(ctx, db, payment);
    return true;
  }
  // Read without a row lock: locking the partner too could deadlock with a hook holding it.
  const partner = await loadPayment(ctx, db, link.uetr_a === payment.uetr ? link.uetr_b : link.uetr_a);
  if (partner?.status !== "LOCKED") return false;
  const [legA, legB] = link.uetr_a === payment.uetr ? [payment, partner] : [partner, payment];
  const payload = {
    legA: termsToPayload(await lockTerms(ctx, db, legA)).terms,
    legB: termsToPayload(await lockTerms(ctx, db, legB)).terms,
  };
  await enqueueChainIntent(db, { kind: "pvp", uetr: link.uetr_a, payload }, ctx.now());
  return true;
}

/** The pair as `payment` (one of its legs) shows it; undefined for a gross payment. */
export async function pvpView(ctx: PaymentContext, db: Db, payment: Payment): Promise<PvPView | undefined> {
  const link = await pvpLinkOf(db, payment.uetr);
  if (!link) return undefined;
  const isA = link.uetr_a === payment.uetr;
  const partner = await loadPayment(ctx, db, isA ? link.uetr_b : link.uetr_a);
  if (!partner) throw new Error(`PvP pair ${link.uetr_a}/${link.uetr_b}: leg missing`);
  return {
    quoteId: link.quote_id,
    provider: link.provider_bic,
    leg: isA ? "A" : "B",
    linkedUetr: partner.uetr,
    creditorAgent: link.creditor_bic,
    source: (isA ? payment : partner).amount,
    target: (isA ? partner : payment).amount,
  };
}
