import { Router } from "express";
import type { Kysely } from "kysely";
import { z } from "zod";
import type { Database } from "../../db/schema";
import type { Window, WindowDetail, WindowService } from "../../settlement/types";
import { fromFailure } from "../errors";
import { runIdempotent } from "../idempotency";
import { callerOf, parse, requireRole } from "../middleware";
import { Bic, Currency, Uuid } from "../schemas";

export const WindowState = z.enum(["OPEN", "CLOSING", "AWAITING_APPROVALS", "SETTLING", "SETTLED", "FAILED"]).openapi("WindowState");
export const ListWindowsQuery = z.strictObject({
  currency: Currency.optional(),
  state: WindowState.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});
export const WindowParams = z.strictObject({ id: Uuid });
export const ApprovalRequestBody = z
  .strictObject({
    signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, "a 65-byte ECDSA signature, 0x + 130 hex digits").openapi({
      description: "The bank's EIP-712 signature of the window's `approvalRequest.typedData` (eth_signTypedData_v4)",
    }),
    bic: Bic.optional().openapi({ description: "Treasury and admin only: the bank whose signature this is (a bank approves as itself)" }),
  })
  .openapi("WindowApproval");

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function windowToJson(w: Window) {
  const gross = w.grossTotal;
  const net = w.positions.reduce((sum, p) => sum + (p.amount > 0n ? p.amount : 0n), 0n);
  const absolute = w.positions.reduce((sum, p) => sum + (p.amount < 0n ? -p.amount : p.amount), 0n);
  return {
    id: w.id,
    currency: w.currency,
    sequence: w.sequence,
    state: w.state,
    round: w.round,
    openedAt: iso(w.openedAt),
    closesAt: iso(w.closesAt),
    closedAt: iso(w.closedAt),
    approvalDeadline: iso(w.approvalDeadline),
    paymentsRoot: w.paymentsRoot,
    positions: w.positions.map((p) => ({ bic: p.bic, address: p.bank, token: p.token, amount: p.amount.toString(), approvalRequired: p.amount < 0n })),
    paymentCount: w.paymentCount,
    grossTotal: gross.toString(),
    netTotal: net.toString(),
    /** Sum of absolute net positions over the gross sum, in basis points (10000 = no saving). */
    netToGrossBps: gross === 0n ? null : Number((absolute * 10_000n) / gross),
    deferred: w.deferred,
    excludedBanks: w.excludedBics,
    txHash: w.txHash,
    blockNumber: w.blockNumber,
    settledAt: iso(w.settledAt),
    failureReason: w.failureReason,
    updatedAt: iso(w.updatedAt),
  };
}

export function windowDetailToJson(w: WindowDetail) {
  return {
    ...windowToJson(w),
    chainWindowId: w.chainWindowId,
    approvals: w.approvals.map((a) => ({ bic: a.bic, at: iso(a.at) })),
    includedPayments: w.includedPayments,
    approvalRequest: w.approvalRequest,
    projected: w.projected && {
      paymentCount: w.projected.paymentCount,
      grossTotal: w.projected.grossTotal.toString(),
      positions: w.projected.positions.map((p) => ({ bic: p.bic, amount: p.amount.toString() })),
      obligations: w.projected.obligations.map((o) => ({ ...o, amount: o.amount.toString() })),
    },
  };
}

/** Settlement windows: listing and detail for everyone, close for treasury, approvals by the banks. */
export function windowRoutes(deps: { db: Kysely<Database>; windows: WindowService }): Router {
  const { db, windows } = deps;
  const router = Router();

  router.get("/", async (req, res) => {
    const query = parse(ListWindowsQuery, req.query, "query");
    res.json({ windows: (await windows.list(callerOf(res), query)).map(windowToJson) });
  });

  router.get("/:id", async (req, res) => {
    const { id } = parse(WindowParams, req.params, "path");
    const found = await windows.get(callerOf(res), id);
    if (!found.ok) throw fromFailure(found);
    res.json(windowDetailToJson(found.value));
  });

  router.post("/:id/close", requireRole("treasury", "admin"), async (req, res) => {
    const caller = callerOf(res);
    const { id } = parse(WindowParams, req.params, "path");
    const outcome = await runIdempotent(db, caller, req, async () => {
      const closed = await windows.close(caller, id);
      if (!closed.ok) throw fromFailure(closed);
      return { status: 200, body: windowToJson(closed.value) };
    }, { atomic: false });
    res.status(outcome.status).json(outcome.body);
  });

  router.post("/:id/approvals", async (req, res) => {
    const caller = callerOf(res);
    const { id } = parse(WindowParams, req.params, "path");
    const body = parse(ApprovalRequestBody, req.body, "approval");
    const outcome = await runIdempotent(db, caller, req, async () => {
      const approved = await windows.approve(caller, id, body);
      if (!approved.ok) throw fromFailure(approved);
      return { status: 200, body: windowDetailToJson(approved.value) };
    }, { atomic: false });
    res.status(outcome.status).json(outcome.body);
  });

  return router;
}

/** GET /v1/payments/{uetr}/proof: a net payment's inclusion proof, checkable with verifyPayment. */
export function paymentProofRoutes(deps: { windows: WindowService }): Router {
  const router = Router();
  router.get("/:uetr/proof", async (req, res) => {
    const { uetr } = parse(z.strictObject({ uetr: Uuid }), req.params, "path");
    const proof = await deps.windows.proof(callerOf(res), uetr);
    if (!proof.ok) throw fromFailure(proof);
    res.json(proof.value);
  });
  return router;
}
