import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { JsonRpcProvider, parseEther } from "ethers";
import { readDeployment, demoState } from "../../scripts/lib/demo-state";
import { call, freePort, npmStart, ROOT, spawnGroup, startSuite } from "./start-harness";

/** Hardhat's account #1: the first demo bank, Thames Bank. */
const THAMES = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

/** `npm start` with RPC_URL: the demo on a node that is not its own. */
describe("npm start on an external node (RPC_URL)", function () {
  startSuite(this);
  it("deploys to that node without starting one, gives a bank without ether gas money, and reuses it all on a second start", async () => {
    const nodePort = await freePort();
    const node = spawnGroup(path.join(ROOT, "node_modules/.bin/hardhat"), ["node", "--port", String(nodePort)], {});
    await node.waitFor(/Started HTTP and WebSocket JSON-RPC server/, 120_000);
    const rpcUrl = `http://127.0.0.1:${nodePort}`;
    const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
    await provider.send("hardhat_setBalance", [THAMES, "0x0"]);

    const database = path.join(mkdtempSync(path.join(tmpdir(), "corridor-start-external-")), "corridor.db");
    const env = { RPC_URL: rpcUrl, PORT: "0", DATABASE_URL: database };
    const unusedPort = await freePort();
    const demo = await npmStart(["--no-traffic", "--port", String(unusedPort)], env);
    expect(demo.rpcUrl).to.equal(rpcUrl);
    expect(demo.output()).to.contain(`sending 1 ETH of gas money to ${THAMES}`);
    expect(demo.output(), "no node of its own").not.to.contain("Hardhat JSON-RPC node at");
    expect(demo.output(), "the demo window settles on that node too").not.to.contain("Warning");
    const refused = await fetch(`http://127.0.0.1:${unusedPort}`, { method: "POST" }).then(() => "answered", (error: Error) => String(error.cause ?? error));
    expect(refused, `nothing listens on --port ${unusedPort}`).to.match(/ECONNREFUSED/);
    expect((await fetch(`${demo.relayUrl}/readyz`)).status).to.equal(200);
    const record = readDeployment(demoState(database));
    expect(await provider.getCode(record.contracts.ParticipantRegistry)).to.not.equal("0x");
    expect(await provider.getBalance(THAMES)).to.be.greaterThan(parseEther("0.5"));
    const before = await call<{ payments: unknown[] }>(demo.relayUrl, "/v1/payments?limit=200", demo.keys.treasury);
    expect(await demo.stop("SIGINT")).to.equal(0);

    const again = await npmStart(["--no-traffic"], env);
    expect(again.output()).to.contain("reusing the previous run");
    expect(again.output()).not.to.contain("deploying contracts");
    expect(again.keys).to.deep.equal(demo.keys);
    const after = await call<{ payments: unknown[] }>(again.relayUrl, "/v1/payments?limit=200", again.keys.treasury);
    expect(after.body.payments).to.deep.equal(before.body.payments);
    expect(readDeployment(demoState(database))).to.deep.equal(record);
    expect(await again.stop("SIGINT")).to.equal(0);
    provider.destroy();
    expect(await node.stop("SIGINT")).to.not.equal(undefined);
  });
});
