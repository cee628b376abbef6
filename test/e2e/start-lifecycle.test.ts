import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { JsonRpcProvider } from "ethers";
import { DepositToken__factory } from "../../typechain-types";
import { DEMO_BANKS } from "../../scripts/lib/demo";
import type { DeploymentRecord } from "../../scripts/lib/deploy";
import { demoState } from "../../scripts/lib/demo-state";
import { eventually } from "../support/eventually";
import { call, errorOutput, freePort, npmSpawn, npmStart, type StartedDemo, startSuite } from "./start-harness";

interface PaymentJson {
  uetr: string;
  endToEndId: string;
  status: string;
  settlement: string;
}

/**
 * `npm start` three times on one database: a first start (no traffic) that stops on Ctrl-C, a
 * second that replays its chain and reuses its database and keys, and a third with --fresh.
 */
describe("npm start: Ctrl-C, a second start that reuses the run, and --fresh", function () {
  startSuite(this);
  const database = path.join(mkdtempSync(path.join(tmpdir(), "corridor-start-lifecycle-")), "corridor.db");
  const env = { PORT: "0", DATABASE_URL: database };
  const state = demoState(database);
  let first: { keys: StartedDemo["keys"]; payment: string; balances: bigint[]; blockHash: string; blockNumber: number } | undefined;

  const payAndSettle = async (demo: StartedDemo, endToEndId: string) => {
    const created = await call<PaymentJson>(demo.relayUrl, "/v1/payments", demo.keys.banks.THMSGB2LXXX, {
      method: "POST",
      idempotencyKey: randomUUID(),
      body: { endToEndId, debtorAgent: { bic: "THMSGB2LXXX" }, creditorAgent: { bic: "HDSNUS33XXX" }, amount: { value: "125000", currency: "USD" } },
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    return eventually(async () => {
      const { body } = await call<PaymentJson>(demo.relayUrl, `/v1/payments/${created.body.uetr}`, demo.keys.treasury);
      return body.status === "SETTLED" ? body : undefined;
    }, 60_000, `${endToEndId} to settle`);
  };
  const payments = async (demo: StartedDemo, key: string) => {
    const res = await call<{ payments: PaymentJson[] }>(demo.relayUrl, "/v1/payments?limit=200", key);
    expect(res.status).to.equal(200);
    return res.body.payments;
  };

  it("`npm start -- --no-traffic` comes up, answers /readyz and stops cleanly on SIGINT", async () => {
    const demo = await npmStart(["--no-traffic", "--port", String(await freePort())], env);
    const ready = await fetch(`${demo.relayUrl}/readyz`);
    expect(ready.status).to.equal(200);
    expect(((await ready.json()) as { status: string }).status).to.equal("ready");
    expect(demo.output()).to.contain(`Dashboard      ${demo.relayUrl}/dashboard/`);
    expect(demo.output()).not.to.match(/Demo traffic/);

    const payment = await payAndSettle(demo, "LIFECYCLE-1");
    const provider = new JsonRpcProvider(demo.rpcUrl, undefined, { staticNetwork: true });
    const blockNumber = await provider.getBlockNumber();
    const blockHash = (await provider.getBlock(blockNumber))!.hash!;
    provider.destroy();
    first = { keys: demo.keys, payment: payment.uetr, balances: await tokenBalances(demo), blockHash, blockNumber };

    expect(await demo.stop("SIGINT")).to.equal(0);
    expect(demo.output()).to.contain("Corridor stopped.");
    expect(errorOutput(demo), "nothing on stderr").to.equal("");
  });

  it("a second start replays the chain to the same blocks and reuses the database and the keys", async () => {
    expect(first, "the first start ran").to.not.equal(undefined);
    const demo = await npmStart(["--no-traffic", "--port", String(await freePort())], env);
    const output = demo.output();
    expect(output).to.match(/replaying the previous run's chain, \d+ blocks/);
    expect(output).to.contain("reusing the previous run");
    expect(output, "no redeployment").not.to.contain("deploying contracts");
    expect(demo.keys).to.deep.equal(first!.keys);

    const provider = new JsonRpcProvider(demo.rpcUrl, undefined, { staticNetwork: true });
    expect((await provider.getBlock(first!.blockNumber))!.hash, "the same block hash").to.equal(first!.blockHash);
    provider.destroy();
    expect(await tokenBalances(demo), "the same balances").to.deep.equal(first!.balances);

    const before = await payments(demo, first!.keys.treasury);
    const earlier = before.find((p) => p.uetr === first!.payment);
    expect(earlier?.status, "the first start's payment").to.equal("SETTLED");
    expect(before.filter((p) => /^DEMO-NET-\d+$/.test(p.endToEndId) && p.status === "SETTLED"), "the demo window's payments").to.have.length(12);
    // The relay carries on on the replayed chain.
    await payAndSettle(demo, "LIFECYCLE-2");

    expect(await demo.stop("SIGTERM")).to.equal(0);
    expect(errorOutput(demo)).to.equal("");
  });

  it("stops with a message pointing at --fresh when the journal no longer replays to the same blocks", async () => {
    const lines = readFileSync(state.journal, "utf8").trimEnd().split("\n");
    const last = JSON.parse(lines[lines.length - 1]) as { n: number; t: number };
    lines[lines.length - 1] = JSON.stringify({ ...last, t: last.t + 1 });
    writeFileSync(state.journal, lines.join("\n") + "\n");
    const demo = npmSpawn(["--no-traffic", "--port", String(await freePort())], env);
    expect(await demo.exited).to.equal(1);
    expect(errorOutput(demo)).to.contain(`Corridor could not start: the previous run's chain could not be replayed: replayed block ${last.n} has hash`);
    expect(errorOutput(demo)).to.contain("`npm start -- --fresh` starts over");
    expect(errorOutput(demo), "no stack trace").not.to.match(/^\s+at /m);
  });

  it("--fresh starts over: a new chain and database, and the old keys are refused", async () => {
    expect(first, "the first start ran").to.not.equal(undefined);
    const demo = await npmStart(["--fresh", "--no-traffic", "--port", String(await freePort())], env);
    expect(demo.output()).to.contain("--fresh: the previous run's database, keys and chain are deleted");
    expect(demo.output()).to.contain("deploying contracts");
    expect(demo.keys.treasury).to.not.equal(first!.keys.treasury);
    const old = await call(demo.relayUrl, "/v1/payments", first!.keys.treasury);
    expect(old.status, "the old treasury key").to.equal(401);
    const oldBank = await call(demo.relayUrl, "/v1/payments", first!.keys.banks.THMSGB2LXXX);
    expect(oldBank.status, "an old bank key").to.equal(401);
    const list = await payments(demo, demo.keys.treasury);
    expect(list.map((p) => p.uetr)).not.to.include(first!.payment);
    expect(await demo.stop("SIGINT")).to.equal(0);
  });

  /** Every demo bank's balance of every token, read on the node the demo runs. */
  async function tokenBalances(demo: StartedDemo): Promise<bigint[]> {
    const record = JSON.parse(readFileSync(state.deployment, "utf8")) as DeploymentRecord;
    const provider = new JsonRpcProvider(demo.rpcUrl, undefined, { staticNetwork: true });
    try {
      const participants = await call<{ participants: { bic: string; address: string }[] }>(demo.relayUrl, "/v1/participants", demo.keys.treasury);
      const addresses = DEMO_BANKS.map((bank) => participants.body.participants.find((p) => p.bic === bank.bic)!.address);
      const balances: bigint[] = [];
      for (const token of Object.values(record.contracts.tokens)) {
        for (const address of addresses) balances.push(await DepositToken__factory.connect(token, provider).balanceOf(address));
      }
      return balances;
    } finally {
      provider.destroy();
    }
  }
});
