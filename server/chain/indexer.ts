import { sql, type Kysely } from "kysely";
import type { Block, Log, Provider } from "ethers";
import type { Db, Dialect } from "../db/database";
import type { ChainEventsTable, Database, IndexerBlocksTable } from "../db/schema";
import type { ChainObservation, PaymentService } from "../payments/types";
import { createPoller, silentLogger, type ChainLogger } from "./contracts";
import { EVENT_TOPICS, fundsObservation, toEventRow, withLockAmount, type EventName } from "./event-rows";
import { ignoredFundsHooks, type FundsChainHooks } from "./funds-hooks";
import type { WindowService } from "../settlement/types";

/**
 * The indexer follows the escrow's Locked, Released and Refunded events and applies each to the
 * payments exactly once, and the deposit tokens' Minted and Burned events, applied to the funds
 * movements their evidence names (funds-hooks.ts) exactly once, and NettingSettlement's
 * WindowSettled, applied to its settlement window exactly once. Rows: event-rows.ts.
 *
 * - Confirmation depth: only blocks up to `latest - confirmations` are read.
 * - Checkpoint: the processed blocks' headers in `indexer_blocks`; the highest row is the tip.
 * - Exactly once: an event's row in `chain_events` (id = block hash + log index), the payment hook
 *   it triggers and the checkpoint advance are written in one database transaction. A crash before
 *   commit leaves nothing behind; after commit the checkpoint is past the event.
 * - Reorgs: before extending, the stored tip must still be the chain's block at that height, and a
 *   new block's parent hash must be the tip's hash. Otherwise the indexer walks back its stored
 *   headers to the fork point and, in one transaction, unapplies every event above it (newest
 *   first) and deletes those events and headers; then it indexes the canonical blocks again.
 *   The relay's own transactions among the orphaned events are no longer mined, and a node need
 *   not put them back in its pool (Hardhat's evm_revert does not): their chain intents, done once
 *   the submitter saw a receipt, go back to `sent` in the same transaction, so the submitter checks
 *   them again and rebroadcasts the stored transaction (same nonce, so later nonces are not stuck).
 *
 * Rollback hooks (the contract of `unapplyLocked` / `unapplyReleased` / `unapplyRefunded`, and of
 * the funds hooks' `unapplyMinted` / `unapplyBurned`): called inside the rollback transaction, once
 * per event that its apply hook received and that is no longer on the canonical chain, with the
 * same observation, newest event first (so a release is undone before its lock). The hook must undo
 * what the apply hook did and must not commit on its own; if it throws, nothing is rolled back and
 * the run fails.
 */

export type ChainEventHooks = Pick<
  PaymentService,
  "onLocked" | "onReleased" | "onRefunded" | "unapplyLocked" | "unapplyReleased" | "unapplyRefunded"
>;

export interface ChainIndexerDeps {
  db: Kysely<Database>;
  dialect: Dialect;
  provider: Provider;
  escrowAddress: string;
  /**
   * The deposit tokens whose Minted and Burned events are followed; default none. Only blocks from
   * the tip on are read for a token added later: its earlier events are not indexed.
   */
  tokenAddresses?: readonly string[];
  /** The escrow's deployment block: nothing earlier is read. */
  fromBlock: number;
  confirmations: number;
  payments: ChainEventHooks;
  /** NettingSettlement, whose WindowSettled events settle windows; default: not followed. */
  nettingAddress?: string;
  windows?: Pick<WindowService, "onWindowSettled" | "unapplyWindowSettled">;
  /** Told of the funds movements' mints and burns; default: no one (the events are still stored). */
  funds?: FundsChainHooks;
  /** Most blocks read (one eth_getLogs) and applied per database transaction. */
  batchBlocks: number;
  /** Headers kept below the tip to find a fork point (and read for every block this near the head). */
  retainBlocks?: number;
  logger?: ChainLogger;
}

export interface ChainIndexer {
  /** Indexes up to the confirmed head; resolves to the number of events applied. */
  runOnce(): Promise<number>;
  start(intervalMs: number): void;
  stop(): Promise<void>;
  /** The last indexed block and how far it is behind the chain's latest block. */
  head(): Promise<{ indexed: number; lag: number }>;
}

/** A JSON-RPC call failed (node down, timeout, rate limit); nothing was written. */
export class ChainRpcError extends Error {
  constructor(readonly method: string, readonly cause: unknown) {
    super(`${method} failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "ChainRpcError";
  }
}

/** None of the retained headers is canonical any more: the fork is deeper than retainBlocks. */
export class ReorgTooDeepError extends Error {
  constructor(readonly lowestRetained: number) {
    super(`chain reorganization deeper than the retained headers (lowest ${lowestRetained}); re-index from an earlier block`);
    this.name = "ReorgTooDeepError";
  }
}

type Header = Pick<IndexerBlocksTable, "number" | "hash" | "parent_hash">;
/** Headers read for a range, and the times of their blocks (epoch ms), which event rows keep. */
interface ReadBlocks {
  headers: Header[];
  timeMs: Map<number, number>;
}

// Any constant shared by the relay's processes: serializes their indexer transactions on PostgreSQL.
const INDEXER_LOCK_KEY = 0x636f7272; // "corr"

export function createChainIndexer(deps: ChainIndexerDeps): ChainIndexer {
  const { db, dialect, provider, payments, confirmations } = deps;
  const funds = deps.funds ?? ignoredFundsHooks;
  const logger = deps.logger ?? silentLogger;
  const batchBlocks = Math.max(1, deps.batchBlocks);
  const retainBlocks = Math.max(deps.retainBlocks ?? 512, confirmations + 1);
  // Each address emits only its own kind of the followed events, so one request serves all.
  const addresses = [deps.escrowAddress, ...(deps.tokenAddresses ?? []), ...(deps.nettingAddress ? [deps.nettingAddress] : [])];

  async function rpc<T>(method: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw new ChainRpcError(method, error);
    }
  }

  const blockAt = (n: number): Promise<Block | null> => rpc("eth_getBlockByNumber", () => provider.getBlock(n));

  async function storedTip(q: Db): Promise<Header | null> {
    return (await q.selectFrom("indexer_blocks").selectAll().orderBy("number", "desc").limit(1).executeTakeFirst()) ?? null;
  }

  async function runOnce(): Promise<number> {
    const target = (await rpc("eth_blockNumber", () => provider.getBlockNumber())) - confirmations;
    let tip = await storedTip(db);
    if (tip && (await blockAt(tip.number))?.hash !== tip.hash) tip = await rollBackToForkPoint(tip);
    let applied = 0;
    for (let from = tip ? tip.number + 1 : deps.fromBlock; from <= target; ) {
      const to = Math.min(target, from + batchBlocks - 1);
      const next = await indexRange(tip, from, to, target);
      if (next === null) break; // the chain moved under us; the next run starts with the tip check
      applied += next.applied;
      tip = next.tip;
      from = to + 1;
    }
    return applied;
  }

  /** Reads and applies blocks from..to; null if what was read is not one consistent chain. */
  async function indexRange(tip: Header | null, from: number, to: number, target: number) {
    const logs = await rpc("eth_getLogs", () =>
      provider.getLogs({ address: addresses, fromBlock: from, toBlock: to, topics: [[...EVENT_TOPICS]] }),
    );
    const blocks = await readBlocks(blocksToRecord(from, to, target, logs));
    const problem = blocks ? inconsistency(tip, blocks.headers, logs) : "a block is missing";
    if (problem || !blocks) {
      logger.warn({ from, to, problem }, "chain changed while indexing; retrying");
      return null;
    }
    const applied = await apply(tip, blocks, logs, to);
    return applied === null ? null : { applied, tip: blocks.headers[blocks.headers.length - 1] };
  }

  /**
   * Near the head every block's header is kept (reorgs happen there); deeper, where catching up
   * would otherwise cost one request per block, only blocks with events (whose times the event
   * rows keep) and the range's end.
   */
  function blocksToRecord(from: number, to: number, target: number, logs: Log[]): number[] {
    const numbers = new Set<number>([to, ...logs.map((l) => l.blockNumber)]);
    for (let n = Math.max(from, target - retainBlocks + 1); n <= to; n++) numbers.add(n);
    return [...numbers].sort((a, b) => a - b);
  }

  async function readBlocks(numbers: number[]): Promise<ReadBlocks | null> {
    const blocks = await Promise.all(numbers.map(blockAt));
    if (blocks.some((b) => b === null || b.hash === null)) return null;
    return {
      headers: blocks.map((b) => ({ number: b!.number, hash: b!.hash!, parent_hash: b!.parentHash })),
      timeMs: new Map(blocks.map((b) => [b!.number, b!.timestamp * 1000])),
    };
  }

  function inconsistency(tip: Header | null, headers: Header[], logs: Log[]): string | null {
    const byNumber = new Map(headers.map((h) => [h.number, h]));
    const chain = tip ? [tip, ...headers] : headers;
    for (let k = 1; k < chain.length; k++) {
      const adjacent = chain[k].number === chain[k - 1].number + 1;
      if (adjacent && chain[k].parent_hash !== chain[k - 1].hash) return `block ${chain[k].number} does not extend ${chain[k - 1].number}`;
    }
    const stray = logs.find((l) => byNumber.get(l.blockNumber)?.hash !== l.blockHash || l.removed);
    return stray ? `log of block ${stray.blockNumber} is from another fork` : null;
  }

  /** Applies one range in one transaction; null if another indexer moved the tip meanwhile. */
  async function apply(tip: Header | null, { headers, timeMs }: ReadBlocks, logs: Log[], to: number): Promise<number | null> {
    return db.transaction().execute(async (trx) => {
      await serialize(trx);
      const current = await storedTip(trx);
      if (current?.hash !== tip?.hash) return null;
      for (let k = 0; k < headers.length; k += 500) {
        await trx.insertInto("indexer_blocks").values(headers.slice(k, k + 500)).execute(); // bound the bind parameters
      }
      let applied = 0;
      for (const log of [...logs].sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index)) {
        const event = await withLockAmount(trx, toEventRow(log, timeMs.get(log.blockNumber)!));
        const inserted = await trx
          .insertInto("chain_events")
          .values(event)
          .onConflict((oc) => oc.column("id").doNothing())
          .executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) continue; // applied before
        await dispatch(trx, event, "apply");
        applied++;
      }
      await trx.deleteFrom("indexer_blocks").where("number", "<", to - retainBlocks).execute();
      return applied;
    });
  }

  /** Finds the highest stored header still on the chain and rolls back everything above it. */
  async function rollBackToForkPoint(tip: Header): Promise<Header> {
    const fork = await findForkPoint(tip.number);
    logger.warn({ tip: tip.number, fork: fork.number }, "chain reorganization: rolling back to the fork point");
    await db.transaction().execute(async (trx) => {
      await serialize(trx);
      const orphaned = await trx
        .selectFrom("chain_events")
        .selectAll()
        .where("block_number", ">", fork.number)
        .orderBy("block_number", "desc")
        .orderBy("log_index", "desc")
        .execute();
      for (const event of orphaned) await dispatch(trx, event, "unapply");
      const dropped = [...new Set(orphaned.map((event) => event.tx_hash))];
      for (let k = 0; k < dropped.length; k += 500) {
        await trx
          .updateTable("chain_intents")
          .set({ status: "sent", next_attempt_at: 0, lease_owner: null, lease_until: null, last_error: "transaction dropped by a chain reorganization", updated_at: Date.now() })
          .where("status", "=", "done")
          .where("tx_hash", "in", dropped.slice(k, k + 500))
          .execute();
      }
      await trx.deleteFrom("chain_events").where("block_number", ">", fork.number).execute();
      await trx.deleteFrom("indexer_blocks").where("number", ">", fork.number).execute();
    });
    return fork;
  }

  async function findForkPoint(below: number): Promise<Header> {
    const PAGE = 32;
    let lowest = below;
    for (;;) {
      const rows = await db
        .selectFrom("indexer_blocks")
        .selectAll()
        .where("number", "<", lowest)
        .orderBy("number", "desc")
        .limit(PAGE)
        .execute();
      if (rows.length === 0) throw new ReorgTooDeepError(lowest);
      const blocks = await Promise.all(rows.map((r) => blockAt(r.number)));
      const canonical = rows.find((r, k) => blocks[k]?.hash === r.hash);
      if (canonical) return canonical;
      lowest = rows[rows.length - 1].number;
    }
  }

  async function serialize(trx: Db): Promise<void> {
    // SQLite writers are serialized by the database itself.
    if (dialect === "postgres") await sql`select pg_advisory_xact_lock(${INDEXER_LOCK_KEY})`.execute(trx);
  }

  async function dispatch(trx: Db, event: ChainEventsTable, mode: "apply" | "unapply"): Promise<void> {
    const name = event.name as EventName;
    if (name === "WindowSettled") {
      if (!deps.windows) return;
      const args = JSON.parse(event.args) as { paymentsRoot: string };
      const observation = { windowId: event.uetr!, paymentsRoot: args.paymentsRoot, txHash: event.tx_hash, blockNumber: Number(event.block_number) };
      await (mode === "apply" ? deps.windows.onWindowSettled(trx, observation) : deps.windows.unapplyWindowSettled(trx, observation));
      return;
    }
    if (name === "Minted" || name === "Burned") {
      if (event.uetr === null) return; // foreign evidence: the supply moved for no movement of the relay's
      const fundsHooks = {
        apply: { Minted: funds.onMinted, Burned: funds.onBurned },
        unapply: { Minted: funds.unapplyMinted, Burned: funds.unapplyBurned },
      } as const;
      await fundsHooks[mode][name].call(funds, trx, fundsObservation(event));
      return;
    }
    const observation: ChainObservation = { uetr: event.uetr!, txHash: event.tx_hash, blockNumber: Number(event.block_number) };
    const hooks = {
      apply: { Locked: payments.onLocked, Released: payments.onReleased, Refunded: payments.onRefunded },
      unapply: { Locked: payments.unapplyLocked, Released: payments.unapplyReleased, Refunded: payments.unapplyRefunded },
    } as const;
    await hooks[mode][name].call(payments, trx, observation);
  }

  async function head(): Promise<{ indexed: number; lag: number }> {
    const latest = await rpc("eth_blockNumber", () => provider.getBlockNumber());
    const indexed = (await storedTip(db))?.number ?? deps.fromBlock - 1;
    return { indexed, lag: latest - indexed };
  }

  const poller = createPoller("chain indexer", runOnce, logger);
  return { runOnce, start: poller.start, stop: poller.stop, head };
}
