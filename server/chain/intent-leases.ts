import type { ExpressionBuilder, Kysely } from "kysely";
import type { Db, Dialect } from "../db/database";
import type { Database } from "../db/schema";
import type { Intent, IntentPatch } from "./intent-senders";

/**
 * The submitter's leases on chain intents. Intents are claimed by lease (FOR UPDATE SKIP LOCKED on
 * PostgreSQL, one conditional UPDATE on SQLite, whose writers are serialized), so any number of
 * relay processes can share the outbox. Each claim carries the run's lease token and every later
 * write is fenced on it: a process whose lease expired cannot overwrite the new owner's work.
 */

export interface IntentLeases {
  /** Due pending intents, at most `batchSize`. */
  claimPending(token: string): Promise<Intent[]>;
  /** Due sent intents, a whole transaction at a time, so one worker owns each nonce's fate. */
  claimSentGroups(token: string): Promise<Intent[]>;
  /** Writes the intents' next state and ends the lease, only if `token` still holds it (in `q`). */
  settle(q: Db, intents: Intent[], token: string, patch: IntentPatch): Promise<void>;
}

/** Another worker took over an intent after this worker's lease expired. */
export class LeaseLostError extends Error {
  constructor(readonly intentIds: string[]) {
    super(`lease lost on intents ${intentIds.join(", ")}`);
    this.name = "LeaseLostError";
  }
}

/** Creates the lease operations on the outbox of `db`. */
export function createIntentLeases(deps: {
  db: Kysely<Database>;
  dialect: Dialect;
  now: () => number;
  leaseMs: number;
  batchSize: number;
}): IntentLeases {
  const { db, dialect, now, leaseMs, batchSize } = deps;

  const leaseFree = (at: number) => (eb: ExpressionBuilder<Database, "chain_intents">) =>
    eb.or([eb("lease_until", "is", null), eb("lease_until", "<=", at)]);

  async function claimPending(token: string): Promise<Intent[]> {
    const at = now();
    const due = (q: Db) =>
      q
        .selectFrom("chain_intents")
        .select("id")
        .where("status", "=", "pending")
        .where("next_attempt_at", "<=", at)
        .where(leaseFree(at))
        .orderBy("next_attempt_at")
        .orderBy("created_at")
        .limit(batchSize);
    const lease = { lease_owner: token, lease_until: at + leaseMs };
    if (dialect === "sqlite") {
      return db.updateTable("chain_intents").set(lease).where("id", "in", due(db)).returningAll().execute();
    }
    return db.transaction().execute(async (trx) => {
      const rows = await due(trx).forUpdate().skipLocked().execute();
      if (rows.length === 0) return [];
      const ids = rows.map((r) => r.id);
      return trx.updateTable("chain_intents").set(lease).where("id", "in", ids).returningAll().execute();
    });
  }

  async function claimSentGroups(token: string): Promise<Intent[]> {
    const at = now();
    const dueHashes = (q: Db) =>
      q
        .selectFrom("chain_intents")
        .select("tx_hash")
        .distinct()
        .where("status", "=", "sent")
        .where("next_attempt_at", "<=", at)
        .where(leaseFree(at))
        .limit(batchSize);
    const lease = { lease_owner: token, lease_until: at + leaseMs };
    if (dialect === "sqlite") {
      return db
        .updateTable("chain_intents")
        .set(lease)
        .where("status", "=", "sent")
        .where(leaseFree(at))
        .where("tx_hash", "in", dueHashes(db))
        .returningAll()
        .execute();
    }
    return db.transaction().execute(async (trx) => {
      const locked = await trx
        .selectFrom("chain_intents")
        .select(["id", "tx_hash"])
        .where("status", "=", "sent")
        .where(leaseFree(at))
        .where("tx_hash", "in", dueHashes(trx))
        .forUpdate()
        .skipLocked()
        .execute();
      const ids = await completeGroups(trx, locked);
      if (ids.length === 0) return [];
      return trx.updateTable("chain_intents").set(lease).where("id", "in", ids).returningAll().execute();
    });
  }

  /** Of the rows this transaction locked, those whose whole transaction group it locked. */
  async function completeGroups(trx: Db, locked: { id: string; tx_hash: string | null }[]): Promise<string[]> {
    if (locked.length === 0) return [];
    const hashes = [...new Set(locked.map((r) => r.tx_hash!))];
    const totals = await trx
      .selectFrom("chain_intents")
      .select((eb) => ["tx_hash", eb.fn.countAll().as("n")])
      .where("status", "=", "sent")
      .where("tx_hash", "in", hashes)
      .groupBy("tx_hash")
      .execute();
    const complete = new Set(
      totals.filter((t) => Number(t.n) === locked.filter((r) => r.tx_hash === t.tx_hash).length).map((t) => t.tx_hash),
    );
    return locked.filter((r) => complete.has(r.tx_hash)).map((r) => r.id);
  }

  async function settle(q: Db, intents: Intent[], token: string, patch: IntentPatch): Promise<void> {
    if (intents.length === 0) return;
    const ids = intents.map((i) => i.id);
    const result = await q
      .updateTable("chain_intents")
      .set({ ...patch, lease_owner: null, lease_until: null, updated_at: now() })
      .where("id", "in", ids)
      .where("lease_owner", "=", token)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== ids.length) throw new LeaseLostError(ids);
  }

  return { claimPending, claimSentGroups, settle };
}
