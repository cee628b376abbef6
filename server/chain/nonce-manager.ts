import { Transaction, keccak256, type Provider, type TransactionReceipt, type Wallet } from "ethers";
import type { Db } from "../db/database";
import type { ChainTransactionsTable } from "../db/schema";
import type { PreparedCall } from "./preflight";

/**
 * One nonce manager per signer: it owns the signer's nonces and every transaction that uses them.
 *
 * The next nonce lives in `signer_nonces` and is taken with an UPDATE … RETURNING inside the caller's
 * database transaction, the same transaction that stores the signed transaction. So two relay
 * processes sharing the key serialize on that row and never reuse a nonce, and a nonce is never
 * consumed without its signed transaction on record (a rollback returns both). Every attempt for a
 * nonce (the first and each fee-bumped replacement) is a row of `chain_transactions`; whichever of
 * them is mined settles the nonce.
 */

export interface Fees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/** A signed transaction as stored before it is broadcast. */
export interface TxAttempt {
  hash: string;
  signer: string;
  nonce: number;
  raw: string;
  intentIds: string[];
  fees: Fees;
  sentAt: number;
}

/** What became of a nonce, judged from every stored attempt for it. */
export type NonceOutcome =
  | { kind: "mined"; attempt: TxAttempt; receipt: TransactionReceipt }
  | { kind: "pending"; latest: TxAttempt }
  /** The chain's nonce moved past ours but none of our attempts was mined: someone else used it. */
  | { kind: "superseded"; latest: TxAttempt };

export class NonceManagerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NonceManagerError";
  }
}

export interface NonceManager {
  readonly address: string;
  /** Raises the stored next nonce to eth_getTransactionCount(pending) (it never lowers it). */
  reconcile(db: Db): Promise<number>;
  /** Takes the next nonce, signs `call` with it and stores the attempt, all in `trx`. */
  signNew(trx: Db, call: PreparedCall, fees: Fees, intentIds: string[], now: number): Promise<TxAttempt>;
  /** Signs the same call with the same nonce and higher fees, and stores it in `trx`. */
  signReplacement(trx: Db, previous: TxAttempt, fees: Fees, now: number): Promise<TxAttempt>;
  /**
   * eth_sendRawTransaction. Errors are returned, not thrown (a stored attempt is sent again later);
   * "already known" and "nonce too low" are not errors here.
   */
  broadcast(attempt: TxAttempt): Promise<Error | null>;
  /** Every stored attempt sharing the nonce of the attempt `hash`, oldest first. */
  attemptsOf(db: Db, hash: string): Promise<TxAttempt[]>;
  /** Looks up receipts of all attempts and the chain's confirmed nonce of their signer. */
  outcome(attempts: TxAttempt[]): Promise<NonceOutcome>;
  /** Current fee suggestion of the node (EIP-1559 fields). */
  suggestFees(): Promise<Fees>;
}

/** Rebroadcast answers of geth, Besu, Nethermind and Hardhat for a transaction they already know. */
const ALREADY_SEEN = /already known|known transaction|already imported|nonce too low|nonce has already been used/i;

export function createNonceManager(deps: {
  provider: Provider;
  signer: Wallet;
  /**
   * Sends a signed transaction (eth_sendRawTransaction). Default: the provider's
   * broadcastTransaction, which also decodes the transaction and recovers its sender from the
   * signature to build a response that is not used here (a few ms of CPU each).
   */
  sendRawTransaction?: (raw: string) => Promise<unknown>;
}): NonceManager {
  const { provider, signer } = deps;
  const sendRaw = deps.sendRawTransaction ?? ((raw: string) => provider.broadcastTransaction(raw));
  const address = signer.address;
  let chainId: bigint | null = null;

  async function getChainId(): Promise<bigint> {
    chainId ??= (await provider.getNetwork()).chainId;
    return chainId;
  }

  async function reconcile(db: Db): Promise<number> {
    await getChainId(); // now, so that signing never waits on the node inside a database transaction
    const pending = await provider.getTransactionCount(address, "pending");
    await db
      .insertInto("signer_nonces")
      .values({ signer: address, next_nonce: pending })
      .onConflict((oc) => oc.column("signer").doNothing())
      .execute();
    await db
      .updateTable("signer_nonces")
      .set({ next_nonce: pending })
      .where("signer", "=", address)
      .where("next_nonce", "<", pending)
      .execute();
    const row = await db.selectFrom("signer_nonces").select("next_nonce").where("signer", "=", address).executeTakeFirstOrThrow();
    return Number(row.next_nonce);
  }

  async function allocate(trx: Db): Promise<number> {
    // The UPDATE takes the row lock first, so concurrent allocations wait for this transaction.
    const row = await trx
      .updateTable("signer_nonces")
      .set((eb) => ({ next_nonce: eb("next_nonce", "+", 1) }))
      .where("signer", "=", address)
      .returning("next_nonce")
      .executeTakeFirst();
    if (!row) throw new NonceManagerError(`no nonce record for ${address}: reconcile before sending`);
    return Number(row.next_nonce) - 1;
  }

  async function signAndStore(trx: Db, tx: Transaction, intentIds: string[], now: number): Promise<TxAttempt> {
    // Signed locally with the key: nothing about the transaction depends on the node.
    tx.signature = signer.signingKey.sign(tx.unsignedHash);
    const raw = tx.serialized;
    const attempt: TxAttempt = {
      hash: keccak256(raw), // what tx.hash computes, without serializing a batch's calldata once more
      signer: address,
      nonce: Number(tx.nonce),
      raw,
      intentIds,
      fees: { maxFeePerGas: tx.maxFeePerGas!, maxPriorityFeePerGas: tx.maxPriorityFeePerGas! },
      sentAt: now,
    };
    await trx.insertInto("chain_transactions").values(toRow(attempt)).execute();
    return attempt;
  }

  return {
    address,
    reconcile,

    async signNew(trx, call, fees, intentIds, now) {
      const cid = await getChainId();
      const nonce = await allocate(trx);
      // Always EIP-1559: the contracts need Cancun, so every chain that runs them has London too.
      const tx = Transaction.from({
        type: 2,
        chainId: cid,
        nonce,
        to: call.to,
        data: call.data,
        gasLimit: call.gasLimit,
        value: 0n,
        ...fees,
      });
      return signAndStore(trx, tx, intentIds, now);
    },

    async signReplacement(trx, previous, fees, now) {
      const tx = Transaction.from(previous.raw);
      tx.signature = null;
      tx.maxFeePerGas = fees.maxFeePerGas;
      tx.maxPriorityFeePerGas = fees.maxPriorityFeePerGas;
      return signAndStore(trx, tx, previous.intentIds, now);
    },

    async broadcast(attempt) {
      try {
        await sendRaw(attempt.raw);
        return null;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        // The node already has it, or its nonce is used: the next receipt check tells which.
        if (ALREADY_SEEN.test(message) || (error as { code?: unknown }).code === "NONCE_EXPIRED") return null;
        return error instanceof Error ? error : new Error(message);
      }
    },

    async attemptsOf(db, hash) {
      const rows = await db
        .selectFrom("chain_transactions as t")
        .innerJoin("chain_transactions as first", (join) =>
          join.onRef("first.signer", "=", "t.signer").onRef("first.nonce", "=", "t.nonce"),
        )
        .selectAll("t")
        .where("first.hash", "=", hash)
        .execute();
      // Replacements are later and pay more; fees break ties of an unmoving test clock.
      return rows.map(fromRow).sort((a, b) => a.sentAt - b.sentAt || Number(a.fees.maxFeePerGas - b.fees.maxFeePerGas));
    },

    async outcome(attempts) {
      if (attempts.length === 0) throw new NonceManagerError("no attempts to judge");
      const latest = attempts[attempts.length - 1];
      // The confirmed nonce is read before the receipts: a transaction mined in between is then
      // seen as mined, never as superseded.
      const confirmedNonce = await provider.getTransactionCount(latest.signer, "latest");
      const receipts = await Promise.all(attempts.map((a) => provider.getTransactionReceipt(a.hash)));
      const index = receipts.findIndex((receipt) => receipt !== null);
      if (index >= 0) return { kind: "mined", attempt: attempts[index], receipt: receipts[index]! };
      if (confirmedNonce > latest.nonce) return { kind: "superseded", latest };
      return { kind: "pending", latest };
    },

    async suggestFees() {
      const data = await provider.getFeeData();
      // A zero base fee (free-gas permissioned chains) leaves ethers' EIP-1559 fields empty.
      const maxPriorityFeePerGas = data.maxPriorityFeePerGas ?? data.gasPrice ?? 0n;
      const maxFeePerGas = data.maxFeePerGas ?? data.gasPrice ?? maxPriorityFeePerGas;
      return { maxFeePerGas: max(maxFeePerGas, maxPriorityFeePerGas), maxPriorityFeePerGas };
    },
  };
}

/**
 * Fees for a replacement: at least 10% more on both fields (what geth, Besu and Hardhat require,
 * and at least one wei so a zero fee still goes up), or the node's current suggestion if higher.
 */
export function bumpFees(previous: Fees, suggested: Fees): Fees {
  const maxPriorityFeePerGas = max(raiseTenPercent(previous.maxPriorityFeePerGas), suggested.maxPriorityFeePerGas);
  const maxFeePerGas = max(raiseTenPercent(previous.maxFeePerGas), suggested.maxFeePerGas, maxPriorityFeePerGas);
  return { maxFeePerGas, maxPriorityFeePerGas };
}

function raiseTenPercent(value: bigint): bigint {
  const tenth = (value + 9n) / 10n;
  return value + (tenth > 0n ? tenth : 1n);
}

function max(...values: bigint[]): bigint {
  return values.reduce((a, b) => (b > a ? b : a));
}

function toRow(attempt: TxAttempt): ChainTransactionsTable {
  return {
    hash: attempt.hash,
    signer: attempt.signer,
    nonce: attempt.nonce,
    raw: attempt.raw,
    intent_ids: JSON.stringify(attempt.intentIds),
    max_fee_per_gas: attempt.fees.maxFeePerGas.toString(),
    max_priority_fee_per_gas: attempt.fees.maxPriorityFeePerGas.toString(),
    sent_at: attempt.sentAt,
  };
}

function fromRow(row: ChainTransactionsTable): TxAttempt {
  return {
    hash: row.hash,
    signer: row.signer,
    nonce: Number(row.nonce),
    raw: row.raw,
    intentIds: JSON.parse(row.intent_ids) as string[],
    fees: { maxFeePerGas: BigInt(row.max_fee_per_gas), maxPriorityFeePerGas: BigInt(row.max_priority_fee_per_gas) },
    sentAt: Number(row.sent_at),
  };
}
