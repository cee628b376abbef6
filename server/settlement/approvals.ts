import { TypedDataEncoder, verifyTypedData } from "ethers";
import { enqueueChainIntent } from "../chain/outbox";
import { nettingDomain, SETTLEMENT_WINDOW_TYPES } from "../chain/typed-data";
import type { WindowContext } from "./context";
import type { ApprovalRequest, Window } from "./types";
import { chainWindowId, loadWindow } from "./window-store";

/**
 * Approvals: every bank that pays in (a negative position) signs the round's EIP-712
 * SettlementWindow message (window id, Merkle root, positions), as NettingSettlement checks it.
 * A signature binds the exact root and positions, so one made for another round, or for positions
 * changed since, does not verify. When all are in, the window goes to SETTLING with its settle
 * intent; when the deadline passes first, the banks missing are excluded and the window closes
 * again (a new round, new positions, new signatures).
 */

export function approvalMessage(window: Window) {
  return {
    windowId: chainWindowId(window.id),
    paymentsRoot: window.paymentsRoot!,
    positions: window.positions.map((p) => ({ bank: p.bank, token: p.token, amount: p.amount })),
  };
}

export function approvalRequest(ctx: WindowContext, window: Window): ApprovalRequest {
  const domain = nettingDomain(ctx.chain.chainId, ctx.chain.nettingAddress);
  const message = approvalMessage(window);
  return {
    digest: TypedDataEncoder.hash(domain, SETTLEMENT_WINDOW_TYPES, message),
    typedData: {
      domain: { name: String(domain.name), version: String(domain.version), chainId: ctx.chain.chainId.toString(), verifyingContract: ctx.chain.nettingAddress },
      types: SETTLEMENT_WINDOW_TYPES,
      primaryType: "SettlementWindow",
      message: { ...message, positions: message.positions.map((p) => ({ ...p, amount: p.amount.toString() })) },
    },
  };
}

/** Whether `signature` is the bank's (EOA) signature of the round's message. */
export function verifyApproval(ctx: WindowContext, window: Window, bank: string, signature: string): boolean {
  try {
    const signer = verifyTypedData(nettingDomain(ctx.chain.chainId, ctx.chain.nettingAddress), SETTLEMENT_WINDOW_TYPES, approvalMessage(window), signature);
    return signer.toLowerCase() === bank.toLowerCase();
  } catch {
    return false; // not a signature at all
  }
}

export const debtorsOf = (window: Window) => window.positions.filter((p) => p.amount < 0n);

export async function recordApproval(ctx: WindowContext, window: Window, bic: string, signature: string): Promise<void> {
  await ctx.db
    .insertInto("window_approvals")
    .values({ window_id: window.id, round: window.round, bic, signature, created_at: ctx.now() })
    .onConflict((oc) => oc.columns(["window_id", "round", "bic"]).doUpdateSet({ signature }))
    .execute();
}

export async function approvalsOf(ctx: WindowContext, window: Window): Promise<Map<string, { signature: string; at: number }>> {
  const rows = await ctx.db.selectFrom("window_approvals").selectAll().where("window_id", "=", window.id).where("round", "=", window.round).execute();
  return new Map(rows.map((r) => [r.bic, { signature: r.signature, at: Number(r.created_at) }]));
}

/** The relay signs for the banks whose keys it holds (the demo's), then moves the window on. */
export async function advanceApprovals(ctx: WindowContext, window: Window): Promise<void> {
  let approvals = await approvalsOf(ctx, window);
  const unsigned = debtorsOf(window).filter((p) => !approvals.has(p.bic) && ctx.approvers.has(p.bank.toLowerCase()));
  if (unsigned.length > 0) {
    const domain = nettingDomain(ctx.chain.chainId, ctx.chain.nettingAddress);
    for (const position of unsigned) {
      const signature = await ctx.approvers.get(position.bank.toLowerCase())!.signTypedData(domain, SETTLEMENT_WINDOW_TYPES, approvalMessage(window));
      await recordApproval(ctx, window, position.bic, signature);
    }
    approvals = await approvalsOf(ctx, window);
  }
  const missing = debtorsOf(window).filter((p) => !approvals.has(p.bic));
  if (missing.length === 0) return settle(ctx, window, approvals);
  if (ctx.now() >= (window.approvalDeadline ?? Infinity)) return excludeAndReclose(ctx, window, missing.map((p) => p.bic));
}

async function settle(ctx: WindowContext, window: Window, approvals: Map<string, { signature: string }>): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    const current = await loadWindow(trx, ctx.dialect, window.id, "update");
    if (current?.state !== "AWAITING_APPROVALS" || current.round !== window.round) return;
    const payload = {
      contract: ctx.chain.nettingAddress,
      windowId: chainWindowId(window.id),
      paymentsRoot: window.paymentsRoot!,
      positions: window.positions.map((p) => ({ bank: p.bank, token: p.token, amount: p.amount.toString() })),
      approvals: window.positions.map((p) => (p.amount < 0n ? approvals.get(p.bic)!.signature : "0x")),
    };
    await enqueueChainIntent(trx, { kind: "settle_window", uetr: window.id, payload }, ctx.now());
    await trx.updateTable("settlement_windows").set({ state: "SETTLING", updated_at: ctx.now() }).where("id", "=", window.id).execute();
  });
}

async function excludeAndReclose(ctx: WindowContext, window: Window, bics: string[]): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    const current = await loadWindow(trx, ctx.dialect, window.id, "update");
    if (current?.state !== "AWAITING_APPROVALS" || current.round !== window.round) return;
    await trx
      .updateTable("settlement_windows")
      .set({ state: "CLOSING", round: window.round + 1, excluded_bics: JSON.stringify([...window.excludedBics, ...bics]), approval_deadline: null, updated_at: ctx.now() })
      .where("id", "=", window.id)
      .execute();
  });
}
