import { randomUUID } from "node:crypto";
import type { Db } from "../db/database";

/**
 * Webhook events are written in the same database transaction as the state change they report,
 * so none is lost; the webhook worker delivers them. Events of banks without a webhook URL are
 * still recorded (and delivered once a URL is set, by redelivery).
 */
export interface WebhookEvent {
  bic: string;
  eventType: string;
  payload: Record<string, unknown>;
}

export async function enqueueWebhook(db: Db, event: WebhookEvent, now = Date.now()): Promise<string> {
  const [id] = await enqueueWebhooks(db, [event], now);
  return id;
}

/** Several events in one insert (e.g. one status change for both banks); returns their ids. */
export async function enqueueWebhooks(db: Db, events: readonly WebhookEvent[], now = Date.now()): Promise<string[]> {
  if (events.length === 0) return [];
  const createdAt = new Date(now).toISOString();
  const rows = events.map((event) => {
    const id = randomUUID();
    return {
      id,
      bic: event.bic,
      event_type: event.eventType,
      payload: JSON.stringify({ id, type: event.eventType, createdAt, data: event.payload }),
      status: "pending" as const,
      attempts: 0,
      next_attempt_at: now,
      lease_until: null,
      last_error: null,
      created_at: now,
      delivered_at: null,
    };
  });
  await db.insertInto("webhook_deliveries").values(rows).execute();
  return rows.map((row) => row.id);
}
