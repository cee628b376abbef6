import type { BreakStatus, CreditDebit, ReconRunStatus } from "../db/schema";
import type { Result } from "../shared/result";

/**
 * Reconciliation's domain: the records it reads from the three sides, what it finds, and the
 * service that runs it. Amounts are bigint minor units in records; in breaks' details (stored as
 * JSON and served as is) they are decimal digit strings.
 */

export const BREAK_CLASSES = [
  "duplicate",
  "unknown_entry",
  "missing_on_chain",
  "missing_in_ledger",
  "missing_in_statement",
  "currency_mismatch",
  "amount_mismatch",
  "reversed_after_settlement",
  "reserve_mismatch",
] as const;
export type BreakClass = (typeof BREAK_CLASSES)[number];

/** What a record settles: a payment, or a funds movement (funds-in mint, funds-out burn). */
export type MovementKind = "payment" | "mint" | "burn";

/** A Released, Minted or Burned event. `currency` is undefined when the token maps to none. */
export interface ChainRecord {
  id: string;
  kind: MovementKind;
  uetr: string | null;
  amount: bigint;
  currency: string | undefined;
  time: number;
}

/** A settlement in the ledger (`…:release`, `funds:…:mint|burn`), or the undoing of one (`…:unrelease`). */
export interface LedgerRecord {
  id: string;
  kind: MovementKind;
  uetr: string;
  amount: bigint;
  currency: string;
  time: number;
  undoes: boolean;
}

export interface StatementRecord {
  id: string;
  accountId: string;
  acctSvcrRef: string | null;
  uetr: string | null;
  endToEndId: string | null;
  amount: bigint;
  currency: string;
  direction: CreditDebit;
  status: "BOOK" | "PDNG" | "INFO";
  /** value_date, or booking_date when the bank gave none (YYYY-MM-DD). */
  date: string;
  isCharge: boolean;
  isReversal: boolean;
}

/** A payment as the EndToEndId fallback needs it. */
export interface PaymentReference {
  uetr: string;
  endToEndId: string;
  amount: bigint;
  currency: string;
}

export type Details = Record<string, string | number | boolean | null>;

/** One break as the matcher reports it; `key` (hashed into the break id) never includes the class. */
export interface BreakFinding {
  key: string;
  keys: Record<string, string>;
  class: BreakClass;
  currency: string | null;
  /** The item's date (YYYY-MM-DD): which runs cover it, and so may clear it. */
  date: string;
  details: Details;
}

export interface PendingItem {
  key: string;
  reason: "statement_pending" | "within_grace";
}

export interface SideCounts {
  read: number;
  matched: number;
}

export interface MatchCounts {
  chain: SideCounts;
  ledger: SideCounts;
  statement: SideCounts;
  items: number;
  matchedItems: number;
  pendingItems: number;
  chargesLinked: number;
  breaks: Partial<Record<BreakClass, number>>;
}

export interface ReconCounts extends MatchCounts {
  reservesChecked: number;
  durationMs: number;
}

export interface ReconRun {
  id: string;
  from: string;
  to: string;
  /** Empty: every currency. */
  currencies: string[];
  status: ReconRunStatus;
  counts: ReconCounts | null;
  error: string | null;
  requestedBy: string;
  startedAt: number;
  finishedAt: number | null;
}

export type BreakAction = "opened" | "reclassified" | "resolved" | "reopened" | "cleared";

export interface BreakHistoryEntry {
  action: BreakAction;
  class: BreakClass;
  status: BreakStatus;
  note: string | null;
  actor: string;
  runId: string | null;
  at: number;
}

export interface ReconBreak {
  id: string;
  class: BreakClass;
  status: BreakStatus;
  keys: Record<string, string>;
  currency: string | null;
  details: Details;
  firstRunId: string;
  lastRunId: string;
  firstSeenAt: number;
  lastSeenAt: number;
  resolvedAt: number | null;
  resolvedBy: string | null;
  resolutionNote: string | null;
  /** Oldest first; only from getBreak and resolveBreak. */
  history?: BreakHistoryEntry[];
}

export type ReconErrorCode =
  | "invalid_date_range"
  | "unknown_currency"
  | "invalid_cursor"
  | "invalid_break_class"
  | "break_not_found"
  | "break_already_resolved";

export interface RunInput {
  /** Inclusive statement dates, YYYY-MM-DD. */
  from: string;
  to: string;
  currencies?: string[];
  requestedBy: string;
  /** The clock the grace period is measured against (epoch ms); defaults to now. */
  now?: number;
}

export interface BreakFilter {
  status?: BreakStatus;
  class?: string;
  currency?: string;
  limit: number;
  cursor?: string;
}

export interface ReconciliationService {
  /** Fails with invalid_date_range or unknown_currency; a run that throws is recorded as failed and rethrown. */
  run(input: RunInput): Promise<Result<ReconRun, ReconErrorCode>>;
  getRun(id: string): Promise<ReconRun | undefined>;
  /** Newest first. */
  listRuns(filter: { limit: number }): Promise<ReconRun[]>;
  /** By id (stable order); fails with invalid_cursor or invalid_break_class. */
  listBreaks(filter: BreakFilter): Promise<Result<{ breaks: ReconBreak[]; nextCursor: string | null }, ReconErrorCode>>;
  getBreak(id: string): Promise<ReconBreak | undefined>;
  /** Resolving again with the same note by the same actor returns the break unchanged. */
  resolveBreak(id: string, input: { note: string; actor: string }): Promise<Result<ReconBreak, ReconErrorCode>>;
}
