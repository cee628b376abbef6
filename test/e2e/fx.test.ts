import { randomUUID } from "node:crypto";
import { expect } from "chai";
import { startRelayWorld, type RelayWorld } from "./relay-harness";

const HOUR = 3_600_000;

describe("FX over HTTP: providers post rates, paying banks take quotes", function () {
  this.timeout(120_000);
  let world: RelayWorld;
  let skew = 0;

  before(async () => {
    world = await startRelayWorld({ now: () => Date.now() + skew });
  });
  after(async () => world?.stop());

  const bankKey = (index: number) => world.keys.banks[world.bic(index)];
  const treasury = () => world.keys.treasury;
  const inAnHour = () => new Date(world.now() + HOUR).toISOString();
  const putRates = (key: string, body: unknown) => world.api("PUT", "/v1/fx/rates", { key, body });
  const postQuote = (key: string, body: unknown, idempotencyKey: string | null = randomUUID()) =>
    world.api("POST", "/v1/quotes", { key, body, idempotencyKey: idempotencyKey ?? undefined });
  const storedRates = async () => (await world.api("GET", "/v1/fx/rates", { key: treasury() })).body.rates;
  const storedQuotes = async () => (await world.relay.database.db.selectFrom("fx_quotes").select("id").execute()).length;

  it("stores a bank's rates as its own, lets treasury post for a named provider, and shows a bank only its own", async () => {
    const alpha = await putRates(bankKey(0), {
      rates: [
        { pair: "GBP/JPY", rate: "187.25", spreadBps: 25, validUntil: inAnHour() },
        { pair: "JPY/BHD", rate: "0.0025", spreadBps: 0, validUntil: inAnHour() },
        { pair: "BHD/GBP", rate: "2.50", spreadBps: 100, validUntil: inAnHour() },
      ],
    });
    expect(alpha.status, JSON.stringify(alpha.body)).to.equal(200);
    expect(alpha.body.rates[2]).to.deep.include({ provider: world.bic(0), pair: "BHD/GBP", base: "BHD", quote: "GBP", rate: "2.5", spreadBps: 100 });
    const again = await putRates(bankKey(0), { rates: [{ pair: "GBP/JPY", rate: "187.25", spreadBps: 25, validUntil: inAnHour() }] });
    expect(again.status, "a PUT repeated replaces the same rate").to.equal(200);

    const forBravo = await putRates(treasury(), { provider: world.bic(1), rates: [{ pair: "GBP/JPY", rate: "186", spreadBps: 0, validUntil: inAnHour() }] });
    expect(forBravo.status, JSON.stringify(forBravo.body)).to.equal(200);
    expect((await storedRates()).map((r: { provider: string; pair: string }) => `${r.provider} ${r.pair}`)).to.have.members([
      `${world.bic(0)} BHD/GBP`, `${world.bic(0)} GBP/JPY`, `${world.bic(0)} JPY/BHD`, `${world.bic(1)} GBP/JPY`,
    ]);
    const bravoView = await world.api("GET", "/v1/fx/rates", { key: bankKey(1) });
    expect(bravoView.body.rates.map((r: { provider: string }) => r.provider)).to.deep.equal([world.bic(1)]);
  });

  it("refuses every bad rate with a 4xx and a code, and stores nothing of it", async () => {
    const before = await storedRates();
    const good = { pair: "JPY/GBP", rate: "0.0053", spreadBps: 10, validUntil: inAnHour() };
    const cases: [string, unknown, number, string, string?][] = [
      ["unknown currency", { rates: [good, { ...good, pair: "XXX/GBP" }] }, 422, "currency_not_supported"],
      ["currency without a token", { rates: [{ ...good, pair: "EUR/GBP" }] }, 422, "currency_not_supported"],
      ["same currency", { rates: [{ ...good, pair: "GBP/GBP" }] }, 400, "invalid_pair"],
      ["a pair twice", { rates: [good, good] }, 400, "invalid_pair"],
      ["pair without a slash", { rates: [{ ...good, pair: "JPYGBP" }] }, 400, "invalid_field"],
      ["rate as a JSON number", { rates: [{ ...good, rate: 0.0053 }] }, 400, "invalid_field"],
      ["rate in exponent form", { rates: [{ ...good, rate: "5.3e-3" }] }, 400, "invalid_rate"],
      ["zero rate", { rates: [{ ...good, rate: "0.000" }] }, 400, "invalid_rate"],
      ["negative rate", { rates: [{ ...good, rate: "-0.0053" }] }, 400, "invalid_rate"],
      ["19 significant digits", { rates: [{ ...good, rate: "1.234567890123456789" }] }, 400, "invalid_rate"],
      ["spread above 10,000", { rates: [{ ...good, spreadBps: 10_001 }] }, 400, "invalid_field"],
      ["fractional spread", { rates: [{ ...good, spreadBps: 2.5 }] }, 400, "invalid_field"],
      ["validUntil in the past", { rates: [{ ...good, validUntil: new Date(world.now() - 1_000).toISOString() }] }, 400, "invalid_validity"],
      ["validUntil beyond 24 h", { rates: [{ ...good, validUntil: new Date(world.now() + 25 * HOUR).toISOString() }] }, 400, "invalid_validity"],
      ["validUntil not a time", { rates: [{ ...good, validUntil: "tomorrow" }] }, 400, "invalid_field"],
      ["validUntil missing", { rates: [{ pair: "JPY/GBP", rate: "0.0053", spreadBps: 10 }] }, 400, "missing_field"],
      ["an unknown field", { rates: [{ ...good, mid: "0.0053" }] }, 400, "unknown_field"],
      ["no rates", { rates: [] }, 400, "invalid_field"],
      ["a bank posting as another", { provider: "BRAVDEFFXXX", rates: [good] }, 422, "forbidden_agent"],
      ["treasury naming no provider", { rates: [good] }, 422, "bic_required", "treasury"],
      ["an unknown provider", { provider: "ZZZZGB2LXXX", rates: [good] }, 422, "unknown_participant", "treasury"],
      ["malformed JSON", "{\"rates\": [", 400, "malformed_json"],
    ];
    for (const [title, body, status, code, who] of cases) {
      const res = await putRates(who === "treasury" ? treasury() : bankKey(2), body);
      expect([res.status, res.body.error?.code], title).to.deep.equal([status, code]);
    }
    expect(await storedRates()).to.deep.equal(before);
  });

  it("quotes a source amount and a target amount at the best rate, in minor units of both currencies", async () => {
    const bySource = await postQuote(bankKey(2), { sourceCurrency: "GBP", targetCurrency: "JPY", sourceAmount: "245000" });
    expect(bySource.status, JSON.stringify(bySource.body)).to.equal(201);
    expect(bySource.body).to.deep.include({
      bic: world.bic(2),
      provider: world.bic(0), // 187.25 less 25 bp = 186.781875 beats Bravo's 186
      fixedSide: "source",
      postedRate: "187.25",
      spreadBps: 25,
      rate: "186.781875",
      status: "open",
      usedBy: null,
    });
    expect(bySource.body.source).to.deep.equal({ value: "245000", currency: "GBP" });
    expect(bySource.body.target).to.deep.equal({ value: "457616", currency: "JPY" }); // ¥457,615.59375
    expect(bySource.body.fee).to.deep.equal({ value: "1146", currency: "JPY" });
    expect(Date.parse(bySource.body.expiresAt) - Date.parse(bySource.body.createdAt)).to.equal(60_000);

    const byTarget = await postQuote(bankKey(2), { sourceCurrency: "JPY", targetCurrency: "BHD", targetAmount: "7" });
    expect(byTarget.status, JSON.stringify(byTarget.body)).to.equal(201);
    expect([byTarget.body.source, byTarget.body.target]).to.deep.equal([{ value: "3", currency: "JPY" }, { value: "7", currency: "BHD" }]); // 2.8 yen

    const bhd = await postQuote(bankKey(3), { sourceCurrency: "BHD", targetCurrency: "GBP", sourceAmount: "1000" });
    expect([bhd.body.target.value, bhd.body.fee.value]).to.deep.equal(["248", "2"]); // BHD 1.000 at 2.475, fee 2.5p − 2.475p
  });

  it("replays a quote for the same Idempotency-Key and body, and refuses the key with another body", async () => {
    const key = randomUUID();
    const body = { sourceCurrency: "GBP", targetCurrency: "JPY", targetAmount: "10000" };
    const first = await postQuote(bankKey(2), body, key);
    const replay = await postQuote(bankKey(2), body, key);
    expect(first.status).to.equal(201);
    expect([replay.status, replay.body]).to.deep.equal([201, first.body]);
    const other = await postQuote(bankKey(2), { ...body, targetAmount: "10001" }, key);
    expect([other.status, other.body.error.code]).to.deep.equal([409, "idempotency_conflict"]);
  });

  it("refuses every bad quote request with a 4xx and a code, and stores no quote", async () => {
    const before = await storedQuotes();
    const good = { sourceCurrency: "GBP", targetCurrency: "JPY", sourceAmount: "100" };
    const { sourceAmount: _omitted, ...noAmount } = good;
    const cases: [string, unknown, number, string, string?][] = [
      ["both amounts", { ...good, targetAmount: "100" }, 400, "invalid_request"],
      ["no amount", noAmount, 400, "invalid_request"],
      ["a decimal amount", { ...good, sourceAmount: "1.50" }, 400, "invalid_field"],
      ["an amount as a JSON number", { ...good, sourceAmount: 100 }, 400, "invalid_field"],
      ["a zero amount", { ...good, sourceAmount: "0" }, 400, "invalid_field"],
      ["a lower-case currency", { ...good, sourceCurrency: "gbp" }, 400, "invalid_field"],
      ["an unknown field", { ...good, rate: "187" }, 400, "unknown_field"],
      ["a currency without a token", { ...good, targetCurrency: "EUR" }, 422, "currency_not_supported"],
      ["the same currency", { ...good, targetCurrency: "GBP" }, 400, "invalid_pair"],
      ["a pair nobody quotes", { ...good, sourceCurrency: "JPY", targetCurrency: "GBP" }, 422, "no_rate"],
      ["an amount worth nothing", { sourceCurrency: "BHD", targetCurrency: "GBP", sourceAmount: "1" }, 422, "amount_too_small"],
      ["a converted amount above 2^128 - 1", { sourceCurrency: "BHD", targetCurrency: "GBP", targetAmount: ((1n << 128n) - 1n).toString() }, 422, "amount_too_large"],
      ["no Idempotency-Key", good, 400, "missing_idempotency_key", "no key"],
      ["treasury", good, 403, "forbidden", "treasury"],
    ];
    for (const [title, body, status, code, variant] of cases) {
      const res = await postQuote(variant === "treasury" ? treasury() : bankKey(2), body, variant === "no key" ? null : randomUUID());
      expect([res.status, res.body.error?.code], title).to.deep.equal([status, code]);
    }
    expect(await storedQuotes()).to.equal(before);
  });

  it("documents the FX routes in the OpenAPI document", async () => {
    const spec = (await world.api("GET", "/openapi.json")).body;
    expect(Object.keys(spec.paths)).to.include.members(["/v1/fx/rates", "/v1/quotes", "/v1/quotes/{id}"]);
    expect(spec.paths["/v1/fx/rates"]).to.have.keys("put", "get");
  });

  it("shows a quote to its bank and treasury only, as expired after 60 s, and a used one as used", async () => {
    const made = await postQuote(bankKey(2), { sourceCurrency: "GBP", targetCurrency: "JPY", sourceAmount: "100" });
    const get = (key: string, id = made.body.id) => world.api("GET", `/v1/quotes/${id}`, { key });
    expect((await get(bankKey(2))).body).to.deep.equal(made.body);
    expect((await get(treasury())).status).to.equal(200);
    const foreign = await get(bankKey(3));
    expect([foreign.status, foreign.body.error.code]).to.deep.equal([404, "quote_not_found"]);
    const unknown = await get(bankKey(2), randomUUID());
    expect([unknown.status, unknown.body.error.code]).to.deep.equal([404, "quote_not_found"]);
    expect((await get(bankKey(2), "not-a-uuid")).status).to.equal(400);

    const toUse = await postQuote(bankKey(2), { sourceCurrency: "GBP", targetCurrency: "JPY", sourceAmount: "200" });
    const caller = { keyId: "payments", role: "bank" as const, bic: world.bic(2) };
    const used = await world.relay.fx.consumeQuote(world.relay.database.db, caller, toUse.body.id, randomUUID());
    expect(used.ok).to.equal(true);
    const twice = await world.relay.fx.consumeQuote(world.relay.database.db, caller, toUse.body.id, randomUUID());
    expect(twice.ok ? "ok" : twice.code).to.equal("quote_used");
    expect((await get(bankKey(2), toUse.body.id)).body.status).to.equal("used");

    skew += 60_000;
    expect((await get(bankKey(2))).body.status).to.equal("expired");
    const late = await world.relay.fx.consumeQuote(world.relay.database.db, caller, made.body.id, randomUUID());
    expect(late.ok ? "ok" : late.code).to.equal("quote_expired");
  });
});
