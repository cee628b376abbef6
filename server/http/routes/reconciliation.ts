import { Router } from "express";
import type { Kysely } from "kysely";
import { z } from "zod";
import type { Database } from "../../db/schema";
import type { ReconciliationService } from "../../reconciliation/service";
import { ApiError, fromFailure } from "../errors";
import { runIdempotent } from "../idempotency";
import { callerOf, parse, requireRole } from "../middleware";
import { Currency } from "../schemas";

const IsoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "a date as YYYY-MM-DD");
export const CreateRunRequest = z.strictObject({ from: IsoDate, to: IsoDate, currencies: z.array(Currency).max(50).optional() });
const RunParams = z.strictObject({ id: z.string().min(1).max(100) });
const BreakParams = z.strictObject({ id: z.string().regex(/^[0-9a-f]{16,64}$/, "a break id") });
export const ListBreaksQuery = z.strictObject({
  status: z.enum(["open", "resolved"]).optional(),
  class: z.string().regex(/^[a-z_]{1,40}$/).optional(),
  currency: Currency.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().min(1).max(200).optional(),
});
export const ResolveBreakRequest = z.strictObject({ status: z.literal("resolved"), note: z.string().trim().min(1).max(1000) });

/** Three-way reconciliation for treasury: runs, their breaks, and resolving a break with a note. */
export function reconciliationRoutes(deps: { db: Kysely<Database>; reconciliation: ReconciliationService }): Router {
  const { db, reconciliation } = deps;
  const router = Router();
  router.use(requireRole("treasury", "admin"));

  router.post("/runs", async (req, res) => {
    const caller = callerOf(res);
    const body = parse(CreateRunRequest, req.body, "reconciliation run");
    const outcome = await runIdempotent(db, caller, req, async () => {
      const run = await reconciliation.run({ from: body.from, to: body.to, currencies: body.currencies, requestedBy: caller.keyId });
      if (!run.ok) throw fromFailure(run);
      return { status: 201, body: run.value };
    }, { atomic: false });
    res.status(outcome.status).json(outcome.body);
  });

  router.get("/runs", async (req, res) => {
    const { limit } = parse(z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(20) }), req.query, "query");
    res.json({ runs: await reconciliation.listRuns({ limit }) });
  });

  router.get("/runs/:id", async (req, res) => {
    const { id } = parse(RunParams, req.params, "path");
    const run = await reconciliation.getRun(id);
    if (!run) throw new ApiError(404, "run_not_found", `no reconciliation run ${id}`, { id });
    res.json(run);
  });

  router.get("/breaks", async (req, res) => {
    const query = parse(ListBreaksQuery, req.query, "query");
    const page = await reconciliation.listBreaks(query);
    if (!page.ok) throw fromFailure(page);
    res.json(page.value);
  });

  router.get("/breaks/:id", async (req, res) => {
    const { id } = parse(BreakParams, req.params, "path");
    const found = await reconciliation.getBreak(id);
    if (!found) throw new ApiError(404, "break_not_found", `no break ${id}`, { id });
    res.json(found);
  });

  router.patch("/breaks/:id", async (req, res) => {
    const caller = callerOf(res);
    const { id } = parse(BreakParams, req.params, "path");
    const body = parse(ResolveBreakRequest, req.body, "break update");
    const outcome = await runIdempotent(db, caller, req, async () => {
      const resolved = await reconciliation.resolveBreak(id, { note: body.note, actor: caller.keyId });
      if (!resolved.ok) throw fromFailure(resolved);
      return { status: 200, body: resolved.value };
    }, { atomic: false });
    res.status(outcome.status).json(outcome.body);
  });

  return router;
}
