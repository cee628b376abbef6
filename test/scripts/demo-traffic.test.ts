import { expect } from "chai";
import { majorToMinorUnits } from "../../server/config/currencies";
import { loadConfig } from "../../server/config/env";
import { parsePositiveDecimal } from "../../server/fx/decimal";
import { parseCamt } from "../../server/iso20022/camt";
import { isValidIban } from "../../server/iso20022/identifiers";
import { DEFAULT_DEMO_LIMITS, DEMO_BANKS, DEMO_CURRENCIES } from "../../scripts/lib/demo";
import type { DemoApi } from "../../scripts/lib/demo-api";
import { DEMO_RESERVE_ACCOUNTS, demoReserveAccountsSetting } from "../../scripts/lib/demo-reserves";
import { creditTransferXml, reserveStatementXml } from "../../scripts/lib/demo-iso20022";
import { parsePacs008 } from "../../server/iso20022/pacs008";
import { demoRate, fxProvider, startDemoTraffic } from "../../scripts/lib/demo-traffic";

interface Call {
  method: string;
  path: string;
  key: string;
  body: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe("demo traffic and reserves (npm start's payments and proof of reserves)", () => {
  const keys = { banks: Object.fromEntries(DEMO_BANKS.map((b) => [b.bic, `key-${b.bic}`])), treasury: "key-treasury", admin: "key-admin" };

  /** The traffic against a stand-in API that records each call and fails every `failEvery`th payment. */
  async function runTraffic(payments: number, failEvery = 0): Promise<{ calls: Call[]; warnings: string[] }> {
    const calls: Call[] = [];
    const warnings: string[] = [];
    let created = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const api = (async (method: string, path: string, key: string, body?: unknown) => {
      calls.push({ method, path, key, body: body as Call["body"] });
      if (path === "/v1/quotes") return { id: `quote-${calls.length}`, source: { value: (body as { sourceAmount: string }).sourceAmount } };
      if (path === "/v1/payments" || path === "/v1/iso20022/pacs.008") {
        created += 1;
        if (created === payments) done();
        if (failEvery > 0 && created % failEvery === 0) throw new Error(`POST /v1/payments: 422 insufficient_funds (payment ${created})`);
      }
      return {};
    }) as DemoApi;
    const traffic = await startDemoTraffic({ api, keys, banks: DEMO_BANKS, currencies: DEMO_CURRENCIES, intervalMs: [1, 3], seed: 7, warn: (line) => warnings.push(line) });
    await finished;
    await traffic.stop();
    const after = calls.length;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls.length, "nothing is sent after stop").to.equal(after);
    return { calls, warnings };
  }

  it("sends gross (some as pacs.008), net and cross-currency payments between distinct banks, in integer minor units under the caps", async () => {
    const { calls } = await runTraffic(120);
    const rates = calls.filter((c) => c.path === "/v1/fx/rates");
    expect(rates.map((c) => c.key)).to.deep.equal(Array(DEMO_BANKS.length).fill(keys.treasury));
    expect(rates.flatMap((c) => c.body.rates)).to.have.length(DEMO_CURRENCIES.length * (DEMO_CURRENCIES.length - 1));

    // A pacs.008 in the JSON shape, to check it as the others.
    const iso = calls.filter((c) => c.path === "/v1/iso20022/pacs.008").map((c) => {
      const [read] = parsePacs008(c.body as unknown as string).transactions;
      if (!read.ok) throw new Error(read.message);
      const { debtorAgent, creditorAgent, amount, endToEndId } = read.transaction;
      expect(c.key, "sent by its debtor bank").to.equal(keys.banks[debtorAgent]);
      return { endToEndId, debtorAgent: { bic: debtorAgent }, creditorAgent: { bic: creditorAgent }, amount: { value: amount.value.toString(), currency: amount.currency } };
    });
    const json = calls.filter((c) => c.path === "/v1/payments").map((c) => c.body);
    const payments = [...json, ...iso];
    const fx = json.filter((p) => p.quoteId);
    const net = json.filter((p) => p.settlement === "net");
    const gross = json.filter((p) => !p.quoteId && p.settlement === undefined);
    // A bag of six: two gross, one pacs.008, two net, one cross-currency.
    expect([gross.length, iso.length, net.length, fx.length]).to.deep.equal([40, 20, 40, 20]);
    expect(iso.every((p) => p.endToEndId.startsWith("DEMO-PACS008-"))).to.equal(true);
    for (const payment of payments) {
      expect(payment.debtorAgent.bic).to.not.equal(payment.creditorAgent.bic);
      expect(payment.amount.value).to.match(/^[1-9][0-9]*$/);
      expect(BigInt(payment.amount.value) <= majorToMinorUnits(DEFAULT_DEMO_LIMITS.singlePaymentCapMajor, payment.amount.currency)).to.equal(true);
    }
    for (const payment of fx) {
      const quote = calls.find((c) => c.path === "/v1/quotes" && `quote-${calls.indexOf(c) + 1}` === payment.quoteId)!;
      expect(quote.key, "quoted by the paying bank").to.equal(keys.banks[payment.debtorAgent.bic]);
      expect(payment.amount).to.deep.equal({ value: quote.body.sourceAmount, currency: quote.body.sourceCurrency });
      const provider = DEMO_BANKS[fxProvider(DEMO_CURRENCIES, quote.body.sourceCurrency, quote.body.targetCurrency, DEMO_BANKS.length)].bic;
      expect([payment.debtorAgent.bic, payment.creditorAgent.bic], "the provider is not a party").not.to.include(provider);
    }
    // Over many payments each bank pays about as often as it is paid (it is not drained).
    for (const bank of DEMO_BANKS) {
      const paid = payments.filter((p) => p.debtorAgent.bic === bank.bic).length;
      expect(paid, bank.bic).to.be.within(8, 32);
    }
  });

  it("warns about a failed payment and carries on", async () => {
    const { calls, warnings } = await runTraffic(12, 4);
    expect(calls.filter((c) => c.path !== "/v1/fx/rates" && c.path !== "/v1/quotes")).to.have.length(12);
    expect(warnings).to.have.length.within(1, 3); // the same warning is shown once per 30 s
    expect(warnings[0]).to.match(/^Warning: demo traffic: a (gross|pacs\.008|net|cross-currency) payment failed: POST \/v1\/payments: 422 insufficient_funds/);
  });

  it("derives every FX rate from one table, so that a pair and its inverse agree", () => {
    expect(demoRate("GBP", "JPY")).to.equal("189.55223881");
    expect(demoRate("USD", "GBP")).to.equal("0.78740157");
    for (const a of DEMO_CURRENCIES) {
      for (const b of DEMO_CURRENCIES) {
        if (a === b) continue;
        const [ab, ba] = [parsePositiveDecimal(demoRate(a, b))!, parsePositiveDecimal(demoRate(b, a))!];
        const product = ab.units * ba.units; // at scale ab.scale + ba.scale
        const one = 10n ** BigInt(ab.scale + ba.scale);
        expect(product > one - one / 1_000_000n && product < one + one / 1_000_000n, `${a}/${b} × ${b}/${a}`).to.equal(true);
        expect(fxProvider(DEMO_CURRENCIES, a, b, 6)).to.equal(fxProvider(DEMO_CURRENCIES, b, a, 6));
      }
    }
  });

  it("names a valid reserve IBAN per currency, and states its balance in a camt.053 the relay reads", () => {
    const accounts = loadConfig({ RESERVE_ACCOUNTS: demoReserveAccountsSetting(DEMO_CURRENCIES) }).RESERVE_ACCOUNTS;
    expect(Object.keys(accounts)).to.deep.equal([...DEMO_CURRENCIES]);
    for (const iban of Object.values(DEMO_RESERVE_ACCOUNTS)) expect(isValidIban(iban), iban).to.equal(true);

    const statement = (closingBalance: bigint, currency = "JPY") =>
      parseCamt(reserveStatementXml({ account: DEMO_RESERVE_ACCOUNTS[currency], currency, closingBalance, date: "2026-11-21", createdAt: new Date("2026-11-21T10:15:00Z") }));
    const camt = statement(60_000_000n);
    expect(camt.kind).to.equal("camt.053");
    const [stmt] = camt.statements;
    expect([stmt.accountId, stmt.accountCurrency, stmt.entries.length]).to.deep.equal([DEMO_RESERVE_ACCOUNTS.JPY, "JPY", 0]);
    expect(stmt.closingBalance).to.deep.equal({ amount: 60_000_000n, currency: "JPY", date: "2026-11-21" });
    expect(statement(6_000_000_000n, "GBP").statements[0].closingBalance).to.deep.equal({ amount: 6_000_000_000n, currency: "GBP", date: "2026-11-21" });
    expect(statement(60_000_000n).statements[0].statementId, "the same statement, the same id").to.equal(stmt.statementId);
    expect(statement(60_000_001n).statements[0].statementId).to.not.equal(stmt.statementId);
  });

  it("writes a pacs.008 the relay reads, with a fresh UETR each time", () => {
    const transfer = { endToEndId: "INV-7", debtorAgent: "THMSGB2LXXX", creditorAgent: "SKRAJPJTXXX", amount: 2_450n, currency: "JPY", debtorName: "Thames Textiles Ltd", creditorName: "Sakura Foods KK", at: new Date("2026-11-21T10:00:00Z") };
    const [first, second] = [parsePacs008(creditTransferXml(transfer)), parsePacs008(creditTransferXml(transfer))];
    const [read] = first.transactions;
    expect(read.ok && read.transaction).to.deep.include({ endToEndId: "INV-7", debtorAgent: "THMSGB2LXXX", creditorAgent: "SKRAJPJTXXX", amount: { value: 2_450n, currency: "JPY" }, interbankSettlementDate: "2026-11-21" });
    expect(read.ok && read.transaction.creditor.name).to.equal("Sakura Foods KK");
    const uetr = (message: typeof first) => (message.transactions[0].ok ? message.transactions[0].transaction.uetr : undefined);
    expect(uetr(first)).to.not.equal(uetr(second));
    expect(first.messageId).to.not.equal(second.messageId);
  });
});
