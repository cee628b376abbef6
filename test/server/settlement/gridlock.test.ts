import { expect } from "chai";
import fc from "fast-check";
import { orderForSettlement, selectSettleable, type Candidate, type Capacity } from "../../../server/settlement/gridlock";

function payment(uetr: string, debtor: string, creditor: string, amount: bigint, priority: "high" | "normal" = "normal", arrival = 0): Candidate {
  return { uetr, debtor, creditor, amount, priority, arrival };
}

const capacities = (entries: Record<string, [bigint, string]>): Map<string, Capacity> =>
  new Map(Object.entries(entries).map(([bic, [limit, binding]]) => [bic, { limit, binding }]));

const uetrs = (list: readonly Candidate[]) => list.map((p) => p.uetr);
const reasons = (selection: { deferred: { payment: Candidate; reason: string }[] }) =>
  Object.fromEntries(selection.deferred.map(({ payment, reason }) => [payment.uetr, reason]));

/** Each bank's net (credits − debits) over the given payments. */
function netPositions(list: readonly Candidate[]): Map<string, bigint> {
  const net = new Map<string, bigint>();
  for (const p of list) {
    net.set(p.debtor, (net.get(p.debtor) ?? 0n) - p.amount);
    net.set(p.creditor, (net.get(p.creditor) ?? 0n) + p.amount);
  }
  return net;
}

/** No bank ends more than its limit short (limit 0 without a capacity entry). */
function expectFeasible(included: readonly Candidate[], caps: ReadonlyMap<string, Capacity>): void {
  for (const [bic, net] of netPositions(included)) {
    expect(net >= -(caps.get(bic)?.limit ?? 0n), `${bic} nets ${net}`).to.equal(true);
  }
}

describe("Settlement gridlock resolution: which of a window's payments settle", () => {
  describe("orderForSettlement", () => {
    it("orders high priority first, then by arrival, then by uetr, without touching the input", () => {
      const input = [
        payment("u5", "A", "B", 1n, "normal", 1),
        payment("u4", "A", "B", 1n, "high", 9),
        payment("u3", "A", "B", 1n, "normal", 0),
        payment("u2", "A", "B", 1n, "high", 2),
        payment("u1", "A", "B", 1n, "normal", 1),
        payment("u0", "A", "B", 1n, "high", 2),
      ];
      const before = uetrs(input);
      expect(uetrs(orderForSettlement(input))).to.deep.equal(["u0", "u2", "u4", "u3", "u1", "u5"]);
      expect(uetrs(input)).to.deep.equal(before);
    });
  });

  describe("selectSettleable", () => {
    it("includes everything, in settlement order, when the whole window fits", () => {
      const input = [
        payment("p3", "A", "B", 500n, "normal", 3),
        payment("p1", "B", "C", 200n, "high", 5),
        payment("p2", "C", "A", 100n, "normal", 3),
        payment("p0", "A", "C", 50n, "high", 1),
        payment("p4", "B", "A", 10n, "normal", 0),
      ];
      const caps = capacities({ A: [1_000n, "net debit cap"], B: [1_000n, "net debit cap"], C: [1_000n, "token balance"] });
      const selection = selectSettleable(input, caps);
      expect(uetrs(selection.included)).to.deep.equal(["p0", "p1", "p4", "p2", "p3"]);
      expect(selection.deferred).to.deep.equal([]);
      expect(selectSettleable([], caps)).to.deep.equal({ included: [], deferred: [] });
    });

    it("returns the caller's own payment objects", () => {
      const input = [{ ...payment("p0", "A", "B", 10n), extra: "kept" }];
      const selection = selectSettleable(input, capacities({ A: [10n, "net debit cap"] }));
      expect(selection.included[0]).to.equal(input[0]);
      expect(selection.included[0].extra).to.equal("kept");
    });

    it("defers an over-limit bank's last payments first, keeping high priority over normal, and names the binding and limit", () => {
      const input = [
        payment("n1", "A", "B", 100n, "normal", 1),
        payment("n2", "A", "C", 100n, "normal", 2),
        payment("h1", "A", "D", 100n, "high", 3),
      ];
      // A would end 300 short; 150 allowed: the last two in order (n2, then n1) leave, the high-priority one stays.
      const tight = selectSettleable(input, capacities({ A: [150n, "net debit cap"] }));
      expect(uetrs(tight.included)).to.deep.equal(["h1"]);
      expect(uetrs(tight.deferred.map((d) => d.payment))).to.deep.equal(["n1", "n2"]);
      expect(reasons(tight)).to.deep.equal({
        n1: "A would exceed its net debit cap of 150",
        n2: "A would exceed its net debit cap of 150",
      });

      // 200 allowed: only the very last one leaves.
      const looser = selectSettleable(input, capacities({ A: [200n, "token balance"] }));
      expect(uetrs(looser.included)).to.deep.equal(["h1", "n1"]);
      expect(reasons(looser)).to.deep.equal({ n2: "A would exceed its token balance of 200" });
    });

    it("ends a bank exactly at its limit without deferring anything", () => {
      const input = [payment("p0", "A", "B", 60n), payment("p1", "A", "C", 40n, "normal", 1)];
      const selection = selectSettleable(input, capacities({ A: [100n, "net debit cap"] }));
      expect(uetrs(selection.included)).to.deep.equal(["p0", "p1"]);
      expect(selection.deferred).to.deep.equal([]);
    });

    it("cascades: deferring A's payment to B pushes B over, so B's own last payment is deferred too", () => {
      const input = [
        payment("b0", "B", "D", 30n, "normal", 0),
        payment("a1", "A", "B", 100n, "normal", 1),
        payment("b1", "B", "C", 100n, "normal", 2),
      ];
      const caps = capacities({ A: [50n, "net debit cap"], B: [50n, "allowance"], C: [0n, "net debit cap"], D: [0n, "net debit cap"] });
      // With everything, B ends 30 short (fine); without a1, 130 short: b1 (its last) leaves, b0 stays.
      const selection = selectSettleable(input, caps);
      expect(uetrs(selection.included)).to.deep.equal(["b0"]);
      expect(uetrs(selection.deferred.map((d) => d.payment))).to.deep.equal(["a1", "b1"]);
      expect(reasons(selection)).to.deep.equal({
        a1: "A would exceed its net debit cap of 50",
        b1: "B would exceed its allowance of 50",
      });
    });

    it("cascades along a chain of banks funded only by each other", () => {
      const input = [payment("ab", "A", "B", 100n, "normal", 1), payment("bc", "B", "C", 100n, "normal", 2), payment("cd", "C", "D", 100n, "normal", 3)];
      const caps = capacities({ A: [0n, "token balance"], B: [0n, "token balance"], C: [0n, "token balance"], D: [0n, "token balance"] });
      const selection = selectSettleable(input, caps);
      expect(selection.included).to.deep.equal([]);
      expect(reasons(selection)).to.deep.equal({
        ab: "A would exceed its token balance of 0",
        bc: "B would exceed its token balance of 0",
        cd: "C would exceed its token balance of 0",
      });
    });

    it("settles a circle of payments that no bank could fund alone", () => {
      const input = [payment("ab", "A", "B", 100n, "normal", 1), payment("bc", "B", "C", 100n, "normal", 2), payment("ca", "C", "A", 100n, "normal", 3)];
      const caps = capacities({ A: [0n, "token balance"], B: [0n, "token balance"], C: [0n, "token balance"] });
      const selection = selectSettleable(input, caps);
      expect(uetrs(selection.included)).to.deep.equal(["ab", "bc", "ca"]);
      expect(selection.deferred).to.deep.equal([]);
    });

    it("brings back a deferred payment that fits once later removals have made room", () => {
      const input = [
        payment("p1", "A", "B", 40n, "normal", 1),
        payment("p2", "A", "C", 100n, "normal", 2),
        payment("p3", "A", "D", 10n, "normal", 3),
      ];
      // A ends 150 short, 50 allowed: p3 then p2 leave (A now 40 short); p2 still does not fit, p3 does.
      const selection = selectSettleable(input, capacities({ A: [50n, "net debit cap"] }));
      expect(uetrs(selection.included)).to.deep.equal(["p1", "p3"]);
      expect(reasons(selection)).to.deep.equal({ p2: "A would exceed its net debit cap of 50" });
    });

    it("brings back a small payment removed before a large one", () => {
      const input = [payment("big", "A", "B", 100n, "normal", 1), payment("small", "A", "C", 10n, "normal", 2)];
      const selection = selectSettleable(input, capacities({ A: [50n, "net debit cap"] }));
      expect(uetrs(selection.included)).to.deep.equal(["small"]);
      expect(reasons(selection)).to.deep.equal({ big: "A would exceed its net debit cap of 50" });
    });

    it("brings back a payment whose debtor was funded by another payment that came back", () => {
      // u0 returns late in the pass and funds B3, which lets u2 (skipped earlier in the pass) fit.
      const input = [payment("u0", "B1", "B3", 1n, "normal", 1), payment("u1", "B1", "B2", 2n, "normal", 0), payment("u2", "B3", "B0", 3n, "normal", 0)];
      const selection = selectSettleable(
        input,
        capacities({ B0: [0n, "net debit cap"], B1: [1n, "net debit cap"], B2: [0n, "net debit cap"], B3: [2n, "net debit cap"] }),
      );
      expect(uetrs(selection.included)).to.deep.equal(["u2", "u0"]);
      expect(uetrs(selection.deferred.map((d) => d.payment))).to.deep.equal(["u1"]);
    });

    it("defers every payment to or from an unavailable bank with the reason given", () => {
      const input = [
        payment("ac", "A", "C", 10n, "high", 1),
        payment("cb", "C", "B", 10n, "normal", 2),
        payment("ab", "A", "B", 10n, "normal", 3),
        payment("cd", "C", "D", 10n, "normal", 4),
      ];
      const caps = capacities({ A: [1_000n, "net debit cap"], B: [1_000n, "net debit cap"], C: [1_000n, "net debit cap"], D: [1_000n, "net debit cap"] });
      const selection = selectSettleable(input, caps, new Map([["C", "C is closed"]]));
      expect(uetrs(selection.included)).to.deep.equal(["ab"]);
      expect(uetrs(selection.deferred.map((d) => d.payment))).to.deep.equal(["ac", "cb", "cd"]);
      expect(reasons(selection)).to.deep.equal({ ac: "C is closed", cb: "C is closed", cd: "C is closed" });
    });

    it("gives the debtor's reason when both parties are unavailable", () => {
      const input = [payment("ab", "A", "B", 10n), payment("ba", "B", "A", 10n, "normal", 1)];
      const unavailable = new Map([["A", "A is suspended"], ["B", "B has no token account"]]);
      const selection = selectSettleable(input, capacities({}), unavailable);
      expect(selection.included).to.deep.equal([]);
      expect(reasons(selection)).to.deep.equal({ ab: "A is suspended", ba: "B has no token account" });
    });

    it("does not count funds from payments that wait for an unavailable bank", () => {
      // A can pay B only with what C sends it; C is unavailable, so A's payment no longer fits.
      const input = [payment("ca", "C", "A", 100n, "normal", 1), payment("ab", "A", "B", 100n, "normal", 2)];
      const caps = capacities({ A: [0n, "token balance"], C: [1_000n, "token balance"] });
      const selection = selectSettleable(input, caps, new Map([["C", "C is offline"]]));
      expect(selection.included).to.deep.equal([]);
      expect(reasons(selection)).to.deep.equal({ ca: "C is offline", ab: "A would exceed its token balance of 0" });
      // With C available both settle.
      expect(uetrs(selectSettleable(input, caps).included)).to.deep.equal(["ca", "ab"]);
    });

    it("treats a bank with no capacity entry as having limit 0: it may receive and pass on, never end short", () => {
      const alone = selectSettleable([payment("ab", "A", "B", 10n)], capacities({}));
      expect(alone.included).to.deep.equal([]);
      expect(reasons(alone)).to.deep.equal({ ab: "A would exceed its limit of 0" });

      const funded = [payment("ba", "B", "A", 50n, "normal", 1), payment("ac", "A", "C", 50n, "normal", 2)];
      expect(uetrs(selectSettleable(funded, capacities({ B: [50n, "net debit cap"] })).included)).to.deep.equal(["ba", "ac"]);

      const short = [payment("ba", "B", "A", 50n, "normal", 1), payment("ac", "A", "C", 51n, "normal", 2)];
      const selection = selectSettleable(short, capacities({ B: [50n, "net debit cap"] }));
      expect(uetrs(selection.included)).to.deep.equal(["ba"]);
      expect(reasons(selection)).to.deep.equal({ ac: "A would exceed its limit of 0" });
    });
  });

  describe("properties", () => {
    interface World {
      payments: Candidate[];
      caps: Map<string, Capacity>;
      banks: string[];
    }

    const world = (limit: fc.Arbitrary<bigint>): fc.Arbitrary<World> =>
      fc.integer({ min: 2, max: 6 }).chain((bankCount) => {
        const banks = Array.from({ length: bankCount }, (_, i) => `B${i}`);
        const raw = fc.record({
          debtor: fc.integer({ min: 0, max: bankCount - 1 }),
          offset: fc.integer({ min: 1, max: bankCount - 1 }),
          amount: fc.bigInt({ min: 1n, max: 1000n }),
          priority: fc.constantFrom("high" as const, "normal" as const),
          arrival: fc.integer({ min: 0, max: 20 }),
        });
        return fc.record({
          payments: fc.array(raw, { maxLength: 40 }).map((list) =>
            list.map(({ debtor, offset, amount, priority, arrival }, i) =>
              payment(`u${String(i).padStart(2, "0")}`, banks[debtor], banks[(debtor + offset) % bankCount], amount, priority, arrival),
            ),
          ),
          caps: fc.tuple(...banks.map(() => limit)).map((limits) => new Map(banks.map((bic, i) => [bic, { limit: limits[i], binding: "net debit cap" }]))),
          banks: fc.constant(banks),
        });
      });

    const smallLimit = fc.bigInt({ min: 0n, max: 3000n });
    const withShuffle = world(smallLimit).chain((w) =>
      fc.shuffledSubarray(w.payments, { minLength: w.payments.length, maxLength: w.payments.length }).map((shuffled) => ({ ...w, shuffled })),
    );
    const RUNS = { numRuns: 200 };

    it("accounts for every payment exactly once, included or deferred", () => {
      fc.assert(
        fc.property(world(smallLimit), ({ payments, caps }) => {
          const { included, deferred } = selectSettleable(payments, caps);
          const all = [...uetrs(included), ...deferred.map((d) => d.payment.uetr)];
          expect(new Set(all).size).to.equal(all.length);
          expect([...all].sort()).to.deep.equal(uetrs(payments).sort());
        }),
        RUNS,
      );
    });

    it("settles only a feasible set: no bank ends more than its limit short", () => {
      fc.assert(
        fc.property(world(smallLimit), ({ payments, caps }) => {
          expectFeasible(selectSettleable(payments, caps).included, caps);
        }),
        RUNS,
      );
    });

    it("stays feasible when some banks have no capacity entry", () => {
      fc.assert(
        fc.property(world(smallLimit), fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }), ({ payments, caps }, missing) => {
          const partial = new Map(caps);
          for (const i of missing) partial.delete(`B${i}`);
          expectFeasible(selectSettleable(payments, partial).included, partial);
        }),
        RUNS,
      );
    });

    it("lists included and deferred payments in settlement order, each deferral naming its debtor's limit", () => {
      fc.assert(
        fc.property(world(smallLimit), ({ payments, caps }) => {
          const { included, deferred } = selectSettleable(payments, caps);
          expect(uetrs(included)).to.deep.equal(uetrs(orderForSettlement(included)));
          const deferredPayments = deferred.map((d) => d.payment);
          expect(uetrs(deferredPayments)).to.deep.equal(uetrs(orderForSettlement(deferredPayments)));
          for (const { payment: p, reason } of deferred) {
            expect(reason).to.equal(`${p.debtor} would exceed its net debit cap of ${caps.get(p.debtor)!.limit}`);
          }
        }),
        RUNS,
      );
    });

    it("is deterministic: the order payments are given in does not change what settles", () => {
      fc.assert(
        fc.property(withShuffle, ({ payments, shuffled, caps }) => {
          const a = selectSettleable(payments, caps);
          const b = selectSettleable(shuffled, caps);
          expect(uetrs(b.included)).to.deep.equal(uetrs(a.included));
          expect(b.deferred.map((d) => [d.payment.uetr, d.reason])).to.deep.equal(a.deferred.map((d) => [d.payment.uetr, d.reason]));
        }),
        RUNS,
      );
    });

    it("defers nothing when every limit is huge", () => {
      fc.assert(
        fc.property(world(fc.bigInt({ min: 40_000n, max: 10n ** 30n })), ({ payments, caps }) => {
          const { included, deferred } = selectSettleable(payments, caps);
          expect(deferred).to.deep.equal([]);
          expect(uetrs(included)).to.deep.equal(uetrs(orderForSettlement(payments)));
        }),
        RUNS,
      );
    });

    it("defers exactly the payments touching unavailable banks for that reason, and stays feasible", () => {
      fc.assert(
        fc.property(world(smallLimit), fc.subarray(["B0", "B1", "B2", "B3", "B4", "B5"]), ({ payments, caps }, down) => {
          const unavailable = new Map(down.map((bic) => [bic, `${bic} is unavailable`]));
          const { included, deferred } = selectSettleable(payments, caps, unavailable);
          for (const p of included) {
            expect(unavailable.has(p.debtor) || unavailable.has(p.creditor)).to.equal(false);
          }
          for (const { payment: p, reason } of deferred) {
            const expected = unavailable.get(p.debtor) ?? unavailable.get(p.creditor) ?? `${p.debtor} would exceed its net debit cap of ${caps.get(p.debtor)!.limit}`;
            expect(reason).to.equal(expected);
          }
          expectFeasible(included, caps);
        }),
        RUNS,
      );
    });
  });
});
