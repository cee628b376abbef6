import { expect } from "chai";
import { measurePacs008Parsing } from "../../../scripts/bench/pacs008-parse";

describe("scripts/bench/pacs008-parse", () => {
  it("measures parsePacs008 on messages the size of the c105 sample", async () => {
    const figure = await measurePacs008Parsing({ seconds: 0.2 });
    expect(figure.messages).to.be.greaterThan(0);
    expect(figure.bytesPerMessage).to.be.within(3700, 3800);
    expect(figure.perSecond).to.be.closeTo(figure.messages / figure.seconds, 1e-6);
  });
});
