import { Router } from "express";
import type { Kysely } from "kysely";
import { z } from "zod";
import type { Database } from "../../db/schema";
import type { FxRate, FxService, Quote } from "../../fx/service";
import { ApiError, fromFailure, refusal } from "../errors";
import { runIdempotent } from "../idempotency";
import { callerOf, parse, requireRole } from "../middleware";
import { Bic, Currency, MinorUnits, Uuid } from "../schemas";

const Instant = z.iso.datetime({ offset: true }).openapi({ example: "2026-11-21T18:00:00Z" });

export const PostedRate = z
  .strictObject({
    pair: z.string().regex(/^[A-Z]{3}\/[A-Z]{3}$/, "BASE/QUOTE, as GBP/JPY").openapi({ example: "GBP/JPY" }),
    rate: z.string().max(64).openapi({
      example: "187.25",
      description: "Quote-currency major units per base major unit, an exact decimal string of at most 18 significant digits",
    }),
    spreadBps: z.number().int().min(0).max(10_000).openapi({ example: 25, description: "Basis points of the rate kept by the provider" }),
    validFrom: Instant.optional().openapi({ description: "Default: now" }),
    validUntil: Instant.openapi({ description: "In the future, at most 24 hours ahead" }),
  })
  .openapi("PostedRate");

export const PutRatesRequest = z
  .strictObject({
    provider: Bic.optional().openapi({ description: "The provider bank (treasury and admin only; a bank posts as itself)" }),
    rates: z.array(PostedRate).min(1).max(100),
  })
  .openapi("PutRatesRequest");

export const ListRatesQuery = z.strictObject({ provider: Bic.optional() });

export const CreateQuoteRequest = z
  .strictObject({
    sourceCurrency: Currency,
    targetCurrency: Currency,
    sourceAmount: MinorUnits.optional().openapi({ description: "Exactly one of sourceAmount and targetAmount" }),
    targetAmount: MinorUnits.optional(),
  })
  .openapi("CreateQuoteRequest");

const QuoteParams = z.strictObject({ id: Uuid });

const iso = (ms: number) => new Date(ms).toISOString();
const money = (m: { value: bigint; currency: string }) => ({ value: m.value.toString(), currency: m.currency });

export function rateToJson(r: FxRate) {
  return { ...r, pair: `${r.base}/${r.quote}`, validFrom: iso(r.validFrom), validUntil: iso(r.validUntil), updatedAt: iso(r.updatedAt) };
}

export function quoteToJson(q: Quote) {
  return { ...q, source: money(q.source), target: money(q.target), fee: money(q.fee), expiresAt: iso(q.expiresAt), createdAt: iso(q.createdAt) };
}

/**
 * FX: providers' rates (PUT replaces a pair's rate, so a repeat is harmless and needs no
 * Idempotency-Key) and quotes for paying banks (POST is idempotent by key, like every create).
 */
export function fxRoutes(deps: { db: Kysely<Database>; fx: FxService }): Router {
  const { db, fx } = deps;
  const router = Router();

  router.put("/fx/rates", async (req, res) => {
    const body = parse(PutRatesRequest, req.body, "rates");
    const rates = body.rates.map((r) => {
      const [base, quote] = r.pair.split("/");
      return { base, quote, rate: r.rate, spreadBps: r.spreadBps, validFrom: r.validFrom === undefined ? undefined : Date.parse(r.validFrom), validUntil: Date.parse(r.validUntil) };
    });
    const posted = await fx.postRates(callerOf(res), { provider: body.provider, rates });
    if (!posted.ok) throw fromFailure(posted);
    res.json({ rates: posted.value.map(rateToJson) });
  });

  router.get("/fx/rates", async (req, res) => {
    const { provider } = parse(ListRatesQuery, req.query, "query");
    res.json({ rates: (await fx.listRates(callerOf(res), { provider })).map(rateToJson) });
  });

  router.post("/quotes", requireRole("bank"), async (req, res) => {
    const caller = callerOf(res);
    const body = parse(CreateQuoteRequest, req.body, "quote request");
    if ((body.sourceAmount === undefined) === (body.targetAmount === undefined)) {
      throw new ApiError(400, "invalid_request", "give exactly one of sourceAmount and targetAmount");
    }
    const fixed = body.sourceAmount !== undefined ? { side: "source" as const, value: BigInt(body.sourceAmount) } : { side: "target" as const, value: BigInt(body.targetAmount!) };
    const outcome = await runIdempotent(db, caller, req, async (trx) => {
      const made = await fx.createQuote(caller, { sourceCurrency: body.sourceCurrency, targetCurrency: body.targetCurrency, fixed }, trx);
      if (!made.ok) return refusal(made);
      return { status: 201, body: quoteToJson(made.value) };
    }, { atomic: true, transact: (work) => db.transaction().execute(work) });
    res.status(outcome.status).json(outcome.body);
  });

  router.get("/quotes/:id", async (req, res) => {
    const { id } = parse(QuoteParams, req.params, "path");
    const found = await fx.getQuote(callerOf(res), id);
    // Read, a missing quote is a missing resource (404); a payment naming one is refused with 422.
    if (!found.ok) throw new ApiError(404, found.code, found.message, found.details);
    res.json(quoteToJson(found.value));
  });

  return router;
}
