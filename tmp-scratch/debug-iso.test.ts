import { startRelayWorld } from "../test/e2e/relay-harness";
import { pacs008 } from "../test/support/iso-messages";
describe("debug", function () {
  this.timeout(60000);
  it("posts", async () => {
    const world = await startRelayWorld({ env: { AUTO_RELEASE: "true", LOG_LEVEL: "debug" } });
    console.log("started");
    const body = pacs008([{ amount: "1.00", currency: "GBP", debtorAgent: world.bic(0), creditorAgent: world.bic(1) }]);
    const res = await Promise.race([
      world.api("POST", "/v1/iso20022/pacs.008", { key: world.keys.banks[world.bic(0)], body, headers: { "content-type": "application/xml" } }),
      new Promise((r) => setTimeout(() => r("TIMEOUT"), 8000)),
    ]);
    console.log(JSON.stringify(res).slice(0, 2000));
    await world.stop();
  });
});
