import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { MaxUint256 } from "ethers";
import pino from "pino";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { apiClient, deploymentOf, OPERATOR_KEY, startRelayWorld, type Api, type RelayWorld } from "./relay-harness";
import { eventually } from "../support/eventually";
import { loadConfig } from "../../server/config/env";
import { startRelay, type Relay } from "../../server/relay";

/**
 * Settlement windows under bad input and faults. Every refusal is checked for its HTTP status and
 * error code and for having changed nothing (windows, approvals, payments, ledger, outbox, quotes).
 * The faults: a debtor bank that does not approve before the deadline (excluded, its payments move
 * to the next window), a debtor short of allowance when the window settles (the window fails, its
 * payments move on and settle once, later), and a relay stopped while its window is SETTLING (a new
 * relay on the same database settles it exactly once).
 *
 * The relay signs no approvals here: every debtor bank posts its own EIP-712 signature. The approval
 * deadline is passed by moving the relay's clock (skew), not by sleeping, so the other tests never
 * race it.
 */

const APPROVAL_SECONDS = 60;

interface TypedData {
  domain: { name: string; version: string; chainId: string; verifyingContract: string };
  types: Record<string, { name: string; type: string }[]>;
  primaryType: string;
  message: { windowId: string; paymentsRoot: string; positions: { bank: string; token: string; amount: string }[] };
}

describe("settlement windows: bad input and faults (HTTP, in-process chain)", function () {
  this.timeout(240_000);
  let world: RelayWorld;
  let skew = 0;
  /** The relay serving now: the world's, then the one started on its database after it stopped. */
  let relay: Relay;
  let api: Api;
  let replacement: Relay | undefined;

  before(async () => {
    world = await startRelayWorld({
      env: { AUTO_RELEASE: "true", WINDOW_APPROVAL_SECONDS: String(APPROVAL_SECONDS), WINDOW_INTERVAL_SECONDS: String(7 * 24 * 3600) },
      now: () => Date.now() + skew,
    });
    relay = world.relay;
    api = world.api;
    // Bank 3 provides liquidity: a real quote for the net-with-quote refusal.
    const rates = await api("PUT", "/v1/fx/rates", {
      key: key(3),
      body: { rates: [{ pair: "GBP/JPY", rate: "190", spreadBps: 0, validUntil: new Date(world.now() + 3_600_000).toISOString() }] },
    });
    expect(rates.status, JSON.stringify(rates.body)).to.equal(200);
  });
  after(async () => {
    await replacement?.stop();
    await world?.stop();
  });

  // ----- helpers ------------------------------------------------------------------------------

  const key = (index: number) => world.keys.banks[world.bic(index)];
  const signer = (index: number): HardhatEthersSigner => world.fixture.banks[index];
  const treasury = () => world.keys.treasury;

  const payNet = async (from: number, to: number, value: string, currency: string, extra: Record<string, unknown> = {}) => {
    const res = await api("POST", "/v1/payments", {
      key: key(from),
      idempotencyKey: randomUUID(),
      body: { endToEndId: `NF-${randomUUID().slice(0, 8)}`, debtorAgent: { bic: world.bic(from) }, creditorAgent: { bic: world.bic(to) }, amount: { value, currency }, settlement: "net", ...extra },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.status).to.equal("QUEUED");
    return res.body as { uetr: string; status: string; windowId: string };
  };
  const payment = async (uetr: string) => {
    const res = await api("GET", `/v1/payments/${uetr}`, { key: treasury() });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body;
  };
  const paymentReaches = (uetr: string, status: string) =>
    eventually(async () => {
      const p = await payment(uetr);
      return p.status === status ? p : undefined;
    }, 60_000, `${uetr} ${status}`);
  const windowOf = async (id: string) => {
    const res = await api("GET", `/v1/windows/${id}`, { key: treasury() });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body;
  };
  const windowReaches = (id: string, accept: (w: any) => boolean, what: string, timeoutMs = 60_000) =>
    eventually(async () => {
      const w = await windowOf(id);
      return accept(w) ? w : undefined;
    }, timeoutMs, `window ${id} ${what}`);
  const awaitingApprovals = (id: string, round: number) =>
    windowReaches(id, (w) => w.state === "AWAITING_APPROVALS" && w.round === round, `AWAITING_APPROVALS round ${round}`);
  const settledOrFailed = (id: string) => windowReaches(id, (w) => w.state === "SETTLED" || w.state === "FAILED", "SETTLED or FAILED");
  const close = (id: string, withKey = treasury()) => api("POST", `/v1/windows/${id}/close`, { key: withKey, idempotencyKey: randomUUID() });
  const closeOk = async (id: string) => {
    const res = await close(id);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.state).to.equal("CLOSING");
    return res.body;
  };
  const openWindow = async (currency: string) => {
    const res = await api("GET", `/v1/windows?currency=${currency}&state=OPEN`, { key: treasury() });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.windows, `one open ${currency} window`).to.have.length(1);
    return res.body.windows[0];
  };

  const sign = (bank: HardhatEthersSigner, typedData: TypedData, message: TypedData["message"] = typedData.message) => {
    const { EIP712Domain: _domain, ...types } = typedData.types;
    return bank.signTypedData(typedData.domain, types, message);
  };
  const postApproval = (id: string, signature: string, options: { key: string; bic?: string }) =>
    api("POST", `/v1/windows/${id}/approvals`, { key: options.key, idempotencyKey: randomUUID(), body: options.bic ? { signature, bic: options.bic } : { signature } });
  /** Bank `index` signs the window's current approval request and posts it. */
  const approve = async (index: number, id: string) => {
    const w = await windowOf(id);
    expect(w.state, `window ${id} awaits approvals`).to.equal("AWAITING_APPROVALS");
    const signature = await sign(signer(index), w.approvalRequest.typedData);
    const res = await postApproval(id, signature, { key: key(index) });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return { signature, window: res.body };
  };

  const positionsOf = (w: { positions: { bic: string; amount: string }[] }) => Object.fromEntries(w.positions.map((p) => [p.bic, p.amount]));
  const balances = (currency: string) => Promise.all(world.fixture.banks.map((b) => world.fixture.tokens[currency].balanceOf(b.address)));
  const deltas = (after: bigint[], before: bigint[]) => after.map((b, i) => b - before[i]);
  const windowSettledEvents = async (chainWindowId: string) => world.fixture.netting.queryFilter(world.fixture.netting.filters.WindowSettled(chainWindowId));

  const expectProofVerifies = async (uetr: string) => {
    const proof = await api("GET", `/v1/payments/${uetr}/proof`, { key: treasury() });
    expect(proof.status, JSON.stringify(proof.body)).to.equal(200);
    const { leaf } = proof.body;
    expect(await world.fixture.netting.verifyPayment(proof.body.chainWindowId, { ...leaf, amount: BigInt(leaf.amount) }, proof.body.proof), `proof of ${uetr}`).to.equal(true);
  };
  const settledOnce = async (uetr: string) => {
    const p = await payment(uetr);
    expect(p.status).to.equal("SETTLED");
    expect(p.history.filter((h: { status: string }) => h.status === "SETTLED"), `${uetr} settled once`).to.have.length(1);
    return p;
  };
  /** Bank ledger accounts agree with the chain, nothing pending, and netting accounts are back at zero. */
  const expectLedgerMatchesChain = async (indexes: number[], currency: string) => {
    for (const index of indexes) {
      const rows = (await api("GET", "/v1/accounts", { key: key(index) })).body.accounts as { kind: string; currency: string; posted: string; pendingDebits: string; pendingCredits: string; onChain: string | null }[];
      const bank = rows.find((a) => a.kind === "bank" && a.currency === currency)!;
      expect([bank.posted, bank.pendingDebits], `bank ${index} ${currency}`).to.deep.equal([bank.onChain, "0"]);
      for (const netting of rows.filter((a) => a.kind === "netting" && a.currency === currency)) {
        expect([netting.posted, netting.pendingDebits, netting.pendingCredits], `netting account of bank ${index} ${currency}`).to.deep.equal(["0", "0", "0"]);
      }
    }
  };

  /** Everything a refused request must leave as it was. */
  const snapshot = async () => {
    const { db } = relay.database;
    const windows = await db
      .selectFrom("settlement_windows")
      .select(["id", "state", "round", "excluded_bics", "payments_root", "positions", "deferred", "payment_count", "tx_hash", "failure_reason", "approval_deadline"])
      .orderBy("id")
      .execute();
    const approvals = await db.selectFrom("window_approvals").select(["window_id", "round", "bic", "signature"]).orderBy("window_id").orderBy("bic").execute();
    const windowPayments = await db.selectFrom("window_payments").select(["window_id", "uetr", "leaf_hash"]).orderBy("window_id").orderBy("uetr").execute();
    const payments = await db.selectFrom("payments").select(["uetr", "status", "window_id"]).orderBy("uetr").execute();
    const history = await db.selectFrom("payment_status_history").select(["uetr", "status"]).orderBy("id").execute();
    const transfers = await db.selectFrom("ledger_transfers").select(["id", "kind", "amount"]).orderBy("id").execute();
    const intents = await db.selectFrom("chain_intents").select(["id", "kind", "uetr", "status"]).orderBy("id").execute();
    const quotes = await db.selectFrom("fx_quotes").select(["id", "status", "used_by"]).orderBy("id").execute();
    return { windows, approvals, windowPayments, payments, history: history.length, transfers, intents, quotes };
  };
  /** The request's answer, after checking it changed nothing. */
  const unchanged = async (request: () => Promise<{ status: number; body: any }>) => {
    const before = await snapshot();
    const res = await request();
    expect(await snapshot(), `state after ${res.status} ${JSON.stringify(res.body?.error ?? res.body)}`).to.deep.equal(before);
    return res;
  };
  const refused = async (request: () => Promise<{ status: number; body: any }>, status: number, code: string) => {
    const res = await unchanged(request);
    expect([res.status, res.body?.error?.code], JSON.stringify(res.body)).to.deep.equal([status, code]);
    return res;
  };
  /** No chain intent in flight (a settled payment's intents turn done when their receipts are seen). */
  const outboxIdle = () =>
    eventually(async () => {
      const busy = await relay.database.db.selectFrom("chain_intents").select("id").where("status", "in", ["pending", "sent"]).execute();
      return busy.length === 0 ? true : undefined;
    }, 30_000, "outbox idle");
  const VALID_LOOKING_SIGNATURE = `0x${"11".repeat(65)}`;

  // ----- 1. input refused while a GBP window is open, then closed, then awaiting approval ------

  let gbp: { windowId: string; p1: string; p2: string; cancelled: string; gross: string };

  it("answers 404 window_not_found for an unknown window (GET, close, approvals) and 400 for a malformed id or state", async () => {
    const unknown = randomUUID();
    await refused(() => api("GET", `/v1/windows/${unknown}`, { key: treasury() }), 404, "window_not_found");
    await refused(() => close(unknown), 404, "window_not_found");
    await refused(() => postApproval(unknown, VALID_LOOKING_SIGNATURE, { key: key(0) }), 404, "window_not_found");
    await refused(() => api("GET", "/v1/windows/not-a-window", { key: treasury() }), 400, "invalid_field");
    await refused(() => api("GET", "/v1/windows?state=DONE", { key: treasury() }), 400, "invalid_field");
  });

  it("while a window is OPEN: refuses approvals, a bank's close, proofs of gross and queued payments and net FX; cancels a queued payment", async () => {
    const p1 = await payNet(0, 1, "1000", "GBP");
    const p2 = await payNet(1, 2, "400", "GBP");
    const doomed = await payNet(0, 2, "250", "GBP");
    const windowId = p1.windowId;
    expect([p2.windowId, doomed.windowId]).to.deep.equal([windowId, windowId]);
    expect((await windowOf(windowId)).state).to.equal("OPEN");

    await refused(() => postApproval(windowId, VALID_LOOKING_SIGNATURE, { key: key(0) }), 409, "window_not_awaiting_approval");
    await refused(() => close(windowId, key(0)), 403, "forbidden");
    await refused(() => api("POST", `/v1/windows/${windowId}/close`, { key: treasury() }), 400, "missing_idempotency_key");

    // A gross payment, settled: there is no window proof of it.
    const gross = await api("POST", "/v1/payments", {
      key: key(2),
      idempotencyKey: randomUUID(),
      body: { endToEndId: "NF-GROSS", debtorAgent: { bic: world.bic(2) }, creditorAgent: { bic: world.bic(3) }, amount: { value: "123", currency: "GBP" } },
    });
    expect(gross.status, JSON.stringify(gross.body)).to.equal(201);
    expect(gross.body.settlement).to.equal("gross");
    await paymentReaches(gross.body.uetr, "SETTLED");
    await outboxIdle();
    await refused(() => api("GET", `/v1/payments/${gross.body.uetr}/proof`, { key: treasury() }), 409, "proof_not_available");
    await refused(() => api("GET", `/v1/payments/${p1.uetr}/proof`, { key: key(0) }), 409, "proof_not_available");
    await refused(() => api("GET", `/v1/payments/${randomUUID()}/proof`, { key: treasury() }), 404, "payment_not_found");

    // A cross-currency payment cannot settle net; its quote stays unused.
    const quote = await api("POST", "/v1/quotes", { key: key(0), idempotencyKey: randomUUID(), body: { sourceCurrency: "GBP", targetCurrency: "JPY", sourceAmount: "1000" } });
    expect(quote.status, JSON.stringify(quote.body)).to.equal(201);
    await refused(
      () =>
        api("POST", "/v1/payments", {
          key: key(0),
          idempotencyKey: randomUUID(),
          body: { endToEndId: "NF-NETFX", debtorAgent: { bic: world.bic(0) }, creditorAgent: { bic: world.bic(1) }, amount: { value: "1000", currency: "GBP" }, quoteId: quote.body.id, settlement: "net" },
        }),
      422,
      "net_settlement_unavailable",
    );
    expect((await api("GET", `/v1/quotes/${quote.body.id}`, { key: key(0) })).body.status).to.equal("open");

    // Only the debtor cancels; while the window is open it may.
    await refused(() => api("POST", `/v1/payments/${doomed.uetr}/cancel`, { key: key(2), idempotencyKey: randomUUID() }), 422, "forbidden_agent");
    const cancelled = await api("POST", `/v1/payments/${doomed.uetr}/cancel`, { key: key(0), idempotencyKey: randomUUID() });
    expect(cancelled.status, JSON.stringify(cancelled.body)).to.equal(200);
    expect(cancelled.body.status).to.equal("CANCELLED");
    const account0 = (await api("GET", "/v1/accounts", { key: key(0) })).body.accounts.find((a: { kind: string; currency: string }) => a.kind === "netting" && a.currency === "GBP");
    expect(account0.pendingDebits, "the cancelled obligation is voided: only p1 is pending").to.equal("1000");

    expect((await windowOf(windowId)).state).to.equal("OPEN");
    gbp = { windowId, p1: p1.uetr, p2: p2.uetr, cancelled: doomed.uetr, gross: gross.body.uetr };
  });

  it("closes a window once: a second close is 409 window_not_open, and its payments are no longer cancellable", async () => {
    const closed = await closeOk(gbp.windowId);
    expect(closed.id).to.equal(gbp.windowId);
    await refused(() => close(gbp.windowId), 409, "window_not_open");
    const w = await awaitingApprovals(gbp.windowId, 0);
    expect(w.paymentCount).to.equal(2);
    expect([...w.includedPayments].sort()).to.deep.equal([gbp.p1, gbp.p2].sort());
    expect(positionsOf(w)).to.deep.equal({ [world.bic(0)]: "-1000", [world.bic(1)]: "600", [world.bic(2)]: "400" });
    expect(w.positions.filter((p: { approvalRequired: boolean }) => p.approvalRequired).map((p: { bic: string }) => p.bic)).to.deep.equal([world.bic(0)]);
    await refused(() => close(gbp.windowId), 409, "window_not_open");
    await refused(() => api("POST", `/v1/payments/${gbp.p1}/cancel`, { key: key(0), idempotencyKey: randomUUID() }), 409, "payment_not_cancellable");
    // The cancelled payment never joined it, and the next window is open.
    const next = await openWindow("GBP");
    expect(next.id).to.not.equal(gbp.windowId);
  });

  it("refuses malformed, wrong-key, other-window, tampered and non-participant approvals, recording none", async () => {
    const w = await awaitingApprovals(gbp.windowId, 0);
    const typedData = w.approvalRequest.typedData as TypedData;
    expect(typedData.message.windowId).to.equal(w.chainWindowId);
    const post = (signature: string, options: { key: string; bic?: string } = { key: key(0) }) => () => postApproval(gbp.windowId, signature, options);

    await refused(post("0x1234"), 400, "invalid_field");
    await refused(post(`0x${"zz".repeat(65)}`), 400, "invalid_field");
    await refused(() => api("POST", `/v1/windows/${gbp.windowId}/approvals`, { key: key(0), idempotencyKey: randomUUID(), body: { signature: VALID_LOOKING_SIGNATURE, extra: 1 } }), 400, "unknown_field");
    await refused(() => api("POST", `/v1/windows/${gbp.windowId}/approvals`, { key: key(0), body: { signature: VALID_LOOKING_SIGNATURE } }), 400, "missing_idempotency_key");
    // 65 bytes that are no signature at all.
    await refused(post(VALID_LOOKING_SIGNATURE), 422, "invalid_signature");
    // The right message, the wrong key: bank 1 signs bank 0's approval (as bank 0, and via treasury).
    const byBank1 = await sign(signer(1), typedData);
    await refused(post(byBank1), 422, "invalid_signature");
    await refused(post(byBank1, { key: treasury(), bic: world.bic(0) }), 422, "invalid_signature");
    // Bank 0's key over another window (the currency's open one) and over a random window id.
    const other = await openWindow("GBP");
    const otherWindowId = (await windowOf(other.id)).chainWindowId;
    await refused(post(await sign(signer(0), typedData, { ...typedData.message, windowId: otherWindowId })), 422, "invalid_signature");
    // Tampered positions (still netting to zero), and a tampered root.
    const tampered = typedData.message.positions.map((p) =>
      p.bank.toLowerCase() === signer(0).address.toLowerCase() ? { ...p, amount: "-999" } : p.bank.toLowerCase() === signer(1).address.toLowerCase() ? { ...p, amount: "599" } : p,
    );
    await refused(post(await sign(signer(0), typedData, { ...typedData.message, positions: tampered })), 422, "invalid_signature");
    await refused(post(await sign(signer(0), typedData, { ...typedData.message, paymentsRoot: `0x${"ab".repeat(32)}` })), 422, "invalid_signature");
    // A bank without a position, even with its own valid signature of the message; treasury naming no bank.
    await refused(post(await sign(signer(3), typedData), { key: key(3) }), 422, "not_a_window_participant");
    await refused(post(await sign(signer(3), typedData), { key: treasury(), bic: world.bic(3) }), 422, "not_a_window_participant");
    await refused(post(await sign(signer(0), typedData), { key: treasury() }), 422, "not_a_window_participant");

    const after = await windowOf(gbp.windowId);
    expect([after.state, after.round, after.approvals]).to.deep.equal(["AWAITING_APPROVALS", 0, []]);
  });

  it("settles with the debtor's valid approval (given with v 0/1, as HSMs sign); the cancelled payment is not in it; later approvals and closes are 409", async () => {
    const before = await balances("GBP");
    const open = await windowOf(gbp.windowId);
    const signed = await sign(signer(0), open.approvalRequest.typedData);
    const v = parseInt(signed.slice(-2), 16);
    const signature = `${signed.slice(0, -2)}${(v - 27).toString(16).padStart(2, "0")}`;
    const approved = await postApproval(gbp.windowId, signature, { key: key(0) });
    expect(approved.status, JSON.stringify(approved.body)).to.equal(200);
    const w = await settledOrFailed(gbp.windowId);
    expect(w.state, w.failureReason).to.equal("SETTLED");
    expect(deltas(await balances("GBP"), before)).to.deep.equal([-1000n, 600n, 400n, 0n]);
    expect([...w.includedPayments].sort()).to.deep.equal([gbp.p1, gbp.p2].sort());
    expect(w.includedPayments).to.not.include(gbp.cancelled);
    expect((await payment(gbp.cancelled)).status).to.equal("CANCELLED");
    for (const uetr of [gbp.p1, gbp.p2]) {
      await paymentReaches(uetr, "SETTLED");
      await settledOnce(uetr);
      await expectProofVerifies(uetr);
    }
    await refused(() => api("GET", `/v1/payments/${gbp.cancelled}/proof`, { key: key(0) }), 409, "proof_not_available");
    await refused(() => postApproval(gbp.windowId, signature, { key: key(0) }), 409, "window_not_awaiting_approval");
    await refused(() => close(gbp.windowId), 409, "window_not_open");
    expect(await windowSettledEvents(w.chainWindowId)).to.have.length(1);
    await expectLedgerMatchesChain([0, 1, 2, 3], "GBP");
  });

  // ----- 2. the approval deadline ----------------------------------------------------------------

  it("excludes a debtor that does not approve by the deadline: a new round without it settles, its payments wait for the next window", async () => {
    const a = await payNet(0, 2, "500", "JPY");
    const b = await payNet(1, 2, "300", "JPY");
    const c = await payNet(0, 3, "200", "JPY");
    const d = await payNet(3, 1, "100", "JPY");
    const windowId = a.windowId;
    await closeOk(windowId);
    const round0 = await awaitingApprovals(windowId, 0);
    expect(positionsOf(round0)).to.deep.equal({ [world.bic(0)]: "-700", [world.bic(1)]: "-200", [world.bic(2)]: "800", [world.bic(3)]: "100" });

    // Bank 0 approves round 0; bank 1 never does.
    const { signature: round0Signature } = await approve(0, windowId);
    const waiting = await windowOf(windowId);
    expect([waiting.state, waiting.approvals.map((x: { bic: string }) => x.bic)]).to.deep.equal(["AWAITING_APPROVALS", [world.bic(0)]]);
    const before = await balances("JPY");

    skew += (APPROVAL_SECONDS + 1) * 1_000; // past the deadline on the relay's clock
    const round1 = await awaitingApprovals(windowId, 1);
    expect(round1.excludedBanks).to.deep.equal([world.bic(1)]);
    expect(positionsOf(round1)).to.deep.equal({ [world.bic(0)]: "-700", [world.bic(2)]: "500", [world.bic(3)]: "200" });
    expect([...round1.includedPayments].sort()).to.deep.equal([a.uetr, c.uetr].sort());
    expect(round1.approvals, "round 0's approvals do not carry over").to.deep.equal([]);
    expect(round1.deferred.map((x: { uetr: string }) => x.uetr).sort()).to.deep.equal([b.uetr, d.uetr].sort());
    for (const deferred of round1.deferred) expect(deferred.reason).to.match(new RegExp(`${world.bic(1)} did not approve`));

    const next = await openWindow("JPY");
    expect(next.id).to.not.equal(windowId);
    for (const uetr of [b.uetr, d.uetr]) {
      const p = await payment(uetr);
      expect([p.status, p.windowId], uetr).to.deep.equal(["QUEUED", next.id]);
    }
    // Round 0's signature does not approve round 1 (other positions and root).
    await refused(() => postApproval(windowId, round0Signature, { key: key(0) }), 422, "invalid_signature");
    // The excluded bank has no position in round 1.
    await refused(async () => postApproval(windowId, await sign(signer(1), round1.approvalRequest.typedData), { key: key(1) }), 422, "not_a_window_participant");

    await approve(0, windowId);
    const settled = await settledOrFailed(windowId);
    expect([settled.state, settled.round, settled.excludedBanks], settled.failureReason).to.deep.equal(["SETTLED", 1, [world.bic(1)]]);
    expect(deltas(await balances("JPY"), before)).to.deep.equal([-700n, 0n, 500n, 200n]);
    for (const uetr of [a.uetr, c.uetr]) {
      await paymentReaches(uetr, "SETTLED");
      await expectProofVerifies(uetr);
    }
    for (const uetr of [b.uetr, d.uetr]) expect((await payment(uetr)).status).to.equal("QUEUED");

    // The excluded bank is not excluded from the next window: it approves there and all settle.
    const beforeNext = await balances("JPY");
    await closeOk(next.id);
    const nextRound = await awaitingApprovals(next.id, 0);
    expect(nextRound.excludedBanks).to.deep.equal([]);
    expect(positionsOf(nextRound)).to.deep.equal({ [world.bic(1)]: "-200", [world.bic(2)]: "300", [world.bic(3)]: "-100" });
    await approve(1, next.id);
    await approve(3, next.id);
    const nextSettled = await settledOrFailed(next.id);
    expect(nextSettled.state, nextSettled.failureReason).to.equal("SETTLED");
    expect(deltas(await balances("JPY"), beforeNext)).to.deep.equal([0n, -200n, 300n, -100n]);
    for (const uetr of [a.uetr, b.uetr, c.uetr, d.uetr]) {
      await paymentReaches(uetr, "SETTLED");
      await settledOnce(uetr);
      await expectProofVerifies(uetr);
    }
    expect((await payment(b.uetr)).windowId).to.equal(next.id);
    await expectLedgerMatchesChain([0, 1, 2, 3], "JPY");
  });

  // ----- 3. a debtor short at settlement ---------------------------------------------------------

  it("fails a window whose debtor revoked its allowance after approving; its payments move on and settle once, in the next window", async () => {
    const { tokens, netting, banks } = world.fixture;
    const e = await payNet(2, 3, "1500", "BHD");
    const f = await payNet(3, 0, "500", "BHD");
    const windowId = e.windowId;
    await closeOk(windowId);
    const w = await awaitingApprovals(windowId, 0);
    expect(positionsOf(w)).to.deep.equal({ [world.bic(0)]: "500", [world.bic(2)]: "-1500", [world.bic(3)]: "1000" });
    const before = await balances("BHD");

    await (await tokens.BHD.connect(banks[2]).approve(netting, 0)).wait();
    try {
      await approve(2, windowId);
      const failed = await settledOrFailed(windowId);
      expect(failed.state).to.equal("FAILED");
      expect(failed.failureReason).to.match(/ERC20InsufficientAllowance/);
      expect(await windowSettledEvents(failed.chainWindowId)).to.have.length(0);
      expect(await netting.paymentsRootOf(failed.chainWindowId)).to.equal(`0x${"0".repeat(64)}`);
      expect(deltas(await balances("BHD"), before)).to.deep.equal([0n, 0n, 0n, 0n]);
      const next = await openWindow("BHD");
      expect(next.id).to.not.equal(windowId);
      for (const uetr of [e.uetr, f.uetr]) {
        const p = await payment(uetr);
        expect([p.status, p.windowId], uetr).to.deep.equal(["QUEUED", next.id]);
        expect(p.history.map((h: { status: string }) => h.status)).to.not.include("SETTLED");
        expect(p.history[p.history.length - 1].reason).to.match(/settlement failed/);
      }
      const intents = await relay.database.db.selectFrom("chain_intents").select(["status", "last_error"]).where("kind", "=", "settle_window").where("uetr", "=", windowId).execute();
      expect(intents.map((i) => i.status)).to.deep.equal(["failed"]);
      await refused(() => api("GET", `/v1/payments/${e.uetr}/proof`, { key: key(2) }), 409, "proof_not_available");
      await refused(() => postApproval(windowId, VALID_LOOKING_SIGNATURE, { key: key(2) }), 409, "window_not_awaiting_approval");

      // Allowance back: the payments settle in the next window, once.
      await (await tokens.BHD.connect(banks[2]).approve(netting, MaxUint256)).wait();
      await closeOk(next.id);
      const round = await awaitingApprovals(next.id, 0);
      expect(positionsOf(round)).to.deep.equal(positionsOf(w));
      await approve(2, next.id);
      const settled = await settledOrFailed(next.id);
      expect(settled.state, settled.failureReason).to.equal("SETTLED");
      expect(deltas(await balances("BHD"), before)).to.deep.equal([500n, 0n, -1500n, 1000n]);
      expect(await windowSettledEvents(settled.chainWindowId)).to.have.length(1);
      expect(await windowSettledEvents(failed.chainWindowId)).to.have.length(0);
      for (const uetr of [e.uetr, f.uetr]) {
        await paymentReaches(uetr, "SETTLED");
        const p = await settledOnce(uetr);
        expect(p.windowId).to.equal(next.id);
        await expectProofVerifies(uetr);
      }
      expect((await windowOf(windowId)).state, "the failed window stays failed").to.equal("FAILED");
      await expectLedgerMatchesChain([0, 1, 2, 3], "BHD");
    } finally {
      await (await tokens.BHD.connect(banks[2]).approve(netting, MaxUint256)).wait();
    }
  });

  // ----- 4. a relay stopped while SETTLING ------------------------------------------------------

  it("a relay stopped while its window is SETTLING (netting paused) is replaced on the same database, which settles the window exactly once", async () => {
    const { netting, admin } = world.fixture;
    const g = await payNet(1, 3, "700", "GBP");
    const h = await payNet(3, 0, "200", "GBP");
    const windowId = g.windowId;
    const before = await balances("GBP");
    await (await netting.connect(admin).pause()).wait();
    let paused = true;
    try {
      await closeOk(windowId);
      const w = await awaitingApprovals(windowId, 0);
      expect(positionsOf(w)).to.deep.equal({ [world.bic(0)]: "200", [world.bic(1)]: "-700", [world.bic(3)]: "500" });
      await approve(1, windowId);
      // The settle intent is refused by the pause and waits for a retry.
      await eventually(async () => {
        const intent = await relay.database.db.selectFrom("chain_intents").selectAll().where("kind", "=", "settle_window").where("uetr", "=", windowId).executeTakeFirst();
        return intent && intent.attempts >= 1 && /EnforcedPause/.test(intent.last_error ?? "") ? intent : undefined;
      }, 60_000, "settle intent refused by the pause");
      expect((await windowOf(windowId)).state).to.equal("SETTLING");

      await world.relay.stop();
      await (await netting.connect(admin).unpause()).wait();
      paused = false;
      expect(await windowSettledEvents(w.chainWindowId), "nothing settles without a relay").to.have.length(0);

      replacement = await startRelay(
        loadConfig({
          PORT: "0",
          DATABASE_URL: world.databaseUrl,
          RPC_URL: world.rpcUrl,
          CONFIRMATIONS: "1",
          OPERATOR_PRIVATE_KEY: OPERATOR_KEY,
          LOG_LEVEL: "silent",
          AUTO_RELEASE: "true",
          WINDOW_APPROVAL_SECONDS: String(APPROVAL_SECONDS),
          WINDOW_INTERVAL_SECONDS: String(7 * 24 * 3600),
        }),
        { deployment: await deploymentOf(world.fixture), logger: pino({ level: "silent" }), intervals: { submitter: 100, indexer: 100, webhooks: 100, expiry: 200, windows: 100 }, now: world.now },
      );
      relay = replacement;
      api = apiClient(replacement.url);

      const settled = await windowReaches(windowId, (x) => x.state === "SETTLED" || x.state === "FAILED", "settled by the new relay", 90_000);
      expect(settled.state, settled.failureReason).to.equal("SETTLED");
      expect(await windowSettledEvents(settled.chainWindowId)).to.have.length(1);
      expect(deltas(await balances("GBP"), before)).to.deep.equal([200n, -700n, 0n, 500n]);
      for (const uetr of [g.uetr, h.uetr]) {
        await paymentReaches(uetr, "SETTLED");
        await settledOnce(uetr);
        await expectProofVerifies(uetr);
      }
      // One settle intent for the window, done once the new relay's submitter sees its receipt.
      await eventually(async () => {
        const intents = await relay.database.db.selectFrom("chain_intents").select(["status"]).where("kind", "=", "settle_window").where("uetr", "=", windowId).execute();
        expect(intents).to.have.length(1);
        return intents[0].status === "done" ? true : undefined;
      }, 30_000, "settle intent done");
      await expectLedgerMatchesChain([0, 1, 2, 3], "GBP");
      // A little later still exactly once (the indexer does not apply it twice).
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      for (const uetr of [g.uetr, h.uetr]) await settledOnce(uetr);
      expect(await windowSettledEvents(settled.chainWindowId)).to.have.length(1);
    } finally {
      if (paused) await (await netting.connect(admin).unpause()).wait();
    }
  });
  it("lets a bank suspended in the registry wait for the next window instead of failing everyone's", async () => {
    const { registry, admin, banks } = world.fixture;
    const settles = await payNet(0, 1, "250", "GBP");
    const held = await payNet(2, 3, "150", "GBP");
    await (await registry.connect(admin).suspend(banks[3].address)).wait();
    try {
      expect((await close(settles.windowId)).status).to.equal(200);
      const w = await windowReaches(settles.windowId, (x) => x.state !== "OPEN" && x.state !== "CLOSING", "closed");
      expect(w.deferred).to.deep.include({ uetr: held.uetr, reason: `${world.bic(3)} is not active in the participant registry` });
      for (const p of w.positions.filter((x: { approvalRequired: boolean }) => x.approvalRequired)) {
        await approve([0, 1, 2, 3].find((i) => world.bic(i) === p.bic)!, settles.windowId);
      }
      const settled = await settledOrFailed(settles.windowId);
      expect(settled.state, settled.failureReason).to.equal("SETTLED");
      expect(settled.includedPayments).to.include(settles.uetr);
      const waiting = await payment(held.uetr);
      expect(waiting.status).to.equal("QUEUED");
      expect(waiting.windowId).to.not.equal(settles.windowId);
    } finally {
      await (await registry.connect(admin).reactivate(banks[3].address)).wait();
    }
  });
});
