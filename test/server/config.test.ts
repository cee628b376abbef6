import { expect } from "chai";
import { ConfigError, loadConfig } from "../../server/config/env";
import { currencyLimits } from "../../server/risk/service";

const KEY = `0x${"ab".repeat(32)}`;

function problemsOf(env: NodeJS.ProcessEnv): { variable: string; message: string }[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    expect((error as ConfigError).code).to.equal("invalid_config");
    return (error as ConfigError).problems;
  }
  throw new Error("the configuration was accepted");
}

describe("server/config/env", () => {
  it("fills in the defaults and ignores variables left empty or not the relay's", () => {
    const config = loadConfig({ PORT: "", OPERATOR_PRIVATE_KEY: KEY, PATH: "/usr/bin" });
    expect(config).to.deep.include({
      HOST: "127.0.0.1",
      PORT: 3000,
      DATABASE_URL: "./data/corridor.db",
      RPC_URL: "http://127.0.0.1:8545",
      CONFIRMATIONS: 2,
      AUTO_RELEASE: false,
      OPERATOR_PRIVATE_KEY: KEY,
    });
    expect(config).to.not.have.property("PATH");
    expect(config.RISK_SINGLE_PAYMENT_CAP).to.equal(undefined);
  });

  it("names every bad variable at once", () => {
    const problems = problemsOf({ PORT: "70000", RPC_URL: "ftp://node", OPERATOR_PRIVATE_KEY: "0x12", AUTO_RELEASE: "yes", CONFIRMATIONS: "-1" });
    expect(problems.map((p) => p.variable)).to.have.members(["PORT", "RPC_URL", "OPERATOR_PRIVATE_KEY", "AUTO_RELEASE", "CONFIRMATIONS"]);
    expect(problems.find((p) => p.variable === "OPERATOR_PRIVATE_KEY")!.message).to.match(/32-byte hex private key/);
  });

  it("reads a risk cap for every currency, per currency, or both", () => {
    expect(loadConfig({ RISK_SINGLE_PAYMENT_CAP: "5000000" }).RISK_SINGLE_PAYMENT_CAP).to.deep.equal({ all: 5_000_000n, byCurrency: {} });
    expect(loadConfig({ RISK_DAILY_VOLUME_CAP: "GBP=5000000, JPY=800000000" }).RISK_DAILY_VOLUME_CAP).to.deep.equal({
      byCurrency: { GBP: 5_000_000n, JPY: 800_000_000n },
    });
    const huge = (2n ** 128n - 1n).toString();
    expect(loadConfig({ RISK_SINGLE_PAYMENT_CAP: `GBP=0,${huge}` }).RISK_SINGLE_PAYMENT_CAP).to.deep.equal({
      all: 2n ** 128n - 1n,
      byCurrency: { GBP: 0n },
    });
  });

  for (const bad of [" ", "-5", "1.5", "1e6", "gbp=5", "GBP=", "GBP=1,GBP=2", "1,2", "GBP=1;JPY=2", "1".repeat(40)]) {
    it(`refuses the risk cap ${JSON.stringify(bad)}, naming both variables`, () => {
      const problems = problemsOf({ RISK_SINGLE_PAYMENT_CAP: bad, RISK_DAILY_VOLUME_CAP: bad });
      expect(problems.map((p) => p.variable)).to.deep.equal(["RISK_SINGLE_PAYMENT_CAP", "RISK_DAILY_VOLUME_CAP"]);
      expect(problems[0].message).to.match(/not a cap/);
    });
  }
});

describe("server/risk/service currencyLimits", () => {
  it("takes a currency's own cap first, then the cap for every currency, else none", () => {
    const limits = currencyLimits({ singlePayment: { all: 100n, byCurrency: { JPY: 10_000n } }, dailyVolume: { byCurrency: { GBP: 500n } } });
    expect(limits.singlePaymentCap("BARCGB22XXX", "JPY")).to.equal(10_000n);
    expect(limits.singlePaymentCap("BARCGB22XXX", "GBP")).to.equal(100n);
    expect(limits.dailyVolumeCap("BARCGB22XXX", "GBP")).to.equal(500n);
    expect(limits.dailyVolumeCap("BARCGB22XXX", "JPY")).to.equal(undefined);
    expect(currencyLimits({}).singlePaymentCap("BARCGB22XXX", "GBP")).to.equal(undefined);
  });
});
