import { DemoApiError, type DemoApi } from "./demo-api";
import { reserveStatementXml } from "./demo-iso20022";

/**
 * Proof of reserves in the demo. Every deposit token is backed 1:1 by money in the operator's
 * reserve account for its currency; the relay compares each token's supply with that account's
 * closing balance on its latest camt.053 statement (server/reconciliation/reserves.ts). The demo
 * invents the reserve accounts and, at each start, the custodian's end-of-day statement of each
 * one, with a closing balance equal to the token supply, so the reserves show as matched.
 */

/**
 * One invented GB IBAN per currency (bank code CRDR, sort code 409912, the currency's ISO 4217
 * number as account number), with valid check digits so that IBAN validation accepts them.
 */
export const DEMO_RESERVE_ACCOUNTS: Readonly<Record<string, string>> = {
  GBP: "GB34CRDR40991200000826",
  EUR: "GB04CRDR40991200000978",
  USD: "GB44CRDR40991200000840",
  CNY: "GB82CRDR40991200000156",
  HKD: "GB50CRDR40991200000344",
  JPY: "GB15CRDR40991200000392",
};

/** The RESERVE_ACCOUNTS setting naming the demo's accounts: "GBP=GB34…,EUR=…". */
export function demoReserveAccountsSetting(currencies: readonly string[]): string {
  return currencies.map((currency) => `${currency}=${DEMO_RESERVE_ACCOUNTS[currency]}`).join(",");
}

/**
 * Posts today's statement of each demo reserve account named in `accounts` (the relay's
 * RESERVE_ACCOUNTS), its closing balance the token's supply, as treasury would import the
 * custodian's file. A currency whose account is not the demo's own is left alone: the demo does
 * not invent statements for a real account. Returns the currencies stated.
 */
export async function publishReserveStatements(options: {
  api: DemoApi;
  treasuryKey: string;
  accounts: Readonly<Record<string, string>>;
  supply: (currency: string) => Promise<bigint>;
  now?: Date;
}): Promise<string[]> {
  const now = options.now ?? new Date();
  const stated: string[] = [];
  for (const [currency, account] of Object.entries(options.accounts)) {
    if (DEMO_RESERVE_ACCOUNTS[currency] !== account) continue;
    const xml = reserveStatementXml({ account, currency, closingBalance: await options.supply(currency), date: now.toISOString().slice(0, 10), createdAt: now });
    try {
      await options.api("POST", "/v1/statements", options.treasuryKey, xml, { xml: true });
    } catch (error) {
      // Today's statement of this balance is there from an earlier start (with another CreDtTm).
      if (!(error instanceof DemoApiError && error.code === "statement_conflict")) throw error;
    }
    stated.push(currency);
  }
  return stated;
}
