/**
 * Reconciliation benchmark (`npm run bench:recon`). Prints a table and writes
 * bench-results/recon.json; exits non-zero when a target is missed.
 *
 * A child process (scripts/bench/lib/recon-worker.ts) builds a fresh SQLite database with
 * BENCH_RECON_RECORDS (default 1,000,000) Released chain events, ledger releases and statement
 * entries, 1 % of the payments faulted (every break class in turn). A second child times, on that
 * database, a plain SQL join of the three tables on UETR (the floor: what reading and joining the
 * data costs SQLite alone) and then the reconciliation service's run over the whole range, and
 * checks the breaks it recorded against those injected. Peak RSS is that second child's
 * (process.resourceUsage().maxRSS): Node, the transpiler, the floor query and the run.
 *
 * Also pacs.008 messages parsed per second (scripts/bench/pacs008-parse.ts), beside the bare
 * XML parser on the same text.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT, startScript, waitForOutput } from "./lib/processes";
import { round } from "./lib/usage";
import { measureBareParsing, measurePacs008Parsing } from "./pacs008-parse";

const RECORDS = Number(process.env.BENCH_RECON_RECORDS ?? 1_000_000);
const TARGET_SECONDS = 20;
const TARGET_RSS_MB = 1536;
const CHILD_TIMEOUT_MS = 15 * 60_000;

interface WorkerResult {
  seconds: number;
  records: number;
  counts: unknown;
  maxRssMb: number;
  injected: number;
  found: number;
  missed: number;
  invented: number;
  floor: { seconds: number; matched: number };
}

const PACS008_TARGET_PER_SECOND = 5_000;

/** pacs.008 messages parsed per second beside fast-xml-parser's bare parse of the same text. */
async function pacs008Parsing() {
  const parsed = await measurePacs008Parsing();
  const bare = await measureBareParsing();
  return {
    perSecond: round(parsed.perSecond),
    bytesPerMessage: parsed.bytesPerMessage,
    bareParserPerSecond: round(bare.perSecond),
    ratioToBare: round(parsed.perSecond / bare.perSecond, 2),
    targetPerSecond: PACS008_TARGET_PER_SECOND,
  };
}

async function runWorker(args: string[], pattern: RegExp, what: string): Promise<RegExpMatchArray> {
  const child = startScript("lib/recon-worker.ts", args);
  const match = await waitForOutput(child, pattern, CHILD_TIMEOUT_MS, what);
  if ((await child.exited) !== 0) throw new Error(`${what} failed:\n${child.output()}`);
  return match;
}

async function main(): Promise<void> {
  if (!Number.isSafeInteger(RECORDS) || RECORDS < 100) throw new Error("BENCH_RECON_RECORDS must be an integer of at least 100");
  const dir = mkdtempSync(path.join(tmpdir(), "corridor-bench-recon-"));
  const dbFile = path.join(dir, "recon.db");
  const injectedFile = path.join(dir, "injected.json");
  try {
    console.log(`generating ${RECORDS.toLocaleString("en")} payments in ${dbFile} ...`);
    const generateStarted = Date.now();
    await runWorker(["generate", dbFile, String(RECORDS), injectedFile], /^GENERATED$/m, "generator");
    const generateSeconds = (Date.now() - generateStarted) / 1000;
    console.log("running the floor and the reconciliation ...");
    const result = JSON.parse((await runWorker(["run", dbFile, injectedFile], /^RESULT (.+)$/m, "run"))[1]) as WorkerResult;

    console.log("measuring pacs.008 parsing ...");
    const parsing = await pacs008Parsing();
    const report = {
      records: { chainEvents: RECORDS, ledgerTransfers: RECORDS, statementEntries: RECORDS, read: result.records },
      reconciliation: {
        seconds: round(result.seconds, 2),
        recordsPerSecond: round(result.records / result.seconds),
        peakRssMb: round(result.maxRssMb, 1),
        breaksInjected: result.injected,
        breaksFound: result.found,
        missed: result.missed,
        invented: result.invented,
        counts: result.counts,
      },
      floor: { query: "three-way inner join on uetr, amounts and currency equal", seconds: round(result.floor.seconds, 2), matched: result.floor.matched },
      ratioToFloor: round(result.seconds / result.floor.seconds, 2),
      targets: {
        secondsUnder: TARGET_SECONDS,
        peakRssMbUnder: TARGET_RSS_MB,
        met: result.seconds < TARGET_SECONDS && result.maxRssMb < TARGET_RSS_MB && result.missed === 0 && result.invented === 0 && parsing.perSecond >= PACS008_TARGET_PER_SECOND,
      },
      generateSeconds: round(generateSeconds, 1),
      pacs008Parsing: parsing,
      machine: { node: process.version, platform: process.platform },
    };
    mkdirSync(path.join(ROOT, "bench-results"), { recursive: true });
    writeFileSync(path.join(ROOT, "bench-results", "recon.json"), `${JSON.stringify(report, null, 2)}\n`);

    const r = report.reconciliation;
    console.table({
      reconciliation: { seconds: r.seconds, "records/s": r.recordsPerSecond, "peak RSS MB": r.peakRssMb, "breaks found/injected": `${r.breaksFound}/${r.breaksInjected}` },
      "floor (SQL join)": { seconds: report.floor.seconds, "records/s": round(result.records / result.floor.seconds), "peak RSS MB": "", "breaks found/injected": "" },
    });
    console.log(`pacs.008 parsed: ${parsing.perSecond}/s (${parsing.bytesPerMessage} bytes each; bare parser ${parsing.bareParserPerSecond}/s, ratio ${parsing.ratioToBare})`);
    console.log(`ratio to the floor: ${report.ratioToFloor}x; missed ${r.missed}, invented ${r.invented}; targets ${report.targets.met ? "met" : "MISSED"}`);
    if (!report.targets.met) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
