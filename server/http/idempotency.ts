import { createHash } from "node:crypto";
import type { Request } from "express";
import type { Kysely } from "kysely";
import type { Db } from "../db/database";
import type { Database } from "../db/schema";
import type { Transact } from "../db/batcher";
import type { Caller } from "../payments/types";
import { ApiError } from "./errors";

export interface StoredResponse {
  status: number;
  body: unknown;
}

const KEY_PATTERN = /^[A-Za-z0-9_\-:.]{1,255}$/;

/** A refused response, thrown so that the transaction rolls back whatever the handler wrote. */
class Refused extends Error {
  constructor(readonly response: StoredResponse) {
    super(`refused with ${response.status}`);
  }
}

/**
 * Runs a write once per (caller, Idempotency-Key). An atomic handler runs in a transaction (from
 * `transact`) that also records its response, so the write and its record commit together; it
 * must do all its work through the transaction it is given, and may run again for a replay (whose
 * work then rolls back). A handler whose service cannot join the transaction must be naturally
 * idempotent (a state change such as cancel) and is recorded right after it succeeds. A replay
 * with the same body returns the recorded response; with another body it is a 409. Two requests
 * racing with one key: the loser's insert of the record fails on the primary key, its transaction
 * (and its write) roll back, and it answers with the winner's recorded response. Refusals (status
 * 300 and up) are rolled back and not recorded: a rejected request changed nothing, so retrying it
 * is safe and re-evaluates it. A request whose body names its own identity (an ISO 20022 message
 * id) passes it as `defaultKey`, used when the caller sends no Idempotency-Key.
 */
export async function runIdempotent(
  db: Kysely<Database>,
  caller: Caller,
  req: Request,
  handler: (trx: Db) => Promise<StoredResponse>,
  options: ({ atomic: false } | { atomic: true; transact: Transact }) & { defaultKey?: string },
): Promise<StoredResponse & { replayed: boolean }> {
  const key = req.get("idempotency-key") ?? options.defaultKey;
  if (!key) throw new ApiError(400, "missing_idempotency_key", "writes need an Idempotency-Key header");
  if (!KEY_PATTERN.test(key)) {
    throw new ApiError(400, "missing_idempotency_key", "an Idempotency-Key is 1 to 255 letters, digits or _-:.");
  }
  const requestHash = createHash("sha256")
    .update(`${req.method} ${req.originalUrl.split("?")[0]}\n${JSON.stringify(req.body ?? null)}`)
    .digest("hex");

  if (!options.atomic) {
    const recorded = await replay(db, caller.keyId, key, requestHash);
    if (recorded) return recorded;
    const response = await handler(db);
    if (response.status < 300) await record(db, caller.keyId, key, requestHash, response).catch(() => undefined);
    return { ...response, replayed: false };
  }
  // No lookup first: a key seen before makes the record's insert fail, which rolls the work back
  // and answers from the record below. Replays are rare; every first request saves a query.
  try {
    return await options.transact(async (trx) => {
      const response = await handler(trx);
      if (response.status >= 300) throw new Refused(response);
      await record(trx, caller.keyId, key, requestHash, response);
      return { ...response, replayed: false };
    });
  } catch (error) {
    // A refusal or a failed record may only mean that a racing twin won (e.g. it took the UETR first).
    const winner = await replay(db, caller.keyId, key, requestHash);
    if (winner) return winner;
    if (error instanceof Refused) return { ...error.response, replayed: false };
    throw error;
  }
}

async function record(db: Db, caller: string, key: string, requestHash: string, response: StoredResponse): Promise<void> {
  await db
    .insertInto("idempotency_keys")
    .values({
      caller,
      key,
      request_hash: requestHash,
      status_code: response.status,
      response_body: JSON.stringify(response.body),
      created_at: Date.now(),
    })
    .execute();
}

async function replay(db: Kysely<Database>, caller: string, key: string, requestHash: string) {
  const row = await db
    .selectFrom("idempotency_keys")
    .selectAll()
    .where("caller", "=", caller)
    .where("key", "=", key)
    .executeTakeFirst();
  if (!row) return undefined;
  if (row.request_hash !== requestHash) {
    throw new ApiError(409, "idempotency_conflict", "this Idempotency-Key was used with a different request", { key });
  }
  return { status: row.status_code, body: JSON.parse(row.response_body) as unknown, replayed: true };
}
