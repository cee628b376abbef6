/**
 * The relay's tables, one interface per table. Amounts are decimal digit strings of minor units
 * (converted to bigint in code, never summed in SQL); times are epoch milliseconds. Ids are chosen
 * by the writer (UUIDs or derived keys), so retries are safe and both dialects behave the same.
 */
export type ParticipantStatus = "active" | "suspended";
export type ApiKeyRole = "bank" | "treasury" | "admin";
export type PaymentStatus = "RECEIVED" | "SUBMITTED" | "LOCKED" | "SETTLED" | "CANCELLED" | "REFUNDED" | "REJECTED";
export type LedgerAccountKind = "bank" | "reserve" | "fee";
export type LedgerTransferKind = "posted" | "pending" | "post_pending" | "void_pending";
export type ChainIntentKind = "lock" | "release" | "refund";
export type ChainIntentStatus = "pending" | "sent" | "done" | "failed";
export type WebhookDeliveryStatus = "pending" | "delivered" | "dead";

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
  expires_at: number;
  status: PaymentStatus;
  status_reason: string | null;
  created_at: number;
  updated_at: number;
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
}
