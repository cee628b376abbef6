import type { OpenAPIRegistry } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { FundsOutRequest, ListFundsQuery } from "./routes/funds";
import { ReturnRequest } from "./routes/iso20022";
import { CreateRunRequest, ListBreaksQuery, ResolveBreakRequest } from "./routes/reconciliation";
import * as s from "./schemas";

export interface Shared {
  security: { [name: string]: string[] }[];
  idempotencyKey: z.ZodType;
  errors: Record<number, { description: string }>;
}

const xml = (description: string) => ({ description, content: { "application/xml": { schema: z.string() } } });
const anyJson = (description: string) => ({ description, content: { "application/json": { schema: z.object({}).passthrough() } } });
const xmlBody = (description: string) => ({ content: { "application/xml": { schema: z.string().openapi({ description }) } } });

/** The ISO 20022, statement, funds and reconciliation routes in the OpenAPI document. */
export function registerInterchangePaths(registry: OpenAPIRegistry, { security, idempotencyKey, errors }: Shared): void {
  const optionalKey = z.object({ "Idempotency-Key": idempotencyKey.optional() });
  const writeHeaders = z.object({ "Idempotency-Key": idempotencyKey });
  const refused = { 400: errors[400], 401: errors[401], 413: errors[413], 415: errors[415] };
  for (const [type, summary] of [
    ["pacs.008", "Submit a pacs.008 (.001.08 to .001.12, bare or in a head.001 envelope): each CdtTrfTxInf becomes a payment or is rejected alone"],
    ["pacs.004", "Submit a pacs.004: each returned transaction becomes a return of the settled original"],
  ] as const) {
    registry.registerPath({
      method: "post",
      path: `/v1/iso20022/${type}`,
      summary,
      description: "Without an Idempotency-Key the message's GrpHdr/MsgId keys it: a resent message gets the first pacs.002.",
      security,
      request: { headers: optionalKey, body: xmlBody(`an ISO 20022 ${type}`) },
      responses: { 200: xml("pacs.002: ACTC or RJCT (with the ISO reason) per transaction"), 422: xml("pacs.002: every transaction rejected"), ...refused },
    });
  }
  registry.registerPath({
    method: "get",
    path: "/v1/payments/{uetr}/pacs.002",
    summary: "The payment's status as a pacs.002 (ACSP in flight, ACSC settled, RJCT)",
    security,
    request: { params: s.UetrParams },
    responses: { 200: xml("pacs.002"), 404: errors[404] },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/payments/{uetr}/return",
    summary: "Return a settled payment (creditor bank): a new payment back to the debtor bank, with a pacs.004",
    security,
    request: { params: s.UetrParams, headers: writeHeaders, body: { content: { "application/json": { schema: ReturnRequest } } } },
    responses: { 201: anyJson("originalUetr, returnId, reason, payment (the return) and pacs004"), 409: errors[409], 422: errors[422] },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/payments/{uetr}/pacs.004",
    summary: "The pacs.004 of the payment's return",
    security,
    request: { params: s.UetrParams },
    responses: { 200: xml("pacs.004"), 404: errors[404] },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/statements",
    summary: "Import a camt.053 statement or camt.054 notification (treasury); importing it again changes nothing",
    security,
    request: { headers: optionalKey, body: xmlBody("an ISO 20022 camt.053 or camt.054") },
    responses: { 201: anyJson("The statements, created"), 200: anyJson("The statements, all already imported"), 409: errors[409], ...refused },
  });
  registry.registerPath({ method: "get", path: "/v1/statements", summary: "Imported statements, newest first (treasury)", security, responses: { 200: anyJson("statements") } });
  registry.registerPath({ method: "get", path: "/v1/statements/{id}", summary: "One statement with its entries (treasury)", security, responses: { 200: anyJson("the statement"), 404: errors[404] } });
  registry.registerPath({ method: "get", path: "/v1/funds", summary: "Funds movements (treasury)", security, request: { query: ListFundsQuery }, responses: { 200: anyJson("movements") } });
  registry.registerPath({
    method: "post",
    path: "/v1/funds/{id}/approve",
    summary: "Approve a funds-in movement: its tokens are minted (treasury)",
    security,
    request: { headers: writeHeaders },
    responses: { 200: anyJson("the movement, approved"), 404: errors[404], 409: errors[409] },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/funds/out",
    summary: "Redeem tokens: the amount is held, burned on chain, and the reserve movement recorded",
    security,
    request: { headers: writeHeaders, body: { content: { "application/json": { schema: FundsOutRequest } } } },
    responses: { 201: anyJson("the movement"), 422: errors[422] },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/reconciliation/runs",
    summary: "Reconcile chain events, ledger transfers and statement entries over a date range (treasury)",
    security,
    request: { headers: writeHeaders, body: { content: { "application/json": { schema: CreateRunRequest } } } },
    responses: { 201: anyJson("the run with its counts"), 400: errors[400] },
  });
  registry.registerPath({ method: "get", path: "/v1/reconciliation/runs/{id}", summary: "A reconciliation run", security, responses: { 200: anyJson("the run"), 404: errors[404] } });
  registry.registerPath({ method: "get", path: "/v1/reconciliation/breaks", summary: "Breaks, by status, class or currency", security, request: { query: ListBreaksQuery }, responses: { 200: anyJson("breaks and nextCursor") } });
  registry.registerPath({
    method: "patch",
    path: "/v1/reconciliation/breaks/{id}",
    summary: "Resolve a break with a note",
    security,
    request: { headers: writeHeaders, body: { content: { "application/json": { schema: ResolveBreakRequest } } } },
    responses: { 200: anyJson("the break with its history"), 404: errors[404], 409: errors[409] },
  });
}
