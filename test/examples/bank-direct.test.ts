import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { ethers } from "hardhat";
import { deployCorridorFixture, type CorridorFixture } from "../contracts/fixtures";
import { deploymentOf, startRpcServer } from "../e2e/relay-harness";
import { DEMO_CREDITOR_KEY, DEMO_DEBTOR_KEY, PaymentState, runBankDirect, type Deployment } from "../../scripts/examples/bank-direct";

const ROOT = path.resolve(__dirname, "../..");

/** Hardhat's development key of account `index` (the in-process network's signers). */
const devKey = (index: number) =>
  ethers.HDNodeWallet.fromPhrase("test test test test test test test test test test test junk", undefined, `m/44'/60'/0'/0/${index}`).privateKey;

/** The documented command, as a child process; resolves with its exit code and output. */
function runDocumentedCommand(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npx", ["ts-node", "scripts/examples/bank-direct.ts"], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("scripts/examples/bank-direct.ts: a bank locks and releases with its own key", function () {
  this.timeout(180_000);
  let f: CorridorFixture;
  let deployment: Deployment;

  before(async () => {
    f = await deployCorridorFixture();
    deployment = await deploymentOf(f);
  });

  it("uses the demo banks' keys by default: Hardhat accounts #1 and #2, the fixture's first two banks", () => {
    expect([DEMO_DEBTOR_KEY, DEMO_CREDITOR_KEY]).to.deep.equal([devKey(1), devKey(2)]);
    expect(new ethers.Wallet(DEMO_DEBTOR_KEY).address).to.equal(f.banks[0].address);
    expect(new ethers.Wallet(DEMO_CREDITOR_KEY).address).to.equal(f.banks[1].address);
  });

  it("locks under a hashlock, refuses a wrong preimage, releases to the creditor, and moves exactly the amount", async () => {
    const gbp = f.tokens.GBP;
    const amount = 98_765n;
    const [debtorBefore, creditorBefore] = await Promise.all([gbp.balanceOf(f.banks[0]), gbp.balanceOf(f.banks[1])]);
    const lines: string[] = [];
    const result = await runBankDirect({
      provider: ethers.provider,
      deployment,
      debtorKey: DEMO_DEBTOR_KEY,
      creditorKey: DEMO_CREDITOR_KEY,
      amount,
      log: (line) => lines.push(line),
    });

    expect(await gbp.balanceOf(f.banks[0])).to.equal(debtorBefore - amount);
    expect(await gbp.balanceOf(f.banks[1])).to.equal(creditorBefore + amount);
    expect(await gbp.balanceOf(f.escrow)).to.equal(0n);
    expect([result.stateAfterLock, result.stateAfterRelease]).to.deep.equal([PaymentState.Locked, PaymentState.Released]);
    expect(await f.escrow.paymentState(result.paymentId)).to.equal(PaymentState.Released);
    expect(result.wrongPreimageError).to.equal(`InvalidPreimage(${result.paymentId})`);

    // The chain's own record: one Locked event with the terms, one Released by the creditor.
    const [locked] = await f.escrow.queryFilter(f.escrow.filters.Locked(result.paymentId));
    expect(locked.transactionHash).to.equal(result.lockTx);
    expect(locked.args.payer).to.equal(f.banks[0].address);
    expect(locked.args.payee).to.equal(f.banks[1].address);
    expect(locked.args.amount).to.equal(amount);
    expect(locked.args.hashlock).to.equal(ethers.sha256(result.preimage));
    const [released] = await f.escrow.queryFilter(f.escrow.filters.Released(result.paymentId));
    expect(released.transactionHash).to.equal(result.releaseTx);
    expect(released.args.releasedBy).to.equal(f.banks[1].address);

    // A UETR settles once: the same release again meets the tombstone.
    await expect(f.escrow.connect(f.banks[1]).release(result.terms, result.preimage))
      .to.be.revertedWithCustomError(f.escrow, "PaymentAlreadyReleased")
      .withArgs(result.paymentId);
    expect(lines.join("\n")).to.match(/lock .* tx 0x[0-9a-f]{64}/).and.match(/release .* tx 0x[0-9a-f]{64}/);
  });

  it("approves the escrow first when the bank has not, and refuses banks the registry does not list", async () => {
    await (await f.tokens.JPY.connect(f.banks[2]).approve(f.escrow, 0n)).wait();
    const result = await runBankDirect({ provider: ethers.provider, deployment, debtorKey: devKey(3), creditorKey: DEMO_DEBTOR_KEY, currency: "JPY", amount: 7n });
    expect(result.amount).to.equal(7n);
    expect(await f.tokens.JPY.allowance(f.banks[2], f.escrow)).to.equal(0n, "the approval of exactly the amount was used up");

    const outsiderKey = devKey(5);
    expect(new ethers.Wallet(outsiderKey).address).to.equal(f.outsider.address);
    const refused = await runBankDirect({ provider: ethers.provider, deployment, debtorKey: outsiderKey, creditorKey: DEMO_CREDITOR_KEY }).then(
      () => undefined,
      (error: Error) => error.message,
    );
    expect(refused).to.match(/not an active participant/);
    const wrongChain = await runBankDirect({ provider: ethers.provider, deployment: { ...deployment, chainId: "1" }, debtorKey: DEMO_DEBTOR_KEY, creditorKey: DEMO_CREDITOR_KEY }).then(
      () => undefined,
      (error: Error) => error.message,
    );
    expect(wrongChain).to.match(/deployment is for chain 1/);
  });

  it("runs as the guide documents it (npx ts-node scripts/examples/bank-direct.ts) against a JSON-RPC server", async () => {
    const rpc = await startRpcServer();
    try {
      const file = path.join(mkdtempSync(path.join(tmpdir(), "corridor-bank-direct-")), "deployment.json");
      writeFileSync(file, JSON.stringify(deployment));
      const env = { RPC_URL: rpc.url, DEPLOYMENT_FILE: file };
      const before = await f.tokens.GBP.balanceOf(f.banks[1]);
      const run = await runDocumentedCommand(env);
      expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
      const lockTx = run.stdout.match(/^lock .* tx (0x[0-9a-f]{64})/m)?.[1];
      const uetr = run.stdout.match(/^state\s+([0-9a-f-]{36}): Released$/m)?.[1];
      expect(lockTx && uetr, run.stdout).to.be.a("string");
      expect(run.stdout).to.match(/^refused\s+a wrong preimage: InvalidPreimage\(0x[0-9a-f]{32}\)$/m);
      expect(await f.escrow.paymentState(`0x${uetr!.replace(/-/g, "")}`)).to.equal(PaymentState.Released);
      expect(await f.tokens.GBP.balanceOf(f.banks[1])).to.equal(before + 12_345n, "the default amount, 123.45 GBP");
      const receipt = await ethers.provider.getTransactionReceipt(lockTx!);
      expect(receipt?.status).to.equal(1);

      // A refusal is an exit code and a message, not a stack trace.
      const bad = await runDocumentedCommand({ ...env, AMOUNT: "12.50" });
      expect(bad.code).to.equal(1);
      expect(bad.stderr).to.match(/AMOUNT must be whole minor units/);
    } finally {
      await rpc.server.close();
    }
  });
});
