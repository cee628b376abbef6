import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { DatabaseHandle } from "../../server/db/database";
import { createRiskService, utcDay, type RiskLimits, type RiskPayment } from "../../server/risk/service";
import { createSanctionsList, loadSanctionsList, parseSanctionsList, SanctionsListError } from "../../server/risk/sanctions";
import { forEachDialect, openTestDatabase } from "./databases";

const TEXT_LIST = `
# Corridor test sanctions list
bic: BADBGB2L            # a whole institution
EVILDEFF123               # one branch, recognised as a BIC by its shape
name: Acme  Holdings Ltd
Ivan Petrov
`;

describe("server/risk/sanctions", () => {
  const list = parseSanctionsList(TEXT_LIST);

  it("reads the text format: prefixes, bare BICs and names, comments and blank lines", () => {
    expect(list.size).to.equal(4);
    expect(list.matchBic("BADBGB2L")).to.deep.equal({ type: "bic", value: "BADBGB2L", reference: "line 3" });
    expect(list.matchName("ivan petrov")).to.deep.equal({ type: "name", value: "Ivan Petrov", reference: "line 6" });
  });

  it("an 8-character entry lists every branch; an 11-character one only its branch", () => {
    for (const bic of ["BADBGB2L", "BADBGB2LXXX", "badb gb2l 123"]) expect(list.matchBic(bic), bic).to.not.equal(undefined);
    expect(list.matchBic("EVILDEFF123")).to.not.equal(undefined);
    expect(list.matchBic("EVILDEFF")).to.equal(undefined);
    expect(list.matchBic("EVILDEFF124")).to.equal(undefined);
    const xxx = createSanctionsList([{ type: "bic", value: "GOODGB2LXXX", reference: null }]);
    expect(xxx.matchBic("GOODGB2L")).to.not.equal(undefined);
  });

  it("matches names exactly, ignoring case and whitespace, and nothing fuzzier", () => {
    for (const name of ["Acme Holdings Ltd", "  ACME   holdings LTD ", "acmeholdingsltd", "ＡＣＭＥ Holdings Ltd"]) {
      expect(list.matchName(name), name).to.not.equal(undefined);
    }
    for (const name of ["Acme Holdings", "Acme Holdings Ltd.", "Ivan Petrova"]) expect(list.matchName(name), name).to.equal(undefined);
  });

  it("screens agents' BICs before parties' names and reports the matching entry", () => {
    const hit = list.screen({ debtorAgent: "OKAYGB2L", creditorAgent: "BADBGB2L001", debtorName: "Ivan Petrov" });
    expect(hit).to.deep.include({ party: "creditorAgent", screened: "BADBGB2L001" });
    expect(list.screen({ debtorAgent: "OKAYGB2L", creditorAgent: "FINEDEFF", creditorName: "IVAN PETROV" })).to.deep.include({
      party: "creditor",
    });
    expect(list.screen({ debtorAgent: "OKAYGB2L", creditorAgent: "FINEDEFF", debtorName: "Someone" })).to.equal(undefined);
  });

  it("reads the JSON format, as an array or { entries }", () => {
    const entries = [
      { type: "bic", value: "BADBGB2L", reference: "SDN-1" },
      { type: "name", value: "Acme Holdings" },
    ];
    for (const content of [JSON.stringify(entries), JSON.stringify({ entries })]) {
      const json = parseSanctionsList(content);
      expect(json.matchBic("BADBGB2LXXX")).to.deep.equal({ type: "bic", value: "BADBGB2L", reference: "SDN-1" });
      expect(json.matchName("acme HOLDINGS")).to.deep.equal({ type: "name", value: "Acme Holdings", reference: null });
    }
  });

  it("refuses malformed lists rather than screening against less than intended", () => {
    expect(() => parseSanctionsList("bic: NOT-A-BIC")).to.throw(SanctionsListError, /not a BIC/);
    expect(() => parseSanctionsList("[{ broken")).to.throw(SanctionsListError, /not valid JSON/);
    expect(() => parseSanctionsList('[{"type":"person","value":"x"}]')).to.throw(SanctionsListError, /type must be/);
    expect(() => parseSanctionsList('{"names":["x"]}')).to.throw(SanctionsListError, /entries/);
  });

  it("loads either format from a file", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "corridor-sanctions-"));
    writeFileSync(path.join(dir, "list.txt"), TEXT_LIST);
    writeFileSync(path.join(dir, "list.json"), JSON.stringify([{ type: "name", value: "Ivan Petrov" }]));
    try {
      expect(loadSanctionsList(path.join(dir, "list.txt")).size).to.equal(4);
      expect(loadSanctionsList(path.join(dir, "list.json")).matchName("IVAN PETROV")).to.not.equal(undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

forEachDialect("server/risk/service", (dialect) => {
  const DAY = 86_400_000;
  let handle: DatabaseHandle;
  let clock: number;
  let caps: { single: Map<string, bigint>; daily: Map<string, bigint> };

  const limits: RiskLimits = {
    singlePaymentCap: (bic, currency) => caps.single.get(`${bic}/${currency}`),
    dailyVolumeCap: (bic, currency) => caps.daily.get(`${bic}/${currency}`),
  };
  const sanctions = parseSanctionsList(TEXT_LIST);
  const risk = () => createRiskService({ db: handle.db, sanctions, limits, now: () => clock });
  const payment = (value: bigint, overrides: Partial<RiskPayment> = {}): RiskPayment => ({
    debtorAgent: "AAAAGB2LXXX",
    creditorAgent: "BBBBDEFFXXX",
    amount: { value, currency: "GBP" },
    ...overrides,
  });

  let open: DatabaseHandle | undefined; // unset when beforeEach failed, so afterEach closes nothing twice
  beforeEach(async () => {
    open = handle = await openTestDatabase(dialect);
    clock = Date.UTC(2025, 2, 10, 23, 0, 0);
    caps = { single: new Map(), daily: new Map() };
  });
  afterEach(async () => {
    await open?.close();
    open = undefined;
  });

  it("refuses a sanctioned agent BIC or party name, naming the entry", async () => {
    const cases: [Partial<RiskPayment>, string][] = [
      [{ debtorAgent: "BADBGB2LXXX" }, "debtorAgent"],
      [{ creditorAgent: "EVILDEFF123" }, "creditorAgent"],
      [{ debtor: { name: " acme holdings  LTD" } }, "debtor"],
      [{ creditor: { name: "IVAN PETROV" } }, "creditor"],
    ];
    for (const [overrides, party] of cases) {
      const result = await risk().check(handle.db, payment(1n, overrides));
      expect(result.ok, party).to.equal(false);
      if (result.ok) continue;
      expect(result.code).to.equal("sanctioned_party");
      expect(result.details).to.deep.include({ party });
      expect(result.details!.entry).to.have.property("reference");
    }
    expect((await risk().check(handle.db, payment(1n, { creditor: { name: "Ivan" } }))).ok).to.equal(true);
  });

  it("applies the single-payment cap per bank and currency, the cap itself allowed", async () => {
    caps.single.set("AAAAGB2LXXX/GBP", 1_000n);
    expect((await risk().check(handle.db, payment(1_000n))).ok).to.equal(true);
    const over = await risk().check(handle.db, payment(1_001n));
    expect(over).to.deep.include({ ok: false, code: "limit_exceeded" });
    expect(!over.ok && over.details).to.deep.include({ limit: "single_payment", cap: "1000", amount: "1001" });
    expect((await risk().check(handle.db, payment(5_000n, { amount: { value: 5_000n, currency: "EUR" } }))).ok).to.equal(true);
    expect((await risk().check(handle.db, payment(5_000n, { debtorAgent: "CCCCFRPPXXX" }))).ok).to.equal(true);
  });

  it("counts the daily volume across payments and starts again on the next UTC day", async () => {
    caps.daily.set("AAAAGB2LXXX/GBP", 10_000n);
    const service = risk();
    for (const value of [4_000n, 6_000n]) {
      expect((await service.check(handle.db, payment(value))).ok).to.equal(true);
      await handle.db.transaction().execute((trx) => service.record(trx, payment(value)));
    }
    expect(await service.dailyVolume("AAAAGB2LXXX", "GBP")).to.equal(10_000n);
    const full = await service.check(handle.db, payment(1n));
    expect(!full.ok && full.details).to.deep.include({ limit: "daily_volume", used: "10000", cap: "10000" });

    clock += DAY / 24; // 00:00 UTC next day
    expect(utcDay(clock)).to.equal("2025-03-11");
    expect(await service.dailyVolume("AAAAGB2LXXX", "GBP")).to.equal(0n);
    expect((await service.check(handle.db, payment(10_000n))).ok).to.equal(true);
    expect(await service.dailyVolume("AAAAGB2LXXX", "GBP", "2025-03-10")).to.equal(10_000n);
  });

  it("keeps volumes exact beyond 2^53 and loses no update under concurrent records", async () => {
    const big = 2n ** 60n + 7n;
    const service = risk();
    await Promise.all(Array.from({ length: 8 }, () => handle.db.transaction().execute((trx) => service.record(trx, payment(big)))));
    expect(await service.dailyVolume("AAAAGB2LXXX", "GBP")).to.equal(8n * big);
  });
});
