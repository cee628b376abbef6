import { Interface, Transaction, isHexString, type ContractRunner, type Provider, type Result, type Wallet } from "ethers";
import {
  DepositToken__factory,
  NettingSettlement__factory,
  ParticipantRegistry__factory,
  SettlementEscrow__factory,
} from "../../typechain-types";
import type { CorridorContracts, DeploymentRecord } from "../../scripts/lib/deploy";
import type { LockIntentPayload } from "./outbox";
import type { LockTerms } from "./typed-data";

/**
 * Contract access for the relay's chain workers: typechain contracts connected from a deployment
 * record, the escrow calls the submitter makes (encoded, signed where an attestation is needed, and
 * preflighted with eth_estimateGas), revert decoding across every Corridor contract, and the small
 * polling loop the submitter and the indexer share. Only standard eth_* methods are used.
 */

/** Connects the deployed contracts named in `deployments/<chainId>.json` to a provider or signer. */
export function connectCorridor(record: DeploymentRecord, runner: ContractRunner): CorridorContracts {
  const { contracts } = record;
  const tokens = Object.fromEntries(
    Object.entries(contracts.tokens).map(([currency, address]) => [currency, DepositToken__factory.connect(address, runner)]),
  );
  return {
    registry: ParticipantRegistry__factory.connect(contracts.ParticipantRegistry, runner),
    escrow: SettlementEscrow__factory.connect(contracts.SettlementEscrow, runner),
    netting: NettingSettlement__factory.connect(contracts.NettingSettlement, runner),
    tokens,
  };
}

export const escrowInterface: Interface = SettlementEscrow__factory.createInterface();

// A lock can revert in the escrow, in the registry it consults or in the token it pulls from, so
// revert data is matched against all of them (Error(string) and Panic(uint256) are built in).
const errorInterfaces: readonly Interface[] = [
  escrowInterface,
  ParticipantRegistry__factory.createInterface(),
  DepositToken__factory.createInterface(),
  NettingSettlement__factory.createInterface(),
];

/** A contract revert: the custom error's name and arguments when it is known, else the raw data. */
export interface DecodedRevert {
  name: string | null;
  args: string[];
  data: string | null;
  /** Human-readable, e.g. `SinglePaymentCapExceeded(0xab…, 0xcd…, 5000, 1000)`. */
  reason: string;
}

/**
 * The revert inside an error thrown by eth_call / eth_estimateGas, or null when the error is not a
 * revert (a network failure, a rate limit, a node error). Nodes put the revert data in different
 * places (ethers' CALL_EXCEPTION, Hardhat's `data`, JSON-RPC `error.data`), so all are searched.
 */
export function decodeRevert(error: unknown): DecodedRevert | null {
  const data = findRevertData(error, 0);
  if (data === null && !looksLikeRevert(error)) return null;
  if (data === null || data === "0x") return { name: null, args: [], data, reason: "execution reverted" };
  for (const iface of errorInterfaces) {
    const parsed = safeParseError(iface, data);
    if (parsed) {
      const args = formatArgs(parsed.args);
      return { name: parsed.name, args, data, reason: `${parsed.name}(${args.join(", ")})` };
    }
  }
  return { name: null, args: [], data, reason: `execution reverted (unknown error ${data.slice(0, 10)})` };
}

function safeParseError(iface: Interface, data: string): { name: string; args: Result } | null {
  try {
    return iface.parseError(data);
  } catch {
    return null; // a known selector with undecodable arguments: try the next interface
  }
}

function formatArgs(args: Result): string[] {
  return Array.from(args, (value: unknown) => String(value));
}

function findRevertData(error: unknown, depth: number): string | null {
  if (depth > 5 || error === null || typeof error !== "object") return null;
  const record = error as Record<string, unknown>;
  if (isRevertData(record.data)) return record.data;
  for (const key of ["data", "error", "info", "cause"]) {
    const found = findRevertData(record[key], depth + 1);
    if (found !== null) return found;
  }
  return null;
}

/** Empty, or a 4-byte selector followed by ABI words (a request's calldata is never searched). */
function isRevertData(value: unknown): value is string {
  return typeof value === "string" && isHexString(value) && (value.length === 2 || (value.length - 10) % 64 === 0);
}

function looksLikeRevert(error: unknown): boolean {
  const record = (error ?? {}) as { code?: unknown; message?: unknown };
  if (record.code === "CALL_EXCEPTION") return true;
  return typeof record.message === "string" && /execution reverted|VM Exception/i.test(record.message);
}

/** A payment's terms and what `release` takes to pay it out (a preimage, a signature, or nothing from an attester). */
export interface AuthorizedRelease {
  terms: LockTerms;
  authorization: string;
}

/** A call ready to sign: the escrow, its calldata and a gas limit with headroom. */
export interface PreparedCall {
  to: string;
  data: string;
  gasLimit: bigint;
}

export type Preflight = { ok: true; call: PreparedCall } | { ok: false; revert: DecodedRevert };

/**
 * The escrow calls the submitter makes, each checked before it is signed: with eth_estimateGas, or,
 * once a call of the same function was estimated, with one eth_call at the gas limit it needed
 * (scaled to the batch's size).
 */
export interface EscrowCalls {
  /** PaymentState as a number: 0 None, 1 Locked, 2 Released, 3 Refunded. */
  paymentState(uetr: string): Promise<bigint>;
  lockData(lock: LockIntentPayload): string;
  lockBatchData(locks: LockIntentPayload[]): string;
  releaseData(release: AuthorizedRelease): string;
  releaseBatchData(releases: AuthorizedRelease[]): string;
  refundData(terms: LockTerms): string;
  refundBatchData(terms: LockTerms[]): string;
  /**
   * Checks the call as the signer and sets its gas limit; a revert is a value, any other failure
   * (RPC) is thrown. `smaller`: the same function with a couple of the batch's payments, whose gas
   * is searched instead when no gas of the function is known yet.
   */
  preflight(data: string, smaller?: () => string): Promise<Preflight>;
  /** Why a mined transaction reverted, by re-running it with eth_call at its block. */
  replayRevert(tx: { raw: string }, blockNumber: number): Promise<string>;
}

/** Gas headroom over the estimate: state can change between estimate and inclusion. */
const GAS_HEADROOM_PERCENT = 20n;
/** Bounds the gas limits remembered (shapes are few: a function and a calldata length). */
const MAX_GAS_SHAPES = 1_000;

/**
 * Calls of one shape (function and calldata length: e.g. any release, or a lock batch of n) do the
 * same work on the same kinds of state, so they need about the same gas.
 */
function callShape(data: string): string {
  return `${data.slice(0, 10)}:${data.length}`;
}

export function createEscrowCalls(deps: { provider: Provider; escrowAddress: string; signer: Wallet }): EscrowCalls {
  const { provider, escrowAddress, signer } = deps;
  const escrow = SettlementEscrow__factory.connect(escrowAddress, provider);
  /** The gas limit per call shape: an estimate with headroom, or a guess an eth_call proved enough. */
  const gasLimits = new Map<string, bigint>();
  /** The first estimate of a shape, while it runs. */
  const estimating = new Map<string, Promise<bigint>>();

  function remember(shape: string, gasLimit: bigint): void {
    if (gasLimits.size >= MAX_GAS_SHAPES) gasLimits.clear();
    gasLimits.set(shape, gasLimit);
  }

  /**
   * A gas limit to try for a shape never seen, from the known shape of the same function nearest in
   * length, scaled by length: batches of one function differ mostly in how many payments they carry,
   * and the headroom covers their shared fixed cost. Only a guess, proven by one eth_call before it
   * is used: a batch size seen for the first time then costs no eth_estimateGas search.
   */
  function guessGasLimit(data: string): bigint | undefined {
    const selector = data.slice(0, 10);
    let nearest: { length: number; gasLimit: bigint } | undefined;
    for (const [shape, gasLimit] of gasLimits) {
      const [shapeSelector, shapeLength] = shape.split(":");
      const length = Number(shapeLength);
      if (shapeSelector !== selector) continue;
      if (!nearest || Math.abs(length - data.length) < Math.abs(nearest.length - data.length)) nearest = { length, gasLimit };
    }
    if (!nearest) return undefined;
    return (nearest.gasLimit * BigInt(data.length) + BigInt(nearest.length - 1)) / BigInt(nearest.length);
  }

  /** eth_estimateGas with headroom, remembered for the call's shape; a revert is thrown. */
  async function estimate(data: string, known: bigint | undefined): Promise<bigint> {
    const shape = callShape(data);
    const estimated = provider.estimateGas({ from: signer.address, to: escrowAddress, data });
    if (known === undefined && !estimating.has(shape)) {
      estimating.set(shape, estimated);
      void estimated.finally(() => estimating.delete(shape)).catch(() => undefined);
    }
    const gasLimit = ((await estimated) * (100n + GAS_HEADROOM_PERCENT)) / 100n;
    remember(shape, known !== undefined && known > gasLimit ? known : gasLimit);
    return gasLimit;
  }

  return {
    paymentState: (uetr) => escrow.paymentState(uetr),
    lockData: (lock) => escrowInterface.encodeFunctionData("lockFor", [lock.payer, toLockRequest(lock)]),
    lockBatchData: (locks) =>
      escrowInterface.encodeFunctionData("lockBatchFor", [locks.map((l) => ({ payer: l.payer, request: toLockRequest(l) }))]),
    releaseData: (r) => escrowInterface.encodeFunctionData("release", [r.terms, r.authorization]),
    releaseBatchData: (releases) =>
      escrowInterface.encodeFunctionData("releaseBatch", [releases.map((r) => r.terms), releases.map((r) => r.authorization)]),
    refundData: (terms) => escrowInterface.encodeFunctionData("refund", [terms]),
    refundBatchData: (terms) => escrowInterface.encodeFunctionData("refundBatch", [terms]),
    async preflight(data, smaller) {
      const shape = callShape(data);
      // Calls of a shape never seen, checked together (a batch of releases), wait for the first
      // one's estimate rather than all searching at once.
      const first = estimating.get(shape);
      if (first && !gasLimits.has(shape)) await first.catch(() => undefined);
      // The first batch of a function: searching the gas of a couple of its payments re-executes
      // far less than searching the whole batch's, and scales to it. A refusal shows below.
      if (smaller && guessGasLimit(data) === undefined) await estimate(smaller(), undefined).catch(() => undefined);
      const known = gasLimits.get(shape);
      const candidate = known ?? guessGasLimit(data);
      if (candidate !== undefined) {
        // A call of this shape needed at most `known` (with headroom) before: one eth_call with that
        // limit proves this one fits it too, at a fraction of eth_estimateGas's search (which
        // re-executes the call many times). Any failure is judged by estimating instead: short of
        // gas, a call can fail with a contract error too (a token transfer starved of gas).
        const fits = await provider.call({ from: signer.address, to: escrowAddress, data, gasLimit: candidate }).then(
          () => true,
          () => false,
        );
        if (fits) {
          if (known === undefined) remember(shape, candidate);
          return { ok: true, call: { to: escrowAddress, data, gasLimit: candidate } };
        }
      }
      try {
        return { ok: true, call: { to: escrowAddress, data, gasLimit: await estimate(data, known) } };
      } catch (error) {
        const revert = decodeRevert(error);
        if (revert) return { ok: false, revert };
        throw error;
      }
    },
    async replayRevert(tx, blockNumber) {
      const parsed = Transaction.from(tx.raw);
      try {
        await provider.call({ from: parsed.from!, to: parsed.to!, data: parsed.data, blockTag: blockNumber });
        return "not reproduced by a replay (out of gas, or state changed within the block)";
      } catch (error) {
        return decodeRevert(error)?.reason ?? `unknown (replay failed: ${(error as Error).message})`;
      }
    },
  };
}

function toLockRequest(lock: LockIntentPayload) {
  const r = lock.request;
  return { ...r, amount: BigInt(r.amount), expiry: BigInt(r.expiry) };
}

/** The structured log methods the chain workers use; a pino logger fits. */
export interface ChainLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export const silentLogger: ChainLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface Poller {
  start(intervalMs: number): void;
  /** Stops scheduling and waits for a run in progress, so the caller can then close the database. */
  stop(): Promise<void>;
}

/**
 * Runs `run` every `intervalMs` after the previous run ends (never two at once), and again at once
 * after a run that did something (resolved to a positive count): a backlog is worked off without
 * waiting an interval per batch. A failed run is logged and retried after the interval: the workers
 * keep their state in the database, not memory.
 */
export function createPoller(name: string, run: () => Promise<unknown>, logger: ChainLogger): Poller {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = true;

  const tick = (intervalMs: number): void => {
    let busy = false;
    running = run()
      .then((result) => {
        busy = typeof result === "number" && result > 0;
      })
      .catch((error: unknown) => logger.error({ err: error }, `${name} run failed`))
      .finally(() => {
        running = null;
        if (!stopped) timer = setTimeout(() => tick(intervalMs), busy ? 0 : intervalMs);
      });
  };

  return {
    start(intervalMs) {
      if (!stopped) return;
      stopped = false;
      tick(intervalMs);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}
