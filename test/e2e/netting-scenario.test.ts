import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { ethers } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { startRelayWorld, type RelayWorld } from "./relay-harness";
import { eventually } from "../support/eventually";
import { deployCorridorFixture, TEST_BANKS, TEST_CURRENCIES } from "../contracts/fixtures";
import { DEFAULT_DEMO_LIMITS, setUpDemoBanks, type DemoBank } from "../../scripts/lib/demo";
import { provisionDemoRelay } from "../../scripts/lib/demo-relay";
import { majorToMinorUnits } from "../../server/config/currencies";
import { seededRandom } from "../../scripts/lib/seeded-random";

/**
 * A day of mixed traffic among five banks in three currencies (GBP, JPY with no minor unit, BHD
 * with three): 500 payments, gross, net (settlement windows) and cross-currency (PvP, quoted by a
 * liquidity provider). One bank's net debit cap in BHD is small, so some of its net payments wait
 * for the next window. The fifth bank joins on chain and through the admin API; the relay holds the
 * four test banks' keys and approves their windows, the fifth bank approves its own over the API.
 *
 * Checked: each window's settlement moves exactly the net of its payments on chain (balances before
 * and after, and the NetPositionSettled and Transfer events of its transaction), every included
 * payment's inclusion proof verifies on chain, deferred payments settle in the next window once the
 * cap is raised, every payment ends SETTLED once, and the ledger agrees with the chain.
 */

const PAYMENTS = 500;
const CONCURRENCY = 20;
const FIFTH: DemoBank = { name: "Echo Bank", bic: "ECHOFRPPXXX", country: "FR" };
/** Bank 1 may end a BHD window at most 50.000 BHD short (it pays about 2,000 BHD net). */
const CAPPED = { bank: 1, currency: "BHD", cap: majorToMinorUnits(50n, "BHD") };
/** The liquidity provider of every cross-currency payment. */
const PROVIDER = 3;

type Kind = "gross" | "net" | "pvp";
interface Sent {
  kind: Kind;
  uetr: string;
  debtor: number;
  creditor: number;
  currency: string;
  amount: bigint;
  windowId?: string;
  /** PvP: the provider's leg to the creditor. */
  legB?: { uetr: string; currency: string; amount: bigint };
}


async function inPool<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index], index);
      }
    }),
  );
}

describe("settlement windows: 500 mixed payments among five banks in three currencies (HTTP, in-process chain)", function () {
  this.timeout(300_000);
  const seed = Number(process.env.SCENARIO_SEED ?? 20_240_601);
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
  let world: RelayWorld;
  let fifth: HardhatEthersSigner;
  const keys: string[] = [];
  const bics: string[] = [];
  const signers: HardhatEthersSigner[] = [];
  const sent: Sent[] = [];
  const windowsSettled: string[] = [];
  /** Rounds the fifth bank approved over the API (the relay does not hold its key). */
  let fifthApprovals = 0;

  before(async () => {
    const fixture = await deployCorridorFixture();
    const accounts = await ethers.getSigners();
    fifth = accounts[TEST_BANKS.length + 2]; // past the admin, the four banks and the outsider
    // On chain: registered, limits in every currency, funded, escrow and netting approved, and the
    // relay's signer (the admin) allowed to lock for it.
    await setUpDemoBanks(fixture, [{ signer: fifth, bank: FIFTH }], DEFAULT_DEMO_LIMITS, fixture.admin.address);
    const capped = fixture.banks[CAPPED.bank];
    const token = fixture.tokens[CAPPED.currency];
    await (await fixture.registry.connect(fixture.admin).setLimits(capped, token, majorToMinorUnits(DEFAULT_DEMO_LIMITS.singlePaymentCapMajor, CAPPED.currency), CAPPED.cap)).wait();

    world = await startRelayWorld({ fixture, approveWindows: true, env: { AUTO_RELEASE: "true", WINDOW_INTERVAL_SECONDS: String(7 * 24 * 3600) } });
    // In the relay: the admin registers the bank over the API; its opening balances come from the chain.
    const registered = await world.api("POST", "/v1/participants", {
      key: world.keys.admin,
      idempotencyKey: randomUUID(),
      body: { bic: FIFTH.bic, name: FIFTH.name, country: FIFTH.country, address: fifth.address },
    });
    expect(registered.status, JSON.stringify(registered.body)).to.equal(201);
    const provisioned = await provisionDemoRelay(world.relay, fixture, [{ signer: fifth, bank: FIFTH }]);
    for (let i = 0; i < TEST_BANKS.length; i++) {
      keys.push(world.keys.banks[world.bic(i)]);
      bics.push(world.bic(i));
      signers.push(fixture.banks[i]);
    }
    keys.push(provisioned.banks[FIFTH.bic]);
    bics.push(FIFTH.bic);
    signers.push(fifth);

    const validUntil = new Date(world.now() + 3_600_000).toISOString();
    const rates = [
      ["GBP/JPY", "190"],
      ["JPY/GBP", "0.0052"],
      ["GBP/BHD", "0.48"],
      ["BHD/GBP", "2.08"],
      ["JPY/BHD", "0.0025"],
      ["BHD/JPY", "395"],
    ].map(([pair, rate]) => ({ pair, rate, spreadBps: 10, validUntil }));
    const posted = await world.api("PUT", "/v1/fx/rates", { key: keys[PROVIDER], body: { rates } });
    expect(posted.status, JSON.stringify(posted.body)).to.equal(200);
  });
  after(async () => world?.stop());

  // ----- helpers ------------------------------------------------------------------------------

  const treasury = () => world.keys.treasury;
  const token = (currency: string) => world.fixture.tokens[currency];
  const randomAmount = () => BigInt(100 + Math.floor(random() * 99_900)); // 1.00-999.99 GBP, 100-99,999 JPY, 0.100-99.999 BHD
  const windowOf = async (id: string) => {
    const res = await world.api("GET", `/v1/windows/${id}`, { key: treasury() });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body;
  };
  const openWindow = async (currency: string) => {
    const res = await world.api("GET", `/v1/windows?currency=${currency}&state=OPEN`, { key: treasury() });
    expect(res.body.windows, `one open ${currency} window`).to.have.length(1);
    return res.body.windows[0];
  };
  const balancesOf = async (currency: string) => Promise.all(signers.map((s) => token(currency).balanceOf(s.address)));
  const netOf = (payments: readonly Sent[]) => {
    const net = new Map<string, bigint>();
    for (const p of payments) {
      net.set(bics[p.debtor], (net.get(bics[p.debtor]) ?? 0n) - p.amount);
      net.set(bics[p.creditor], (net.get(bics[p.creditor]) ?? 0n) + p.amount);
    }
    return net;
  };
  const outboxIdle = () =>
    eventually(async () => {
      const busy = await world.relay.database.db.selectFrom("chain_intents").select("id").where("status", "in", ["pending", "sent"]).execute();
      return busy.length === 0 ? true : undefined;
    }, 120_000, "outbox idle", 200);

  interface Planned {
    kind: Kind;
    currency: string;
    debtor: number;
    creditor: number;
    amount: bigint;
    priority: "high" | "normal";
    /** PvP: the currency the creditor is paid in. */
    target: string;
  }

  /** The traffic, drawn up front so that the seed alone decides it (sending is concurrent). */
  function plan(kind: Kind): Planned {
    const debtorPool = kind === "pvp" ? [0, 1, 2, 4] : [0, 1, 2, 3, 4];
    const currency = pick(TEST_CURRENCIES);
    // Net, the capped bank pays often in BHD (more than its cap allows), the fifth bank in JPY (it owes in that window).
    const frequent = kind !== "net" ? undefined : currency === CAPPED.currency ? CAPPED.bank : currency === "JPY" ? 4 : undefined;
    const debtor = frequent !== undefined && random() < 0.5 ? frequent : pick(debtorPool);
    const creditor = pick(debtorPool.filter((b) => b !== debtor));
    const amount = randomAmount();
    const priority = random() < 0.25 ? "high" : "normal";
    const target = pick(TEST_CURRENCIES.filter((c) => c !== currency));
    return { kind, currency, debtor, creditor, amount, priority, target };
  }

  async function create({ kind, currency, debtor, creditor, amount, priority, target }: Planned): Promise<void> {
    const base = { endToEndId: `SCN-${randomUUID().slice(0, 8)}`, debtorAgent: { bic: bics[debtor] }, creditorAgent: { bic: bics[creditor] } };
    if (kind === "pvp") {
      const quote = await world.api("POST", "/v1/quotes", { key: keys[debtor], idempotencyKey: randomUUID(), body: { sourceCurrency: currency, targetCurrency: target, sourceAmount: amount.toString() } });
      expect(quote.status, JSON.stringify(quote.body)).to.equal(201);
      expect(quote.body.provider).to.equal(bics[PROVIDER]);
      const res = await world.api("POST", "/v1/payments", { key: keys[debtor], idempotencyKey: randomUUID(), body: { ...base, amount: { value: amount.toString(), currency }, quoteId: quote.body.id } });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect([res.body.settlement, res.body.fx.provider.bic, res.body.fx.target.currency]).to.deep.equal(["gross", bics[PROVIDER], target]);
      sent.push({
        kind,
        uetr: res.body.uetr,
        debtor,
        creditor: PROVIDER,
        currency,
        amount,
        legB: { uetr: res.body.fx.linkedUetr, currency: target, amount: BigInt(res.body.fx.target.value) },
      });
      return;
    }
    const body = { ...base, amount: { value: amount.toString(), currency }, ...(kind === "net" ? { settlement: "net", priority } : {}) };
    const res = await world.api("POST", "/v1/payments", { key: keys[debtor], idempotencyKey: randomUUID(), body });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    if (kind === "net") {
      expect([res.body.status, res.body.settlement, res.body.priority]).to.deep.equal(["QUEUED", "net", priority]);
      expect(res.body.windowId).to.be.a("string");
    } else {
      expect(res.body.settlement).to.equal("gross");
    }
    sent.push({ kind, uetr: res.body.uetr, debtor, creditor, currency, amount, windowId: res.body.windowId ?? undefined });
  }

  /**
   * Closes a window through the API and sees it to its end: the relay approves for the four test
   * banks, the fifth bank signs the approval request itself when it owes in the round.
   */
  async function closeAndSettle(windowId: string) {
    const closed = await world.api("POST", `/v1/windows/${windowId}/close`, { key: treasury(), idempotencyKey: randomUUID() });
    expect(closed.status, JSON.stringify(closed.body)).to.equal(200);
    const signedRounds = new Set<number>();
    return eventually(
      async () => {
        const w = await windowOf(windowId);
        if (w.state === "SETTLED" || w.state === "FAILED") return w;
        if (w.state !== "AWAITING_APPROVALS" || signedRounds.has(w.round)) return undefined;
        const owes = w.positions.some((p: { bic: string; approvalRequired: boolean }) => p.bic === FIFTH.bic && p.approvalRequired);
        if (!owes) return undefined;
        const { EIP712Domain: _domain, ...types } = w.approvalRequest.typedData.types;
        const signature = await fifth.signTypedData(w.approvalRequest.typedData.domain, types, w.approvalRequest.typedData.message);
        const res = await world.api("POST", `/v1/windows/${windowId}/approvals`, { key: keys[4], idempotencyKey: randomUUID(), body: { signature } });
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        signedRounds.add(w.round);
        fifthApprovals++;
        return undefined;
      },
      90_000,
      `window ${windowId} settled`,
      100,
    );
  }

  /**
   * The window's settlement, checked three ways against the net of its included payments: the
   * balances before and after (nothing else moves meanwhile), its positions, and the events of its
   * transaction (NetPositionSettled, and the token's Transfers to and from the netting contract).
   */
  async function expectSettledNet(w: any, included: readonly Sent[], before: bigint[]) {
    const currency = w.currency as string;
    const net = netOf(included);
    const expected = bics.map((bic) => net.get(bic) ?? 0n);
    const after = await balancesOf(currency);
    expect(after.map((b, i) => b - before[i]), `${currency} balance changes`).to.deep.equal(expected);
    const positions = Object.fromEntries(w.positions.map((p: { bic: string; amount: string }) => [p.bic, BigInt(p.amount)]));
    expect(positions, `${currency} positions`).to.deep.equal(Object.fromEntries([...net].filter(([, amount]) => amount !== 0n)));
    for (const p of w.positions) expect(p.approvalRequired, p.bic).to.equal(BigInt(p.amount) < 0n);

    const { netting } = world.fixture;
    const receipt = await ethers.provider.getTransactionReceipt(w.txHash);
    expect(receipt?.status, `settlement tx ${w.txHash}`).to.equal(1);
    const tokenAddress = (await token(currency).getAddress()).toLowerCase();
    const nettingAddress = (await netting.getAddress()).toLowerCase();
    const byAddress = new Map(signers.map((s, i) => [s.address.toLowerCase(), bics[i]]));
    const settledEvents = new Map<string, bigint>();
    const transfers = new Map<string, bigint>();
    let windowSettled = 0;
    for (const log of receipt!.logs) {
      if (log.address.toLowerCase() === nettingAddress) {
        const parsed = netting.interface.parseLog(log);
        if (parsed?.name === "WindowSettled") {
          windowSettled++;
          expect(parsed.args.windowId).to.equal(w.chainWindowId);
          expect(parsed.args.paymentsRoot).to.equal(w.paymentsRoot);
        }
        if (parsed?.name === "NetPositionSettled") {
          expect(String(parsed.args.token).toLowerCase()).to.equal(tokenAddress);
          settledEvents.set(byAddress.get(String(parsed.args.bank).toLowerCase())!, parsed.args.amount as bigint);
        }
      } else if (log.address.toLowerCase() === tokenAddress) {
        const parsed = token(currency).interface.parseLog(log);
        if (parsed?.name !== "Transfer") continue;
        const [from, to, value] = [String(parsed.args.from).toLowerCase(), String(parsed.args.to).toLowerCase(), parsed.args.value as bigint];
        if (to === nettingAddress) transfers.set(byAddress.get(from)!, (transfers.get(byAddress.get(from)!) ?? 0n) - value);
        else if (from === nettingAddress) transfers.set(byAddress.get(to)!, (transfers.get(byAddress.get(to)!) ?? 0n) + value);
      }
    }
    expect(windowSettled).to.equal(1);
    expect(Object.fromEntries(settledEvents), "NetPositionSettled events").to.deep.equal(positions);
    expect(Object.fromEntries(transfers), "token transfers of the settlement").to.deep.equal(positions);
    const onChain = await netting.queryFilter(netting.filters.WindowSettled(w.chainWindowId));
    expect(onChain.map((e) => e.transactionHash), "one WindowSettled for the window").to.deep.equal([w.txHash]);
  }

  async function expectProofs(uetrs: readonly string[]) {
    await inPool(uetrs, 10, async (uetr) => {
      const proof = await world.api("GET", `/v1/payments/${uetr}/proof`, { key: treasury() });
      expect(proof.status, JSON.stringify(proof.body)).to.equal(200);
      const { leaf } = proof.body;
      expect(await world.fixture.netting.verifyPayment(proof.body.chainWindowId, { ...leaf, amount: BigInt(leaf.amount) }, proof.body.proof), `proof of ${uetr}`).to.equal(true);
    });
  }

  // ----- the scenario ---------------------------------------------------------------------------

  it(`takes ${PAYMENTS} payments (gross, net and PvP), ${CONCURRENCY} at a time; gross and PvP settle, net payments queue in their currency's window`, async () => {
    const kinds: Kind[] = Array.from({ length: PAYMENTS }, (_, i) => (i % 5 === 4 ? "pvp" : i % 5 < 2 ? "net" : "gross"));
    const started = Date.now();
    const planned = kinds.map(plan);
    await inPool(planned, CONCURRENCY, create);
    expect(sent).to.have.length(PAYMENTS);
    const intake = Date.now() - started;

    const { db } = world.relay.database;
    await eventually(
      async () => {
        const open = await db.selectFrom("payments").select("uetr").where("settlement", "=", "gross").where("status", "!=", "SETTLED").execute();
        return open.length === 0 ? true : undefined;
      },
      180_000,
      "every gross and PvP payment SETTLED",
      250,
    );
    await outboxIdle();
    console.log(`      (seed ${seed}: intake ${intake} ms, gross and PvP settled after ${Date.now() - started} ms)`);

    const net = sent.filter((p) => p.kind === "net");
    for (const currency of TEST_CURRENCIES) {
      const ofCurrency = net.filter((p) => p.currency === currency);
      expect(ofCurrency.length, `net payments in ${currency}`).to.be.greaterThan(10);
      const open = await openWindow(currency);
      expect(new Set(ofCurrency.map((p) => p.windowId)), `${currency} window`).to.deep.equal(new Set([open.id]));
    }
    expect(net.some((p) => p.debtor === 4 || p.creditor === 4), "the fifth bank trades net").to.equal(true);
  });

  const deferred: Sent[] = [];

  for (const currency of TEST_CURRENCIES) {
    it(`settles the ${currency} window: balances move by exactly the net of its payments, and every payment's proof verifies on chain`, async () => {
      const ofCurrency = sent.filter((p) => p.kind === "net" && p.currency === currency);
      const windowId = ofCurrency[0].windowId!;
      const before = await balancesOf(currency);
      const w = await closeAndSettle(windowId);
      expect(w.state, w.failureReason).to.equal("SETTLED");
      windowsSettled.push(windowId);
      const byUetr = new Map(ofCurrency.map((p) => [p.uetr, p]));
      const included = (w.includedPayments as string[]).map((uetr) => byUetr.get(uetr)!);
      expect(included.every(Boolean), "only this currency's net payments").to.equal(true);
      const deferredHere = (w.deferred as { uetr: string; reason: string }[]).map((d) => ({ ...d, payment: byUetr.get(d.uetr)! }));
      expect(new Set([...w.includedPayments, ...deferredHere.map((d) => d.uetr)]), "every queued payment is included or deferred").to.deep.equal(new Set(byUetr.keys()));
      expect(w.paymentCount).to.equal(included.length);

      if (currency === CAPPED.currency) {
        expect(deferredHere.length, "the capped bank's payments over its cap wait").to.be.greaterThan(0);
        for (const d of deferredHere) {
          expect(d.payment.debtor, d.uetr).to.equal(CAPPED.bank);
          expect(d.reason).to.match(new RegExp(`${bics[CAPPED.bank]} would exceed its net debit cap of ${CAPPED.cap}`));
        }
        const position = BigInt(w.positions.find((p: { bic: string }) => p.bic === bics[CAPPED.bank])?.amount ?? "0");
        expect(position >= -CAPPED.cap, `capped bank's position ${position}`).to.equal(true);
        // Nothing was deferred that would have fitted: each deferred payment alone breaks the cap.
        for (const d of deferredHere) expect(position - d.payment.amount < -CAPPED.cap, `${d.uetr} (${d.payment.amount}) fits`).to.equal(true);
        expect(included.some((p) => p.debtor === CAPPED.bank), "the capped bank still pays within its cap").to.equal(true);
        deferred.push(...deferredHere.map((d) => d.payment));
      } else {
        expect(deferredHere).to.deep.equal([]);
      }

      await expectSettledNet(w, included, before);
      await eventually(async () => {
        const rows = await world.relay.database.db.selectFrom("payments").select("status").where("uetr", "in", included.map((p) => p.uetr)).execute();
        return rows.every((r) => r.status === "SETTLED") ? true : undefined;
      }, 30_000, `${currency} payments SETTLED`);
      await expectProofs(included.map((p) => p.uetr));
      const sample = await world.api("GET", `/v1/payments/${included[0].uetr}/proof`, { key: treasury() });
      const { leaf } = sample.body;
      expect(await world.fixture.netting.verifyPayment(sample.body.chainWindowId, { ...leaf, amount: BigInt(leaf.amount) + 1n }, sample.body.proof), "a changed leaf does not verify").to.equal(false);

      for (const d of deferredHere) {
        const p = (await world.api("GET", `/v1/payments/${d.uetr}`, { key: treasury() })).body;
        expect([p.status, p.windowId === windowId], d.uetr).to.deep.equal(["QUEUED", false]);
      }
      await outboxIdle();
    });
  }

  it("the fifth bank, whose key the relay does not hold, approved its debit positions itself", () => {
    expect(fifthApprovals).to.be.greaterThan(0);
  });

  it("deferred payments wait, QUEUED, in the next window and settle there once the cap is raised", async () => {
    expect(deferred.length).to.be.greaterThan(0);
    console.log(`      (${deferred.length} of the capped bank's net payments deferred; the fifth bank approved ${fifthApprovals} round(s))`);
    const next = await openWindow(CAPPED.currency);
    expect(windowsSettled).to.not.include(next.id);
    for (const p of deferred) {
      const res = await world.api("GET", `/v1/payments/${p.uetr}`, { key: treasury() });
      expect([res.body.status, res.body.windowId], p.uetr).to.deep.equal(["QUEUED", next.id]);
      const proof = await world.api("GET", `/v1/payments/${p.uetr}/proof`, { key: treasury() });
      expect([proof.status, proof.body.error?.code], p.uetr).to.deep.equal([409, "proof_not_available"]);
    }
    const { registry, admin, banks } = world.fixture;
    const tokenAddress = await token(CAPPED.currency).getAddress();
    await (await registry.connect(admin).setLimits(banks[CAPPED.bank], tokenAddress, majorToMinorUnits(DEFAULT_DEMO_LIMITS.singlePaymentCapMajor, CAPPED.currency), majorToMinorUnits(DEFAULT_DEMO_LIMITS.netDebitCapMajor, CAPPED.currency))).wait();

    const before = await balancesOf(CAPPED.currency);
    const w = await closeAndSettle(next.id);
    expect(w.state, w.failureReason).to.equal("SETTLED");
    expect(w.deferred).to.deep.equal([]);
    expect([...w.includedPayments].sort()).to.deep.equal(deferred.map((p) => p.uetr).sort());
    await expectSettledNet(w, deferred, before);
    await eventually(async () => {
      const rows = await world.relay.database.db.selectFrom("payments").select("status").where("uetr", "in", deferred.map((p) => p.uetr)).execute();
      return rows.every((r) => r.status === "SETTLED") ? true : undefined;
    }, 30_000, "deferred payments SETTLED");
    await expectProofs(deferred.map((p) => p.uetr));
    await outboxIdle();
  });

  it("ends with every payment SETTLED once (PvP legs included) and each bank's ledger equal to its on-chain balance", async () => {
    const listed = new Map<string, any>();
    let cursor: string | undefined;
    do {
      const res = await world.api("GET", `/v1/payments?limit=200${cursor ? `&cursor=${cursor}` : ""}`, { key: treasury() });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      for (const p of res.body.payments) listed.set(p.uetr, p);
      cursor = res.body.nextCursor ?? undefined;
    } while (cursor);
    const expected = new Set(sent.flatMap((p) => (p.legB ? [p.uetr, p.legB.uetr] : [p.uetr])));
    expect(new Set(listed.keys())).to.deep.equal(expected);
    const notSettled = [...listed.values()].filter((p) => p.status !== "SETTLED").map((p) => `${p.uetr} ${p.settlement} ${p.status}`);
    expect(notSettled).to.deep.equal([]);
    for (const p of sent) {
      const row = listed.get(p.uetr);
      expect([row.settlement, row.amount.value, row.amount.currency, row.debtorAgent.bic], p.uetr).to.deep.equal([p.kind === "net" ? "net" : "gross", p.amount.toString(), p.currency, bics[p.debtor]]);
      if (p.legB) {
        const legB = listed.get(p.legB.uetr);
        expect([legB.debtorAgent.bic, legB.amount.value, legB.amount.currency], p.legB.uetr).to.deep.equal([bics[PROVIDER], p.legB.amount.toString(), p.legB.currency]);
      }
    }
    // Each SETTLED once: one SETTLED entry in every payment's history.
    const { db } = world.relay.database;
    const settledTwice = await db
      .selectFrom("payment_status_history")
      .select(["uetr", db.fn.countAll<number>().as("n")])
      .where("status", "=", "SETTLED")
      .groupBy("uetr")
      .having(db.fn.countAll(), ">", 1)
      .execute();
    expect(settledTwice).to.deep.equal([]);

    for (let i = 0; i < signers.length; i++) {
      const res = await world.api("GET", "/v1/accounts", { key: keys[i] });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const rows = res.body.accounts as { kind: string; bic: string; currency: string; posted: string; pendingDebits: string; pendingCredits: string; onChain: string | null }[];
      for (const currency of TEST_CURRENCIES) {
        const bank = rows.find((a) => a.kind === "bank" && a.currency === currency);
        expect(bank, `${bics[i]} ${currency} account`).to.not.equal(undefined);
        const chain = (await token(currency).balanceOf(signers[i].address)).toString();
        expect([bank!.posted, bank!.onChain, bank!.pendingDebits, bank!.pendingCredits], `${bics[i]} ${currency}: posted, onChain, pending`).to.deep.equal([chain, chain, "0", "0"]);
        for (const netting of rows.filter((a) => a.kind === "netting" && a.currency === currency)) {
          expect([netting.posted, netting.pendingDebits, netting.pendingCredits], `${bics[i]} ${currency} netting account`).to.deep.equal(["0", "0", "0"]);
        }
      }
    }
  });
});
