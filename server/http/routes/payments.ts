import { Router } from "express";
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema";
import type { Transact } from "../../db/batcher";
import { paymentToJson } from "../../payments/service";
import type { PaymentService } from "../../payments/types";
import { fromFailure, refusal } from "../errors";
import { runIdempotent } from "../idempotency";
import { callerOf, parse } from "../middleware";
import { CreatePaymentRequest, ListPaymentsQuery, UetrParams } from "../schemas";

export function paymentRoutes(deps: { db: Kysely<Database>; transact: Transact; payments: PaymentService }): Router {
  const { db, transact, payments } = deps;
  const router = Router();

  router.post("/", async (req, res) => {
    const caller = callerOf(res);
    const body = parse(CreatePaymentRequest, req.body, "payment");
    const outcome = await runIdempotent(db, caller, req, async (trx) => {
      const created = await payments.create(
        caller,
        {
          uetr: body.uetr,
          endToEndId: body.endToEndId,
          debtorAgent: body.debtorAgent.bic,
          creditorAgent: body.creditorAgent.bic,
          amount: { value: BigInt(body.amount.value), currency: body.amount.currency },
          debtor: body.debtor,
          creditor: body.creditor,
          remittanceInformation: body.remittanceInformation,
          expiresInSeconds: body.expiresInSeconds,
          quoteId: body.quoteId,
          settlement: body.settlement,
          priority: body.priority,
        },
        trx,
      );
      if (!created.ok) return refusal(created);
      return { status: 201, body: paymentToJson(created.value) };
    }, { atomic: true, transact });
    if (outcome.replayed) res.set("Idempotent-Replayed", "true");
    res.status(outcome.status).json(outcome.body);
  });

  router.get("/", async (req, res) => {
    const query = parse(ListPaymentsQuery, req.query, "query");
    const page = await payments.list(callerOf(res), query);
    if (!page.ok) throw fromFailure(page);
    res.json({ payments: page.value.payments.map(paymentToJson), nextCursor: page.value.nextCursor });
  });

  router.get("/:uetr", async (req, res) => {
    const { uetr } = parse(UetrParams, req.params, "path");
    const found = await payments.get(callerOf(res), uetr);
    if (!found.ok) throw fromFailure(found);
    res.json(paymentToJson(found.value));
  });

  for (const action of ["cancel", "confirm"] as const) {
    router.post(`/:uetr/${action}`, async (req, res) => {
      const caller = callerOf(res);
      const { uetr } = parse(UetrParams, req.params, "path");
      const outcome = await runIdempotent(db, caller, req, async () => {
        const result = await payments[action](caller, uetr);
        if (!result.ok) throw fromFailure(result);
        return { status: 200, body: paymentToJson(result.value) };
      }, { atomic: false });
      if (outcome.replayed) res.set("Idempotent-Replayed", "true");
      res.status(outcome.status).json(outcome.body);
    });
  }

  return router;
}
