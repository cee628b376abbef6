import { expect } from "chai";
import fc from "fast-check";
import type { DatabaseHandle, Dialect } from "../../server/db/database";
import type { PaymentStatus } from "../../server/db/schema";
import { bankAccountId, createLedgerService, reserveAccountId, type LedgerService } from "../../server/ledger/service";
import { createPaymentService, PaymentLedgerError, PaymentStateError, REFUND_DELAY_MS } from "../../server/payments/service";
import type { Caller, ChainObservation, NewPayment, Payment, PaymentService } from "../../server/payments/types";
import { createRiskService } from "../../server/risk/service";
import { emptySanctionsList, parseSanctionsList, type SanctionsList } from "../../server/risk/sanctions";
import { forEachDialect, openTestDatabase } from "./databases";

const [A, B, C, D] = ["AAAAGB2LXXX", "BBBBDEFFXXX", "CCCCFRPPXXX", "DDDDITMMXXX"]; // D is suspended
const TOKENS: Record<string, string> = { GBP: "0x" + "11".repeat(20), EUR: "0x" + "22".repeat(20) };
const addressOf = (bic: string) => "0x" + bic.charCodeAt(0).toString(16).repeat(20);
const bank = (bic: string): Caller => ({ keyId: `key-${bic}`, role: "bank", bic });
const TREASURY: Caller = { keyId: "treasury", role: "treasury", bic: null };
const HOUR = 3_600_000;
const ZERO32 = "0x" + "00".repeat(32);
const ZERO16 = "0x" + "00".repeat(16);

interface World {
  handle: DatabaseHandle;
  ledger: LedgerService;
  service: PaymentService;
  caps: { single?: bigint; daily?: bigint };
  advance(ms: number): void;
  now(): number;
}

async function openWorld(dialect: Dialect, options: { autoRelease?: boolean; sanctions?: SanctionsList } = {}): Promise<World> {
  const handle = await openTestDatabase(dialect);
  let clock = Date.UTC(2025, 5, 2, 9, 30, 0, 250);
  const now = () => clock;
  const caps: World["caps"] = {};
  const ledger = createLedgerService({ dialect, now });
  const risk = createRiskService({
    db: handle.db,
    sanctions: options.sanctions ?? emptySanctionsList(),
    limits: { singlePaymentCap: () => caps.single, dailyVolumeCap: () => caps.daily },
    now,
  });
  const service = createPaymentService({
    db: handle.db,
    dialect,
    ledger,
    risk,
    chain: { tokenAddress: (currency) => TOKENS[currency] },
    config: { defaultExpirySeconds: 3600, maxExpirySeconds: 30 * 86_400, autoRelease: options.autoRelease ?? false },
    now,
  });
  await addParticipants(handle, [A, B, C, D], now());
  return { handle, ledger, service, caps, now, advance: (ms) => (clock += ms) };
}

async function addParticipants(handle: DatabaseHandle, bics: string[], at: number, address = addressOf): Promise<void> {
  const rows = bics.map((bic) => ({
    bic,
    name: `Bank ${bic}`,
    country: bic.slice(4, 6),
    address: address(bic),
    status: bic === D ? ("suspended" as const) : ("active" as const),
    webhook_url: null,
    webhook_secret: null,
    created_at: at,
  }));
  await handle.db.insertInto("participants").values(rows).execute();
}

let funding = 0;
/** Funds-in: the reserve (the contra account of token supply) credits the bank, posted at once. */
async function fund(w: World, bic: string, value: bigint, currency = "GBP"): Promise<void> {
  await w.ledger.ensureAccount(w.handle.db, { id: reserveAccountId(currency), kind: "reserve", bic: null, currency });
  await w.ledger.ensureAccount(w.handle.db, { id: bankAccountId(bic, currency), kind: "bank", bic, currency });
  const result = await w.ledger.createTransfer(w.handle.db, {
    id: `fund:${++funding}`,
    debitAccountId: reserveAccountId(currency),
    creditAccountId: bankAccountId(bic, currency),
    amount: value,
    phase: "posted",
  });
  expect(result.ok).to.equal(true);
}

const instruction = (overrides: Partial<NewPayment> = {}): NewPayment => ({
  endToEndId: "E2E-1",
  debtorAgent: A,
  creditorAgent: B,
  amount: { value: 25_000n, currency: "GBP" },
  debtor: { name: "Alice Ltd", account: "GB00AAAA0001" },
  creditor: { name: "Bob GmbH", account: "DE00BBBB0002" },
  ...overrides,
});

async function created(w: World, overrides: Partial<NewPayment> = {}, caller = bank(overrides.debtorAgent ?? A)): Promise<Payment> {
  const result = await w.service.create(caller, instruction(overrides));
  if (!result.ok) throw new Error(`create failed: ${result.code} ${result.message}`);
  return result.value;
}

let block = 100;
const observation = (uetr: string): ChainObservation => ({ uetr, txHash: "0x" + (++block).toString(16).padStart(64, "0"), blockNumber: block });

async function balances(w: World, bic: string, currency = "GBP") {
  const account = await w.ledger.getAccount(w.handle.db, bankAccountId(bic, currency));
  const { debitsPosted = 0n, creditsPosted = 0n, debitsPending = 0n, creditsPending = 0n } = account ?? {};
  return { posted: creditsPosted - debitsPosted, debitsPending, creditsPending };
}

async function intents(w: World, uetr: string) {
  const rows = await w.handle.db.selectFrom("chain_intents").selectAll().where("uetr", "=", uetr).orderBy("created_at").execute();
  return Object.fromEntries(rows.map((row) => [row.kind, { ...row, payload: JSON.parse(row.payload) }]));
}

/**
 * The webhooks about one payment as [bic, status], in time order (tests that check the order move
 * the clock between changes: the outbox's ids are random), the debtor's before the creditor's.
 */
async function webhooks(w: World, uetr: string): Promise<[string, PaymentStatus][]> {
  const rows = await w.handle.db.selectFrom("webhook_deliveries").selectAll().orderBy("created_at").orderBy("bic").orderBy("id").execute();
  return rows
    .map((row) => ({ bic: row.bic, type: row.event_type, body: JSON.parse(row.payload) }))
    .filter((row) => row.body.data.uetr === uetr)
    .map((row) => {
      expect(row.type).to.equal("payment.status_changed");
      expect(row.body.data.amount).to.deep.equal({ value: "25000", currency: "GBP" });
      return [row.bic, row.body.data.status];
    });
}

async function statuses(w: World, uetr: string): Promise<PaymentStatus[]> {
  const result = await w.service.get(TREASURY, uetr);
  if (!result.ok) throw new Error(result.code);
  return result.value.history!.map((change) => change.status);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

async function expectBalanced(w: World): Promise<void> {
  for (const [currency, { debits, credits }] of await w.ledger.totals(w.handle.db)) expect(debits, currency).to.equal(credits);
}

forEachDialect("server/payments/service", (dialect) => {
  let w: World;
  let open: World | undefined; // unset when beforeEach failed, so afterEach closes nothing twice
  beforeEach(async () => {
    open = w = await openWorld(dialect);
    await fund(w, A, 1_000_000n);
  });
  afterEach(async () => {
    await open?.handle.close();
    open = undefined;
  });

  describe("lifecycle", () => {
    it("RECEIVED → SUBMITTED → LOCKED → SETTLED with the lock intent, ledger, history and webhooks", async () => {
      const payment = await created(w);
      expect(payment).to.deep.include({ status: "RECEIVED", debtorAgent: A, creditorAgent: B });
      expect(payment.uetr).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const expiry = Math.floor(w.now() / 1000) + 3600;
      expect(payment.expiresAt).to.equal(expiry * 1000);
      const { lock } = await intents(w, payment.uetr);
      expect(lock.status).to.equal("pending");
      expect(lock.payload).to.deep.equal({
        payer: addressOf(A),
        request: {
          uetr: "0x" + payment.uetr.replace(/-/g, ""),
          payee: addressOf(B),
          token: TOKENS.GBP,
          amount: "25000",
          expiry: String(expiry),
          hashlock: ZERO32,
          linkedUetr: ZERO16,
        },
      });

      const submitted = { uetr: payment.uetr, txHash: "0x" + "ab".repeat(32) };
      w.advance(1000);
      expect(await w.service.markSubmitted(w.handle.db, submitted)).to.equal(true);
      const locked = observation(payment.uetr);
      w.advance(1000);
      expect(await w.service.onLocked(w.handle.db, locked)).to.equal(true);
      expect(await balances(w, A)).to.deep.equal({ posted: 1_000_000n, debitsPending: 25_000n, creditsPending: 0n });
      expect(await balances(w, B)).to.deep.equal({ posted: 0n, debitsPending: 0n, creditsPending: 25_000n });

      const confirmed = await w.service.confirm(bank(B), payment.uetr);
      expect(confirmed.ok && confirmed.value.status).to.equal("LOCKED");
      const { release } = await intents(w, payment.uetr);
      expect(release.payload.terms).to.deep.equal({ ...lock.payload.request, payer: addressOf(A) });

      const released = observation(payment.uetr);
      w.advance(1000);
      expect(await w.service.onReleased(w.handle.db, released)).to.equal(true);
      expect(await balances(w, A)).to.deep.equal({ posted: 975_000n, debitsPending: 0n, creditsPending: 0n });
      expect(await balances(w, B)).to.deep.equal({ posted: 25_000n, debitsPending: 0n, creditsPending: 0n });
      const transfers = await w.ledger.transfersOf(w.handle.db, payment.uetr);
      expect(transfers.map((t) => [t.id, t.kind])).to.deep.equal([
        [`${payment.uetr}:lock`, "pending"],
        [`${payment.uetr}:release`, "post_pending"],
      ]);
      await expectBalanced(w);

      const got = await w.service.get(bank(A), payment.uetr);
      expect(got.ok && got.value.history!.map(({ status, txHash, blockNumber }) => [status, txHash, blockNumber])).to.deep.equal([
        ["RECEIVED", null, null],
        ["SUBMITTED", submitted.txHash, null],
        ["LOCKED", locked.txHash, locked.blockNumber],
        ["SETTLED", released.txHash, released.blockNumber],
      ]);
      const expected = (["RECEIVED", "SUBMITTED", "LOCKED", "SETTLED"] as const).flatMap((s) => [[A, s], [B, s]]);
      expect(await webhooks(w, payment.uetr)).to.deep.equal(expected);
    });

    it("refunds a locked payment after expiry and voids its pending transfer", async () => {
      const payment = await created(w);
      const later = await created(w, { expiresInSeconds: 7200 });
      await w.service.onLocked(w.handle.db, observation(payment.uetr));
      await w.service.onLocked(w.handle.db, observation(later.uetr));
      expect(await w.service.refundExpired(payment.expiresAt - 1)).to.equal(0);
      w.advance(HOUR);
      expect(await w.service.refundExpired()).to.equal(1);
      expect(await w.service.refundExpired()).to.equal(0);
      const { refund } = await intents(w, payment.uetr);
      expect(Number(refund.next_attempt_at)).to.equal(payment.expiresAt + REFUND_DELAY_MS);
      expect(refund.payload.terms.expiry).to.equal(String(payment.expiresAt / 1000));

      expect(await w.service.onRefunded(w.handle.db, observation(payment.uetr))).to.equal(true);
      expect(await balances(w, A)).to.deep.equal({ posted: 1_000_000n, debitsPending: 25_000n, creditsPending: 0n });
      expect((await w.ledger.transfersOf(w.handle.db, payment.uetr)).map((t) => t.id)).to.include(`${payment.uetr}:refund`);
      expect(await statuses(w, payment.uetr)).to.deep.equal(["RECEIVED", "LOCKED", "REFUNDED"]);
      expect((await webhooks(w, payment.uetr)).slice(-2)).to.deep.equal([[A, "REFUNDED"], [B, "REFUNDED"]]);
    });

    it("auto-release enqueues the release at lock, without the creditor's confirm", async () => {
      const auto = await openWorld(dialect, { autoRelease: true });
      try {
        await fund(auto, A, 100_000n);
        const payment = await created(auto);
        await auto.service.onLocked(auto.handle.db, observation(payment.uetr));
        expect(Object.keys(await intents(auto, payment.uetr))).to.deep.equal(["lock", "release"]);
      } finally {
        await auto.handle.close();
      }
    });
  });

  describe("cancel and confirm", () => {
    it("the debtor cancels before the lock; the lock intent is withdrawn; a second cancel is refused", async () => {
      const payment = await created(w);
      w.advance(1000);
      const cancelled = await w.service.cancel(bank(A), payment.uetr);
      expect(cancelled.ok && cancelled.value.status).to.equal("CANCELLED");
      expect((await intents(w, payment.uetr)).lock).to.deep.include({ status: "failed", last_error: "cancelled" });
      expect(await w.service.cancel(bank(A), payment.uetr)).to.deep.include({ ok: false, code: "payment_not_cancellable" });
      expect(await webhooks(w, payment.uetr)).to.deep.equal([[A, "RECEIVED"], [B, "RECEIVED"], [A, "CANCELLED"], [B, "CANCELLED"]]);
      // The cancelled amount no longer counts against the debtor's funds.
      expect((await w.service.create(bank(A), instruction({ amount: { value: 1_000_000n, currency: "GBP" } }))).ok).to.equal(true);
    });

    it("refuses to cancel once submitted, leased, or locked, and lets treasury cancel", async () => {
      const submitted = await created(w);
      await w.service.markSubmitted(w.handle.db, { uetr: submitted.uetr, txHash: "0x01" });
      const leased = await created(w);
      await w.handle.db.updateTable("chain_intents").set({ lease_owner: "submitter-1", lease_until: w.now() + 30_000 }).where("uetr", "=", leased.uetr).execute();
      const locked = await created(w);
      await w.service.onLocked(w.handle.db, observation(locked.uetr));
      for (const p of [submitted, leased, locked]) {
        expect(await w.service.cancel(bank(A), p.uetr), p.uetr).to.deep.include({ ok: false, code: "payment_not_cancellable" });
      }
      expect((await w.service.cancel(TREASURY, (await created(w)).uetr)).ok).to.equal(true);
    });

    it("only the creditor (or treasury) confirms, and only a LOCKED payment", async () => {
      const payment = await created(w);
      expect(await w.service.confirm(bank(B), payment.uetr)).to.deep.include({ ok: false, code: "payment_not_confirmable" });
      await w.service.onLocked(w.handle.db, observation(payment.uetr));
      expect(await w.service.confirm(bank(A), payment.uetr)).to.deep.include({ ok: false, code: "forbidden_agent" });
      expect(await w.service.cancel(bank(B), payment.uetr)).to.deep.include({ ok: false, code: "forbidden_agent" });
      expect((await w.service.confirm(TREASURY, payment.uetr)).ok).to.equal(true);
      expect((await w.service.confirm(bank(B), payment.uetr)).ok).to.equal(true);
      expect(Object.keys(await intents(w, payment.uetr))).to.deep.equal(["lock", "release"]);
    });
  });

  describe("create refuses", () => {
    const cases: [string, Partial<NewPayment>, Caller?][] = [
      ["forbidden_agent", {}, bank(B)],
      ["forbidden_agent", {}, { keyId: "k", role: "bank", bic: null }],
      ["unknown_participant", { debtorAgent: "ZZZZGB2LXXX" }, TREASURY],
      ["unknown_participant", { creditorAgent: "ZZZZGB2LXXX" }],
      ["participant_suspended", { creditorAgent: D }],
      ["participant_suspended", { debtorAgent: D }, TREASURY],
      ["same_agent", { creditorAgent: "AAAAGB2L" }],
      ["currency_not_supported", { amount: { value: 1n, currency: "JPY" } }],
      ["currency_not_supported", { amount: { value: 1n, currency: "ABC" } }],
      ["invalid_amount", { amount: { value: 0n, currency: "GBP" } }],
      ["invalid_amount", { amount: { value: -5n, currency: "GBP" } }],
      ["invalid_amount", { amount: { value: 2n ** 128n, currency: "GBP" } }],
      ["invalid_expiry", { expiresInSeconds: 0 }],
      ["invalid_expiry", { expiresInSeconds: 30 * 86_400 + 1 }],
      ["invalid_expiry", { expiresInSeconds: 1.5 }],
      ["invalid_uetr", { uetr: "not-a-uuid" }],
      ["invalid_uetr", { uetr: "3f2b6c1e-0d4a-1b2c-8d9e-0123456789ab" }], // a v1 UUID
      ["insufficient_funds", { amount: { value: 1_000_001n, currency: "GBP" } }],
      ["insufficient_funds", { amount: { value: 1n, currency: "EUR" } }], // no EUR account at all
    ];
    for (const [code, overrides, caller] of cases) {
      const by = caller ? ` (by ${caller.role} ${caller.bic ?? "without a BIC"})` : "";
      it(`${code}: ${JSON.stringify(overrides, (_, v) => (typeof v === "bigint" ? `${v}n` : v))}${by}`, async () => {
        const result = await w.service.create(caller ?? bank(A), instruction(overrides));
        expect(result).to.deep.include({ ok: false, code });
        for (const table of ["payments", "chain_intents", "webhook_deliveries", "risk_daily_volumes"] as const) {
          const rows = await w.handle.db.selectFrom(table).selectAll().execute();
          expect(rows, table).to.have.length(0);
        }
      });
    }

    it("duplicate_uetr, whatever the UETR's case", async () => {
      const uetr = "3f2b6c1e-0d4a-4b2c-8d9e-0123456789ab";
      expect((await created(w, { uetr: uetr.toUpperCase() })).uetr).to.equal(uetr);
      expect(await w.service.create(bank(A), instruction({ uetr }))).to.deep.include({ ok: false, code: "duplicate_uetr" });
    });

    it("insufficient_funds counts the debtor's accepted payments not yet locked", async () => {
      await created(w, { amount: { value: 600_000n, currency: "GBP" } });
      const second = await w.service.create(bank(A), instruction({ amount: { value: 400_001n, currency: "GBP" } }));
      expect(second).to.deep.include({ ok: false, code: "insufficient_funds" });
      expect(!second.ok && second.details).to.deep.include({ available: "400000", amount: "400001" });
    });

    it("limit_exceeded: the single cap, and the daily cap across payments", async () => {
      w.caps.single = 30_000n;
      expect(await w.service.create(bank(A), instruction({ amount: { value: 30_001n, currency: "GBP" } }))).to.deep.include({
        ok: false,
        code: "limit_exceeded",
      });
      w.caps.daily = 60_000n;
      await created(w, { amount: { value: 30_000n, currency: "GBP" } });
      await created(w, { amount: { value: 30_000n, currency: "GBP" } });
      const third = await w.service.create(bank(A), instruction({ amount: { value: 1n, currency: "GBP" } }));
      expect(!third.ok && third.details).to.deep.include({ limit: "daily_volume", used: "60000" });
      w.advance(24 * HOUR);
      expect((await w.service.create(bank(A), instruction({ amount: { value: 1n, currency: "GBP" } }))).ok).to.equal(true);
    });

    it("sanctioned_party: an agent's BIC or a party's name, with the entry as the reason", async () => {
      const screened = await openWorld(dialect, { sanctions: parseSanctionsList("bic: BBBBDEFF\nname: Alice LTD\n") });
      try {
        await fund(screened, A, 100_000n);
        await fund(screened, C, 100_000n);
        const byBic = await screened.service.create(bank(C), instruction({ debtorAgent: C, debtor: { name: "Carol" } }));
        expect(!byBic.ok && byBic.details).to.deep.include({ party: "creditorAgent" });
        const byName = await screened.service.create(bank(A), instruction({ creditorAgent: C }));
        expect(byName).to.deep.include({ ok: false, code: "sanctioned_party" });
        expect(!byName.ok && byName.details).to.deep.include({ party: "debtor", entry: { type: "name", value: "Alice LTD", reference: "line 2" } });
      } finally {
        await screened.handle.close();
      }
    });

    it("nothing of a create survives when the caller's transaction rolls back", async () => {
      const rollback = new Error("rollback");
      const attempt = w.handle.db.transaction().execute(async (trx) => {
        expect((await w.service.create(bank(A), instruction(), trx)).ok).to.equal(true);
        throw rollback;
      });
      expect(await rejection(attempt)).to.equal(rollback);
      expect(await w.handle.db.selectFrom("payments").selectAll().execute()).to.have.length(0);
      expect(await w.handle.db.selectFrom("chain_intents").selectAll().execute()).to.have.length(0);
    });
  });

  describe("visibility", () => {
    it("a bank sees, cancels and confirms only its own payments; others are not found", async () => {
      const payment = await created(w);
      for (const attempt of [
        w.service.get(bank(C), payment.uetr),
        w.service.cancel(bank(C), payment.uetr),
        w.service.confirm(bank(C), payment.uetr),
        w.service.get(bank(C), "3f2b6c1e-0d4a-4b2c-8d9e-0123456789ab"),
      ]) {
        expect(await attempt).to.deep.include({ ok: false, code: "payment_not_found" });
      }
      expect((await w.service.get(bank(B), payment.uetr)).ok).to.equal(true);
      expect((await w.service.get(bank("AAAAGB2L"), payment.uetr.toUpperCase())).ok).to.equal(true);
      const listOf = async (caller: Caller) => {
        const page = await w.service.list(caller, { limit: 10 });
        return page.ok ? page.value.payments.map((p) => p.uetr) : page.code;
      };
      expect(await listOf(bank(C))).to.deep.equal([]);
      expect(await listOf(bank(B))).to.deep.equal([payment.uetr]);
      expect(await listOf(TREASURY)).to.deep.equal([payment.uetr]);
      expect(await w.service.list(bank(A), { limit: 10, cursor: "garbage" })).to.deep.include({ ok: false, code: "invalid_cursor" });
    });

    it("pages through 25 payments newest first with cursors, and filters", async () => {
      await fund(w, C, 1_000_000n);
      const made: Payment[] = [];
      for (let i = 0; i < 25; i++) {
        if (i % 3 === 0) w.advance(1000); // groups share a creation time, so the uetr breaks ties
        const debtor = i % 5 === 0 ? C : A;
        made.push(await created(w, { debtorAgent: debtor, endToEndId: `E2E-${i}` }));
      }
      const expected = [...made].sort((x, y) => y.createdAt - x.createdAt || (y.uetr < x.uetr ? -1 : 1)).map((p) => p.uetr);
      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await w.service.list(TREASURY, { limit: 10, cursor });
        if (!page.ok) throw new Error(page.code);
        seen.push(...page.value.payments.map((p) => p.uetr));
        sizes.push(page.value.payments.length);
        cursor = page.value.nextCursor ?? undefined;
      } while (cursor);
      expect(sizes).to.deep.equal([10, 10, 5]);
      expect(seen).to.deep.equal(expected);

      const ofC = await w.service.list(bank(C), { limit: 100 });
      expect(ofC.ok && ofC.value.payments.map((p) => p.endToEndId)).to.deep.equal(["E2E-20", "E2E-15", "E2E-10", "E2E-5", "E2E-0"]);
      await w.service.onLocked(w.handle.db, observation(made[3].uetr));
      const filtered = await w.service.list(bank(B), { limit: 100, status: "LOCKED", debtorAgent: "AAAAGB2L", currency: "GBP" });
      expect(filtered.ok && filtered.value.payments.map((p) => p.uetr)).to.deep.equal([made[3].uetr]);
      const byE2E = await w.service.list(bank(A), { limit: 100, endToEndId: "E2E-5" });
      expect(byE2E.ok && byE2E.value.payments).to.have.length(0); // C's payment: A is not a party
    });
  });

  describe("chain hooks", () => {
    it("each hook applied twice changes nothing the second time", async () => {
      const payment = await created(w);
      const submitted = { uetr: payment.uetr, txHash: "0x01" };
      const locked = observation(payment.uetr);
      const released = observation(payment.uetr);
      const steps: [string, () => Promise<boolean>][] = [
        ["markSubmitted", () => w.service.markSubmitted(w.handle.db, submitted)],
        ["onLocked", () => w.service.onLocked(w.handle.db, locked)],
        ["onReleased", () => w.service.onReleased(w.handle.db, released)],
        ["unapplyReleased", () => w.service.unapplyReleased(w.handle.db, released)],
        ["unapplyLocked", () => w.service.unapplyLocked(w.handle.db, locked)],
      ];
      for (const [name, step] of steps) {
        expect(await step(), name).to.equal(true);
        const before = [await balances(w, A), await balances(w, B), await webhooks(w, payment.uetr), await statuses(w, payment.uetr)];
        expect(await step(), `${name} again`).to.equal(false);
        expect([await balances(w, A), await balances(w, B), await webhooks(w, payment.uetr), await statuses(w, payment.uetr)]).to.deep.equal(before);
      }
      expect(await w.service.onLocked(w.handle.db, observation("3f2b6c1e-0d4a-4b2c-8d9e-0123456789ab"))).to.equal(false);
    });

    it("tolerates order: lock without submission, release before lock, stale submissions and rejections", async () => {
      const direct = await created(w);
      expect(await w.service.onLocked(w.handle.db, observation(direct.uetr))).to.equal(true);
      expect(await w.service.markSubmitted(w.handle.db, { uetr: direct.uetr, txHash: "0x02" })).to.equal(false);
      expect(await w.service.markRejected(w.handle.db, direct.uetr, "late news")).to.equal(false);
      expect(await statuses(w, direct.uetr)).to.deep.equal(["RECEIVED", "LOCKED"]);

      const early = await created(w);
      expect(await w.service.onReleased(w.handle.db, observation(early.uetr))).to.equal(true);
      expect(await statuses(w, early.uetr)).to.deep.equal(["RECEIVED", "LOCKED", "SETTLED"]);
      expect(await rejection(w.service.onRefunded(w.handle.db, observation(early.uetr)))).to.be.instanceOf(PaymentStateError);

      const cancelled = await created(w);
      await w.service.cancel(bank(A), cancelled.uetr);
      expect(await w.service.onLocked(w.handle.db, observation(cancelled.uetr))).to.equal(true); // the chain is the truth
      const relocked = await w.service.get(bank(A), cancelled.uetr);
      expect(relocked.ok && relocked.value).to.deep.include({ status: "LOCKED", statusReason: "locked on chain after CANCELLED" });
      await w.service.onRefunded(w.handle.db, observation(cancelled.uetr));

      const rejected = await created(w);
      expect(await w.service.markRejected(w.handle.db, rejected.uetr, "execution reverted: PayerNotActive")).to.equal(true);
      const got = await w.service.get(bank(A), rejected.uetr);
      expect(got.ok && got.value).to.deep.include({ status: "REJECTED", statusReason: "execution reverted: PayerNotActive" });
      expect(await balances(w, A)).to.deep.equal({ posted: 975_000n, debitsPending: 25_000n, creditsPending: 0n });
    });

    it("rolls back a reorg with compensating transfers and re-applies in a new epoch", async () => {
      const payment = await created(w);
      await w.service.markSubmitted(w.handle.db, { uetr: payment.uetr, txHash: "0x03" });
      await w.service.onLocked(w.handle.db, observation(payment.uetr));
      const released = observation(payment.uetr);
      await w.service.onReleased(w.handle.db, released);
      expect(await w.service.unapplyReleased(w.handle.db, released)).to.equal(true);
      expect(await balances(w, A)).to.deep.equal({ posted: 1_000_000n, debitsPending: 25_000n, creditsPending: 0n });
      expect(await balances(w, B)).to.deep.equal({ posted: 0n, debitsPending: 0n, creditsPending: 25_000n });

      await w.service.onRefunded(w.handle.db, observation(payment.uetr));
      expect(await w.service.unapplyRefunded(w.handle.db, observation(payment.uetr))).to.equal(true);
      await w.service.onReleased(w.handle.db, observation(payment.uetr));
      // The lock's block goes too: release, then lock, are rolled back, back to SUBMITTED.
      expect(await w.service.unapplyLocked(w.handle.db, observation(payment.uetr))).to.equal(true);
      expect(await balances(w, A)).to.deep.equal({ posted: 1_000_000n, debitsPending: 0n, creditsPending: 0n });
      expect(await balances(w, B)).to.deep.equal({ posted: 0n, debitsPending: 0n, creditsPending: 0n });
      expect((await statuses(w, payment.uetr)).slice(-3)).to.deep.equal(["SETTLED", "LOCKED", "SUBMITTED"]);
      const u = payment.uetr;
      expect((await w.ledger.transfersOf(w.handle.db, u)).map((t) => t.id).sort()).to.deep.equal(
        [
          `${u}:lock`, `${u}:release`,
          `${u}:reorg:1:unrelease`, `${u}:reorg:1:lock`, `${u}:reorg:1:refund`,
          `${u}:reorg:2:lock`, `${u}:reorg:2:release`,
          `${u}:reorg:3:unrelease`, `${u}:reorg:3:lock`, `${u}:reorg:4:unlock`,
        ].sort(),
      );
      await w.service.onLocked(w.handle.db, observation(u));
      await w.service.onReleased(w.handle.db, observation(u));
      expect(await balances(w, B)).to.deep.equal({ posted: 25_000n, debitsPending: 0n, creditsPending: 0n });
      await expectBalanced(w);
    });

    it("refuses a reorg reversal that would overdraw: the ledger and the chain disagree", async () => {
      const payment = await created(w);
      const released = observation(payment.uetr);
      await w.service.onReleased(w.handle.db, released);
      const onward = await created(w, { debtorAgent: B, creditorAgent: C }); // B spends what it received
      await w.service.onReleased(w.handle.db, observation(onward.uetr));
      const error = await rejection(w.service.unapplyReleased(w.handle.db, released));
      expect(error).to.be.instanceOf(PaymentLedgerError).and.have.property("ledgerCode", "exceeds_credits");
      expect(await statuses(w, payment.uetr)).to.deep.equal(["RECEIVED", "LOCKED", "SETTLED"]);
    });
  });
});

forEachDialect("server/payments/service properties", (dialect) => {
  let w: World;
  before(async () => (w = await openWorld(dialect)));
  after(() => w.handle.close());

  type Step = { kind: string; payment: number; debtor: number; creditor: number; amount: bigint };
  const step = fc.record({
    kind: fc.constantFrom(
      "create", "create", "create", "markSubmitted", "markRejected", "onLocked", "onLocked", "onLocked", "onReleased", "onReleased",
      "onRefunded", "unapplyLocked", "unapplyReleased", "unapplyRefunded", "cancel", "confirm", "expire",
    ),
    payment: fc.nat(20),
    debtor: fc.nat(2),
    creditor: fc.nat(1),
    amount: fc.bigInt(1n, 300n),
  });

  let run = 0;
  async function apply(banks: string[], payments: string[], s: Step): Promise<void> {
    const uetr = payments[s.payment % Math.max(payments.length, 1)];
    const o = uetr ? observation(uetr) : undefined;
    const hooks: Record<string, () => Promise<unknown>> = {
      create: async () => {
        const creditorAgent = banks[(s.debtor + 1 + s.creditor) % banks.length]; // never the debtor
        const amount = { value: s.amount, currency: "GBP" };
        const result = await w.service.create(TREASURY, instruction({ debtorAgent: banks[s.debtor], creditorAgent, amount }));
        if (result.ok) payments.push(result.value.uetr);
        else expect(result.code).to.equal("insufficient_funds");
      },
      markSubmitted: () => w.service.markSubmitted(w.handle.db, o!),
      markRejected: () => w.service.markRejected(w.handle.db, uetr, "reverted"),
      onLocked: () => w.service.onLocked(w.handle.db, o!),
      onReleased: () => w.service.onReleased(w.handle.db, o!),
      onRefunded: () => w.service.onRefunded(w.handle.db, o!),
      unapplyLocked: () => w.service.unapplyLocked(w.handle.db, o!),
      unapplyReleased: () => w.service.unapplyReleased(w.handle.db, o!),
      unapplyRefunded: () => w.service.unapplyRefunded(w.handle.db, o!),
      cancel: () => w.service.cancel(TREASURY, uetr),
      confirm: () => w.service.confirm(TREASURY, uetr),
      expire: async () => (w.advance(2 * HOUR), w.service.refundExpired()),
    };
    if (!uetr && s.kind !== "create" && s.kind !== "expire") return;
    try {
      await hooks[s.kind]();
    } catch (error) {
      // The only refusals allowed: events that contradict each other, and reorg reversals that would
      // overdraw (the creditor spent what it received). A lock must never overdraw: intake saw to it.
      const overdrawingReversal = error instanceof PaymentLedgerError && error.ledgerCode === "exceeds_credits" && s.kind.startsWith("unapply");
      const allowed = error instanceof PaymentStateError || overdrawingReversal;
      if (!allowed) throw error;
    }
  }

  /** Each payment's ledger effect matches its status; no bank account is ever overdrawn. */
  async function checkInvariants(banks: string[], payments: string[]): Promise<void> {
    await expectBalanced(w);
    for (const bic of banks) {
      const { posted, debitsPending } = await balances(w, bic);
      expect(posted - debitsPending, bic).to.be.at.least(0n);
    }
    for (const uetr of payments) {
      const got = await w.service.get(TREASURY, uetr);
      if (!got.ok) throw new Error(got.code);
      const { status, amount, debtorAgent } = got.value;
      const debtorAccount = bankAccountId(debtorAgent, "GBP");
      let pending = 0n;
      let posted = 0n;
      for (const t of await w.ledger.transfersOf(w.handle.db, uetr)) {
        const sign = t.debitAccountId === debtorAccount ? 1n : -1n;
        if (t.kind === "pending") pending += sign * t.amount;
        if (t.kind === "void_pending") pending -= sign * t.amount;
        if (t.kind === "post_pending") (pending -= sign * t.amount), (posted += sign * t.amount);
        if (t.kind === "posted") posted += sign * t.amount;
      }
      const expected = { LOCKED: [amount.value, 0n], SETTLED: [0n, amount.value] }[status as string] ?? [0n, 0n];
      expect([pending, posted], `${uetr} ${status}`).to.deep.equal(expected);
    }
  }

  it("random lifecycle sequences keep the ledger balanced, consistent with statuses, and never overdrawn", async function () {
    this.timeout(600_000);
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 40 }), async (steps) => {
        run++;
        const banks = ["PRAAGB2L", "PRBBDEFF", "PRCCFRPP"].map((prefix) => `${prefix}${String(run).padStart(3, "0")}`);
        await addParticipants(w.handle, banks, w.now(), (bic) => "0x" + Buffer.from(bic).toString("hex").padEnd(40, "0").slice(0, 40));
        for (const bic of banks) await fund(w, bic, 1_000n);
        const payments: string[] = [];
        for (const s of steps) {
          await apply(banks, payments, s);
          await checkInvariants(banks, payments);
        }
      }),
      { numRuns: dialect === "sqlite" ? 60 : 25 },
    );
  });
});
