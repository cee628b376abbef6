import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { startRelayWorld, type RelayWorld } from "./relay-harness";
import { eventually } from "../support/eventually";
import { reserveStatementXml } from "../../scripts/lib/demo-iso20022";

const GBP_RESERVE = "GB33BUKB20201555555555";
const JPY_RESERVE = "GB94BARC10201530093459";

interface SseEvent {
  event: string;
  id: string;
  data: { change: { status: string; at: string; txHash: string | null; blockNumber: number | null }; payment: { uetr: string; status: string } };
}

/** Reads a Server-Sent Events stream into an array as events arrive, until closed. */
async function openStream(url: string, key: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}`, ...headers }, signal: abort.signal });
  const events: SseEvent[] = [];
  const reading = (async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(frame.split("\n").filter((l) => !l.startsWith(":") && l.includes(":")).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]));
          if (fields.event) events.push({ event: fields.event, id: fields.id, data: JSON.parse(fields.data) });
        }
      }
    } catch {
      // aborted
    }
  })();
  return { res, events, close: async () => (abort.abort(), reading) };
}

for (const dialect of ["sqlite", "postgres"] as const)
describe(`treasury API on ${dialect}: positions, reserves, statistics, live events, open-window projection (HTTP, in-process chain)`, function () {
  this.timeout(180_000);
  let world: RelayWorld;
  const key = (index: number) => world.keys.banks[world.bic(index)];
  const treasury = () => world.keys.treasury;

  before(async () => {
    world = await startRelayWorld({ dialect, approveWindows: true, env: { AUTO_RELEASE: "true", RESERVE_ACCOUNTS: `GBP=${GBP_RESERVE},JPY=${JPY_RESERVE}` } });
  });
  after(async () => world?.stop());

  const pay = async (from: number, to: number, value: string, extra: Record<string, unknown> = {}) => {
    const res = await world.api("POST", "/v1/payments", {
      key: key(from),
      idempotencyKey: randomUUID(),
      body: { endToEndId: `T-${randomUUID().slice(0, 8)}`, debtorAgent: { bic: world.bic(from) }, creditorAgent: { bic: world.bic(to) }, amount: { value, currency: "GBP" }, ...extra },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body as { uetr: string; endToEndId: string; windowId: string | null };
  };
  const settled = (uetr: string) =>
    eventually(async () => {
      const res = await world.api("GET", `/v1/payments/${uetr}`, { key: treasury() });
      return res.body.status === "SETTLED" ? res.body : undefined;
    }, 30_000, `${uetr} SETTLED`);

  it("streams each status change live, in order, a bank seeing only its own, and resumes after Last-Event-ID", async () => {
    const all = await openStream(`${world.relay.url}/v1/events`, treasury());
    const bank3 = await openStream(`${world.relay.url}/v1/events`, key(3));
    expect(all.res.status).to.equal(200);
    expect(all.res.headers.get("content-type")).to.match(/^text\/event-stream/);
    const { uetr } = await pay(0, 1, "1500");
    await settled(uetr);
    const mine = await eventually(() => {
      const statuses = all.events.filter((e) => e.data.payment.uetr === uetr).map((e) => e.data.change.status);
      return statuses.includes("SETTLED") ? statuses : undefined;
    }, 10_000, "the stream to carry SETTLED");
    expect(mine).to.deep.equal(["RECEIVED", "SUBMITTED", "LOCKED", "SETTLED"]);
    const locked = all.events.find((e) => e.data.payment.uetr === uetr && e.data.change.status === "LOCKED")!;
    expect(locked.event).to.equal("payment");
    expect(locked.data.change.txHash).to.match(/^0x[0-9a-f]{64}$/);
    expect(locked.data.change.blockNumber).to.be.a("number");
    expect(bank3.events.filter((e) => e.data.payment.uetr === uetr), "bank 3 is not a party").to.deep.equal([]);

    // Resuming after the LOCKED event gives exactly what followed it.
    const resumed = await openStream(`${world.relay.url}/v1/events`, treasury(), { "last-event-id": locked.id });
    const after = await eventually(() => (resumed.events.some((e) => e.data.change.status === "SETTLED" && e.data.payment.uetr === uetr) ? resumed.events : undefined), 10_000, "the resumed stream");
    expect(after.filter((e) => e.data.payment.uetr === uetr).map((e) => e.data.change.status)).to.deep.equal(["SETTLED"]);
    await Promise.all([all.close(), bank3.close(), resumed.close()]);
  });

  it("refuses a stream without a key or with a cursor it did not give out", async () => {
    const anonymous = await fetch(`${world.relay.url}/v1/events`);
    expect(anonymous.status).to.equal(401);
    const bad = await world.api("GET", "/v1/events?since=not-a-cursor", { key: treasury() });
    expect([bad.status, bad.body.error.code]).to.deep.equal([400, "invalid_cursor"]);
  });

  it("finds payments by either agent's BIC", async () => {
    const p = await pay(2, 3, "777");
    const byBic = await world.api("GET", `/v1/payments?bic=${world.bic(3)}&limit=200`, { key: treasury() });
    expect(byBic.status).to.equal(200);
    const uetrs = byBic.body.payments.map((x: { uetr: string }) => x.uetr);
    expect(uetrs).to.include(p.uetr);
    for (const x of byBic.body.payments) expect([x.debtorAgent.bic, x.creditorAgent.bic]).to.include(world.bic(3));
    const none = await world.api("GET", `/v1/payments?bic=${world.bic(3)}&endToEndId=${p.endToEndId}&status=REJECTED`, { key: treasury() });
    expect(none.body.payments).to.deep.equal([]);
    const bad = await world.api("GET", "/v1/payments?bic=nope", { key: treasury() });
    expect(bad.status).to.equal(400);
  });

  it("projects the open window's obligations and net positions, a bank seeing its own only", async () => {
    const a = await pay(0, 1, "1000", { settlement: "net" });
    await pay(1, 0, "300", { settlement: "net" });
    await pay(1, 2, "200", { settlement: "net" });
    const detail = await world.api("GET", `/v1/windows/${a.windowId}`, { key: treasury() });
    expect(detail.status).to.equal(200);
    expect(detail.body.state).to.equal("OPEN");
    const { projected } = detail.body;
    expect(projected.paymentCount).to.equal(3);
    expect(projected.grossTotal).to.equal("1500");
    expect(projected.positions).to.deep.equal(
      [
        { bic: world.bic(0), amount: "-700" },
        { bic: world.bic(1), amount: "500" },
        { bic: world.bic(2), amount: "200" },
      ].sort((x, y) => x.bic.localeCompare(y.bic)),
    );
    expect(projected.obligations).to.deep.include({ debtor: world.bic(0), creditor: world.bic(1), count: 1, amount: "1000" });

    const asBank2 = await world.api("GET", `/v1/windows/${a.windowId}`, { key: key(2) });
    expect(asBank2.body.projected.positions).to.deep.equal([{ bic: world.bic(2), amount: "200" }]);
    expect(asBank2.body.projected.obligations).to.deep.equal([{ debtor: world.bic(1), creditor: world.bic(2), count: 1, amount: "200" }]);

    // Positions: the queued obligations are the projected net, measured against the cap.
    const positions = await world.api("GET", "/v1/positions", { key: treasury() });
    expect(positions.status).to.equal(200);
    const of = (bic: string, currency: string) => positions.body.positions.find((p: { bic: string; currency: string }) => p.bic === bic && p.currency === currency);
    const bank0 = of(world.bic(0), "GBP");
    expect(bank0.projectedNet).to.equal("-700");
    const cap = await world.fixture.registry.limitsOf(world.fixture.banks[0].address, world.fixture.tokens.GBP);
    expect(bank0.netDebitCap).to.equal(cap.netDebitCap.toString());
    expect(bank0.capUsageBps).to.equal(Number((700n * 10_000n) / cap.netDebitCap));
    expect(of(world.bic(1), "GBP").capUsageBps).to.equal(0);
    expect(bank0.onChain).to.equal((await world.fixture.tokens.GBP.balanceOf(world.fixture.banks[0].address)).toString());
    const ledger = await world.api("GET", "/v1/accounts", { key: treasury() });
    const account = ledger.body.accounts.find((x: { id: string }) => x.id === `bank:${world.bic(0)}:GBP`);
    expect(bank0.posted).to.equal(account.posted);
    expect(bank0.pendingDebits).to.equal(account.pendingDebits);
    expect(positions.body.positions).to.have.length(world.fixture.banks.length * 3);

    const closed = await world.api("POST", `/v1/windows/${a.windowId}/close`, { key: treasury(), idempotencyKey: randomUUID() });
    expect(closed.status).to.equal(200);
    const done = await eventually(async () => {
      const w = (await world.api("GET", `/v1/windows/${a.windowId}`, { key: treasury() })).body;
      return w.state === "SETTLED" ? w : undefined;
    }, 30_000, "window settled");
    expect(done.projected).to.equal(null);
    const afterwards = await world.api("GET", "/v1/positions", { key: treasury() });
    expect(afterwards.body.positions.find((p: { bic: string; currency: string }) => p.bic === world.bic(0) && p.currency === "GBP").projectedNet).to.equal("0");
  });

  it("proves reserves per currency: matched only when supply, reserve statement and ledger agree", async () => {
    const supply = await world.fixture.tokens.GBP.totalSupply();
    const reserves = async () => (await world.api("GET", "/v1/reserves", { key: treasury() })).body.reserves as { currency: string; matched: boolean; tokenSupply: string; reserveBalance: string | null; ledgerBalance: string }[];
    const before = await reserves();
    expect(before.map((r) => r.currency).sort()).to.deep.equal(["BHD", "GBP", "JPY"]);
    const gbp0 = before.find((r) => r.currency === "GBP")!;
    expect([gbp0.tokenSupply, gbp0.reserveBalance, gbp0.matched]).to.deep.equal([supply.toString(), null, false]);
    expect(gbp0.ledgerBalance).to.equal(supply.toString(), "the demo provisioning posted every minted token from the reserve");

    const post = (xml: string) => world.api("POST", "/v1/statements", { key: treasury(), body: xml, headers: { "content-type": "application/xml" } });
    const statement = (account: string, currency: string, closingBalance: bigint) =>
      reserveStatementXml({ account, currency, closingBalance, date: "2026-11-20", createdAt: new Date("2026-11-20T18:00:00Z") });
    expect((await post(statement(GBP_RESERVE, "GBP", supply))).status).to.equal(201);
    expect((await post(statement(JPY_RESERVE, "JPY", 1n))).status).to.equal(201);
    const after = await reserves();
    expect(after.find((r) => r.currency === "GBP")).to.include({ reserveBalance: supply.toString(), matched: true });
    expect(after.find((r) => r.currency === "JPY")).to.include({ reserveBalance: "1", matched: false });
    expect(after.find((r) => r.currency === "BHD")).to.include({ reserveBalance: null, matched: false });
  });

  it("counts status changes per minute, times settlements and sums volume by corridor", async () => {
    const p = await pay(0, 2, "1234");
    await settled(p.uetr);
    // A cross-currency payment (two linked legs) counts once, in its GBP→JPY corridor.
    const rates = await world.api("PUT", "/v1/fx/rates", {
      key: key(2),
      body: { rates: [{ pair: "GBP/JPY", rate: "150", spreadBps: 0, validUntil: new Date(world.now() + 3_600_000).toISOString() }] },
    });
    expect(rates.status, JSON.stringify(rates.body)).to.equal(200);
    const quote = await world.api("POST", "/v1/quotes", { key: key(0), body: { sourceCurrency: "GBP", targetCurrency: "JPY", sourceAmount: "1000" }, idempotencyKey: randomUUID() });
    expect(quote.status, JSON.stringify(quote.body)).to.equal(201);
    const fx = await pay(0, 1, "1000", { quoteId: quote.body.id });
    const stats = await eventually(async () => {
      const res = await world.api("GET", "/v1/stats/payments?minutes=5", { key: treasury() });
      return res.body.timeToSettle?.count >= 2 ? res.body : undefined;
    }, 10_000, "statistics");
    expect(stats.perMinute).to.have.length(5);
    const total = (status: string) => stats.perMinute.reduce((sum: number, m: { counts: Record<string, number> }) => sum + (m.counts[status] ?? 0), 0);
    const { db } = world.relay.database;
    const settledRows = await db.selectFrom("payment_status_history").select(db.fn.countAll().as("n")).where("status", "=", "SETTLED").executeTakeFirstOrThrow();
    expect(total("SETTLED")).to.equal(Number(settledRows.n));
    expect(stats.timeToSettle.count).to.equal(Number(settledRows.n));
    expect(stats.timeToSettle.buckets.reduce((s: number, b: { count: number }) => s + b.count, 0)).to.equal(stats.timeToSettle.count);
    expect(stats.timeToSettle.p50Ms).to.be.a("number").and.at.most(stats.timeToSettle.p95Ms);
    const gbp = stats.corridors.find((c: { from: string; to: string }) => c.from === "GBP" && c.to === "GBP");
    const payments = await db.selectFrom("payments").select(["amount"]).where("currency", "=", "GBP").where("uetr", "!=", fx.uetr).execute();
    expect(gbp.count).to.equal(payments.length);
    const crossed = stats.corridors.filter((c: { from: string; to: string }) => c.from !== c.to || c.from === "JPY");
    expect(crossed).to.deep.equal([{ from: "GBP", to: "JPY", count: 1, amount: { value: "1000", currency: "GBP" } }]);
    expect(gbp.amount).to.deep.equal({ value: payments.reduce((s, x) => s + BigInt(x.amount), 0n).toString(), currency: "GBP" });

    for (const bad of ["minutes=0", "minutes=1441", "minutes=abc", "from=1"]) {
      const res = await world.api("GET", `/v1/stats/payments?${bad}`, { key: treasury() });
      expect(res.status, bad).to.equal(400);
    }
  });

  it("keeps treasury views from banks", async () => {
    for (const path of ["/v1/positions", "/v1/reserves", "/v1/stats/payments"]) {
      const res = await world.api("GET", path, { key: key(0) });
      expect([res.status, res.body.error.code], path).to.deep.equal([403, "forbidden"]);
    }
    // The role checks sit on those routes only: a bank still reaches its own accounts.
    expect((await world.api("GET", "/v1/accounts", { key: key(0) })).status).to.equal(200);
  });

  it("exports the time-to-settle histogram and open breaks in /metrics", async () => {
    const scrape = async () => (await fetch(`${world.relay.url}/metrics`)).text();
    const count = (text: string) => Number(/^corridor_time_to_settle_seconds_count (\d+)/m.exec(text)?.[1] ?? "NaN");
    const { db } = world.relay.database;
    const settledChanges = async () => Number((await db.selectFrom("payment_status_history").select(db.fn.countAll().as("n")).where("status", "=", "SETTLED").executeTakeFirstOrThrow()).n);
    // Quiet first: nothing in flight, and past the feed's settle lag, so only this test's payment settles from here.
    await eventually(async () => {
      const moving = await db.selectFrom("payments").select("uetr").where("status", "in", ["RECEIVED", "SUBMITTED", "LOCKED"]).executeTakeFirst();
      return moving ? undefined : true;
    }, 30_000, "no payment in flight");
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const before = count(await scrape());
    const changesBefore = await settledChanges();
    const p = await pay(1, 3, "4321");
    await settled(p.uetr);
    const changesAfter = await settledChanges();
    expect(changesAfter).to.equal(changesBefore + 1);
    await eventually(async () => (count(await scrape()) === before + 1 ? true : undefined), 10_000, "the histogram to count the settlement");
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(count(await scrape()), "counted once").to.equal(before + 1);
    const text = await scrape();
    expect(text).to.match(/corridor_time_to_settle_seconds_bucket\{le="\+Inf"\} \d+/);
    expect(text).to.match(/corridor_indexer_lag_blocks \d+/);
    expect(text).to.match(/corridor_outbox_depth\{status="pending"\} \d+/);
    expect(text).to.match(/# TYPE corridor_recon_open_breaks gauge/);
  });
});
