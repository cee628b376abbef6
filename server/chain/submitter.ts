import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Provider, Wallet } from "ethers";
import type { Dialect } from "../db/database";
import type { Database } from "../db/schema";
import type { PaymentService } from "../payments/types";
import { createEscrowCalls, createPoller, silentLogger, type ChainLogger } from "./contracts";
import { ignoredFundsHooks, type FundsChainHooks } from "./funds-hooks";
import { createIntentLeases } from "./intent-leases";
import { sendLocks, sendTermsIntents, type Intent, type IntentActions } from "./intent-senders";
import { sendIssuanceIntents } from "./issuance-senders";
import { bumpFees, createNonceManager, type Fees, type NonceOutcome, type TxAttempt } from "./nonce-manager";
import { createCallPreflight, type PreparedCall } from "./preflight";
import { sendPvPIntents } from "./pvp-senders";
import { sendWindowSettlements } from "./window-senders";
import type { WindowService } from "../settlement/types";
import { escrowDomain, hashLockTerms, PVP_RELEASE_TYPES, type LockTerms } from "./typed-data";

/**
 * The submitter drains the chain_intents outbox: payments' locks, releases, refunds and PvP
 * settlements on the escrow, funds movements' mints and burns on the deposit tokens, and
 * settlement windows on NettingSettlement. Intents are claimed by lease
 * (intent-leases.ts), so any number of relay processes can share the outbox.
 *
 * Crash safety: a transaction is signed locally and stored, with its intents marked sent and the
 * payments marked submitted, in one database transaction before it is broadcast. Whatever the
 * moment of a crash, a later run finds either pending intents (nothing happened) or sent intents
 * with a stored raw transaction, which it rebroadcasts until one attempt for its nonce is mined.
 */

export interface ChainSubmitterDeps {
  db: Kysely<Database>;
  dialect: Dialect;
  provider: Provider;
  /** The operator key: attester on the escrow, operator in the banks' allowances, token issuer. */
  signer: Wallet;
  escrowAddress: string;
  payments: Pick<PaymentService, "markSubmitted" | "markRejected">;
  /** Told when a mint or burn fails for good; default: no one. */
  funds?: Pick<FundsChainHooks, "onChainFailed">;
  /** Told when a window's settlement is refused for good; default: no one. */
  windows?: Pick<WindowService, "onSettleFailed">;
  /** Unique per process; it prefixes lease tokens so that leases can be traced to their holder. */
  workerId: string;
  leaseMs: number;
  /** Most intents claimed per run, and most payments in one batch call (the escrow allows 100). */
  batchSize: number;
  now?: () => number;
  logger?: ChainLogger;
  /** How long a sent transaction may stay unmined before it is replaced with higher fees. */
  stuckAfterMs?: number;
  /** Fee bumps stop at this maxFeePerGas (wei); unset: no cap. */
  maxFeePerGas?: bigint;
  /** How soon a sent transaction is checked again. */
  receiptPollMs?: number;
  /**
   * Blocks a mined transaction must have on top (as the indexer's CONFIRMATIONS) before its intents
   * are done: until then a reorganization may drop it, and it is then sent again. Default 0.
   */
  confirmations?: number;
  /** Sends a signed transaction (eth_sendRawTransaction); default: provider.broadcastTransaction. */
  sendRawTransaction?: (raw: string) => Promise<unknown>;
  /** Backoff of failed intents: base * 2^(attempts-1), capped; a refusal after maxAttempts is final. */
  retry?: { baseMs?: number; maxMs?: number; maxAttempts?: number };
}

/** A sent transaction's stored attempts, what became of them, and whether that is final. */
interface Inspected {
  attempts: TxAttempt[];
  outcome: NonceOutcome | null;
  final: boolean;
}

export interface ChainSubmitter {
  /**
   * Handles due work once; resolves to the number of intents it claimed. A transaction it sent may
   * still be on its way to the node: the next run that checks it, and `stop`, wait for that.
   */
  runOnce(): Promise<number>;
  start(intervalMs: number): void;
  /** Stops the runs and waits for the last broadcasts. */
  stop(): Promise<void>;
}

/** Some intents could not be handled this run (they are released with backoff and retried). */
export class SubmitterRunError extends Error {
  constructor(readonly errors: unknown[]) {
    super(`chain submitter: ${errors.length} failure(s); first: ${String((errors[0] as Error)?.message ?? errors[0])}`);
    this.name = "SubmitterRunError";
  }
}

/** The escrow's MAX_BATCH_SIZE. */
const MAX_BATCH = 100;

export function createChainSubmitter(deps: ChainSubmitterDeps): ChainSubmitter {
  const { db, provider, signer, payments } = deps;
  const funds = deps.funds ?? ignoredFundsHooks;
  const windows = deps.windows ?? { onSettleFailed: async () => undefined };
  const now = deps.now ?? Date.now;
  const logger = deps.logger ?? silentLogger;
  const batchSize = Math.max(1, Math.min(deps.batchSize, MAX_BATCH));
  const stuckAfterMs = deps.stuckAfterMs ?? 120_000;
  const receiptPollMs = deps.receiptPollMs ?? 2_000;
  const confirmations = deps.confirmations ?? 0;
  const retryBaseMs = deps.retry?.baseMs ?? 5_000;
  const retryMaxMs = deps.retry?.maxMs ?? 600_000;
  const maxAttempts = deps.retry?.maxAttempts ?? 10;
  const nonces = createNonceManager({ provider, signer, sendRawTransaction: deps.sendRawTransaction });
  const escrow = createEscrowCalls({ provider, escrowAddress: deps.escrowAddress });
  const calls = createCallPreflight({ provider, signer });
  const { claimPending, claimSentGroups, settle } = createIntentLeases({ db, dialect: deps.dialect, now, leaseMs: deps.leaseMs, batchSize });
  let reconciled = false; // the stored nonce is reconciled with the chain once per process

  // ----- outcomes ----------------------------------------------------------------------------

  const backoff = (attempts: number) => Math.min(retryMaxMs, retryBaseMs * 2 ** Math.max(0, attempts - 1));

  /** Back to pending, later; a refusal that keeps happening becomes final after maxAttempts. */
  async function retryOrGiveUp(intent: Intent, token: string, reason: string): Promise<void> {
    const attempts = intent.attempts + 1;
    if (attempts < maxAttempts) {
      await settle(db, [intent], token, { status: "pending", attempts, next_attempt_at: now() + backoff(attempts), last_error: reason });
      return;
    }
    await fail(intent, token, reason);
  }

  /** The intent fails, and in the same transaction its payment or funds movement is told why. */
  function fail(intent: Intent, token: string, reason: string): Promise<void> {
    return db.transaction().execute(async (trx) => {
      if (intent.kind === "lock") await payments.markRejected(trx, intent.uetr, reason);
      if (intent.kind === "mint" || intent.kind === "burn") await funds.onChainFailed(trx, intent.uetr, intent.kind, reason);
      if (intent.kind === "settle_window") await windows.onSettleFailed(trx, intent.uetr, reason);
      await settle(trx, [intent], token, { status: "failed", attempts: intent.attempts + 1, last_error: reason });
    });
  }

  // ----- sending -----------------------------------------------------------------------------

  /** The senders' view of this run's leases. */
  function intentActions(token: string): IntentActions {
    // Fetched while the calls are preflighted; one suggestion serves every transaction of the run.
    const fees = nonces.suggestFees();
    fees.catch(() => undefined); // a failure is reported by the submit that needed the fees
    return {
      escrow,
      preflight: calls.preflight,
      settle: (intents, patch) => settle(db, intents, token, patch),
      retryOrGiveUp: (intent, reason) => retryOrGiveUp(intent, token, reason),
      fail: (intent, reason) => fail(intent, token, reason),
      submit: async (intents, call) => void broadcast(await signAndStore(intents, call, token, await fees)),
      call: (to, data) => provider.call({ to, data }),
      attestPvP,
    };
  }

  async function attestPvP(legA: LockTerms, legB: LockTerms): Promise<string> {
    const { chainId } = await provider.getNetwork();
    const release = { uetrA: legA.uetr, termsHashA: hashLockTerms(legA), uetrB: legB.uetr, termsHashB: hashLockTerms(legB) };
    return signer.signTypedData(escrowDomain(chainId, deps.escrowAddress), PVP_RELEASE_TYPES, release);
  }

  /** Signs with the next nonce and records it, the intents sent and the payments submitted, at once. */
  function signAndStore(intents: Intent[], call: PreparedCall, token: string, fees: Fees): Promise<TxAttempt> {
    return db.transaction().execute(async (trx) => {
      const stored = await nonces.signNew(trx, call, fees, intents.map((i) => i.id), now());
      await settle(trx, intents, token, { status: "sent", tx_hash: stored.hash, next_attempt_at: now() + receiptPollMs, last_error: null });
      for (const intent of intents.filter((i) => i.kind === "lock")) {
        await payments.markSubmitted(trx, { uetr: intent.uetr, txHash: stored.hash });
      }
      return stored;
    });
  }

  /**
   * Broadcasts one after another in the order they were stored, which is nonce order (a node that
   * mines on arrival refuses a nonce ahead of the next one). A new transaction's broadcast is not
   * waited for: the next run claims, encodes and signs while the node takes this one in.
   */
  let sending: Promise<void> = Promise.resolve();

  function broadcast(attempt: TxAttempt): Promise<void> {
    sending = sending.then(async () => {
      const error = await nonces.broadcast(attempt);
      // Stored, so not lost: the next check of the transaction rebroadcasts it.
      if (error) logger.warn({ hash: attempt.hash, nonce: attempt.nonce, err: error.message }, "broadcast failed; will retry");
    });
    return sending;
  }

  // ----- sent transactions -------------------------------------------------------------------

  /** What became of a sent transaction (read only, so groups are looked at concurrently). */
  async function inspectSent(group: Intent[]): Promise<Inspected> {
    const attempts = await nonces.attemptsOf(db, group[0].tx_hash!);
    const outcome = attempts.length === 0 ? null : await nonces.outcome(attempts);
    // A receipt is final once the chain has `confirmations` blocks on top of its block.
    const final = outcome?.kind !== "mined" || confirmations === 0 || (await provider.getBlockNumber()) - outcome.receipt.blockNumber >= confirmations;
    return { attempts, outcome, final };
  }

  async function checkSent(group: Intent[], token: string, inspected: Inspected): Promise<void> {
    const { outcome } = inspected;
    if (outcome === null) {
      for (const intent of group) await retryOrGiveUp(intent, token, "transaction record missing");
      return;
    }
    // Not deep enough yet: looked at again later (rebroadcast then if a reorganization dropped it).
    if (!inspected.final) return settle(db, group, token, { next_attempt_at: now() + receiptPollMs });
    if (outcome.kind === "mined") {
      const { attempt, receipt } = outcome;
      if (receipt.status === 1) return settle(db, group, token, { status: "done", tx_hash: attempt.hash, last_error: null });
      // Reverted: the intents go back to the queue, whose checks then see the new chain state (a
      // lock that now exists is done, a refused lock is rejected with its decoded reason).
      const reason = `reverted on chain: ${await calls.replayRevert(attempt, receipt.blockNumber)}`;
      for (const intent of group) await retryOrGiveUp(intent, token, reason);
      return;
    }
    if (outcome.kind === "superseded") {
      await nonces.reconcile(db); // someone else used the key: continue from the chain's nonce
      for (const intent of group) await retryOrGiveUp(intent, token, `nonce ${outcome.latest.nonce} used by another transaction`);
      return;
    }
    const { latest } = outcome;
    if (now() - latest.sentAt >= stuckAfterMs && latest.signer === nonces.address) return replace(group, latest, token);
    await broadcast(latest); // harmless if the node has it; needed if it never did (crash, dropped)
    await settle(db, group, token, { next_attempt_at: now() + receiptPollMs });
  }

  async function replace(group: Intent[], latest: TxAttempt, token: string): Promise<void> {
    const fees = bumpFees(latest.fees, await nonces.suggestFees());
    if (deps.maxFeePerGas !== undefined && fees.maxFeePerGas > deps.maxFeePerGas) {
      logger.warn({ hash: latest.hash, wanted: fees.maxFeePerGas.toString() }, "stuck transaction at the fee cap; not replaced");
      await broadcast(latest);
      return settle(db, group, token, { next_attempt_at: now() + receiptPollMs });
    }
    const attempt = await db.transaction().execute(async (trx) => {
      const stored = await nonces.signReplacement(trx, latest, fees, now());
      await settle(trx, group, token, { tx_hash: stored.hash, next_attempt_at: now() + receiptPollMs });
      return stored;
    });
    logger.info({ replaced: latest.hash, hash: attempt.hash, nonce: attempt.nonce }, "stuck transaction replaced with higher fees");
    await broadcast(attempt);
  }

  // ----- the run -----------------------------------------------------------------------------

  async function runOnce(): Promise<number> {
    if (!reconciled) {
      await nonces.reconcile(db).catch((error: unknown) => Promise.reject(new SubmitterRunError([error])));
      reconciled = true;
    }
    const token = `${deps.workerId}/${randomUUID()}`;
    const errors: unknown[] = [];
    const guarded: Guard = async (intents, work) => {
      try {
        await work();
      } catch (error) {
        errors.push(error);
        await releaseAfterError(intents, token, error).catch((e: unknown) => errors.push(e));
      }
    };

    const sent = await claimSentGroups(token);
    if (sent.length > 0) await sending; // their receipts are looked for once they were broadcast
    // Looked up concurrently, then acted on one group at a time, oldest nonce first (rebroadcasts
    // and replacements reach the node in nonce order).
    const groups = groupBy(sent, (i) => i.tx_hash!);
    const inspected = await Promise.all(
      groups.map(async (group) => {
        let found: Awaited<ReturnType<typeof inspectSent>> | undefined;
        await guarded(group, async () => {
          found = await inspectSent(group);
        });
        return found && { group, found };
      }),
    );
    const checkable = inspected.filter((c): c is NonNullable<typeof c> => c !== undefined);
    checkable.sort((a, b) => nonceOf(a.found) - nonceOf(b.found));
    for (const { group, found } of checkable) await guarded(group, () => checkSent(group, token, found));
    const pending = await claimPending(token);
    if (pending.length > 0) {
      const actions = intentActions(token);
      const locks = pending.filter((i) => i.kind === "lock");
      const terms = pending.filter((i) => i.kind === "release" || i.kind === "refund");
      const issuances = pending.filter((i) => i.kind === "mint" || i.kind === "burn");
      const pairs = pending.filter((i) => i.kind === "pvp");
      const windowSettlements = pending.filter((i) => i.kind === "settle_window");
      await guarded(locks, () => sendLocks(actions, locks));
      await guarded(terms, () => sendTermsIntents(actions, terms));
      await guarded(pairs, () => sendPvPIntents(actions, pairs));
      await guarded(issuances, () => sendIssuanceIntents(actions, issuances));
      await guarded(windowSettlements, () => sendWindowSettlements(actions, windowSettlements));
    }

    if (errors.length > 0) throw new SubmitterRunError(errors);
    return sent.length + pending.length;
  }

  /** After an unexpected failure (RPC down, lease lost): let the intents go, with backoff. */
  async function releaseAfterError(intents: Intent[], token: string, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    logger.warn({ intents: intents.map((i) => i.id), err: message }, "chain intents released after a failure");
    for (const intent of intents) {
      const attempts = intent.status === "pending" ? intent.attempts + 1 : intent.attempts;
      const delay = intent.status === "pending" ? backoff(attempts) : receiptPollMs;
      await db
        .updateTable("chain_intents")
        .set({ attempts, next_attempt_at: now() + delay, last_error: message, lease_owner: null, lease_until: null, updated_at: now() })
        .where("id", "=", intent.id)
        .where("lease_owner", "=", token)
        .execute();
    }
  }

  const poller = createPoller("chain submitter", runOnce, logger);
  return {
    runOnce,
    start: poller.start,
    async stop() {
      await poller.stop();
      await sending;
    },
  };
}

/** Runs work on intents; a failure is recorded and the intents are let go with backoff. */
type Guard = (intents: Intent[], work: () => Promise<void>) => Promise<void>;

const nonceOf = (found: { attempts: TxAttempt[] }) => found.attempts[0]?.nonce ?? Number.MAX_SAFE_INTEGER;

function groupBy<T>(items: T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return [...groups.values()];
}
