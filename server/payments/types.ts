import type { Db } from "../db/database";
import type { PaymentPriority, PaymentSettlement, PaymentStatus } from "../db/schema";
import type { Result } from "../shared/result";
import type { NetAmount, WindowObservation } from "./net";

/** Who is asking: a bank sees and acts on its own payments only; treasury and admin see all. */
export interface Caller {
  keyId: string;
  role: "bank" | "treasury" | "admin";
  bic: string | null;
}

export interface Money {
  value: bigint;
  currency: string;
}

export interface NewPayment {
  uetr?: string;
  endToEndId: string;
  debtorAgent: string;
  creditorAgent: string;
  amount: Money;
  debtor?: { name?: string; account?: string };
  creditor?: { name?: string; account?: string };
  remittanceInformation?: string;
  /** The pacs.008 references a bank quotes back (InstrId, TxId, GrpHdr MsgId). */
  references?: Partial<PaymentReferences>;
  /** Seconds until the lock expires and is refunded; defaults to the relay's setting. */
  expiresInSeconds?: number;
  /**
   * A quote of the debtor bank's: the payment is then cross-currency, settled as a PvP pair, and
   * `amount` must be the quote's source amount (the creditor gets the quote's target amount).
   */
  quoteId?: string;
  /**
   * gross (default): escrowed and released on its own. net: queued in its currency's open
   * settlement window and settled with the window's net positions.
   */
  settlement?: PaymentSettlement;
  /** A net payment's priority when a window cannot settle everything: high goes first. */
  priority?: PaymentPriority;
}

/** A cross-currency payment's pair, as each of its two legs shows it. */
export interface PvPView {
  quoteId: string;
  provider: string;
  /** A: the debtor bank's leg to the provider; B: the provider's leg to the creditor bank. */
  leg: "A" | "B";
  linkedUetr: string;
  /** The bank the payment is for (leg B's creditor). */
  creditorAgent: string;
  source: Money;
  target: Money;
}

export interface PaymentReferences {
  instructionId: string | null;
  transactionId: string | null;
  messageId: string | null;
}

export interface StatusChange {
  status: PaymentStatus;
  at: number;
  reason: string | null;
  txHash: string | null;
  blockNumber: number | null;
}

export interface Payment {
  uetr: string;
  endToEndId: string;
  debtorAgent: string;
  creditorAgent: string;
  amount: Money;
  debtor: { name: string | null; account: string | null };
  creditor: { name: string | null; account: string | null };
  remittanceInformation: string | null;
  references: PaymentReferences;
  status: PaymentStatus;
  statusReason: string | null;
  expiresAt: number;
  createdAt: number;
  updatedAt: number;
  settlement: PaymentSettlement;
  priority: PaymentPriority;
  /** A net payment's window: the one it waits in, or the one that settled it. */
  windowId: string | null;
  history?: StatusChange[];
  /** Set for the legs of a cross-currency (PvP) payment. */
  fx?: PvPView;
}

export type PaymentErrorCode =
  | "unknown_participant"
  | "participant_suspended"
  | "currency_not_supported"
  | "invalid_amount"
  | "limit_exceeded"
  | "sanctioned_party"
  | "duplicate_uetr"
  | "same_agent"
  | "forbidden_agent"
  | "payment_not_found"
  | "payment_not_cancellable"
  | "payment_not_confirmable"
  | "insufficient_funds"
  | "invalid_uetr"
  | "invalid_expiry"
  | "invalid_cursor"
  | "quote_not_found"
  | "quote_expired"
  | "quote_used"
  | "quote_mismatch"
  | "net_settlement_unavailable";

export interface PaymentFilter {
  status?: PaymentStatus;
  debtorAgent?: string;
  creditorAgent?: string;
  /** Either agent. */
  bic?: string;
  currency?: string;
  endToEndId?: string;
  limit: number;
  cursor?: string;
}

export interface PaymentPage {
  payments: Payment[];
  nextCursor: string | null;
}

/** What the chain side reports about a payment; each is applied once, in the caller's transaction. */
export interface ChainObservation {
  uetr: string;
  txHash: string;
  blockNumber: number;
}

/** A broadcast lock transaction: it has a hash but no block yet. */
export interface Submission {
  uetr: string;
  txHash: string;
}

/**
 * Chain hooks take the caller's database (a transaction, so that the hook commits with the
 * caller's own bookkeeping; a plain handle gets a transaction of its own) and return whether the
 * payment changed: applying the same observation twice returns false the second time, and an
 * unknown UETR (a payment made directly on the contracts) is ignored.
 */
export interface PaymentService {
  create(caller: Caller, input: NewPayment, db?: Db): Promise<Result<Payment, PaymentErrorCode>>;
  /** With `db`, read in the caller's transaction (a connection already in a transaction must not wait for another). */
  get(caller: Caller, uetr: string, db?: Db): Promise<Result<Payment, PaymentErrorCode>>;
  /** Fails only with invalid_cursor. */
  list(caller: Caller, filter: PaymentFilter): Promise<Result<PaymentPage, PaymentErrorCode>>;
  cancel(caller: Caller, uetr: string): Promise<Result<Payment, PaymentErrorCode>>;
  confirm(caller: Caller, uetr: string): Promise<Result<Payment, PaymentErrorCode>>;

  /** The lock transaction was broadcast. */
  markSubmitted(db: Db, submission: Submission): Promise<boolean>;
  /** The lock could not be made (reverted or refused on chain). */
  markRejected(db: Db, uetr: string, reason: string): Promise<boolean>;
  /** Indexer: Locked, Released and Refunded events (confirmed), and their rollback after a reorg. */
  onLocked(db: Db, observation: ChainObservation): Promise<boolean>;
  onReleased(db: Db, observation: ChainObservation): Promise<boolean>;
  onRefunded(db: Db, observation: ChainObservation): Promise<boolean>;
  unapplyLocked(db: Db, observation: ChainObservation): Promise<boolean>;
  unapplyReleased(db: Db, observation: ChainObservation): Promise<boolean>;
  unapplyRefunded(db: Db, observation: ChainObservation): Promise<boolean>;
  /** Settlement windows: queued net payments move to another window, settle, or (reorg) unsettle. */
  requeueNet(db: Db, uetrs: readonly string[], windowId: string, reason: string): Promise<void>;
  settleNet(db: Db, uetrs: readonly string[], nets: readonly NetAmount[], currency: string, observation: WindowObservation): Promise<void>;
  unsettleNet(db: Db, uetrs: readonly string[], nets: readonly NetAmount[], currency: string, observation: WindowObservation): Promise<void>;
  /** Enqueues refunds of locked payments past expiry; returns how many. */
  refundExpired(now?: number): Promise<number>;
}
