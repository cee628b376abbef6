import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { DEMO_CURRENCIES } from "../../scripts/lib/demo";
import { eventually } from "../support/eventually";
import { call, errorOutput, freePort, npmStart, startSuite } from "./start-harness";

interface PaymentJson {
  uetr: string;
  endToEndId: string;
  settlement: string;
}

/** `npm start` with its demo traffic on (the default), as the dashboard sees it. */
describe("npm start: demo traffic and proof of reserves", function () {
  startSuite(this);
  it("keeps up a flow of gross (JSON and pacs.008), net and cross-currency payments that reach SETTLED, with every reserve matched", async () => {
    const database = path.join(mkdtempSync(path.join(tmpdir(), "corridor-start-traffic-")), "corridor.db");
    const demo = await npmStart(["--port", String(await freePort())], { PORT: "0", DATABASE_URL: database });
    expect(demo.output()).to.match(/Demo traffic: a payment every 1-2 s/);
    const treasury = demo.keys.treasury;

    // Net payments wait for their window, which closes on schedule every 30 s in the demo.
    const kinds = { gross: /^DEMO-GROSS-/, "pacs.008": /^DEMO-PACS008-/, net: /^DEMO-NET-[0-9A-Z]+-\d+$/, "cross-currency": /^DEMO-FX-/ };
    const settled = await eventually(
      async () => {
        const { body } = await call<{ payments: PaymentJson[] }>(demo.relayUrl, "/v1/payments?status=SETTLED&limit=200", treasury);
        const found = Object.entries(kinds).map(([kind, pattern]) => [kind, body.payments.filter((p) => pattern.test(p.endToEndId))] as const);
        return found.every(([, payments]) => payments.length > 0) ? Object.fromEntries(found) : undefined;
      },
      90_000,
      "a settled payment of each kind",
      1_000,
    );
    expect(settled.net.every((p: PaymentJson) => p.settlement === "net")).to.equal(true);
    const fx = await call<{ fx?: { leg: string; source: { currency: string }; target: { currency: string } } }>(demo.relayUrl, `/v1/payments/${settled["cross-currency"][0].uetr}`, treasury);
    expect(fx.body.fx, "a cross-currency payment has two legs").to.not.equal(undefined);
    expect(fx.body.fx!.source.currency).to.not.equal(fx.body.fx!.target.currency);

    // Proof of reserves: each token's supply, the reserve account's closing balance and the ledger agree.
    const reserves = await call<{ reserves: { currency: string; matched: boolean }[] }>(demo.relayUrl, "/v1/reserves", treasury);
    expect(reserves.status).to.equal(200);
    expect(reserves.body.reserves.filter((r) => r.matched).map((r) => r.currency)).to.have.members([...DEMO_CURRENCIES]);
    const today = new Date().toISOString().slice(0, 10);
    const run = await call<{ counts: { reservesChecked: number; breaks: Record<string, number> } }>(demo.relayUrl, "/v1/reconciliation/runs", treasury, {
      method: "POST",
      idempotencyKey: randomUUID(),
      body: { from: today, to: today },
    });
    expect(run.body.counts.reservesChecked).to.equal(DEMO_CURRENCIES.length);
    expect(run.body.counts.breaks.reserve_mismatch ?? 0).to.equal(0);

    expect(demo.output(), "no payment refused or failed").not.to.contain("Warning: demo traffic");
    expect(await demo.stop("SIGINT")).to.equal(0);
    expect(demo.output()).to.contain("Corridor stopped.");
    expect(errorOutput(demo)).to.equal("");
  });
});
