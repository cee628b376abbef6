import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { JsonRpcProvider } from "ethers";
import { ParticipantRegistry__factory, DepositToken__factory, NettingSettlement__factory } from "../../typechain-types";
import { DEMO_BANKS, DEMO_CURRENCIES } from "../../scripts/lib/demo";
import { demoState, readDeployment } from "../../scripts/lib/demo-state";
import { eventually } from "../support/eventually";
import { freePort, ROOT, spawnGroup, startSuite } from "./start-harness";

const READY = /Corridor local network ready at (\S+)\./;
const RELAY = /Relay API\s+(\S+)\/v1/;
const DEMO_WINDOW = /settled\s+window (\S+) \(EUR #\d+\): (\d+) payments/;

describe("npm start (local network)", function () {
  startSuite(this);

  it("serves JSON-RPC with deployed contracts and funded demo banks, settles a demo window with proofs and the README's payment, and stops on SIGINT", async () => {
    const port = await freePort();
    const database = path.join(mkdtempSync(path.join(tmpdir(), "corridor-start-")), "corridor.db");
    const child = spawnGroup(path.join(ROOT, "node_modules/.bin/hardhat"), ["start", "--port", String(port)], { PORT: "0", DATABASE_URL: database });
    const [, url] = await child.waitFor(READY, 240_000);
    const output = child.output();
    const relayUrl = output.match(RELAY)?.[1];
    expect(relayUrl, "the relay's URL is printed").to.be.a("string");
    const ready = await fetch(`${relayUrl}/readyz`);
    expect(ready.status).to.equal(200);
    expect(output).to.match(/bank THMSGB2LXXX\s+crd_\S+/);
    expect(url).to.equal(`http://127.0.0.1:${port}`);

    const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true });
    // The record beside the database: deployments/31337.json may be another start's by now.
    expect(existsSync(path.join(ROOT, "deployments/31337.json"))).to.equal(true);
    const record = readDeployment(demoState(database));
    const registry = ParticipantRegistry__factory.connect(record.contracts.ParticipantRegistry, provider);
    expect(Object.keys(record.contracts.tokens)).to.deep.equal([...DEMO_CURRENCIES]);
    for (const bank of DEMO_BANKS) {
      const account = await registry.accountOf(bank.bic);
      const participant = await registry.participant(account);
      expect(participant.status).to.equal(1n, `${bank.bic} is active`);
      const jpy = DepositToken__factory.connect(record.contracts.tokens.JPY, provider);
      expect(await jpy.balanceOf(account)).to.equal(10_000_000n);
      const gbp = DepositToken__factory.connect(record.contracts.tokens.GBP, provider);
      expect(await gbp.balanceOf(account)).to.equal(1_000_000_000n);
    }

    // The demo window: its net payments settled on chain, and a payment's proof checks out.
    expect(output, "no demo window warning").not.to.match(/Warning: the demo/);
    const demo = output.match(DEMO_WINDOW);
    expect(demo, `the demo window's summary is printed; output:\n${output}`).to.not.equal(null);
    expect(demo![2]).to.equal("12");
    expect(output).to.match(/gross\s+78600\.00 EUR, net 9200\.00 EUR/);
    expect(output).to.match(/tx\s+0x[0-9a-f]{64}/);
    expect(output).to.contain("proof verified on chain: true");
    const treasury = { authorization: `Bearer ${output.match(/treasury\s+(crd_\S+)/)![1]}` };
    const window = (await (await fetch(`${relayUrl}/v1/windows/${demo![1]}`, { headers: treasury })).json()) as {
      state: string;
      paymentCount: number;
      txHash: string;
      includedPayments: string[];
    };
    expect(window.state).to.equal("SETTLED");
    expect(window.paymentCount).to.equal(12);
    expect(window.includedPayments).to.have.length(12);
    const receipt = await provider.getTransactionReceipt(window.txHash);
    expect(receipt?.status).to.equal(1);
    const netting = NettingSettlement__factory.connect(record.contracts.NettingSettlement, provider);
    const proofRes = await fetch(`${relayUrl}/v1/payments/${window.includedPayments[5]}/proof`, { headers: treasury });
    expect(proofRes.status).to.equal(200);
    const proof = (await proofRes.json()) as { chainWindowId: string; leaf: { uetr: string; debtor: string; creditor: string; token: string; amount: string }; proof: string[] };
    expect(proof.leaf.token).to.equal(record.contracts.tokens.EUR);
    const leaf = { ...proof.leaf, amount: BigInt(proof.leaf.amount) };
    expect(await netting.verifyPayment(proof.chainWindowId, leaf, proof.proof)).to.equal(true);
    expect(await netting.verifyPayment(proof.chainWindowId, { ...leaf, amount: leaf.amount + 1n }, proof.proof)).to.equal(false);
    provider.destroy();

    // The README's payment, as its curl sends it, reaches SETTLED.
    const key = output.match(/bank THMSGB2LXXX\s+(crd_\S+)/)![1];
    const headers = { authorization: `Bearer ${key}`, "content-type": "application/json", "idempotency-key": "inv-0001" };
    const body = JSON.stringify({
      endToEndId: "INV-0001",
      debtorAgent: { bic: "THMSGB2LXXX" },
      creditorAgent: { bic: "RHNLDEFFXXX" },
      amount: { value: "245000", currency: "GBP" },
      creditor: { name: "Rhein Maschinenbau GmbH" },
    });
    const created = await fetch(`${relayUrl}/v1/payments`, { method: "POST", headers, body });
    expect(created.status).to.equal(201);
    const { uetr } = (await created.json()) as { uetr: string };
    const settled = await eventually(
      async () => {
        const payment = (await (await fetch(`${relayUrl}/v1/payments/${uetr}`, { headers })).json()) as { status: string; history: { status: string }[] };
        return payment.status === "SETTLED" ? payment : undefined;
      },
      60_000,
      "the README's payment to settle",
    );
    expect(settled.history.map((h) => h.status)).to.deep.equal(["RECEIVED", "SUBMITTED", "LOCKED", "SETTLED"]);

    expect(await child.stop("SIGINT"), "exit code after Ctrl-C").to.equal(0);
    expect(child.output()).to.contain("Corridor stopped.");
  });
});
