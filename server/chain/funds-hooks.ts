import type { Db } from "../db/database";

/**
 * What the chain workers tell the funds service (server/funds/) about its movements' mints and
 * burns. Every hook runs inside the worker's database transaction and must not commit on its own;
 * if it throws, the worker's whole step is rolled back and retried.
 *
 * - The indexer calls onMinted / onBurned exactly once per confirmed Minted / Burned event whose
 *   evidence names a movement (see evidence.ts), and, after a chain reorganization orphans such an
 *   event, unapplyMinted / unapplyBurned with the same observation (newest event first). The event
 *   comes back through onMinted / onBurned if the new chain has it.
 * - The submitter calls onChainFailed when it gives up on a movement's mint or burn intent: the
 *   token refused it for good (a malformed intent) or kept refusing it for every attempt.
 */

/** A confirmed Minted or Burned event of a funds movement. */
export interface FundsObservation {
  movementId: string;
  txHash: string;
  blockNumber: number;
  /** The deposit token's address, checksummed (EIP-55). */
  token: string;
  /** The holder credited (Minted) or debited (Burned), checksummed. */
  account: string;
  /** Minor units. */
  amount: bigint;
}

export interface FundsChainHooks {
  onMinted(db: Db, o: FundsObservation): Promise<boolean>;
  onBurned(db: Db, o: FundsObservation): Promise<boolean>;
  unapplyMinted(db: Db, o: FundsObservation): Promise<boolean>;
  unapplyBurned(db: Db, o: FundsObservation): Promise<boolean>;
  onChainFailed(db: Db, movementId: string, kind: "mint" | "burn", reason: string): Promise<void>;
}

/** For a relay without a funds service: its workers still record token events, and tell no one. */
export const ignoredFundsHooks: FundsChainHooks = {
  onMinted: async () => false,
  onBurned: async () => false,
  unapplyMinted: async () => false,
  unapplyBurned: async () => false,
  onChainFailed: async () => undefined,
};
