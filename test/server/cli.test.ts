import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { main } from "../../server/cli";
import { openDatabase } from "../../server/db/database";
import { C105, sample } from "../support/iso-messages";

/**
 * `npx corridor statements import` and `npx corridor reconcile` on a SQLite file. Neither reads the
 * chain here (no reserve account is configured), so no node is started.
 */
describe("corridor CLI: statements import and reconcile", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "corridor-cli-"));
  const databaseFile = path.join(dir, "cli.db");
  const deploymentFile = path.join(dir, "deployment.json");
  const saved = { ...process.env };
  let printed: string[];
  const originalLog = console.log;

  before(() => {
    const address = (n: number) => `0x${n.toString(16).padStart(40, "0")}`;
    writeFileSync(deploymentFile, JSON.stringify({
      chainId: "31337",
      deployBlock: 0,
      deployedAt: new Date().toISOString(),
      contracts: { ParticipantRegistry: address(1), SettlementEscrow: address(2), NettingSettlement: address(3), tokens: { GBP: address(4) } },
      roles: {},
    }));
    Object.assign(process.env, { DATABASE_URL: databaseFile, DEPLOYMENT_FILE: deploymentFile, RPC_URL: "http://127.0.0.1:9" });
  });
  beforeEach(() => {
    printed = [];
    console.log = (...args: unknown[]) => void printed.push(args.join(" "));
  });
  afterEach(() => {
    console.log = originalLog;
  });
  after(() => {
    for (const key of ["DATABASE_URL", "DEPLOYMENT_FILE", "RPC_URL"]) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  const file = (name: string, text: string) => {
    const location = path.join(dir, name);
    writeFileSync(location, text);
    return location;
  };
  const entryCount = async () => {
    const handle = await openDatabase(databaseFile);
    try {
      return (await handle.db.selectFrom("statement_entries").select("id").execute()).length;
    } finally {
      await handle.close();
    }
  };

  it("imports statement files, and importing them again changes nothing", async () => {
    const files = [file("c105.xml", C105.camt053()), file("c54.xml", sample("cbpr-c54-camt054-BtoA.xml"))];
    await main(["node", "corridor", "statements", "import", ...files]);
    const first = printed.map((line) => JSON.parse(line));
    expect(first.map((r) => [r.kind, r.statements[0].created])).to.deep.equal([["camt.053", true], ["camt.054", true]]);
    const entries = await entryCount();
    expect(entries).to.be.greaterThan(2);

    printed = [];
    await main(["node", "corridor", "statements", "import", ...files]);
    expect(printed.map((line) => JSON.parse(line).statements[0].created)).to.deep.equal([false, false]);
    expect(await entryCount()).to.equal(entries);
  });

  it("refuses a file that is not a statement, naming it", async () => {
    const bad = file("not-a-statement.xml", C105.pacs008());
    let error: unknown;
    await main(["node", "corridor", "statements", "import", bad]).catch((e: unknown) => (error = e));
    expect(String(error)).to.match(/unsupported_message|not a camt/i);
  });

  it("reconciles a date range and prints the run with its counts", async () => {
    await main(["node", "corridor", "reconcile", "--from", C105.valueDate, "--to", C105.valueDate, "--currency", "GBP"]);
    const run = JSON.parse(printed.join("\n"));
    expect(run).to.deep.include({ status: "completed", from: C105.valueDate, to: C105.valueDate, currencies: ["GBP"] });
    // No payment behind the c105 statement in this database: both entries are unknown to Corridor,
    // except the charge, which has no payment to link to either.
    expect(run.counts.breaks.unknown_entry).to.be.greaterThan(0);
  });
});
