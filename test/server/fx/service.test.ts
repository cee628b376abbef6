import { expect } from "chai";
import type { DatabaseHandle } from "../../../server/db/database";
import { createFxService, MAX_RATE_VALIDITY_MS, type FxService, type RateInput } from "../../../server/fx/service";
import type { Caller } from "../../../server/payments/types";
import { forEachDialect, openTestDatabase } from "../databases";

const [A, B, C, PAYER, OTHER] = ["AAAAGB2LXXX", "BBBBDEFFXXX", "CCCCJPJTXXX", "PAYRGB2LXXX", "OTHRBHBMXXX"];
const TOKENS = new Set(["GBP", "JPY", "BHD"]); // EUR is an ISO currency without a token here
const bank = (bic: string): Caller => ({ keyId: `key-${bic}`, role: "bank", bic });
const TREASURY: Caller = { keyId: "treasury", role: "treasury", bic: null };
const TTL = 60_000;
const HOUR = 3_600_000;

forEachDialect("FX service: rates, best-rate quotes, consuming a quote once", (dialect) => {
  let handle: DatabaseHandle;
  let fx: FxService;
  let clock: number;

  const rate = (overrides: Partial<RateInput> = {}): RateInput => ({ base: "GBP", quote: "JPY", rate: "187.25", spreadBps: 0, validUntil: clock + HOUR, ...overrides });
  const post = async (caller: Caller, rates: RateInput[], provider?: string) => {
    const posted = await fx.postRates(caller, { provider, rates });
    if (!posted.ok) throw new Error(posted.message);
    return posted.value;
  };
  const quote = async (caller: Caller, source: string, target: string, side: "source" | "target", value: bigint) => {
    const made = await fx.createQuote(caller, { sourceCurrency: source, targetCurrency: target, fixed: { side, value } });
    if (!made.ok) throw new Error(`${made.code}: ${made.message}`);
    return made.value;
  };

  beforeEach(async () => {
    handle = await openTestDatabase(dialect);
    clock = Date.UTC(2026, 0, 5, 9, 0, 0);
    fx = createFxService({ db: handle.db, hasToken: (currency) => TOKENS.has(currency), quoteTtlMs: TTL, now: () => clock });
    const participants = [A, B, C, PAYER, OTHER].map((bic, i) => ({ bic, name: bic, country: bic.slice(4, 6), address: "0x" + String(i).repeat(40), status: "active" as const, webhook_url: null, webhook_secret: null, created_at: clock }));
    await handle.db.insertInto("participants").values(participants).execute();
  });
  afterEach(async () => handle.close());

  it("stores a provider's rates and replaces a pair's rate when it is posted again", async () => {
    await post(bank(A), [rate(), rate({ base: "JPY", quote: "BHD", rate: "0.00250", spreadBps: 10 })]);
    clock += 1_000;
    await post(bank(A), [rate({ rate: "188", spreadBps: 5 })]);
    const rates = await fx.listRates(bank(A), {});
    expect(rates.map((r) => [r.base, r.quote, r.rate, r.spreadBps])).to.deep.equal([["GBP", "JPY", "188", 5], ["JPY", "BHD", "0.0025", 10]]);
    expect(await fx.listRates(bank(B), {})).to.deep.equal([]);
    await post(TREASURY, [rate()], B);
    expect((await fx.listRates(TREASURY, {})).map((r) => r.provider)).to.deep.equal([A, B, A]);
  });

  it("refuses a bad rate with a code and stores nothing of the post", async () => {
    const refusals: [Caller, RateInput, string, string?][] = [
      [bank(A), rate({ quote: "EUR" }), "currency_not_supported"],
      [bank(A), rate({ quote: "XXX" }), "currency_not_supported"],
      [bank(A), rate({ quote: "GBP" }), "invalid_pair"],
      [bank(A), rate({ rate: "0" }), "invalid_rate"],
      [bank(A), rate({ rate: "-1.5" }), "invalid_rate"],
      [bank(A), rate({ rate: "1.5e2" }), "invalid_rate"],
      [bank(A), rate({ rate: "1234567890.123456789" }), "invalid_rate"],
      [bank(A), rate({ spreadBps: 10_001 }), "invalid_rate"],
      [bank(A), rate({ spreadBps: -1 }), "invalid_rate"],
      [bank(A), rate({ spreadBps: 2.5 }), "invalid_rate"],
      [bank(A), rate({ validUntil: clock }), "invalid_validity"],
      [bank(A), rate({ validUntil: clock + MAX_RATE_VALIDITY_MS + 1 }), "invalid_validity"],
      [bank(A), rate({ validFrom: clock + 2 * HOUR }), "invalid_validity"],
      [bank(A), rate(), "forbidden_agent", B],
      [TREASURY, rate(), "bic_required"],
      [TREASURY, rate(), "unknown_participant", "ZZZZGB2LXXX"],
    ];
    for (const [caller, bad, code, provider] of refusals) {
      const posted = await fx.postRates(caller, { provider, rates: [rate({ base: "BHD", quote: "GBP", rate: "2" }), bad] });
      expect(posted.ok ? "ok" : posted.code, JSON.stringify(bad)).to.equal(code);
    }
    const twice = await fx.postRates(bank(A), { rates: [rate(), rate()] });
    expect(twice.ok ? "ok" : twice.code).to.equal("invalid_pair");
    expect(await handle.db.selectFrom("fx_rates").selectAll().execute()).to.deep.equal([]);
  });

  it("quotes at the best client rate: the highest after spread, then the earliest posted, then the lowest BIC", async () => {
    await post(bank(A), [rate({ rate: "190", spreadBps: 200 })]); // client 186.2
    await post(bank(B), [rate({ rate: "187", spreadBps: 0 })]); // client 187
    await post(bank(C), [rate({ rate: "200", spreadBps: 0, validFrom: clock + 1_000 })]); // not yet valid
    expect((await quote(bank(PAYER), "GBP", "JPY", "source", 100n)).provider).to.equal(B);

    clock += 10;
    await post(bank(A), [rate({ rate: "199.99", spreadBps: 650 })]); // client 186.99065, just below
    expect((await quote(bank(PAYER), "GBP", "JPY", "source", 100n)).provider).to.equal(B);
    await post(bank(A), [rate({ rate: "200", spreadBps: 650 })]); // client exactly 187, posted later
    expect((await quote(bank(PAYER), "GBP", "JPY", "source", 100n)).provider).to.equal(B);
    clock += 1;
    await post(bank(B), [rate({ rate: "187", spreadBps: 0 })]); // B re-posts: now A's price is the older
    expect((await quote(bank(PAYER), "GBP", "JPY", "source", 100n)).provider).to.equal(A);
    clock += 1;
    await post(bank(A), [rate({ rate: "200", spreadBps: 650 })]); // A re-posts: B's is the older again
    expect((await quote(bank(PAYER), "GBP", "JPY", "source", 100n)).provider).to.equal(B);
    await post(bank(B), [rate({ rate: "187", spreadBps: 0 })]); // at the same time as A's: the lower BIC
    expect((await quote(bank(PAYER), "GBP", "JPY", "source", 100n)).provider).to.equal(A);

    clock += 1_000; // C's rate is valid now
    expect((await quote(bank(PAYER), "GBP", "JPY", "source", 100n)).provider).to.equal(C);
    clock += HOUR; // everything expired
    const none = await fx.createQuote(bank(PAYER), { sourceCurrency: "GBP", targetCurrency: "JPY", fixed: { side: "source", value: 100n } });
    expect(none.ok ? "ok" : none.code).to.equal("no_rate");
  });

  it("converts a source amount and a target amount half-even, with the spread as a fee in the target currency", async () => {
    await post(bank(A), [rate({ rate: "187.25", spreadBps: 25 }), rate({ base: "JPY", quote: "BHD", rate: "0.0025" }), rate({ base: "BHD", quote: "GBP", rate: "2.5", spreadBps: 100 })]);
    const bySource = await quote(bank(PAYER), "GBP", "JPY", "source", 245_000n);
    expect(bySource).to.deep.include({ bic: PAYER, provider: A, fixedSide: "source", postedRate: "187.25", spreadBps: 25, rate: "186.781875", status: "open", usedBy: null, expiresAt: clock + TTL });
    expect(bySource.source).to.deep.equal({ value: 245_000n, currency: "GBP" });
    expect(bySource.target).to.deep.equal({ value: 457_616n, currency: "JPY" }); // 457,615.59375
    expect(bySource.fee).to.deep.equal({ value: 1_146n, currency: "JPY" }); // 458,762 (a tie, to even) − 457,616

    const byTarget = await quote(bank(PAYER), "JPY", "BHD", "target", 25_001n);
    expect(byTarget.source).to.deep.equal({ value: 10_000n, currency: "JPY" }); // 10,000.4 yen
    expect(byTarget.target).to.deep.equal({ value: 25_001n, currency: "BHD" });
    expect(byTarget.fee).to.deep.equal({ value: 0n, currency: "BHD" });

    const bhd = await quote(bank(PAYER), "BHD", "GBP", "source", 6n); // 6 fils × 2.475 = 1.485p
    expect([bhd.target.value, bhd.fee.value]).to.deep.equal([1n, 1n]); // and 1.5p at the posted rate, a tie: 2p

    const tooSmall = await fx.createQuote(bank(PAYER), { sourceCurrency: "BHD", targetCurrency: "GBP", fixed: { side: "source", value: 1n } });
    expect(tooSmall.ok ? "ok" : tooSmall.code).to.equal("amount_too_small");
    const tooLarge = await fx.createQuote(bank(PAYER), { sourceCurrency: "BHD", targetCurrency: "GBP", fixed: { side: "target", value: (1n << 128n) - 1n } });
    expect(tooLarge.ok ? "ok" : tooLarge.code).to.equal("amount_too_large");
    const byTreasury = await fx.createQuote(TREASURY, { sourceCurrency: "GBP", targetCurrency: "JPY", fixed: { side: "source", value: 1n } });
    expect(byTreasury.ok ? "ok" : byTreasury.code).to.equal("bic_required");
  });

  it("shows a quote to its bank, treasury and admin only, and expires it after the TTL", async () => {
    await post(bank(A), [rate()]);
    const made = await quote(bank(PAYER), "GBP", "JPY", "source", 100n);
    expect((await fx.getQuote({ keyId: "another key", role: "bank", bic: "PAYRGB2L" }, made.id)).ok).to.equal(true);
    expect((await fx.getQuote(TREASURY, made.id)).ok).to.equal(true);
    const foreign = await fx.getQuote(bank(OTHER), made.id);
    expect(foreign.ok ? "ok" : foreign.code).to.equal("quote_not_found");
    clock += TTL;
    const expired = await fx.getQuote(bank(PAYER), made.id);
    expect(expired.ok && expired.value.status).to.equal("expired");
  });

  it("consumes a quote once: unknown or foreign is quote_not_found, then quote_used; an expired one is quote_expired", async () => {
    await post(bank(A), [rate()]);
    const made = await quote(bank(PAYER), "GBP", "JPY", "source", 100n);
    const codeOf = async (caller: Caller, id: string) => {
      const consumed = await fx.consumeQuote(handle.db, caller, id, "uetr-1");
      return consumed.ok ? "ok" : consumed.code;
    };
    expect(await codeOf(bank(PAYER), "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b")).to.equal("quote_not_found");
    expect(await codeOf(bank(OTHER), made.id)).to.equal("quote_not_found");
    expect(await codeOf(TREASURY, made.id)).to.equal("quote_not_found");
    expect(await codeOf(bank(PAYER), made.id)).to.equal("ok");
    expect(await codeOf(bank(PAYER), made.id)).to.equal("quote_used");
    const used = await fx.getQuote(bank(PAYER), made.id);
    expect(used.ok && [used.value.status, used.value.usedBy]).to.deep.equal(["used", "uetr-1"]);

    const late = await quote(bank(PAYER), "GBP", "JPY", "source", 100n);
    clock += TTL;
    expect(await codeOf(bank(PAYER), late.id)).to.equal("quote_expired");
  });

  it("lets exactly one of many concurrent payments, each in its own transaction, consume a quote", async () => {
    await post(bank(A), [rate()]);
    const made = await quote(bank(PAYER), "GBP", "JPY", "source", 100n);
    const attempts = await Promise.all(
      Array.from({ length: 8 }, (_, i) => handle.db.transaction().execute((trx) => fx.consumeQuote(trx, bank(PAYER), made.id, `uetr-${i}`))),
    );
    const winners = attempts.filter((a) => a.ok);
    expect(winners).to.have.length(1);
    expect(attempts.filter((a) => !a.ok && a.code === "quote_used")).to.have.length(7);
    const row = await handle.db.selectFrom("fx_quotes").select(["status", "used_by"]).where("id", "=", made.id).executeTakeFirstOrThrow();
    expect(row).to.deep.equal({ status: "used", used_by: winners[0].ok ? winners[0].value.usedBy : null });
  });
});
