import type { Kysely } from "kysely";
import type { Signer } from "ethers";
import type { Dialect } from "../db/database";
import type { Database } from "../db/schema";
import type { PaymentService } from "../payments/types";

/** Each bank's room to pay in one token, as the chain reports it (minor units). */
export interface ChainRoom {
  /** Registered and active in the registry (a suspended bank makes settleWindow revert). */
  active: boolean;
  /** Zero where the bank's currency is not enabled (its debit would revert). */
  netDebitCap: bigint;
  balance: bigint;
  /** What the bank lets NettingSettlement pull. */
  allowance: bigint;
}

/** What the window service reads from the chain: standard eth_call only. */
export interface WindowChain {
  chainId: bigint;
  nettingAddress: string;
  tokenAddress(currency: string): string | undefined;
  roomOf(token: string, banks: readonly string[]): Promise<Map<string, ChainRoom>>;
}

export interface WindowContext {
  db: Kysely<Database>;
  dialect: Dialect;
  chain: WindowChain;
  payments: Pick<PaymentService, "requeueNet" | "settleNet" | "unsettleNet">;
  config: {
    /** How long a window stays open before the schedule closes it. */
    intervalMs: number;
    /** How long debtor banks have to approve a round. */
    approvalMs: number;
  };
  /** Banks whose approvals the relay signs itself (the demo's banks), by lower-case address. */
  approvers: ReadonlyMap<string, Signer>;
  now: () => number;
}
