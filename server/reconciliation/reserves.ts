import type { Kysely } from "kysely";
import type { Database } from "../db/schema";
import { reserveAccountId } from "../ledger/service";
import type { BreakFinding } from "./types";

/**
 * Proof of reserves, per currency: the token's total supply on chain, the reserve bank account's
 * closing balance on its latest statement, and the ledger's reserve account (debited on every
 * mint, credited on every burn, so its debit balance is the supply the ledger expects) must be
 * equal. Any difference, or no statement at all, is a `reserve_mismatch` break keyed by currency.
 */

export interface ReserveFigures {
  tokenSupply: bigint;
  /** null when the reserve account has no statement with a closing balance. */
  statementBalance: bigint | null;
  statementDate: string | null;
  ledgerBalance: bigint;
}

/** The break for one currency's figures, or undefined when all three agree. */
export function reserveFinding(currency: string, figures: ReserveFigures, accountId: string, date: string): BreakFinding | undefined {
  const agree = figures.statementBalance === figures.tokenSupply && figures.ledgerBalance === figures.tokenSupply;
  if (agree) return undefined;
  return {
    key: `reserves:${currency}`,
    keys: { reserves: currency },
    class: "reserve_mismatch",
    currency,
    date,
    details: {
      reserveAccount: accountId,
      tokenSupply: figures.tokenSupply.toString(),
      statementBalance: figures.statementBalance?.toString() ?? null,
      statementDate: figures.statementDate,
      ledgerBalance: figures.ledgerBalance.toString(),
    },
  };
}

/** Reads the statement and ledger figures of one currency's reserve; the supply comes from the chain. */
export async function readReserveFigures(
  db: Kysely<Database>,
  currency: string,
  accountId: string,
  tokenSupply: (currency: string) => Promise<bigint>,
): Promise<ReserveFigures> {
  const [statement, ledger, supply] = await Promise.all([
    db
      .selectFrom("statements")
      .select(["closing_balance", "closing_date"])
      .where("account_id", "=", accountId)
      .where("closing_balance", "is not", null)
      .where("closing_date", "is not", null)
      .orderBy("closing_date", "desc")
      .orderBy("created_at", "desc")
      .limit(1)
      .executeTakeFirst(),
    db.selectFrom("ledger_accounts").select(["debits_posted", "credits_posted"]).where("id", "=", reserveAccountId(currency)).executeTakeFirst(),
    tokenSupply(currency),
  ]);
  return {
    tokenSupply: supply,
    statementBalance: statement ? BigInt(statement.closing_balance!) : null,
    statementDate: statement?.closing_date ?? null,
    ledgerBalance: ledger ? BigInt(ledger.debits_posted) - BigInt(ledger.credits_posted) : 0n,
  };
}
