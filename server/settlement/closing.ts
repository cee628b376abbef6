import type { Transaction } from "kysely";
import type { Database } from "../db/schema";
import { uetrToBytes16, paymentLeafHash } from "../chain/typed-data";
import { bicSpellings } from "../payments/store";
import type { WindowContext } from "./context";
import { selectSettleable, type Capacity, type Candidate } from "./gridlock";
import { buildMerkleTree } from "./merkle";
import { computeNetPositions } from "./net-positions";
import type { Window, WindowPosition } from "./types";
import { loadWindow, openWindowOf, positionsJson } from "./window-store";

/**
 * A closing window's round: which queued payments settle (within each bank's cap, balance and
 * allowance, and without the banks excluded for not approving), their Merkle tree and the net
 * positions. The chain is read first, outside any transaction; the result is written in one
 * transaction that first checks the window is still in the same closing round, so a relay killed
 * here simply computes again.
 */

interface Queued extends Candidate {
  debtorAddress: string;
  creditorAddress: string;
}

export async function computeRound(ctx: WindowContext, window: Window): Promise<void> {
  const token = ctx.chain.tokenAddress(window.currency);
  const queued = await queuedPayments(ctx, window, token);
  const excluded = new Map(window.excludedBics.map((bic) => [bic, `${bic} did not approve window ${window.id} in time`]));
  for (const [bic, reason] of queued.suspended) excluded.set(bic, reason);
  const capacities = token ? await capacitiesOf(ctx, token, queued.addresses, excluded) : new Map<string, Capacity>();
  const { included, deferred } = selectSettleable(queued.payments, capacities, excluded);

  const leaves = included.map((p) => ({
    uetr: p.uetr,
    debtor: p.debtorAddress,
    creditor: p.creditorAddress,
    leafHash: paymentLeafHash({ uetr: uetrToBytes16(p.uetr), debtor: p.debtorAddress, creditor: p.creditorAddress, token: token!, amount: p.amount }),
  }));
  const bicOf = new Map(queued.payments.flatMap((p) => [[p.debtorAddress.toLowerCase(), p.debtor], [p.creditorAddress.toLowerCase(), p.creditor]]));
  const positions: WindowPosition[] = computeNetPositions(included.map((p) => ({ debtor: p.debtorAddress, creditor: p.creditorAddress, token: token!, amount: p.amount }))).map(
    (p) => ({ ...p, bic: bicOf.get(p.bank.toLowerCase())! }),
  );
  const root = leaves.length > 0 ? buildMerkleTree(leaves.map((l) => l.leafHash)).root : null;

  await ctx.db.transaction().execute(async (trx) => {
    const current = await loadWindow(trx, ctx.dialect, window.id, "update");
    if (current?.state !== "CLOSING" || current.round !== window.round) return; // done meanwhile
    const now = ctx.now();
    await trx.deleteFrom("window_payments").where("window_id", "=", window.id).execute();
    for (let k = 0; k < leaves.length; k += 500) {
      const rows = leaves.slice(k, k + 500).map((l, i) => ({ window_id: window.id, uetr: l.uetr, leaf_index: k + i, leaf_hash: l.leafHash, debtor: l.debtor, creditor: l.creditor, token: token! }));
      await trx.insertInto("window_payments").values(rows).execute();
    }
    await moveOn(ctx, trx, window, deferred.map((d) => ({ uetr: d.payment.uetr, reason: d.reason })));
    const gross = included.reduce((sum, p) => sum + p.amount, 0n);
    const empty = queued.payments.length === 0;
    await trx
      .updateTable("settlement_windows")
      .set({
        state: empty ? "SETTLED" : root === null ? "FAILED" : "AWAITING_APPROVALS",
        failure_reason: !empty && root === null ? "no queued payment could settle in this window" : null,
        settled_at: empty ? now : null,
        payments_root: root,
        positions: positionsJson(positions),
        // Earlier rounds' deferrals stay listed: those payments left this window then.
        deferred: JSON.stringify([...window.deferred, ...deferred.map((d) => ({ uetr: d.payment.uetr, reason: d.reason }))]),
        payment_count: included.length,
        gross_total: gross.toString(),
        approval_deadline: root === null ? null : now + ctx.config.approvalMs,
        updated_at: now,
      })
      .where("id", "=", window.id)
      .execute();
  });
}

/** Payments leave a window for the currency's open one, each with its reason. */
export async function moveOn(ctx: WindowContext, trx: Transaction<Database>, window: Window, moves: readonly { uetr: string; reason: string }[]): Promise<void> {
  if (moves.length === 0) return;
  const next = await openWindowOf(trx, ctx.dialect, window.currency, ctx.now(), ctx.config.intervalMs);
  const byReason = new Map<string, string[]>();
  for (const { uetr, reason } of moves) byReason.set(reason, [...(byReason.get(reason) ?? []), uetr]);
  for (const [reason, uetrs] of byReason) await ctx.payments.requeueNet(trx, uetrs, next, `window ${window.id}: ${reason}`);
}

async function queuedPayments(ctx: WindowContext, window: Window, token: string | undefined) {
  const rows = await ctx.db
    .selectFrom("payments")
    .select(["uetr", "debtor_bic", "creditor_bic", "amount", "priority", "created_at"])
    .where("window_id", "=", window.id)
    .where("status", "=", "QUEUED")
    .execute();
  const bics = [...new Set(rows.flatMap((r) => [r.debtor_bic, r.creditor_bic]))];
  const participants = bics.length === 0 ? [] : await ctx.db.selectFrom("participants").select(["bic", "address", "status"]).where("bic", "in", bics.flatMap(bicSpellings)).execute();
  const byBic = new Map(participants.map((p) => [p.bic, p]));
  const suspended = new Map<string, string>();
  for (const bic of bics) {
    const participant = byBic.get(bic);
    if (!participant || participant.status !== "active") suspended.set(bic, `${bic} is not an active participant`);
    if (!token) suspended.set(bic, `no deposit token settles ${window.currency}`);
  }
  const payments: Queued[] = rows.map((r) => ({
    uetr: r.uetr,
    debtor: r.debtor_bic,
    creditor: r.creditor_bic,
    amount: BigInt(r.amount),
    priority: r.priority,
    arrival: Number(r.created_at),
    debtorAddress: byBic.get(r.debtor_bic)?.address ?? "",
    creditorAddress: byBic.get(r.creditor_bic)?.address ?? "",
  }));
  const addresses = new Map(participants.map((p) => [p.bic, p.address]));
  return { payments, suspended, addresses };
}

/** A bank may end the window short by the least of its cap, its balance and its allowance. */
/** Also marks `unavailable` the banks the registry no longer has active (the contract would revert). */
async function capacitiesOf(ctx: WindowContext, token: string, addresses: ReadonlyMap<string, string>, unavailable: Map<string, string>): Promise<Map<string, Capacity>> {
  const rooms = await ctx.chain.roomOf(token, [...addresses.values()]);
  const capacities = new Map<string, Capacity>();
  for (const [bic, address] of addresses) {
    const room = rooms.get(address.toLowerCase());
    if (!room) continue;
    if (!room.active && !unavailable.has(bic)) unavailable.set(bic, `${bic} is not active in the participant registry`);
    const limits: [bigint, string][] = [
      [room.netDebitCap, "net debit cap"],
      [room.balance, "token balance"],
      [room.allowance, "allowance to the netting contract"],
    ];
    const [limit, binding] = limits.reduce((least, next) => (next[0] < least[0] ? next : least));
    capacities.set(bic, { limit, binding });
  }
  return capacities;
}
