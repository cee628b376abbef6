import { Interface, isHexString, type ContractRunner, type Provider, type Result } from "ethers";
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
 * record, the escrow calls the submitter makes (encoded; preflight.ts checks them before signing),
 * revert decoding across every Corridor contract, and the small polling loop the submitter and the
 * indexer share. Only standard eth_* methods are used.
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
export const depositTokenInterface: Interface = DepositToken__factory.createInterface();
export const nettingInterface: Interface = NettingSettlement__factory.createInterface();

// A lock can revert in the escrow, in the registry it consults or in the token it pulls from, so
// revert data is matched against all of them (Error(string) and Panic(uint256) are built in).
const errorInterfaces: readonly Interface[] = [
  escrowInterface,
  ParticipantRegistry__factory.createInterface(),
  depositTokenInterface,
  nettingInterface,
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

/**
 * The escrow calls the submitter makes, encoded; the submitter's preflight checks each against
 * `address` before it is signed.
 */
export interface EscrowCalls {
  readonly address: string;
  /** PaymentState as a number: 0 None, 1 Locked, 2 Released, 3 Refunded. */
  paymentState(uetr: string): Promise<bigint>;
  lockData(lock: LockIntentPayload): string;
  lockBatchData(locks: LockIntentPayload[]): string;
  releaseData(release: AuthorizedRelease): string;
  releaseBatchData(releases: AuthorizedRelease[]): string;
  refundData(terms: LockTerms): string;
  refundBatchData(terms: LockTerms[]): string;
  settlePvPData(legA: LockTerms, legB: LockTerms, authorization: string): string;
}

/** The escrow at `escrowAddress`, read through `provider`. */
export function createEscrowCalls(deps: { provider: Provider; escrowAddress: string }): EscrowCalls {
  const escrow = SettlementEscrow__factory.connect(deps.escrowAddress, deps.provider);
  return {
    address: deps.escrowAddress,
    paymentState: (uetr) => escrow.paymentState(uetr),
    lockData: (lock) => escrowInterface.encodeFunctionData("lockFor", [lock.payer, toLockRequest(lock)]),
    lockBatchData: (locks) =>
      escrowInterface.encodeFunctionData("lockBatchFor", [locks.map((l) => ({ payer: l.payer, request: toLockRequest(l) }))]),
    releaseData: (r) => escrowInterface.encodeFunctionData("release", [r.terms, r.authorization]),
    releaseBatchData: (releases) =>
      escrowInterface.encodeFunctionData("releaseBatch", [releases.map((r) => r.terms), releases.map((r) => r.authorization)]),
    refundData: (terms) => escrowInterface.encodeFunctionData("refund", [terms]),
    refundBatchData: (terms) => escrowInterface.encodeFunctionData("refundBatch", [terms]),
    settlePvPData: (legA, legB, authorization) => escrowInterface.encodeFunctionData("settlePvP", [legA, legB, authorization]),
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
