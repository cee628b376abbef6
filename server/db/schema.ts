import type { Generated } from "kysely";
/**
 * The relay's tables, one interface per table. Amounts are decimal digit strings of minor units
 * (converted to bigint in code, never summed in SQL); times are epoch milliseconds. Ids are chosen
 * by the writer (UUIDs or derived keys), so retries are safe and both dialects behave the same.
 */
export type ParticipantStatus = "active" | "suspended";
export type ApiKeyRole = "bank" | "treasury" | "admin";
/** QUEUED: a net payment waiting in its settlement window (gross payments are never QUEUED). */
export type PaymentStatus = "RECEIVED" | "QUEUED" | "SUBMITTED" | "LOCKED" | "SETTLED" | "CANCELLED" | "REFUNDED" | "REJECTED";
/** netting: a bank's obligations in settlement windows (may go negative; zero after each settled window). */
export type LedgerAccountKind = "bank" | "reserve" | "fee" | "netting";
export type LedgerTransferKind = "posted" | "pending" | "post_pending" | "void_pending";
/** `pvp`: settlePvP of a linked pair, keyed on leg A's UETR. */
export type ChainIntentKind = "lock" | "release" | "refund" | "mint" | "burn" | "pvp" | "settle_window";
export type ChainIntentStatus = "pending" | "sent" | "done" | "failed";
export type WebhookDeliveryStatus = "pending" | "delivered" | "dead";
export type StatementKind = "camt.053" | "camt.054";
export type CreditDebit = "CRDT" | "DBIT";
export type FundsDirection = "in" | "out";
export type FundsMovementStatus = "awaiting_approval" | "approved" | "completed" | "rejected";
export type ReconRunStatus = "running" | "completed" | "failed";
export type BreakStatus = "open" | "resolved";
export type FxQuoteStatus = "open" | "used";
export type FxQuoteSide = "source" | "target";

export interface ParticipantsTable {
  bic: string;
  name: string;
  country: string;
  address: string;
  status: ParticipantStatus;
  webhook_url: string | null;
  webhook_secret: string | null;
  created_at: number;
}

export interface ApiKeysTable {
  id: string;
  key_hash: string;
  role: ApiKeyRole;
  bic: string | null;
  label: string;
  created_at: number;
  revoked_at: number | null;
}

export interface PaymentsTable {
  uetr: string;
  end_to_end_id: string;
  debtor_bic: string;
  creditor_bic: string;
  currency: string;
  amount: string;
  debtor_name: string | null;
  debtor_account: string | null;
  creditor_name: string | null;
  creditor_account: string | null;
  remittance_information: string | null;
  /** pacs.008 references, quoted back in pacs.002 and pacs.004 (null for JSON payments). */
  instruction_id: string | null;
  transaction_id: string | null;
  message_id: string | null;
  expires_at: number;
  status: PaymentStatus;
  status_reason: string | null;
  created_at: number;
  updated_at: number;
  settlement: Generated<PaymentSettlement>;
  priority: Generated<PaymentPriority>;
  /** A net payment's current window (it moves to the next when deferred or when its window fails). */
  window_id: string | null;
}

export type PaymentSettlement = "gross" | "net";
export type PaymentPriority = "high" | "normal";
export type WindowState = "OPEN" | "CLOSING" | "AWAITING_APPROVALS" | "SETTLING" | "SETTLED" | "FAILED";

export interface SettlementWindowsTable {
  id: string;
  currency: string;
  sequence: number;
  state: WindowState;
  /** 0 at close; each recomputation after banks were excluded for not approving adds one. */
  round: number;
  opened_at: number;
  closes_at: number;
  closed_at: number | null;
  approval_deadline: number | null;
  /** JSON array of the BICs excluded for not approving in time. */
  excluded_bics: string;
  payments_root: string | null;
  /** JSON: the round's net positions, [{bic, bank, token, amount}], in the contract's order. */
  positions: string | null;
  /** JSON: payments that wait for the next window, [{uetr, reason}]. */
  deferred: string | null;
  payment_count: number;
  gross_total: string;
  tx_hash: string | null;
  block_number: number | null;
  settled_at: number | null;
  failure_reason: string | null;
  updated_at: number;
}

export interface WindowPaymentsTable {
  window_id: string;
  uetr: string;
  leaf_index: number;
  leaf_hash: string;
  debtor: string;
  creditor: string;
  token: string;
}

export interface WindowApprovalsTable {
  window_id: string;
  round: number;
  bic: string;
  signature: string;
  created_at: number;
}

export interface PaymentStatusHistoryTable {
  id: string;
  uetr: string;
  status: PaymentStatus;
  reason: string | null;
  tx_hash: string | null;
  block_number: number | null;
  at: number;
}

export interface IdempotencyKeysTable {
  caller: string;
  key: string;
  request_hash: string;
  status_code: number;
  response_body: string;
  created_at: number;
}

export interface RiskDailyVolumesTable {
  bic: string;
  currency: string;
  day: string;
  amount: string;
}

/**
 * Per debtor bank and currency, the sum of its payments accepted but not yet locked on chain
 * (RECEIVED or SUBMITTED): what the funds check subtracts from the ledger balance. Kept by the
 * payment service in the transaction of each change, so the check reads one row.
 */
export interface UnlockedTotalsTable {
  bic: string;
  currency: string;
  amount: string;
}

export interface LedgerAccountsTable {
  id: string;
  kind: LedgerAccountKind;
  bic: string | null;
  currency: string;
  /** Whether debits may exceed credits (only the reserve, the contra account of token supply). */
  allow_negative: number;
  debits_posted: string;
  credits_posted: string;
  debits_pending: string;
  credits_pending: string;
  created_at: number;
}

export interface LedgerTransfersTable {
  id: string;
  kind: LedgerTransferKind;
  debit_account_id: string;
  credit_account_id: string;
  currency: string;
  amount: string;
  /** For post_pending / void_pending: the pending transfer it resolves (unique: resolved once). */
  pending_id: string | null;
  uetr: string | null;
  reference: string | null;
  created_at: number;
}

export interface ChainIntentsTable {
  id: string;
  kind: ChainIntentKind;
  uetr: string;
  payload: string;
  status: ChainIntentStatus;
  attempts: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  tx_hash: string | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface ChainTransactionsTable {
  hash: string;
  signer: string;
  nonce: number;
  /** The signed transaction, kept so that it can be rebroadcast after a crash. */
  raw: string;
  intent_ids: string;
  max_fee_per_gas: string;
  max_priority_fee_per_gas: string;
  sent_at: number;
}

export interface SignerNoncesTable {
  signer: string;
  next_nonce: number;
}

export interface IndexerBlocksTable {
  number: number;
  hash: string;
  parent_hash: string;
}

export interface ChainEventsTable {
  id: string;
  block_number: number;
  block_hash: string;
  tx_hash: string;
  log_index: number;
  name: string;
  uetr: string | null;
  args: string;
  /** The block's timestamp in epoch milliseconds (null for events indexed before it was kept). */
  block_time: number | null;
  /** For events that carry them (Locked, Minted, Burned): amount in minor units and token address. */
  amount: string | null;
  token: string | null;
}

export interface WebhookDeliveriesTable {
  id: string;
  bic: string;
  event_type: string;
  payload: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  next_attempt_at: number;
  lease_until: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

/** One camt.053 statement or camt.054 notification, as imported; the id is derived from its content's identity. */
export interface StatementsTable {
  id: string;
  kind: StatementKind;
  message_id: string;
  statement_id: string;
  account_id: string;
  account_currency: string | null;
  servicer_bic: string | null;
  created_at: number;
  from_date: string | null;
  to_date: string | null;
  /** Signed minor units (a debit balance is negative); dates are YYYY-MM-DD. */
  opening_balance: string | null;
  opening_date: string | null;
  closing_balance: string | null;
  closing_date: string | null;
  content_hash: string;
  imported_by: string;
  imported_at: number;
}

export interface StatementEntriesTable {
  id: string;
  statement_id: string;
  account_id: string;
  entry_ref: string | null;
  acct_svcr_ref: string | null;
  uetr: string | null;
  end_to_end_id: string | null;
  instr_id: string | null;
  tx_id: string | null;
  tx_acct_svcr_ref: string | null;
  /** Unsigned minor units; the direction is credit_debit. */
  amount: string;
  currency: string;
  credit_debit: CreditDebit;
  status: string;
  booking_date: string | null;
  value_date: string | null;
  /** Domain/Family/SubFamily, or `Prtry:<code>` for a proprietary code. */
  bank_tx_code: string | null;
  is_charge: number;
  reversal: number;
  counterparty_bic: string | null;
  imported_at: number;
}

export interface FundsMovementsTable {
  id: string;
  direction: FundsDirection;
  bic: string;
  currency: string;
  amount: string;
  statement_entry_id: string | null;
  status: FundsMovementStatus;
  status_reason: string | null;
  requested_by: string;
  approved_by: string | null;
  tx_hash: string | null;
  created_at: number;
  updated_at: number;
}

export interface PaymentReturnsTable {
  return_uetr: string;
  original_uetr: string;
  return_id: string;
  reason: string;
  requested_by: string;
  created_at: number;
}

export interface ReconRunsTable {
  id: string;
  from_date: string;
  to_date: string;
  /** JSON array of currency codes (empty: all). */
  currencies: string;
  status: ReconRunStatus;
  /** JSON object of the run's counts. */
  counts: string | null;
  error: string | null;
  requested_by: string;
  started_at: number;
  finished_at: number | null;
}

export interface ReconBreaksTable {
  /** A hash of the keys, not of the class: the same item keeps its id when its class changes. */
  id: string;
  class: string;
  status: BreakStatus;
  keys: string;
  currency: string | null;
  details: string;
  first_run_id: string;
  last_run_id: string;
  first_seen_at: number;
  last_seen_at: number;
  resolved_at: number | null;
  resolved_by: string | null;
  resolution_note: string | null;
}

export interface ReconBreakHistoryTable {
  id: string;
  break_id: string;
  run_id: string | null;
  action: string;
  class: string;
  status: BreakStatus;
  note: string | null;
  actor: string;
  at: number;
}

/** A provider bank's rate for one pair: `rate` target (quote) major units per base major unit. */
export interface FxRatesTable {
  provider_bic: string;
  base: string;
  quote: string;
  /** An exact decimal string ("187.25"); the payer's rate is this less spread_bps basis points. */
  rate: string;
  spread_bps: number;
  valid_from: number;
  valid_until: number;
  updated_at: number;
}

/** A quote given to a paying bank: open until one payment uses it (used_by, its UETR) or it expires. */
export interface FxQuotesTable {
  id: string;
  key_id: string;
  bic: string;
  provider_bic: string;
  /** Which amount the bank asked for exactly; the other one was converted. */
  fixed_side: FxQuoteSide;
  source_currency: string;
  source_amount: string;
  target_currency: string;
  target_amount: string;
  posted_rate: string;
  spread_bps: number;
  /** The client rate: posted_rate less the spread. */
  rate: string;
  fee_amount: string;
  fee_currency: string;
  expires_at: number;
  status: FxQuoteStatus;
  used_by: string | null;
  used_at: number | null;
  created_at: number;
}

/** The two legs of a cross-currency payment, settled together by SettlementEscrow.settlePvP. */
export interface PvpLinksTable {
  /** The debtor bank's leg (debtor -> provider, source currency): the UETR the client chose. */
  uetr_a: string;
  /** The provider's leg (provider -> creditor bank, target currency). */
  uetr_b: string;
  quote_id: string;
  provider_bic: string;
  /** The bank the payment is for: leg B's creditor (leg A's creditor is the provider). */
  creditor_bic: string;
  created_at: number;
}

export interface Database {
  participants: ParticipantsTable;
  api_keys: ApiKeysTable;
  payments: PaymentsTable;
  payment_status_history: PaymentStatusHistoryTable;
  idempotency_keys: IdempotencyKeysTable;
  risk_daily_volumes: RiskDailyVolumesTable;
  unlocked_totals: UnlockedTotalsTable;
  ledger_accounts: LedgerAccountsTable;
  ledger_transfers: LedgerTransfersTable;
  chain_intents: ChainIntentsTable;
  chain_transactions: ChainTransactionsTable;
  signer_nonces: SignerNoncesTable;
  indexer_blocks: IndexerBlocksTable;
  chain_events: ChainEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  statements: StatementsTable;
  statement_entries: StatementEntriesTable;
  funds_movements: FundsMovementsTable;
  payment_returns: PaymentReturnsTable;
  recon_runs: ReconRunsTable;
  recon_breaks: ReconBreaksTable;
  recon_break_history: ReconBreakHistoryTable;
  fx_rates: FxRatesTable;
  fx_quotes: FxQuotesTable;
  pvp_links: PvpLinksTable;
  settlement_windows: SettlementWindowsTable;
  window_payments: WindowPaymentsTable;
  window_approvals: WindowApprovalsTable;
}
