import type { Kysely } from "kysely";
import type { Database } from "../db/schema";
import { bankAccountId, nettingAccountId, type LedgerAccount, type LedgerService } from "../ledger/service";
import type { ParticipantService } from "../participants/service";
import { readReserveFigures } from "../reconciliation/reserves";
import { readPaymentStats, type PaymentStats } from "./stats";

/** A bank's standing in one currency: on chain, in the ledger, and against its net debit cap. */
export interface Position {
  bic: string;
  name: string;
  currency: string;
  /** null when the chain could not be asked. */
  onChain: bigint | null;
  posted: bigint;
  pendingDebits: bigint;
  pendingCredits: bigint;
  /** null when the chain could not be asked. */
  netDebitCap: bigint | null;
  /** Its net position from the net payments queued in windows not yet settled; negative: it owes. */
  projectedNet: bigint;
  /** Projected net debit over the cap in basis points; null without a positive cap. */
  capUsageBps: number | null;
}

/** Proof of reserves for one currency: the three figures that must agree. */
export interface ReserveStatus {
  currency: string;
  tokenSupply: bigint;
  reserveAccount: string | null;
  /** The reserve account's closing balance on its latest statement; null without one. */
  reserveBalance: bigint | null;
  statementDate: string | null;
  ledgerBalance: bigint;
  matched: boolean;
}

/** What treasury's dashboard reads: positions, reserves and payment statistics. */
export interface TreasuryService {
  positions(): Promise<Position[]>;
  reserves(): Promise<ReserveStatus[]>;
  paymentStats(range: { minutes: number }): Promise<PaymentStats>;
}

export interface TreasuryChain {
  currencies: readonly string[];
  balanceOf(address: string, currency: string): Promise<bigint>;
  netDebitCap(address: string, currency: string): Promise<bigint>;
  tokenSupply(currency: string): Promise<bigint>;
}

export function createTreasuryService(deps: {
  db: Kysely<Database>;
  ledger: LedgerService;
  participants: ParticipantService;
  chain: TreasuryChain;
  /** Per currency, the operator's reserve account at its bank (statements name it). */
  reserveAccounts: Record<string, string>;
  now?: () => number;
}): TreasuryService {
  const { db, ledger, participants, chain } = deps;
  const orNull = <T>(read: Promise<T>): Promise<T | null> => read.catch(() => null);

  return {
    async positions() {
      const [banks, accounts] = await Promise.all([participants.list(), ledger.listAccounts(db)]);
      const byId = new Map(accounts.map((account) => [account.id, account]));
      const cells = banks.flatMap((bank) => chain.currencies.map((currency) => ({ bank, currency })));
      return Promise.all(
        cells.map(async ({ bank, currency }): Promise<Position> => {
          const [onChain, netDebitCap] = await Promise.all([
            orNull(chain.balanceOf(bank.address, currency)),
            orNull(chain.netDebitCap(bank.address, currency)),
          ]);
          const account = byId.get(bankAccountId(bank.bic, currency));
          const projectedNet = pendingNet(byId.get(nettingAccountId(bank.bic, currency)));
          const owed = projectedNet < 0n ? -projectedNet : 0n;
          return {
            bic: bank.bic,
            name: bank.name,
            currency,
            onChain,
            posted: account ? account.creditsPosted - account.debitsPosted : 0n,
            pendingDebits: account?.debitsPending ?? 0n,
            pendingCredits: account?.creditsPending ?? 0n,
            netDebitCap,
            projectedNet,
            capUsageBps: netDebitCap !== null && netDebitCap > 0n ? Number((owed * 10_000n) / netDebitCap) : null,
          };
        }),
      );
    },

    async reserves() {
      return Promise.all(
        chain.currencies.map(async (currency): Promise<ReserveStatus> => {
          const reserveAccount = deps.reserveAccounts[currency] ?? null;
          const figures = await readReserveFigures(db, currency, reserveAccount ?? "", chain.tokenSupply);
          const reserveBalance = reserveAccount === null ? null : figures.statementBalance;
          return {
            currency,
            tokenSupply: figures.tokenSupply,
            reserveAccount,
            reserveBalance,
            statementDate: reserveAccount === null ? null : figures.statementDate,
            ledgerBalance: figures.ledgerBalance,
            matched: reserveBalance === figures.tokenSupply && figures.ledgerBalance === figures.tokenSupply,
          };
        }),
      );
    },

    paymentStats: (range) => readPaymentStats(db, { minutes: range.minutes, now: (deps.now ?? Date.now)() }),
  };
}

/** A netting account holds only pending obligations until its window settles. */
function pendingNet(account: LedgerAccount | undefined): bigint {
  return account ? account.creditsPending - account.debitsPending : 0n;
}

