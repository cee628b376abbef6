import { Router } from "express";
import type { LedgerAccount, LedgerService } from "../../ledger/service";
import type { ParticipantService } from "../../participants/service";
import type { Kysely } from "kysely";
import type { Database } from "../../db/schema";
import { callerOf } from "../middleware";

/** Reads a bank's token balance on chain; null when the chain cannot be asked right now. */
export type ChainBalanceReader = (address: string, currency: string) => Promise<bigint | null>;

function accountToJson(account: LedgerAccount, onChain: bigint | null) {
  const posted = account.creditsPosted - account.debitsPosted;
  return {
    id: account.id,
    kind: account.kind,
    bic: account.bic,
    currency: account.currency,
    posted: posted.toString(),
    pendingDebits: account.debitsPending.toString(),
    pendingCredits: account.creditsPending.toString(),
    available: (posted - account.debitsPending).toString(),
    onChain: onChain === null ? null : onChain.toString(),
  };
}

/** Ledger balances beside on-chain token balances; a bank sees only its own accounts. */
export function accountRoutes(deps: {
  db: Kysely<Database>;
  ledger: LedgerService;
  participants: ParticipantService;
  chainBalance: ChainBalanceReader;
}): Router {
  const router = Router();
  router.get("/", async (_req, res) => {
    const caller = callerOf(res);
    const accounts = await deps.ledger.listAccounts(deps.db, caller.role === "bank" ? { bic: caller.bic! } : {});
    const addresses = new Map((await deps.participants.list()).map((p) => [p.bic, p.address]));
    const rows = await Promise.all(
      accounts.map(async (account) => {
        // A bank account mirrors the bank's tokens; its netting account (window obligations) has no chain twin.
        const address = account.bic && account.kind === "bank" ? addresses.get(account.bic) : undefined;
        const onChain = address ? await deps.chainBalance(address, account.currency).catch(() => null) : null;
        return accountToJson(account, onChain);
      }),
    );
    res.json({ accounts: rows });
  });
  return router;
}
