/**
 * Deploys Corridor to the selected network and writes deployments/<chainId>.json.
 *   npx hardhat run scripts/deploy.ts                      (in-process Hardhat network)
 *   npx hardhat run scripts/deploy.ts --network localhost  (a node on 127.0.0.1:8545)
 *   RPC_URL=… DEPLOYER_PRIVATE_KEY=… npx hardhat run scripts/deploy.ts --network external
 * CURRENCIES (comma-separated ISO 4217 codes) and OPERATOR_ADDRESS (the relay's signer) are optional.
 */
import hre from "hardhat";
import { deployCorridor, writeDeploymentRecord } from "./lib/deploy";
import { DEMO_CURRENCIES } from "./lib/demo";

async function main(): Promise<void> {
  const [deployer] = await hre.ethers.getSigners();
  if (!deployer) throw new Error(`no deployer account on network ${hre.network.name}: set DEPLOYER_PRIVATE_KEY`);
  const currencies = process.env.CURRENCIES ? process.env.CURRENCIES.split(",").map((c) => c.trim()) : [...DEMO_CURRENCIES];
  const operator = process.env.OPERATOR_ADDRESS || undefined;
  console.log(`Deploying Corridor to ${hre.network.name} from ${deployer.address}`);
  const { record } = await deployCorridor(deployer, { currencies, operator, log: (line) => console.log(`  ${line}`) });
  console.log(`Wrote ${await writeDeploymentRecord(record)}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
