import { task, subtask, types } from "hardhat/config";
import { TASK_NODE, TASK_NODE_SERVER_READY } from "hardhat/builtin-tasks/task-names";
import type { HardhatRuntimeEnvironment } from "hardhat/types";

type ReadyHook = (hre: HardhatRuntimeEnvironment, url: string) => Promise<void>;

let whenNodeReady: ReadyHook | undefined;

task("start", "Starts a local Corridor network: JSON-RPC node, deployed contracts, funded demo banks")
  .addOptionalParam("hostname", "Interface the JSON-RPC server listens on", "127.0.0.1")
  .addOptionalParam("port", "Port of the JSON-RPC server", 8545, types.int)
  .setAction(async (args: { hostname: string; port: number }, hre) => {
    if (hre.network.name !== "hardhat") {
      throw new Error(`"start" runs its own local node; drop --network (got ${hre.network.name})`);
    }
    // Loaded lazily: the demo imports typechain-types, which exist only after the first compile.
    const { startDemoNetwork } = await import("../scripts/lib/start-demo");
    whenNodeReady = startDemoNetwork;
    await hre.run(TASK_NODE, { hostname: args.hostname, port: args.port });
  });

subtask(TASK_NODE_SERVER_READY).setAction(
  async (args: { address: string; port: number }, hre, runSuper) => {
    await runSuper(args);
    if (whenNodeReady) await whenNodeReady(hre, `http://${args.address}:${args.port}`);
  },
);
