import { task, subtask, types } from "hardhat/config";
import { TASK_NODE, TASK_NODE_GET_PROVIDER, TASK_NODE_SERVER_READY } from "hardhat/builtin-tasks/task-names";
import type { DemoNetwork } from "../scripts/lib/start-demo";

/** The demo of the running `start` task; the node's subtasks below call into it. */
let demo: DemoNetwork | undefined;

task("start", "Starts a local Corridor network: JSON-RPC node, deployed contracts, funded demo banks, relay and demo traffic")
  .addOptionalParam("hostname", "Interface the JSON-RPC server listens on", "127.0.0.1")
  .addOptionalParam("port", "Port of the JSON-RPC server", 8545, types.int)
  .addFlag("noTraffic", "Send no demo payments")
  .addFlag("fresh", "Delete the previous run's database, keys and chain, and start over")
  .setAction(async (args: { hostname: string; port: number; noTraffic: boolean; fresh: boolean }, hre) => {
    if (hre.network.name !== "hardhat") {
      throw new Error(`"start" runs its own local node (or uses RPC_URL); drop --network (got ${hre.network.name})`);
    }
    // Loaded lazily: the demo imports typechain-types, which exist only after the first compile.
    const { prepareDemoNetwork } = await import("../scripts/lib/start-demo");
    demo = prepareDemoNetwork(hre, { traffic: !args.noTraffic, fresh: args.fresh });
    if (demo.externalRpcUrl) {
      // Another node serves the chain: none is started here (and nothing listens on --port).
      await demo.start(demo.externalRpcUrl);
      await new Promise<never>(() => undefined); // until Ctrl-C, whose handler exits
    }
    await hre.run(TASK_NODE, { hostname: args.hostname, port: args.port });
  });

// Before the node's JSON-RPC server listens: no one may send a transaction while its chain is replayed.
subtask(TASK_NODE_GET_PROVIDER).setAction(async (args, _hre, runSuper) => {
  const provider = await runSuper(args);
  if (demo) await demo.onNodeProvider(provider);
  return provider;
});

// Instead of Hardhat's list of its twenty accounts and keys: the demo prints the ones it uses.
subtask(TASK_NODE_SERVER_READY).setAction(async (args: { address: string; port: number }, hre, runSuper) => {
  if (!demo) return runSuper(args);
  const url = `http://${args.address}:${args.port}`;
  console.log(`Corridor: Hardhat JSON-RPC node at ${url}/ (chain ${hre.network.config.chainId})`);
  await demo.start(url);
});
