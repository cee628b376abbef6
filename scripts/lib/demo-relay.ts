import type { Signer } from "ethers";
import type { CorridorContracts } from "./deploy";
import type { DemoBank } from "./demo";
import type { Relay } from "../../server/relay";
import { bankAccountId, reserveAccountId } from "../../server/ledger/service";

export interface DemoKeys {
  banks: Record<string, string>;
  treasury: string;
  admin: string;
}

/**
 * Registers the demo banks with a running relay, opens their ledger accounts with the balances
 * they hold on chain (posted from each currency's reserve account, as a funds-in would), and
 * creates an API key per bank plus a treasury and an admin key.
 */
export async function provisionDemoRelay(
  relay: Relay,
  contracts: CorridorContracts,
  banks: readonly { signer: Signer; bank: DemoBank }[],
): Promise<DemoKeys> {
  const { db } = relay.database;
  const keys: DemoKeys = { banks: {}, treasury: "", admin: "" };
  for (const { signer, bank } of banks) {
    const address = await signer.getAddress();
    const registered = await relay.participants.register({ bic: bank.bic, name: bank.name, country: bank.country, address });
    if (!registered.ok && registered.code !== "participant_exists") throw new Error(`${bank.bic}: ${registered.message}`);
    for (const [currency, token] of Object.entries(contracts.tokens)) {
      const balance = await token.balanceOf(address);
      if (balance === 0n) continue;
      await db.transaction().execute(async (trx) => {
        await relay.ledger.ensureAccount(trx, { id: reserveAccountId(currency), kind: "reserve", bic: null, currency });
        const opened = await relay.ledger.createTransfer(trx, {
          id: `opening:${bank.bic}:${currency}`,
          phase: "posted",
          debitAccountId: reserveAccountId(currency),
          creditAccountId: bankAccountId(bank.bic, currency),
          amount: balance,
          reference: "opening balance from chain",
        });
        if (!opened.ok) throw new Error(`${bank.bic} ${currency}: ${opened.message}`);
      });
    }
    keys.banks[bank.bic] = await newKey(relay, { role: "bank", bic: bank.bic, label: `${bank.name} (demo)` });
  }
  keys.treasury = await newKey(relay, { role: "treasury", label: "Treasury (demo)" });
  keys.admin = await newKey(relay, { role: "admin", label: "Admin (demo)" });
  return keys;
}

async function newKey(relay: Relay, input: { role: "bank" | "treasury" | "admin"; bic?: string; label: string }): Promise<string> {
  const created = await relay.auth.createKey(input);
  if (!created.ok) throw new Error(`${input.label}: ${created.message}`);
  return created.value.key;
}
