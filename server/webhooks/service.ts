import type { Expression, ExpressionBuilder, Kysely, Selectable, SqlBool } from "kysely";
import type { Dialect } from "../db/database";
import type { Database, WebhookDeliveriesTable, WebhookDeliveryStatus } from "../db/schema";
import { failure, success, type Result } from "../shared/result";
import { SIGNATURE_HEADER, signWebhook } from "./signature";

/**
 * Delivers the webhook outbox (rows written by `enqueueWebhook`) to each bank's webhook URL.
 *
 * Nothing is lost if a process dies at any moment: a worker claims due rows by a lease written in
 * the database (no transaction is held during HTTP), and a row is marked delivered only after a
 * 2xx. A worker that dies leaves its lease to expire, and another worker claims the row again.
 * Delivery is therefore at least once; receivers dedupe by the `corridor-event-id` header.
 *
 * The lease's expiry time doubles as a fencing token: a worker updates a row only while
 * `lease_until` still holds the value it claimed with, so a worker that overran its lease cannot
 * undo what the worker that took over recorded. (Claims are exclusive, and a re-claim happens
 * after the old lease expired, so the new token is always later than the old one.)
 */

export type WebhookErrorCode = "webhook_not_found" | "webhook_pending";

/** The subset of a pino logger that the service uses. */
export interface WebhookLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Delay before the next try, given how many tries have failed so far (1 after the first). */
export type BackoffPolicy = (failedAttempts: number) => number;

export interface WebhookServiceDeps {
  /** Not a transaction: on PostgreSQL the service runs its own short claim transactions. */
  db: Kysely<Database>;
  dialect: Dialect;
  fetch?: typeof fetch;
  /** Clock in epoch milliseconds; default `Date.now`. */
  now?: () => number;
  /** The time signatures carry (default `now`): the wall clock the bank's receiver checks it against. */
  signatureClock?: () => number;
  /** Failed tries after which a delivery is dead (config WEBHOOK_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** Per request, connection to last body byte (config WEBHOOK_TIMEOUT_MS). */
  timeoutMs: number;
  /** How long a claim lasts; must exceed timeoutMs. Default 2 × timeoutMs + 10 s. */
  leaseMs?: number;
  backoff?: BackoffPolicy;
  /** Delay before looking again at a delivery whose bank has no webhook URL; default 5 minutes. */
  unconfiguredRetryMs?: number;
  /** Deliveries claimed per poll by the loop of `start`; default 20. */
  batchSize?: number;
  /** Names this worker in logs. */
  workerId: string;
  logger?: WebhookLogger;
}

export interface WebhookDelivery {
  id: string;
  bic: string;
  eventType: string;
  status: WebhookDeliveryStatus;
  /** Failed tries since the event was enqueued or last redelivered. */
  attempts: number;
  nextAttemptAt: number;
  leaseUntil: number | null;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
  /** The event as sent: `{ id, type, createdAt, data }`. */
  payload: unknown;
}

export interface WebhookListFilter {
  bic?: string;
  status?: WebhookDeliveryStatus;
  /** At most this many, newest first (1 to 1000). */
  limit: number;
}

export interface WebhookService {
  /** Claims up to `limit` due deliveries, sends them, records the outcomes; returns how many got a 2xx. */
  deliverDue(limit: number): Promise<number>;
  /** Polls every `intervalMs` (at once again while batches come back full). Idempotent. */
  start(intervalMs: number): void;
  /** Stops polling; resolves once the batch in flight, if any, is recorded. */
  stop(): Promise<void>;
  /** Puts a dead or delivered event back in the queue, due now, with its attempts reset. */
  redeliver(id: string): Promise<Result<WebhookDelivery, WebhookErrorCode>>;
  list(filter: WebhookListFilter): Promise<WebhookDelivery[]>;
}

/**
 * Exponential backoff with "equal jitter": the ceiling doubles per failure up to `maxMs`, and the
 * delay is drawn from its upper half, so retries grow yet receivers recovering from an outage are
 * not hit by every relay's retries at the same instant.
 */
export function exponentialBackoff(options: { baseMs?: number; maxMs?: number; random?: () => number } = {}): BackoffPolicy {
  const baseMs = options.baseMs ?? 5_000;
  const maxMs = options.maxMs ?? 3_600_000;
  const random = options.random ?? Math.random;
  return (failedAttempts) => {
    const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, failedAttempts - 1));
    return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  };
}

type Row = Selectable<WebhookDeliveriesTable>;

/** A row this worker holds; `lease` is the fencing token (the `lease_until` it wrote). */
interface Claim {
  row: Row;
  lease: number;
}

interface Endpoint {
  url: string;
  secret: string;
}

type Outcome = { ok: true } | { ok: false; error: string };

const MAX_ERROR_LENGTH = 500;
const ERROR_BODY_SNIPPET_BYTES = 200;
const silentLogger: WebhookLogger = { info() {}, warn() {}, error() {} };

export function createWebhookService(deps: WebhookServiceDeps): WebhookService {
  const { db, dialect, maxAttempts, timeoutMs, workerId } = deps;
  const doFetch = deps.fetch ?? fetch;
  const now = deps.now ?? Date.now;
  const signatureClock = deps.signatureClock ?? now;
  const leaseMs = deps.leaseMs ?? 2 * timeoutMs + 10_000;
  const backoff = deps.backoff ?? exponentialBackoff();
  const unconfiguredRetryMs = deps.unconfiguredRetryMs ?? 300_000;
  const batchSize = deps.batchSize ?? 20;
  const logger = deps.logger ?? silentLogger;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError("maxAttempts must be a positive integer");
  // A lease shorter than a request would let a second worker send the same event concurrently.
  if (leaseMs <= timeoutMs) throw new RangeError("leaseMs must exceed timeoutMs");

  async function claimDue(limit: number): Promise<Claim[]> {
    const at = now();
    const lease = at + leaseMs;
    const rows = dialect === "postgres" ? await claimWithRowLocks(db, at, lease, limit) : await claimWithUpdate(db, at, lease, limit);
    return rows.map((row) => ({ row, lease }));
  }

  /** Each bank's endpoint, or why it has none (a bank absent here has no webhook URL either). */
  async function loadEndpoints(bics: string[]): Promise<Map<string, Endpoint | string>> {
    if (bics.length === 0) return new Map();
    const rows = await db
      .selectFrom("participants")
      .select(["bic", "webhook_url", "webhook_secret"])
      .where("bic", "in", bics)
      .execute();
    const endpoint = (url: string | null, secret: string | null) =>
      !url ? "no webhook URL" : !secret ? "no webhook secret" : { url, secret };
    return new Map(rows.map((r) => [r.bic, endpoint(r.webhook_url, r.webhook_secret)]));
  }

  async function send(row: Row, endpoint: Endpoint): Promise<Outcome> {
    const signature = signWebhook(endpoint.secret, Math.floor(signatureClock() / 1000), row.payload);
    try {
      const response = await doFetch(endpoint.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "corridor-event-id": row.id,
          "corridor-event-type": row.event_type,
          [SIGNATURE_HEADER]: signature,
        },
        body: row.payload,
        // A redirect is a failure, not followed: the bank registered this URL, not another.
        redirect: "manual",
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (response.status >= 200 && response.status < 300) {
        await response.body?.cancel().catch(() => undefined);
        return { ok: true };
      }
      const snippet = await readSnippet(response);
      return { ok: false, error: `HTTP ${response.status}${snippet ? `: ${snippet}` : ""}` };
    } catch (error) {
      return { ok: false, error: describeFetchError(error, timeoutMs) };
    }
  }

  /** Updates a claimed row only if this worker still holds it; false if the lease was lost. */
  async function updateClaimed(claim: Claim, changes: Partial<Row>): Promise<boolean> {
    const result = await db
      .updateTable("webhook_deliveries")
      .set(changes)
      .where("id", "=", claim.row.id)
      .where("status", "=", "pending")
      .where("lease_until", "=", claim.lease)
      .executeTakeFirst();
    const held = result.numUpdatedRows > 0n;
    if (!held) logger.warn({ workerId, deliveryId: claim.row.id }, "webhook lease lost before the outcome was recorded");
    return held;
  }

  async function recordFailure(claim: Claim, error: string): Promise<void> {
    const attempts = claim.row.attempts + 1;
    const dead = attempts >= maxAttempts;
    const lastError = error.slice(0, MAX_ERROR_LENGTH);
    const changes: Partial<Row> = dead
      ? { status: "dead", attempts, last_error: lastError, lease_until: null }
      : { attempts, last_error: lastError, lease_until: null, next_attempt_at: now() + backoff(attempts) };
    if (!(await updateClaimed(claim, changes))) return;
    const fields = { workerId, deliveryId: claim.row.id, bic: claim.row.bic, attempts, error: lastError };
    if (dead) logger.error(fields, "webhook delivery dead after its last attempt");
    else logger.warn(fields, "webhook delivery failed; will retry");
  }

  /** Sends one claimed delivery and records the outcome; true if it was delivered. */
  async function deliverOne(claim: Claim, endpoint: Endpoint | string = "no webhook URL"): Promise<boolean> {
    if (typeof endpoint === "string") {
      // Not a failed attempt: the bank has not configured webhooks yet. Keep the event for later.
      await updateClaimed(claim, { last_error: endpoint, lease_until: null, next_attempt_at: now() + unconfiguredRetryMs });
      return false;
    }
    const outcome = await send(claim.row, endpoint);
    if (!outcome.ok) {
      await recordFailure(claim, outcome.error);
      return false;
    }
    const delivered = await updateClaimed(claim, { status: "delivered", delivered_at: now(), last_error: null, lease_until: null });
    if (delivered) logger.info({ workerId, deliveryId: claim.row.id, bic: claim.row.bic }, "webhook delivered");
    return delivered;
  }

  /**
   * Events of banks that cannot be sent to (no webhook URL or no secret) are not claimed: they wait
   * `unconfiguredRetryMs`, which is not a failed attempt, set by one conditional update per reason
   * (a claim and a per-row update each would write every such row twice). Returns how many.
   */
  async function postponeUnconfigured(limit: number): Promise<number> {
    const at = now();
    let postponed = 0;
    for (const [reason, banks] of UNCONFIGURED) {
      const result = await db
        .updateTable("webhook_deliveries")
        .set({ last_error: reason, lease_until: null, next_attempt_at: at + unconfiguredRetryMs })
        .where("id", "in", (eb) => eb.selectFrom("webhook_deliveries").select("id").where(dueFilter(at)).where(banks).limit(limit))
        .where(dueFilter(at))
        .executeTakeFirst();
      postponed += Number(result.numUpdatedRows);
    }
    return postponed;
  }

  async function deliverBatch(limit: number): Promise<{ claimed: number; delivered: number; postponed: number }> {
    const postponed = await postponeUnconfigured(POSTPONE_LIMIT);
    const claims = await claimDue(limit);
    const endpoints = await loadEndpoints([...new Set(claims.map((c) => c.row.bic))]);
    // In parallel, so the whole batch finishes within one timeout, well inside the lease. Settle
    // every one before reporting an error, so that stop() really waits for the whole batch.
    const results = await Promise.allSettled(claims.map((c) => deliverOne(c, endpoints.get(c.row.bic))));
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (rejected) throw rejected.reason;
    return { claimed: claims.length, delivered: results.filter((r) => r.status === "fulfilled" && r.value).length, postponed };
  }

  return {
    async deliverDue(limit) {
      return (await deliverBatch(limit)).delivered;
    },
    ...createPollingLoop(
      () => deliverBatch(batchSize).then((r) => r.claimed === batchSize || r.postponed >= POSTPONE_LIMIT),
      logger,
      workerId,
    ),
    redeliver: (id) => redeliver(db, id, now()),
    list: (filter) => list(db, filter),
  };
}

/** Pending, due, and not leased (or leased by a worker whose lease has expired). */
const dueFilter =
  (at: number) =>
  (eb: ExpressionBuilder<Database, "webhook_deliveries">): Expression<SqlBool> =>
    eb.and([
    eb("status", "=", "pending"),
    eb("next_attempt_at", "<=", at),
    eb.or([eb("lease_until", "is", null), eb("lease_until", "<=", at)]),
  ]);

/** Most deliveries of unconfigured banks postponed by one update. */
const POSTPONE_LIMIT = 1_000;

type DeliveryFilter = (eb: ExpressionBuilder<Database, "webhook_deliveries">) => Expression<SqlBool>;

/** Banks with a webhook URL (an empty one is none, as for loadEndpoints). */
const banksWithUrl = (eb: ExpressionBuilder<Database, "webhook_deliveries">) =>
  eb.selectFrom("participants").select("bic").where("webhook_url", "is not", null).where("webhook_url", "<>", "");

/** Deliveries whose bank has a webhook URL and a secret: the ones a worker claims and sends. */
const sendable: DeliveryFilter = (eb) =>
  eb("bic", "in", banksWithUrl(eb).where("webhook_secret", "is not", null).where("webhook_secret", "<>", ""));

/** Deliveries whose bank cannot be sent to, with the reason recorded (as deliverOne words it). */
const UNCONFIGURED: readonly (readonly [string, DeliveryFilter])[] = [
  ["no webhook URL", (eb) => eb("bic", "not in", banksWithUrl(eb))],
  ["no webhook secret", (eb) => eb("bic", "in", banksWithUrl(eb).where((p) => p.or([p("webhook_secret", "is", null), p("webhook_secret", "=", "")])))],
];

/** PostgreSQL: lock due rows, skipping rows another worker is claiming right now, then lease them. */
async function claimWithRowLocks(db: Kysely<Database>, at: number, lease: number, limit: number): Promise<Row[]> {
  return db.transaction().execute(async (trx) => {
    const rows = await trx
      .selectFrom("webhook_deliveries")
      .selectAll()
      .where(dueFilter(at))
      .where(sendable)
      .orderBy("next_attempt_at")
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
    if (rows.length === 0) return [];
    await trx
      .updateTable("webhook_deliveries")
      .set({ lease_until: lease })
      .where("id", "in", rows.map((r) => r.id))
      .execute();
    return rows.map((r) => ({ ...r, lease_until: lease }));
  });
}

/** SQLite: one writer at a time, so a single conditional UPDATE claims atomically. */
async function claimWithUpdate(db: Kysely<Database>, at: number, lease: number, limit: number): Promise<Row[]> {
  return db
    .updateTable("webhook_deliveries")
    .set({ lease_until: lease })
    .where("id", "in", (eb) =>
      eb.selectFrom("webhook_deliveries").select("id").where(dueFilter(at)).where(sendable).orderBy("next_attempt_at").limit(limit),
    )
    .where(dueFilter(at))
    .returningAll()
    .execute();
}

/**
 * Runs `poll` until stopped: again at once while it reports more work, otherwise after
 * `intervalMs`. `stop` wakes a sleeping loop and waits for the poll in flight.
 */
function createPollingLoop(poll: () => Promise<boolean>, logger: WebhookLogger, workerId: string): Pick<WebhookService, "start" | "stop"> {
  let running: { stopping: boolean; wake: () => void; done: Promise<void> } | undefined;

  async function run(state: NonNullable<typeof running>, intervalMs: number): Promise<void> {
    while (!state.stopping) {
      let more = false;
      try {
        more = await poll();
      } catch (error) {
        // A database hiccup must not end the loop; the leases keep claimed rows safe meanwhile.
        logger.error({ workerId, err: error }, "webhook delivery poll failed");
      }
      if (!more && !state.stopping) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, intervalMs);
          state.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  return {
    start(intervalMs) {
      if (running) return;
      const state = { stopping: false, wake: () => {}, done: Promise.resolve() };
      state.done = run(state, intervalMs);
      running = state;
    },
    async stop() {
      const state = running;
      if (!state) return;
      state.stopping = true;
      state.wake();
      await state.done;
      running = undefined;
    },
  };
}

async function redeliver(db: Kysely<Database>, id: string, at: number): Promise<Result<WebhookDelivery, WebhookErrorCode>> {
  // Conditional, so a delivery in flight (pending, maybe leased) is never reset under its worker.
  const result = await db
    .updateTable("webhook_deliveries")
    .set({ status: "pending", attempts: 0, next_attempt_at: at, lease_until: null, last_error: null, delivered_at: null })
    .where("id", "=", id)
    .where("status", "in", ["dead", "delivered"])
    .executeTakeFirst();
  const row = await db.selectFrom("webhook_deliveries").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row) return failure("webhook_not_found", `no webhook delivery ${id}`);
  if (result.numUpdatedRows === 0n) {
    return failure("webhook_pending", `webhook delivery ${id} is already pending; it will be retried`, { nextAttemptAt: row.next_attempt_at });
  }
  return success(toDelivery(row));
}

async function list(db: Kysely<Database>, filter: WebhookListFilter): Promise<WebhookDelivery[]> {
  let query = db.selectFrom("webhook_deliveries").selectAll();
  if (filter.bic !== undefined) query = query.where("bic", "=", filter.bic);
  if (filter.status !== undefined) query = query.where("status", "=", filter.status);
  const limit = Math.min(1000, Math.max(1, Math.floor(filter.limit)));
  const rows = await query.orderBy("created_at", "desc").orderBy("id", "desc").limit(limit).execute();
  return rows.map(toDelivery);
}

function toDelivery(row: Row): WebhookDelivery {
  return {
    id: row.id,
    bic: row.bic,
    eventType: row.event_type,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    leaseUntil: row.lease_until,
    lastError: row.last_error,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
    payload: JSON.parse(row.payload) as unknown,
  };
}

/** The start of an error response body, for the admin's view of why a delivery fails. */
async function readSnippet(response: Response): Promise<string> {
  try {
    const reader = response.body?.getReader();
    if (!reader) return "";
    const first = await reader.read();
    await reader.cancel().catch(() => undefined);
    const bytes = first.value ? Buffer.from(first.value).subarray(0, ERROR_BODY_SNIPPET_BYTES) : Buffer.alloc(0);
    return bytes.toString("utf8").replace(/\s+/g, " ").trim();
  } catch {
    return "";
  }
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === "TimeoutError") return `timeout after ${timeoutMs} ms`;
  if (!(error instanceof Error)) return String(error);
  // undici reports the network cause (ECONNREFUSED, ENOTFOUND, ...) beneath a generic message.
  const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message;
  return detail ? `${error.message} (${detail})` : error.message;
}
