import { MaxUint256, id, type Signer } from "ethers";
import type { CorridorContracts } from "./deploy";
import { majorToMinorUnits } from "../../server/config/currencies";

export interface DemoBank {
  name: string;
  bic: string;
  country: string;
}

/** Demo partner banks in six countries; invented BICs (no real institution uses them). */
export const DEMO_BANKS: readonly DemoBank[] = [
  { name: "Thames Bank", bic: "THMSGB2LXXX", country: "GB" },
  { name: "Rheinland Bank", bic: "RHNLDEFFXXX", country: "DE" },
  { name: "Hudson Trust", bic: "HDSNUS33XXX", country: "US" },
  { name: "Pearl River Bank", bic: "PRLRCNSHXXX", country: "CN" },
  { name: "Victoria Harbour Bank", bic: "VHBKHKHHXXX", country: "HK" },
  { name: "Sakura Shinkin", bic: "SKRAJPJTXXX", country: "JP" },
];

/** Hardhat's well-known development key of account #0 (public; only for the local network). */
export const HARDHAT_ACCOUNT_0_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

export const DEMO_CURRENCIES = ["GBP", "EUR", "USD", "CNY", "HKD", "JPY"] as const;

export interface DemoLimits {
  /** Whole currency units minted to every bank in every currency. */
  balanceMajor: bigint;
  singlePaymentCapMajor: bigint;
  netDebitCapMajor: bigint;
}

export const DEFAULT_DEMO_LIMITS: DemoLimits = {
  balanceMajor: 10_000_000n,
  singlePaymentCapMajor: 1_000_000n,
  netDebitCapMajor: 5_000_000n,
};

/**
 * Registers each bank signer under its demo BIC, enables every currency with caps, mints its
 * balances (evidence: a hash naming the demo mint) and approves the escrow and netting contracts.
 * With an `operator` (the relay's signer), each bank also lets it lock on its behalf and burn its
 * tokens on redemption (funds-out), without limit.
 */
export async function setUpDemoBanks(
  contracts: CorridorContracts,
  banks: readonly { signer: Signer; bank: DemoBank }[],
  limits: DemoLimits = DEFAULT_DEMO_LIMITS,
  operator?: string,
): Promise<void> {
  const { registry, escrow, netting, tokens } = contracts;
  for (const { signer, bank } of banks) {
    const account = await signer.getAddress();
    await (await registry.registerParticipant(account, bank.bic)).wait();
    for (const [currency, token] of Object.entries(tokens)) {
      const single = majorToMinorUnits(limits.singlePaymentCapMajor, currency);
      const net = majorToMinorUnits(limits.netDebitCapMajor, currency);
      await (await registry.setLimits(account, token, single, net)).wait();
      const balance = majorToMinorUnits(limits.balanceMajor, currency);
      await (await token.mint(account, balance, id(`demo-mint:${bank.bic}:${currency}`))).wait();
      await (await token.connect(signer).approve(escrow, MaxUint256)).wait();
      await (await token.connect(signer).approve(netting, MaxUint256)).wait();
      if (operator) await allowRelayOperator(signer, { escrow, token }, operator);
    }
  }
}

/** A bank lets the relay's signer lock its tokens in escrow and burn them when it redeems. */
export async function allowRelayOperator(bank: Signer, contracts: { escrow: CorridorContracts["escrow"]; token: CorridorContracts["tokens"][string] }, operator: string): Promise<void> {
  await (await contracts.escrow.connect(bank).setOperatorAllowance(operator, contracts.token, MaxUint256)).wait();
  await (await contracts.token.connect(bank).approve(operator, MaxUint256)).wait();
}
