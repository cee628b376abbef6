import type { OpenAPIRegistry } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import type { Shared } from "./openapi-interchange";
import { ApprovalRequestBody, ListWindowsQuery, WindowParams, WindowState } from "./routes/windows";
import * as s from "./schemas";

const at = z.string().openapi({ format: "date-time" });

const Position = z.object({
  bic: s.Bic,
  address: z.string(),
  token: z.string(),
  amount: z.string().openapi({ description: "Minor units, signed: negative pays in, positive is paid out" }),
  approvalRequired: z.boolean().openapi({ description: "Banks that pay in must approve the round by EIP-712 signature" }),
});

const Window = z
  .object({
    id: s.Uuid,
    currency: s.Currency,
    sequence: z.number().int(),
    state: WindowState,
    round: z.number().int().openapi({ description: "0 at close; +1 each time banks that did not approve in time are excluded" }),
    openedAt: at,
    closesAt: at,
    closedAt: at.nullable(),
    approvalDeadline: at.nullable(),
    paymentsRoot: z.string().nullable().openapi({ description: "Merkle root of the included payments (sorted-pair keccak256, OpenZeppelin MerkleProof)" }),
    positions: z.array(Position),
    paymentCount: z.number().int(),
    grossTotal: z.string().openapi({ description: "Sum of the included payments, minor units" }),
    netTotal: z.string().openapi({ description: "What moves on chain: the sum of the positive positions" }),
    netToGrossBps: z.number().int().nullable().openapi({ description: "Sum of absolute net positions over the gross sum, in basis points" }),
    deferred: z.array(z.object({ uetr: s.Uuid, reason: z.string() })).openapi({ description: "Payments moved to the next window, with why" }),
    excludedBanks: z.array(s.Bic),
    txHash: z.string().nullable(),
    blockNumber: z.number().int().nullable(),
    settledAt: at.nullable(),
    failureReason: z.string().nullable(),
    updatedAt: at,
  })
  .openapi("SettlementWindow");

const WindowDetail = Window.extend({
  chainWindowId: z.string().openapi({ description: "The window id as NettingSettlement takes it (bytes32)" }),
  approvals: z.array(z.object({ bic: s.Bic, at })),
  includedPayments: z.array(s.Uuid).openapi({ description: "In leaf order; a bank sees its own only" }),
  approvalRequest: z
    .object({ digest: z.string(), typedData: z.object({}).passthrough() })
    .nullable()
    .openapi({ description: "While AWAITING_APPROVALS: the EIP-712 SettlementWindow message to sign (eth_signTypedData_v4) and its digest" }),
  projected: z
    .object({
      paymentCount: z.number().int(),
      grossTotal: z.string(),
      positions: z.array(z.object({ bic: s.Bic, amount: z.string().openapi({ description: "Minor units, signed: negative would pay in" }) })),
      obligations: z.array(z.object({ debtor: s.Bic, creditor: s.Bic, count: z.number().int(), amount: z.string() })),
    })
    .nullable()
    .openapi({ description: "While OPEN: the queued payments summed per pair of banks and their projected net positions (a bank sees its own only)" }),
}).openapi("SettlementWindowDetail");

const Proof = z
  .object({
    uetr: s.Uuid,
    windowId: s.Uuid,
    chainWindowId: z.string(),
    contract: z.string().openapi({ description: "The NettingSettlement address" }),
    chainId: z.string(),
    leaf: z.object({ uetr: z.string(), debtor: z.string(), creditor: z.string(), token: z.string(), amount: z.string() }),
    leafHash: z.string(),
    proof: z.array(z.string()),
    paymentsRoot: z.string(),
    txHash: z.string().nullable(),
  })
  .openapi("InclusionProof");

const json = (schema: z.ZodType, description: string) => ({ description, content: { "application/json": { schema } } });

/** Settlement windows and inclusion proofs in the OpenAPI document. */
export function registerWindowPaths(registry: OpenAPIRegistry, { security, idempotencyKey, errors }: Shared): void {
  registry.registerPath({
    method: "get",
    path: "/v1/windows",
    summary: "Settlement windows, newest first",
    security,
    request: { query: ListWindowsQuery },
    responses: { 200: json(z.object({ windows: z.array(Window) }), "the windows"), 400: errors[400] },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/windows/{id}",
    summary: "A window: state, positions, included payments, approvals, tx hash",
    security,
    request: { params: WindowParams },
    responses: { 200: json(WindowDetail, "the window"), 404: errors[404] },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/windows/{id}/close",
    summary: "Close an open window now (treasury, admin); the currency's next window opens",
    security,
    request: { params: WindowParams, headers: z.object({ "Idempotency-Key": idempotencyKey }) },
    responses: { 200: json(Window, "the window, CLOSING"), 403: errors[403], 404: errors[404], 409: errors[409] },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/windows/{id}/approvals",
    summary: "A bank's EIP-712 approval of the window's current round",
    security,
    request: { params: WindowParams, headers: z.object({ "Idempotency-Key": idempotencyKey }), body: { content: { "application/json": { schema: ApprovalRequestBody } } } },
    responses: { 200: json(WindowDetail, "the window"), 400: errors[400], 404: errors[404], 409: errors[409], 422: errors[422] },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/payments/{uetr}/proof",
    summary: "A net payment's inclusion proof in its settled window, checkable on chain by anyone",
    security,
    responses: { 200: json(Proof, "the proof"), 404: errors[404], 409: errors[409] },
  });
}
