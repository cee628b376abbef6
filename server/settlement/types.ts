import type { Db } from "../db/database";
import type { Transaction } from "kysely";
import type { Database, WindowState } from "../db/schema";
import type { Caller } from "../payments/types";
import type { Result } from "../shared/result";

/** A bank's net position in a window: negative pays in, positive is paid out. */
import type { WindowProjection } from "./projection";

export interface WindowPosition {
  bic: string;
  bank: string;
  token: string;
  amount: bigint;
}

export interface Window {
  id: string;
  currency: string;
  sequence: number;
  state: WindowState;
  round: number;
  openedAt: number;
  closesAt: number;
  closedAt: number | null;
  approvalDeadline: number | null;
  excludedBics: string[];
  paymentsRoot: string | null;
  positions: WindowPosition[];
  deferred: { uetr: string; reason: string }[];
  paymentCount: number;
  grossTotal: bigint;
  txHash: string | null;
  blockNumber: number | null;
  settledAt: number | null;
  failureReason: string | null;
  updatedAt: number;
}

/** A window as the API shows it, with the round's approvals and (for a bank) its own payments only. */
export interface WindowDetail extends Window {
  chainWindowId: string;
  approvals: { bic: string; at: number }[];
  includedPayments: string[];
  /** The EIP-712 message debtor banks sign this round (while approvals are gathered). */
  approvalRequest: ApprovalRequest | null;
  /** An OPEN window's queued obligations and projected net positions; null once it closed. */
  projected: WindowProjection | null;
}

export interface ApprovalRequest {
  digest: string;
  typedData: {
    domain: { name: string; version: string; chainId: string; verifyingContract: string };
    types: Record<string, { name: string; type: string }[]>;
    primaryType: "SettlementWindow";
    message: { windowId: string; paymentsRoot: string; positions: { bank: string; token: string; amount: string }[] };
  };
}

/** What anyone needs to check a payment's inclusion with NettingSettlement.verifyPayment. */
export interface InclusionProof {
  uetr: string;
  windowId: string;
  chainWindowId: string;
  contract: string;
  chainId: string;
  leaf: { uetr: string; debtor: string; creditor: string; token: string; amount: string };
  leafHash: string;
  proof: string[];
  paymentsRoot: string;
  txHash: string | null;
}

export type WindowErrorCode =
  | "window_not_found"
  | "window_not_open"
  | "window_not_awaiting_approval"
  | "not_a_window_participant"
  | "invalid_signature"
  | "payment_not_found"
  | "proof_not_available"
  | "forbidden"
  | "invalid_cursor";

export interface WindowFilter {
  currency?: string;
  state?: WindowState;
  limit: number;
}

/** The window's settlement as the indexer saw it (WindowSettled). */
export interface WindowSettledObservation {
  windowId: string;
  paymentsRoot: string;
  txHash: string;
  blockNumber: number;
}

export interface WindowService {
  /** The currency's open window (opened if none), held until `trx` ends: net payments join it. */
  join(trx: Transaction<Database>, currency: string): Promise<string>;
  list(caller: Caller, filter: WindowFilter): Promise<Window[]>;
  get(caller: Caller, id: string): Promise<Result<WindowDetail, WindowErrorCode>>;
  /** Treasury closes an open window now (the schedule closes the others). */
  close(caller: Caller, id: string): Promise<Result<Window, WindowErrorCode>>;
  /** A bank's EIP-712 signature over the round's root and positions. */
  approve(caller: Caller, id: string, input: { signature: string; bic?: string }): Promise<Result<WindowDetail, WindowErrorCode>>;
  proof(caller: Caller, uetr: string): Promise<Result<InclusionProof, WindowErrorCode>>;
  /** One pass of the window driver: scheduled closes, close computations, approvals and deadlines. */
  runOnce(): Promise<void>;
  start(intervalMs: number): void;
  stop(): Promise<void>;
  /** Indexer hooks. */
  onWindowSettled(db: Db, observation: WindowSettledObservation): Promise<boolean>;
  unapplyWindowSettled(db: Db, observation: WindowSettledObservation): Promise<boolean>;
  /** Submitter hook: the settlement was refused for good; the window fails and its payments move on. */
  onSettleFailed(db: Db, windowId: string, reason: string): Promise<void>;
}
