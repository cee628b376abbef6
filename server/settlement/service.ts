import { Signature } from "ethers";
import { createPoller, silentLogger, type ChainLogger } from "../chain/contracts";
import { uetrToBytes16 } from "../chain/typed-data";
import { bicSpellings, canonicalBic, inTransaction, sameBic } from "../payments/store";
import type { Caller } from "../payments/types";
import { failure, success, type Result } from "../shared/result";
import { advanceApprovals, approvalRequest, approvalsOf, recordApproval, verifyApproval } from "./approvals";
import { computeRound, moveOn } from "./closing";
import type { WindowContext } from "./context";
import { buildMerkleTree } from "./merkle";
import { projectOpenWindow } from "./projection";
import type { InclusionProof, Window, WindowDetail, WindowErrorCode, WindowService } from "./types";
import { chainWindowId, loadWindow, openWindowOf, toWindow } from "./window-store";

/**
 * Settlement windows: OPEN -> CLOSING -> AWAITING_APPROVALS -> SETTLING -> SETTLED, or FAILED
 * with its payments moved to the next window. Each step is one database transaction that checks
 * the state it starts from, and the driver (runOnce) picks up every window from its stored state,
 * so a relay killed at any point resumes where it was; the contract settles a window id once and
 * the settle intent is keyed on the window, so a window settles exactly once.
 *
 * - OPEN: net payments join; the schedule (closes_at) or treasury closes it, and the currency's
 *   next window opens in the same transaction.
 * - CLOSING: the round is computed (closing.ts): feasible set, Merkle tree, net positions.
 * - AWAITING_APPROVALS: debtor banks sign (approvals.ts); past the deadline, the missing banks
 *   are excluded and the window is CLOSING again, in a new round.
 * - SETTLING: the settle intent is with the submitter; the indexer's WindowSettled settles the
 *   payments, a refusal fails the window.
 */

export interface WindowServiceDeps extends WindowContext {
  logger?: ChainLogger;
}

type Outcome<T> = Result<T, WindowErrorCode>;

function canonicalSignature(signature: string): string | null {
  try {
    return Signature.from(signature).serialized;
  } catch {
    return null; // not an ECDSA signature (bad v, s above the curve's half order, ...)
  }
}

const notFound = (id: string) => failure("window_not_found" as const, `no settlement window ${id}`, { windowId: id });
const MAX_LIST = 100;

export function createWindowService(deps: WindowServiceDeps): WindowService {
  const ctx: WindowContext = deps;
  const { db, dialect } = ctx;
  const logger = deps.logger ?? silentLogger;
  const proofTrees = new Map<string, ReturnType<typeof buildMerkleTree>>(); // one settled window's tree, memoized

  const isTreasury = (caller: Caller) => caller.role !== "bank";

  async function detail(caller: Caller, window: Window): Promise<WindowDetail> {
    const approvals = window.state === "AWAITING_APPROVALS" || window.state === "SETTLING" || window.state === "SETTLED" ? await approvalsOf(ctx, window) : new Map();
    let included = db.selectFrom("window_payments").innerJoin("payments", "payments.uetr", "window_payments.uetr").select("window_payments.uetr").where("window_payments.window_id", "=", window.id);
    if (!isTreasury(caller)) {
      const own = bicSpellings(caller.bic ?? "");
      included = included.where((eb) => eb.or([eb("payments.debtor_bic", "in", own), eb("payments.creditor_bic", "in", own)]));
    }
    const rows = await included.orderBy("window_payments.leaf_index").execute();
    return {
      ...window,
      chainWindowId: chainWindowId(window.id),
      approvals: [...approvals.entries()].map(([bic, a]) => ({ bic, at: a.at })),
      includedPayments: rows.map((r) => r.uetr),
      approvalRequest: window.state === "AWAITING_APPROVALS" ? approvalRequest(ctx, window) : null,
      projected: window.state === "OPEN" ? await projectOpenWindow(db, window.id, isTreasury(caller) ? undefined : (caller.bic ?? "")) : null,
    };
  }

  async function closeNow(id: string, expected?: number): Promise<Window | undefined> {
    return db.transaction().execute(async (trx) => {
      const window = await loadWindow(trx, dialect, id, "update");
      if (window?.state !== "OPEN" || (expected !== undefined && window.closesAt !== expected)) return undefined;
      const now = ctx.now();
      await trx.updateTable("settlement_windows").set({ state: "CLOSING", closed_at: now, updated_at: now }).where("id", "=", id).execute();
      await openWindowOf(trx, dialect, window.currency, now, ctx.config.intervalMs);
      return { ...window, state: "CLOSING", closedAt: now, updatedAt: now };
    });
  }

  /** Due open windows close if they hold payments; an empty one just stays open another interval. */
  async function closeDue(): Promise<void> {
    const now = ctx.now();
    const due = await db.selectFrom("settlement_windows").selectAll().where("state", "=", "OPEN").where("closes_at", "<=", now).execute();
    for (const row of due) {
      const queued = await db.selectFrom("payments").select("uetr").where("window_id", "=", row.id).where("status", "=", "QUEUED").limit(1).executeTakeFirst();
      if (queued) await closeNow(row.id, Number(row.closes_at));
      else await db.updateTable("settlement_windows").set({ closes_at: now + ctx.config.intervalMs, updated_at: now }).where("id", "=", row.id).where("state", "=", "OPEN").execute();
    }
  }

  /** One pass at a time per process: a pass asked for meanwhile runs once the current one ends. */
  let running: Promise<void> | null = null;
  let again = false;
  function runOnce(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await drive();
        } while (again);
      } finally {
        running = null;
      }
    })();
    return running;
  }

  async function drive(): Promise<void> {
    await closeDue();
    const active = await db.selectFrom("settlement_windows").selectAll().where("state", "in", ["CLOSING", "AWAITING_APPROVALS"]).orderBy("sequence").execute();
    for (const window of active.map(toWindow)) {
      try {
        if (window.state === "CLOSING") await computeRound(ctx, window);
        const current = await loadWindow(db, dialect, window.id);
        if (current?.state === "AWAITING_APPROVALS") await advanceApprovals(ctx, current);
      } catch (error) {
        logger.warn({ windowId: window.id, err: error instanceof Error ? error.message : String(error) }, "settlement window step failed; retried next run");
      }
    }
  }

  async function proof(caller: Caller, uetr: string): Promise<Outcome<InclusionProof>> {
    const payment = await db.selectFrom("payments").select(["uetr", "debtor_bic", "creditor_bic", "amount", "window_id", "settlement", "status"]).where("uetr", "=", uetr.toLowerCase()).executeTakeFirst();
    const visible = payment && (isTreasury(caller) || sameBic(caller.bic, payment.debtor_bic) || sameBic(caller.bic, payment.creditor_bic));
    if (!payment || !visible) return failure("payment_not_found", `no payment ${uetr}`, { uetr });
    const window = payment.window_id === null ? undefined : await loadWindow(db, dialect, payment.window_id);
    if (payment.settlement !== "net" || payment.status !== "SETTLED" || window?.state !== "SETTLED") {
      return failure("proof_not_available", `payment ${payment.uetr} is not settled in a settlement window`, { uetr: payment.uetr, status: payment.status, settlement: payment.settlement });
    }
    const leafRow = await db.selectFrom("window_payments").selectAll().where("window_id", "=", window.id).where("uetr", "=", payment.uetr).executeTakeFirstOrThrow();
    const tree = proofTrees.get(window.id) ?? (await treeOf(window.id));
    return success({
      uetr: payment.uetr,
      windowId: window.id,
      chainWindowId: chainWindowId(window.id),
      contract: ctx.chain.nettingAddress,
      chainId: ctx.chain.chainId.toString(),
      leaf: { uetr: uetrToBytes16(payment.uetr), debtor: leafRow.debtor, creditor: leafRow.creditor, token: leafRow.token, amount: payment.amount },
      leafHash: leafRow.leaf_hash,
      proof: tree.proof(Number(leafRow.leaf_index)),
      paymentsRoot: window.paymentsRoot!,
      txHash: window.txHash,
    });
  }

  async function treeOf(windowId: string) {
    const leaves = await db.selectFrom("window_payments").select("leaf_hash").where("window_id", "=", windowId).orderBy("leaf_index").execute();
    const tree = buildMerkleTree(leaves.map((l) => l.leaf_hash));
    proofTrees.clear();
    proofTrees.set(windowId, tree);
    return tree;
  }

  const poller = createPoller("settlement windows", runOnce, logger);

  return {
    join: (trx, currency) => openWindowOf(trx, dialect, currency, ctx.now(), ctx.config.intervalMs),

    async list(caller, filter) {
      let query = db.selectFrom("settlement_windows").selectAll();
      if (filter.currency) query = query.where("currency", "=", filter.currency);
      if (filter.state) query = query.where("state", "=", filter.state);
      const rows = await query.orderBy("opened_at", "desc").orderBy("sequence", "desc").limit(Math.min(Math.max(filter.limit, 1), MAX_LIST)).execute();
      return rows.map(toWindow);
    },

    async get(caller, id) {
      const window = await loadWindow(db, dialect, id);
      return window ? success(await detail(caller, window)) : notFound(id);
    },

    async close(caller, id) {
      if (!isTreasury(caller)) return failure("forbidden", "only treasury closes a window", { windowId: id });
      const window = await loadWindow(db, dialect, id);
      if (!window) return notFound(id);
      const closed = await closeNow(id);
      if (!closed) return failure("window_not_open", `window ${id} is ${window.state}, not OPEN`, { windowId: id, state: window.state });
      void runOnce().catch((error: unknown) => logger.warn({ err: error instanceof Error ? error.message : String(error) }, "settlement window step failed"));
      return success(closed);
    },

    async approve(caller, id, input) {
      const window = await loadWindow(db, dialect, id);
      if (!window) return notFound(id);
      if (window.state !== "AWAITING_APPROVALS") {
        return failure("window_not_awaiting_approval", `window ${id} is ${window.state}`, { windowId: id, state: window.state });
      }
      const bic = isTreasury(caller) ? input.bic : caller.bic;
      const position = bic === undefined || bic === null ? undefined : window.positions.find((p) => sameBic(p.bic, bic));
      if (!position) {
        return failure("not_a_window_participant", `${bic ?? "the caller"} has no position in window ${id} round ${window.round}`, { windowId: id, bic: bic ? canonicalBic(bic) : null });
      }
      // Stored as the contract takes it (v 27/28): signers that give v 0/1 sign the same digest.
      const signature = canonicalSignature(input.signature);
      if (signature === null || !verifyApproval(ctx, window, position.bank, signature)) {
        return failure("invalid_signature", `the signature is not ${position.bic}'s approval of window ${id} round ${window.round} (its root and positions)`, {
          windowId: id,
          round: window.round,
          bank: position.bank,
        });
      }
      await recordApproval(ctx, window, position.bic, signature);
      await advanceApprovals(ctx, window);
      return success(await detail(caller, (await loadWindow(db, dialect, id))!));
    },

    proof,
    runOnce,
    start: poller.start,
    stop: poller.stop,

    onWindowSettled: (database, o) =>
      inTransaction(database, async (trx) => {
        const window = await loadWindow(trx, dialect, o.windowId, "update");
        if (!window || window.state === "SETTLED") return false;
        if (window.paymentsRoot?.toLowerCase() !== o.paymentsRoot.toLowerCase()) {
          throw new Error(`window ${o.windowId} settled on chain with root ${o.paymentsRoot}, not ours (${window.paymentsRoot})`);
        }
        const uetrs = (await trx.selectFrom("window_payments").select("uetr").where("window_id", "=", window.id).orderBy("leaf_index").execute()).map((r) => r.uetr);
        const observation = { windowId: window.id, txHash: o.txHash, blockNumber: o.blockNumber };
        await ctx.payments.settleNet(trx, uetrs, window.positions, window.currency, observation);
        await trx
          .updateTable("settlement_windows")
          .set({ state: "SETTLED", tx_hash: o.txHash, block_number: o.blockNumber, settled_at: ctx.now(), failure_reason: null, updated_at: ctx.now() })
          .where("id", "=", window.id)
          .execute();
        return true;
      }),

    unapplyWindowSettled: (database, o) =>
      inTransaction(database, async (trx) => {
        const window = await loadWindow(trx, dialect, o.windowId, "update");
        if (window?.state !== "SETTLED") return false;
        const uetrs = (await trx.selectFrom("window_payments").select("uetr").where("window_id", "=", window.id).execute()).map((r) => r.uetr);
        await ctx.payments.unsettleNet(trx, uetrs, window.positions, window.currency, { windowId: window.id, txHash: o.txHash, blockNumber: o.blockNumber });
        await trx.updateTable("settlement_windows").set({ state: "SETTLING", tx_hash: null, block_number: null, settled_at: null, updated_at: ctx.now() }).where("id", "=", window.id).execute();
        return true;
      }),

    onSettleFailed: (database, windowId, reason) =>
      inTransaction(database, async (trx) => {
        const window = await loadWindow(trx, dialect, windowId, "update");
        if (window?.state !== "SETTLING") return;
        const uetrs = (await trx.selectFrom("window_payments").select("uetr").where("window_id", "=", window.id).execute()).map((r) => r.uetr);
        await trx.updateTable("settlement_windows").set({ state: "FAILED", failure_reason: reason, updated_at: ctx.now() }).where("id", "=", window.id).execute();
        await moveOn(ctx, trx, window, uetrs.map((uetr) => ({ uetr, reason: `settlement failed: ${reason}` })));
      }),
  };
}
