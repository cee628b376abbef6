import { rmSync } from "node:fs";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { formatUnits } from "ethers";
import { deployCorridor, writeDeploymentRecord } from "./deploy";
import { DEFAULT_DEMO_LIMITS, DEMO_BANKS, DEMO_CURRENCIES, HARDHAT_ACCOUNT_0_KEY, setUpDemoBanks } from "./demo";
import { provisionDemoRelay } from "./demo-relay";
import { runDemoWindow } from "./demo-window";
import { majorToMinorUnits, currencyExponent } from "../../server/config/currencies";
import { loadConfig } from "../../server/config/env";
import { startRelay } from "../../server/relay";

const DEFAULT_DATABASE = "./data/corridor.db";

/**
 * Deploys Corridor on the node that just started, sets up the demo banks, and runs the relay
 * against it, printing each step, the URLs and the demo API keys.
 */
export async function startDemoNetwork(hre: HardhatRuntimeEnvironment, rpcUrl: string): Promise<void> {
  const log = (line: string) => console.log(line);
  const [admin, ...others] = await hre.ethers.getSigners();
  const bankSigners = others.slice(0, DEMO_BANKS.length);

  // The node would log every JSON-RPC call and every empty block: the relay's own log says more.
  await hre.network.provider.send("hardhat_setLoggingEnabled", [false]);
  log("\nCorridor: deploying contracts…");
  const { contracts, record } = await deployCorridor(admin, { currencies: DEMO_CURRENCIES, log: (l) => log(`  ${l}`) });
  const file = await writeDeploymentRecord(record);

  log(`Corridor: registering ${DEMO_BANKS.length} demo banks and minting ${DEFAULT_DEMO_LIMITS.balanceMajor} of each currency…`);
  const banks = bankSigners.map((signer, i) => ({ signer, bank: DEMO_BANKS[i] }));
  await setUpDemoBanks(contracts, banks, DEFAULT_DEMO_LIMITS, admin.address);
  // A block a second, so that confirmation depths are reached while nothing else happens.
  await hre.network.provider.send("evm_setIntervalMining", [1_000]);

  log("\nDemo banks (Hardhat's well-known development keys, accounts #1 to #6; never use them elsewhere):");
  for (const [i, bank] of DEMO_BANKS.entries()) log(`  ${bank.bic}  ${bank.country}  ${bankSigners[i].address}  ${bank.name}`);
  const each = DEMO_CURRENCIES.map((c) => `${formatUnits(majorToMinorUnits(DEFAULT_DEMO_LIMITS.balanceMajor, c), currencyExponent(c))} ${c}`);
  log(`  each holds ${each.join(", ")}`);
  log(`Operator (admin, issuer, attester, settler, relay signer): ${admin.address} (account #0)`);
  log(`Deployment record: ${file} (chain ${record.chainId}, from block ${record.deployBlock})`);

  const config = loadConfig({
    DATABASE_URL: DEFAULT_DATABASE,
    CONFIRMATIONS: "1",
    AUTO_RELEASE: "true",
    OPERATOR_PRIVATE_KEY: HARDHAT_ACCOUNT_0_KEY,
    PORT: "3000",
    LOG_LEVEL: "warn",
    ...process.env,
    RPC_URL: rpcUrl,
  });
  // The chain is new at every start, so an old SQLite database would describe another chain.
  if (!/^postgres/.test(config.DATABASE_URL)) {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(config.DATABASE_URL.replace(/^sqlite:/, "") + suffix, { force: true });
  }
  log("\nCorridor: starting the relay (it signs the demo banks' settlement-window approvals: Hardhat's well-known dev keys)…");
  const relay = await startRelay(config, { deployment: record, windowApprovers: bankSigners });
  const keys = await provisionDemoRelay(relay, contracts, banks);

  log(`\nRelay API      ${relay.url}/v1   (database ${config.DATABASE_URL}, auto-release ${config.AUTO_RELEASE ? "on" : "off"})`);
  log(`API docs       ${relay.url}/docs   OpenAPI ${relay.url}/openapi.json`);
  log(`Health         ${relay.url}/readyz   metrics ${relay.url}/metrics`);
  log("\nDemo API keys (Authorization: Bearer <key>):");
  for (const bank of DEMO_BANKS) log(`  bank ${bank.bic}  ${keys.banks[bank.bic]}`);
  log(`  treasury          ${keys.treasury}`);
  log(`  admin             ${keys.admin}`);
  // The demo window is a show, not part of the network: if it fails, the network still runs.
  try {
    const demo = await runDemoWindow({ relayUrl: relay.url, keys, banks: DEMO_BANKS, netting: contracts.netting, log });
    if (!demo.proofVerified) console.warn("Warning: the demo window's inclusion proof did not verify on chain");
  } catch (error) {
    console.warn(`Warning: the demo settlement window did not complete: ${error instanceof Error ? error.message : String(error)}`);
  }
  log(`\nCorridor local network ready at ${rpcUrl}. Press Ctrl-C to stop.`);
}
