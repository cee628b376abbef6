import hre, { network } from "hardhat";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import type { JsonRpcServer } from "hardhat/types";
import { Wallet, parseEther } from "ethers";
import type { CorridorFixture } from "../contracts/fixtures";

/** Shared setup of the chain workers' tests (submitter, funds). */

/**
 * The relay's operator: a plain ethers Wallet (local signing) funded by the fixture's admin. Its
 * transactions reach the chain only through standard JSON-RPC.
 */
export interface OperatorFixture extends CorridorFixture {
  operator: Wallet;
}

/** The fixture with a funded operator of the given private key; the caller grants its roles. */
export async function withFundedOperator(f: CorridorFixture, privateKey: string): Promise<OperatorFixture> {
  const operator = new Wallet(privateKey);
  await (await f.admin.sendTransaction({ to: operator.address, value: parseEther("100") })).wait();
  return { ...f, operator };
}

/**
 * Serves the in-process network over HTTP for the enclosing describe block, so that the workers use
 * it as a standard JSON-RPC client uses any node. The URL is known once the block's `before` ran.
 */
export function serveNetworkOverHttp(): { url(): string } {
  let server: JsonRpcServer;
  let url = "";
  before(async function () {
    server = await hre.run(TASK_NODE_CREATE_SERVER, { hostname: "127.0.0.1", port: 0, provider: network.provider });
    url = `http://127.0.0.1:${(await server.listen()).port}`;
  });
  after(async () => server.close());
  return { url: () => url };
}
