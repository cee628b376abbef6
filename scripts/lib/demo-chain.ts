import { JsonRpcProvider, type HDNodeWallet, type Wallet } from "ethers";
import { formatUnits } from "ethers";
import { connectCorridor } from "../../server/chain/contracts";
import { currencyExponent, majorToMinorUnits } from "../../server/config/currencies";
import { deployCorridor, writeDeploymentRecord, type CorridorContracts, type DeploymentRecord } from "./deploy";
import { DEFAULT_DEMO_LIMITS, DEMO_BANKS, DEMO_CURRENCIES, demoWallets, fundWithGas, setUpDemoBanks } from "./demo";
import { readDeployment, writeDeployment, type DemoState } from "./demo-state";

/**
 * The demo's contracts and banks on a chain: deployed and set up on a first start, or found again
 * (the deployment beside the database, its contracts still on the chain) on a later one.
 */
export interface DemoChain {
  provider: JsonRpcProvider;
  operator: Wallet;
  banks: HDNodeWallet[];
  record: DeploymentRecord;
  contracts: CorridorContracts;
  /** False when this start deployed and set up everything. */
  reused: boolean;
}

/** The previous run's contracts are not on the chain (another chain, or it was reset). */
export class MissingDeploymentError extends Error {}

export async function openDemoChain(options: {
  rpcUrl: string;
  operatorKey: string;
  state: DemoState;
  reuse: boolean;
  log: (line: string) => void;
}): Promise<DemoChain> {
  const { rpcUrl, state, log } = options;
  // No response cache: ethers' default would hand back a stale nonce between two transactions.
  const provider = new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1, pollingInterval: 250, batchStallTime: 0 });
  const { operator, banks } = demoWallets(provider, options.operatorKey);
  const chainId = (await provider.getNetwork()).chainId.toString();

  if (options.reuse) {
    const record = readDeployment(state);
    const code = record.chainId === chainId ? await provider.getCode(record.contracts.ParticipantRegistry) : "0x";
    if (code === "0x") throw new MissingDeploymentError(`the contracts of ${state.deployment} are not on chain ${chainId} at ${rpcUrl} (another chain, or it was reset)`);
    log(`\nCorridor: reusing the previous run (deployed ${record.deployedAt}; \`--fresh\` starts over)`);
    await writeDeploymentRecord(record); // deployments/<chainId>.json, for npx corridor and npm run deploy's readers
    return { provider, operator, banks, record, contracts: connectCorridor(record, operator), reused: true };
  }

  await fundWithGas(operator, banks.map((bank) => bank.address), (line) => log(`  ${line}`));
  log("\nCorridor: deploying contracts…");
  const { contracts, record } = await deployCorridor(operator, { currencies: DEMO_CURRENCIES, log: (line) => log(`  ${line}`) });
  await writeDeploymentRecord(record);
  const pairs = banks.map((signer, i) => ({ signer, bank: DEMO_BANKS[i] }));
  log(`Corridor: registering ${DEMO_BANKS.length} demo banks and minting ${DEFAULT_DEMO_LIMITS.balanceMajor} of each currency…`);
  await setUpDemoBanks(contracts, pairs, DEFAULT_DEMO_LIMITS, operator.address, (done, total, bank) =>
    log(`  registering banks ${done}/${total}: ${bank.bic} ${bank.name}, ${DEMO_CURRENCIES.length} currencies minted and approved`),
  );
  // Written last: a start interrupted before this point is not reused.
  writeDeployment(state, record);
  return { provider, operator, banks, record, contracts, reused: false };
}

/** The banks, their balances, the operator and the deployment, as the start prints them. */
export function describeDemoChain(chain: DemoChain, log: (line: string) => void): void {
  log("\nDemo banks (Hardhat's well-known development keys, accounts #1 to #6; never use them elsewhere):");
  for (const [i, bank] of DEMO_BANKS.entries()) log(`  ${bank.bic}  ${bank.country}  ${chain.banks[i].address}  ${bank.name}`);
  const each = DEMO_CURRENCIES.map((c) => `${formatUnits(majorToMinorUnits(DEFAULT_DEMO_LIMITS.balanceMajor, c), currencyExponent(c))} ${c}`);
  log(`  each ${chain.reused ? "was given" : "holds"} ${each.join(", ")}`);
  log(`Operator (admin, issuer, attester, settler, relay signer): ${chain.operator.address}`);
  log(`Deployment record: deployments/${chain.record.chainId}.json (chain ${chain.record.chainId}, from block ${chain.record.deployBlock})`);
}
