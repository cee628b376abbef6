import { subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig, SolcBuild } from "hardhat/types";
import "@nomicfoundation/hardhat-ethers";
import "@nomicfoundation/hardhat-chai-matchers";
import "@typechain/hardhat";
import "solidity-coverage";
import "./tasks/start";

const SOLC_VERSION = "0.8.28";

// No compiler may be downloaded here: always compile with the pinned solc-js from node_modules.
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }): Promise<SolcBuild> => {
  if (args.solcVersion !== SOLC_VERSION) {
    throw new Error(`only solc ${SOLC_VERSION} is available (from the solc npm package), asked for ${args.solcVersion}`);
  }
  const solcPackage = require("solc/package.json") as { version: string };
  if (solcPackage.version !== SOLC_VERSION) {
    throw new Error(`the solc npm package is ${solcPackage.version}; pin it to ${SOLC_VERSION}`);
  }
  return {
    version: SOLC_VERSION,
    longVersion: require("solc").version() as string,
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
  };
});

const rpcUrl = process.env.RPC_URL;
const deployerKey = process.env.DEPLOYER_PRIVATE_KEY;

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      optimizer: { enabled: true, runs: 10_000 },
      evmVersion: "cancun",
      viaIR: true,
    },
  },
  networks: {
    localhost: { url: "http://127.0.0.1:8545" },
    ...(rpcUrl ? { external: { url: rpcUrl, accounts: deployerKey ? [deployerKey] : [] } } : {}),
  },
  typechain: { outDir: "typechain-types", target: "ethers-v6" },
  mocha: { timeout: 120_000 },
};

export default config;
