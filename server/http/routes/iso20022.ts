import { createHash } from "node:crypto";
import { Router, type Response } from "express";
import type { Kysely } from "kysely";
import { z } from "zod";
import type { Transact } from "../../db/batcher";
import type { Db } from "../../db/database";
import type { Database } from "../../db/schema";
import type { Caller } from "../../payments/types";
import { parsePacs004, parsePacs008, type InterchangeService, type Pacs008Outcome } from "../../interchange/service";
import { IsoMessageError } from "../../iso20022/errors";
import { paymentToJson } from "../../payments/service";
import { ApiError, fromFailure, refusal, statusOf } from "../errors";
import { runIdempotent } from "../idempotency";
import { callerOf, parse, requireRole } from "../middleware";
import { Money, UetrParams } from "../schemas";

/** A message that cannot be read at all: a 4xx with the parser's code, before anything is written. */
export function readIsoMessage<T>(parseMessage: (xml: string) => T, body: unknown): T {
  if (typeof body !== "string" || body.length === 0) {
    throw new ApiError(415, "unsupported_media_type", "send the ISO 20022 message as application/xml");
  }
  try {
    return parseMessage(body);
  } catch (error) {
    if (error instanceof IsoMessageError) throw new ApiError(statusOf(error.code), error.code, error.message, error.details);
    throw error;
  }
}

/** The idempotency key a message's own id implies (MsgId is free text, so it is hashed into the key's alphabet). */
export const messageKey = (type: string, messageId: string) => `${type}:${createHash("sha256").update(messageId).digest("hex").slice(0, 40)}`;

function sendXml(res: Response, status: number, xml: string): void {
  res.status(status).type("application/xml").send(xml);
}

/**
 * A message's outcome: 200 when any transaction was accepted, 422 when every one was rejected
 * (the pacs.002 names each reason); either way the body is the pacs.002.
 */
const outcomeStatus = (outcome: Pacs008Outcome) => (outcome.accepted > 0 ? 200 : 422);

export const ReturnRequest = z.strictObject({
  reason: z.string().regex(/^[A-Z0-9]{4}$/, "an ISO ExternalReturnReason1Code such as AC04"),
  amount: Money.optional(),
  returnId: z.string().min(1).max(35).optional(),
});

/**
 * ISO 20022 in and out. A message's identity (the sender's GrpHdr MsgId) keys its idempotency when
 * no Idempotency-Key is sent: a bank that resends a message gets the first pacs.002 back.
 */
export function iso20022Routes(deps: { db: Kysely<Database>; transact: Transact; interchange: InterchangeService }): Router {
  const { db, transact, interchange } = deps;
  const router = Router();

  /** Reads the message, then takes it once per message id (or Idempotency-Key), answering a pacs.002. */
  function intake<M extends { messageId: string }>(type: string, read: (xml: string) => M, take: (caller: Caller, message: M, trx: Db) => Promise<Pacs008Outcome>) {
    router.post(`/${type}`, async (req, res) => {
      const caller = callerOf(res);
      const message = readIsoMessage(read, req.body);
      const outcome = await runIdempotent(db, caller, req, async (trx) => {
        const taken = await take(caller, message, trx);
        return { status: outcomeStatus(taken), body: taken.pacs002 };
      }, { atomic: true, transact, defaultKey: messageKey(type, message.messageId) });
      if (outcome.replayed) res.set("Idempotent-Replayed", "true");
      sendXml(res, outcome.status, outcome.body as string);
    });
  }
  intake("pacs.008", parsePacs008, interchange.submitPacs008);
  intake("pacs.004", parsePacs004, interchange.receivePacs004);

  return router;
}

/** The ISO 20022 views and actions on one payment: its pacs.002, its return and the return's pacs.004. */
export function paymentInterchangeRoutes(deps: { db: Kysely<Database>; transact: Transact; interchange: InterchangeService }): Router {
  const { db, transact, interchange } = deps;
  const router = Router();

  router.get("/:uetr/pacs.002", async (req, res) => {
    const { uetr } = parse(UetrParams, req.params, "path");
    const report = await interchange.statusReport(callerOf(res), uetr);
    if (!report.ok) throw fromFailure(report);
    sendXml(res, 200, report.value);
  });

  router.get("/:uetr/pacs.004", async (req, res) => {
    const { uetr } = parse(UetrParams, req.params, "path");
    const message = await interchange.returnMessage(callerOf(res), uetr);
    if (!message.ok) throw fromFailure(message);
    sendXml(res, 200, message.value);
  });

  router.post("/:uetr/return", requireRole("bank", "treasury", "admin"), async (req, res) => {
    const caller = callerOf(res);
    const { uetr } = parse(UetrParams, req.params, "path");
    const body = parse(ReturnRequest, req.body, "return");
    const outcome = await runIdempotent(db, caller, req, async (trx) => {
      const amount = body.amount && { value: BigInt(body.amount.value), currency: body.amount.currency };
      const returned = await interchange.returnPayment(caller, uetr, { reason: body.reason, amount, returnId: body.returnId }, trx);
      if (!returned.ok) return refusal(returned);
      const { original, returnPayment, returnId, reason, pacs004 } = returned.value;
      return { status: 201, body: { originalUetr: original.uetr, returnId, reason, payment: paymentToJson(returnPayment), pacs004 } };
    }, { atomic: true, transact });
    if (outcome.replayed) res.set("Idempotent-Replayed", "true");
    res.status(outcome.status).json(outcome.body);
  });

  return router;
}
