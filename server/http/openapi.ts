import { OpenAPIRegistry, OpenApiGeneratorV3 } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { registerInterchangePaths } from "./openapi-interchange";
import { registerFxPaths } from "./openapi-fx";
import { registerWindowPaths } from "./openapi-windows";
import { registerTreasuryPaths } from "./openapi-treasury";
import * as s from "./schemas";

/** OpenAPI 3 document generated from the same zod schemas that validate requests. */
export function buildOpenApiDocument(serverUrl?: string): ReturnType<OpenApiGeneratorV3["generateDocument"]> {
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent("securitySchemes", "apiKey", {
    type: "http",
    scheme: "bearer",
    description: "An API key: `Authorization: Bearer crd_...`",
  });
  const security = [{ [bearer.name]: [] }];
  const idempotencyKey = z.string().min(1).max(255).openapi({ description: "Required on every write; a replay returns the first result" });
  const json = (schema: z.ZodType, description: string) => ({ description, content: { "application/json": { schema } } });
  const errors = {
    400: json(s.ErrorResponse, "Malformed request (codes: malformed_json, missing_field, unknown_field, invalid_field, invalid_amount, missing_idempotency_key)"),
    401: json(s.ErrorResponse, "No or unknown API key"),
    403: json(s.ErrorResponse, "forbidden: the key's role may not do this"),
    409: json(s.ErrorResponse, "idempotency_conflict, or a state conflict"),
    413: json(s.ErrorResponse, "payload_too_large"),
    415: json(s.ErrorResponse, "unsupported_media_type"),
    404: json(s.ErrorResponse, "Not found (payment_not_found, statement_not_found, movement_not_found, run_not_found, break_not_found)"),
    422: json(s.ErrorResponse, "Refused by the rules (unknown_participant, limit_exceeded, sanctioned_party, ...)"),
    429: json(s.ErrorResponse, "too_many_requests"),
  };

  registry.registerPath({
    method: "post",
    path: "/v1/payments",
    summary: "Make a payment: it is locked on chain, released when the creditor bank confirms",
    security,
    request: { headers: z.object({ "Idempotency-Key": idempotencyKey }), body: { content: { "application/json": { schema: s.CreatePaymentRequest } } } },
    responses: { 201: json(s.PaymentResponse, "The payment, RECEIVED"), ...errors },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/payments",
    summary: "List payments (newest first; a bank sees those where it is debtor or creditor agent)",
    security,
    request: { query: s.ListPaymentsQuery },
    responses: { 200: json(s.PaymentPage, "A page of payments"), 400: errors[400], 401: errors[401] },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/payments/{uetr}",
    summary: "Track a payment: its status and status history with chain transactions",
    security,
    request: { params: s.UetrParams },
    responses: { 200: json(s.PaymentResponse, "The payment with its history"), 401: errors[401], 404: json(s.ErrorResponse, "payment_not_found") },
  });
  for (const [action, summary] of [
    ["cancel", "Cancel a payment before it is locked (debtor bank)"],
    ["confirm", "Confirm receipt (creditor bank): releases the locked funds"],
  ] as const) {
    registry.registerPath({
      method: "post",
      path: `/v1/payments/{uetr}/${action}`,
      summary,
      security,
      request: { params: s.UetrParams, headers: z.object({ "Idempotency-Key": idempotencyKey }) },
      responses: { 200: json(s.PaymentResponse, "The payment"), 404: json(s.ErrorResponse, "payment_not_found"), 409: errors[409] },
    });
  }
  registry.registerPath({
    method: "get",
    path: "/v1/accounts",
    summary: "Ledger balances (posted, pending) beside on-chain token balances",
    security,
    responses: { 200: json(z.object({ accounts: z.array(s.AccountResponse) }), "Accounts"), 401: errors[401] },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/participants",
    summary: "Partner banks",
    security,
    responses: { 200: json(z.object({ participants: z.array(s.ParticipantResponse) }), "Participants") },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/participants",
    summary: "Register a partner bank (admin)",
    security,
    request: { headers: z.object({ "Idempotency-Key": idempotencyKey }), body: { content: { "application/json": { schema: s.CreateParticipantRequest } } } },
    responses: { 201: json(z.object({ participant: s.ParticipantResponse, webhookSecret: z.string() }), "Registered"), ...errors },
  });
  registry.registerPath({
    method: "patch",
    path: "/v1/participants/{bic}",
    summary: "Suspend or reactivate a bank, set its webhook URL, rotate its webhook secret (admin)",
    security,
    request: { params: s.BicParams, headers: z.object({ "Idempotency-Key": idempotencyKey }), body: { content: { "application/json": { schema: s.UpdateParticipantRequest } } } },
    responses: { 200: json(z.object({ participant: s.ParticipantResponse, webhookSecret: z.string().nullable() }), "Updated"), ...errors },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/keys",
    summary: "Create an API key (admin); the key is shown only in this answer",
    security,
    request: { headers: z.object({ "Idempotency-Key": idempotencyKey }), body: { content: { "application/json": { schema: s.CreateKeyRequest } } } },
    responses: { 201: json(z.object({ key: z.string(), apiKey: s.ApiKeyResponse }), "Created"), ...errors },
  });
  registerInterchangePaths(registry, { security, idempotencyKey, errors });
  registerFxPaths(registry, { security, idempotencyKey, errors });
  registerWindowPaths(registry, { security, idempotencyKey, errors });
  registerTreasuryPaths(registry, { security, idempotencyKey, errors });
  for (const [method, path, summary] of [
    ["get", "/healthz", "Liveness"],
    ["get", "/readyz", "Readiness: database and RPC answer"],
    ["get", "/metrics", "Prometheus metrics"],
  ] as const) {
    registry.registerPath({ method, path, summary, responses: { 200: { description: "OK" }, 503: { description: "Not ready" } } });
  }

  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: "3.0.3",
    info: {
      title: "Corridor payment API",
      version: "1.0.0",
      description: "Cross-border payments between partner banks, settled on chain. Amounts are integer minor units as digit strings.",
    },
    servers: serverUrl ? [{ url: serverUrl }] : [],
  });
}
