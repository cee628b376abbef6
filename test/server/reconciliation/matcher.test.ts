import { expect } from "chai";
import fc from "fast-check";
import { indexPayments, reconcile, type MatchOptions } from "../../../server/reconciliation/matcher";
import type { BreakClass, ChainRecord, LedgerRecord, StatementRecord } from "../../../server/reconciliation/types";
import { bookedEntry, FROM, GRACE_SECONDS, NOW, TO, worldArbitrary, type World } from "./world";

function optionsFor(world: World, overrides: Partial<MatchOptions> = {}): MatchOptions {
  return { from: FROM, to: TO, now: NOW, graceMs: GRACE_SECONDS * 1000, paymentsByEndToEnd: indexPayments(world.payments), ...overrides };
}

function reported(world: World, overrides: Partial<MatchOptions> = {}): Map<string, BreakClass> {
  const result = reconcile(world, optionsFor(world, overrides));
  return new Map(result.breaks.map((b) => [b.key, b.class]));
}

describe("reconciliation matcher", function () {
  it("reports exactly the injected breaks, whatever the mix of keys, charges, double reports, reorgs and timing", function () {
    fc.assert(
      fc.property(worldArbitrary({ maxItems: 30, withFaults: true }), (world) => {
        expect(Object.fromEntries(reported(world))).to.deep.equal(Object.fromEntries(world.expected));
      }),
      { numRuns: 300 },
    );
  });

  it("reports no break when nothing is injected", function () {
    fc.assert(
      fc.property(worldArbitrary({ maxItems: 30, withFaults: false }), (world) => {
        const result = reconcile(world, optionsFor(world));
        expect(result.breaks).to.deep.equal([]);
        expect(result.counts.breaks).to.deep.equal({});
      }),
      { numRuns: 200 },
    );
  });

  it("reports the same breaks whatever the order of the records", function () {
    fc.assert(
      fc.property(worldArbitrary({ maxItems: 20, withFaults: true }), fc.integer(), (world, seed) => {
        const shuffle = <T>(values: T[]) => values.map((v, i) => ({ v, k: (i * 7919 + seed) % 104729 })).sort((a, b) => a.k - b.k).map((x) => x.v);
        const shuffled = { ...world, chain: shuffle([...world.chain]), ledger: shuffle([...world.ledger]), statement: shuffle([...world.statement]) };
        expect(Object.fromEntries(reported(shuffled))).to.deep.equal(Object.fromEntries(world.expected));
      }),
      { numRuns: 100 },
    );
  });

  it("reports only items with a record in the run's currencies", function () {
    const touches = (details: Record<string, unknown>, currency: string) =>
      [details.chainCurrency, details.ledgerCurrency, details.statementCurrency].includes(currency);
    fc.assert(
      fc.property(worldArbitrary({ maxItems: 20, withFaults: true }), (world) => {
        const all = reconcile(world, optionsFor(world)).breaks.filter((b) => touches(b.details, "EUR"));
        const eur = reconcile(world, optionsFor(world, { currencies: ["EUR"] })).breaks;
        expect(eur).to.deep.equal(all);
      }),
      { numRuns: 100 },
    );
  });
});

describe("reconciliation matcher, by example", function () {
  const uetr = "3f1c9e2a-8b4d-4e6f-9a1b-2c3d4e5f6a7b";
  const time = Date.parse("2025-03-02T10:00:00Z");
  const chain = (fields: Partial<ChainRecord> = {}): ChainRecord => ({ id: "ev", kind: "payment", uetr, amount: 500n, currency: "GBP", time, ...fields });
  const ledger = (fields: Partial<LedgerRecord> = {}): LedgerRecord => ({ id: `${uetr}:release`, kind: "payment", uetr, amount: 500n, currency: "GBP", time, undoes: false, ...fields });
  const entry = (fields: Partial<StatementRecord> = {}) => bookedEntry("e1", { acctSvcrRef: "R1", uetr, amount: 500n, ...fields });
  const options: MatchOptions = { from: FROM, to: TO, now: NOW, graceMs: GRACE_SECONDS * 1000, paymentsByEndToEnd: new Map() };

  it("counts a matched item on every side, and links its charge", function () {
    const result = reconcile({ chain: [chain()], ledger: [ledger()], statement: [entry(), entry({ id: "c", acctSvcrRef: "C", amount: 7n, isCharge: true })] }, options);
    expect(result.breaks).to.deep.equal([]);
    expect(result.counts).to.deep.include({ items: 1, matchedItems: 1, chargesLinked: 1 });
    expect(result.counts.statement).to.deep.equal({ read: 2, matched: 2 });
  });

  it("leaves an entry whose EndToEndId several payments share, with none of its amount, unkeyed", function () {
    const payments = indexPayments([
      { uetr, endToEndId: "E", amount: 500n, currency: "GBP" },
      { uetr: "0a0a0a0a-0000-4000-8000-000000000000", endToEndId: "E", amount: 600n, currency: "GBP" },
    ]);
    const byE2e = entry({ uetr: null, endToEndId: "E" });
    expect(reconcile({ chain: [chain()], ledger: [ledger()], statement: [byE2e] }, { ...options, paymentsByEndToEnd: payments }).breaks).to.deep.equal([]);
    const ambiguous = entry({ uetr: null, endToEndId: "E", amount: 501n });
    const classes = reconcile({ chain: [chain()], ledger: [ledger()], statement: [ambiguous] }, { ...options, paymentsByEndToEnd: payments }).breaks.map((b) => b.class);
    expect(classes.sort()).to.deep.equal(["missing_in_statement", "unknown_entry"]);
  });

  it("keeps an item pending while its only booking is PDNG, and a recent unreported one within grace", function () {
    const pdng = reconcile({ chain: [chain()], ledger: [ledger()], statement: [entry({ status: "PDNG" })] }, options);
    expect(pdng.pending).to.deep.equal([{ key: `uetr:${uetr}`, reason: "statement_pending" }]);
    const recent = reconcile({ chain: [chain()], ledger: [ledger()], statement: [] }, { ...options, now: time + 3_600_000 });
    expect(recent.pending).to.deep.equal([{ key: `uetr:${uetr}`, reason: "within_grace" }]);
    expect(recent.breaks).to.deep.equal([]);
  });

  it("ignores INFO entries and entries dated outside the range", function () {
    const result = reconcile({ chain: [], ledger: [], statement: [entry({ status: "INFO" }), entry({ id: "e2", acctSvcrRef: "R2", date: "2025-02-27" })] }, options);
    expect(result.breaks).to.deep.equal([]);
    expect(result.counts.items).to.equal(0);
  });
});
