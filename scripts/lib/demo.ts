import { HDNodeWallet, MaxUint256, Wallet, id, parseEther, type Provider, type Signer } from "ethers";
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

/** Hardhat's default test mnemonic: its accounts #1 to #6 are the demo banks on any chain. */
export const HARDHAT_TEST_MNEMONIC = "test test test test test test test test test test test junk";

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
 * tokens on redemption (funds-out), without limit. `progress` is told after each bank.
 */
export async function setUpDemoBanks(
  contracts: CorridorContracts,
  banks: readonly { signer: Signer; bank: DemoBank }[],
  limits: DemoLimits = DEFAULT_DEMO_LIMITS,
  operator?: string,
  progress?: (done: number, total: number, bank: DemoBank) => void,
): Promise<void> {
  const { registry, escrow, netting, tokens } = contracts;
  for (const [index, { signer, bank }] of banks.entries()) {
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
    progress?.(index + 1, banks.length, bank);
  }
}

/**
 * The operator (OPERATOR_PRIVATE_KEY, else Hardhat's account #0) and the demo banks (accounts #1
 * to #6 of Hardhat's test mnemonic) as wallets on `provider`: the same accounts on the embedded
 * node and on any other chain.
 */
export function demoWallets(provider: Provider, operatorKey: string = HARDHAT_ACCOUNT_0_KEY): { operator: Wallet; banks: HDNodeWallet[] } {
  const root = HDNodeWallet.fromPhrase(HARDHAT_TEST_MNEMONIC, undefined, "m/44'/60'/0'/0");
  const banks = DEMO_BANKS.map((_bank, i) => root.deriveChild(i + 1).connect(provider));
  return { operator: new Wallet(operatorKey, provider), banks };
}

/** On a chain other than the embedded node, a demo bank may have no ether: the operator sends it some gas money. */
export async function fundWithGas(operator: Signer, accounts: readonly string[], log: (line: string) => void): Promise<void> {
  const provider = operator.provider!;
  for (const account of accounts) {
    if ((await provider.getBalance(account)) >= parseEther("0.1")) continue;
    log(`sending 1 ETH of gas money to ${account}`);
    await (await operator.sendTransaction({ to: account, value: parseEther("1") })).wait();
  }
}

/** A bank lets the relay's signer lock its tokens in escrow and burn them when it redeems. */
export async function allowRelayOperator(bank: Signer, contracts: { escrow: CorridorContracts["escrow"]; token: CorridorContracts["tokens"][string] }, operator: string): Promise<void> {
  await (await contracts.escrow.connect(bank).setOperatorAllowance(operator, contracts.token, MaxUint256)).wait();
  await (await contracts.token.connect(bank).approve(operator, MaxUint256)).wait();
}
