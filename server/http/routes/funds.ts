import { Router } from "express";
import type { Kysely } from "kysely";
import { z } from "zod";
import type { Transact } from "../../db/batcher";
import type { Database } from "../../db/schema";
import type { FundsMovement, FundsService } from "../../funds/service";
import { sameBic } from "../../payments/store";
import { ApiError, fromFailure, refusal } from "../errors";
import { runIdempotent } from "../idempotency";
import { callerOf, parse, requireRole } from "../middleware";
import { Bic, Money, Uuid } from "../schemas";

export const ListFundsQuery = z.strictObject({
  status: z.enum(["awaiting_approval", "approved", "completed", "rejected"]).optional(),
  direction: z.enum(["in", "out"]).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
const MovementParams = z.strictObject({ id: Uuid });
export const FundsOutRequest = z.strictObject({ bic: Bic, amount: Money });

export function movementToJson(m: FundsMovement) {
  const iso = (ms: number) => new Date(ms).toISOString();
  return { ...m, amount: { value: m.amount.value.toString(), currency: m.amount.currency }, createdAt: iso(m.createdAt), updatedAt: iso(m.updatedAt) };
}

/**
 * Funds movements: reserve credits awaiting treasury approval before their mint (funds-in), and
 * redemptions that burn a bank's tokens (funds-out, asked by the bank or by treasury for it).
 */
export function fundsRoutes(deps: { db: Kysely<Database>; transact: Transact; funds: FundsService }): Router {
  const { db, transact, funds } = deps;
  const router = Router();

  router.get("/", requireRole("treasury", "admin"), async (req, res) => {
    const query = parse(ListFundsQuery, req.query, "query");
    res.json({ movements: (await funds.list(query)).map(movementToJson) });
  });

  router.get("/:id", async (req, res) => {
    const caller = callerOf(res);
    const { id } = parse(MovementParams, req.params, "path");
    const movement = await funds.get(id);
    // A bank sees its own movements only; another's is as missing as an unknown one.
    if (!movement || (caller.role === "bank" && !sameBic(caller.bic, movement.bic))) throw new ApiError(404, "movement_not_found", `no funds movement ${id}`, { id });
    res.json(movementToJson(movement));
  });

  router.post("/:id/approve", requireRole("treasury", "admin"), async (req, res) => {
    const caller = callerOf(res);
    const { id } = parse(MovementParams, req.params, "path");
    const outcome = await runIdempotent(db, caller, req, async () => {
      const approved = await funds.approve(caller, id);
      if (!approved.ok) throw fromFailure(approved);
      return { status: 200, body: movementToJson(approved.value) };
    }, { atomic: false });
    res.status(outcome.status).json(outcome.body);
  });

  router.post("/out", async (req, res) => {
    const caller = callerOf(res);
    const body = parse(FundsOutRequest, req.body, "funds-out request");
    const outcome = await runIdempotent(db, caller, req, async (trx) => {
      const requested = await funds.requestFundsOut(caller, { bic: body.bic, amount: { value: BigInt(body.amount.value), currency: body.amount.currency } }, trx);
      if (!requested.ok) return refusal(requested);
      return { status: 201, body: movementToJson(requested.value) };
    }, { atomic: true, transact });
    res.status(outcome.status).json(outcome.body);
  });

  return router;
}
