import { Router } from "express";
import type { Kysely } from "kysely";
import { z } from "zod";
import type { Database } from "../../db/schema";
import type { WebhookDelivery, WebhookService } from "../../webhooks/service";
import { fromFailure } from "../errors";
import { runIdempotent } from "../idempotency";
import { callerOf, parse, requireRole } from "../middleware";
import { Bic, IdParams } from "../schemas";

const ListQuery = z.strictObject({
  bic: Bic.optional(),
  status: z.enum(["pending", "delivered", "dead"]).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function deliveryToJson(d: WebhookDelivery) {
  return { ...d, nextAttemptAt: iso(d.nextAttemptAt), leaseUntil: iso(d.leaseUntil), createdAt: iso(d.createdAt), deliveredAt: iso(d.deliveredAt) };
}

/** Admin view of webhook deliveries, and redelivery of dead (or delivered) events. */
export function webhookRoutes(deps: { db: Kysely<Database>; webhooks: WebhookService }): Router {
  const router = Router();
  router.use(requireRole("admin"));

  router.get("/deliveries", async (req, res) => {
    const query = parse(ListQuery, req.query, "query");
    res.json({ deliveries: (await deps.webhooks.list(query)).map(deliveryToJson) });
  });

  router.post("/deliveries/:id/redeliver", async (req, res) => {
    const { id } = parse(IdParams, req.params, "path");
    const outcome = await runIdempotent(deps.db, callerOf(res), req, async () => {
      const redelivered = await deps.webhooks.redeliver(id);
      if (!redelivered.ok) throw fromFailure(redelivered);
      return { status: 200, body: { delivery: deliveryToJson(redelivered.value) } };
    }, { atomic: false });
    res.status(outcome.status).json(outcome.body);
  });

  return router;
}
