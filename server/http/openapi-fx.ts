import type { OpenAPIRegistry } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import type { Shared } from "./openapi-interchange";
import { CreateQuoteRequest, ListRatesQuery, PutRatesRequest } from "./routes/fx";
import * as s from "./schemas";

const Rate = z
  .object({
    provider: s.Bic,
    pair: z.string(),
    base: s.Currency,
    quote: s.Currency,
    rate: z.string().openapi({ description: "Exact decimal: quote major units per base major unit" }),
    spreadBps: z.number().int(),
    validFrom: z.string().openapi({ format: "date-time" }),
    validUntil: z.string().openapi({ format: "date-time" }),
    updatedAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("FxRate");

const Quote = z
  .object({
    id: s.Uuid,
    bic: s.Bic,
    provider: s.Bic,
    fixedSide: z.enum(["source", "target"]),
    source: s.Money,
    target: s.Money,
    postedRate: z.string(),
    spreadBps: z.number().int(),
    rate: z.string().openapi({ description: "The client rate: postedRate less spreadBps; the amounts are converted at it, half-even" }),
    fee: s.Money.openapi({ description: "The spread's cost in target minor units" }),
    status: z.enum(["open", "used", "expired"]),
    usedBy: z.string().nullable(),
    expiresAt: z.string().openapi({ format: "date-time" }),
    createdAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("FxQuote");

const json = (schema: z.ZodType, description: string) => ({ description, content: { "application/json": { schema } } });

/** The FX rate and quote routes in the OpenAPI document. */
export function registerFxPaths(registry: OpenAPIRegistry, { security, idempotencyKey, errors }: Shared): void {
  const rates = json(z.object({ rates: z.array(Rate) }), "the rates");
  registry.registerPath({
    method: "put",
    path: "/v1/fx/rates",
    summary: "Post a provider's rates (a bank as itself; treasury or admin for a named provider); each replaces the pair's rate",
    security,
    request: { body: { content: { "application/json": { schema: PutRatesRequest } } } },
    responses: { 200: rates, 400: errors[400], 422: errors[422] },
  });
  registry.registerPath({ method: "get", path: "/v1/fx/rates", summary: "Unexpired rates: a bank's own, or every provider's (treasury, admin)", security, request: { query: ListRatesQuery }, responses: { 200: rates } });
  registry.registerPath({
    method: "post",
    path: "/v1/quotes",
    summary: "Quote a conversion at the best valid rate (a bank), open for QUOTE_TTL_SECONDS",
    security,
    request: { headers: z.object({ "Idempotency-Key": idempotencyKey }), body: { content: { "application/json": { schema: CreateQuoteRequest } } } },
    responses: { 201: json(Quote, "the quote"), 400: errors[400], 409: errors[409], 422: errors[422] },
  });
  registry.registerPath({ method: "get", path: "/v1/quotes/{id}", summary: "A quote (its bank, treasury, admin)", security, responses: { 200: json(Quote, "the quote"), 404: errors[404] } });
}
