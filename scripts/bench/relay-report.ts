/** The relay benchmark's report: a table, the targets met or missed, and bench-results/relay.json. */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import path from "node:path";
import type { Dialect } from "../../server/db/database";
import type { LatencySummary } from "./relay-load";
import { round, type CpuUse } from "./lib/usage";

export const TARGETS = {
  intakeSqlitePerSecond: 1_000,
  intakeSqliteVsBare: 0.25,
  endToEndPerSecond: 200,
  peakRssMb: 300,
};


export interface IntakeResult {
  perSecond: number;
  accepted: number;
  failures: Record<string, number>;
  firstFailure?: string;
  latencyMs: LatencySummary;
  elapsedMs: number;
  /** Cores used during the measured window, by process. */
  cpu?: CpuUse;
}

export interface RelayIntakeResult extends IntakeResult {
  dialect: Dialect;
  peakRssMb: number;
  rssHighWaterMb: number | null;
  /** Payments stored during the run (warm-up included) and how far the chain submitter got. */
  stored: Record<string, number>;
  relayErrorLines: number;
  /** The relay's CPU time (all its work: API, chain workers, webhooks) per payment accepted. */
  relayCpuMsPerPayment: number;
}

export interface EndToEndResult {
  dialect: Dialect;
  payments: number;
  settled: number;
  /** Payments per second from the first POST to the last SETTLED. */
  perSecond: number;
  elapsedMs: number;
  timeToSettleMs: LatencySummary;
  timeToLockMs: LatencySummary;
  postLatencyMs: LatencySummary;
  final: Record<string, number>;
  /** Seconds after the first POST at which payments were posted, locked and settled. */
  timeline: Record<"posted" | "locked" | "settled", { first: number; median: number; last: number } | null>;
  /** Cores used from before the first POST until the last payment settled. */
  cpu: CpuUse;
  relayErrorLines: number;
  firstFailure?: string;
}

/** The run's settings, as the report prints and stores them. */
export interface ReportSettings {
  concurrency: number;
  seconds: number;
  warmupSeconds: number;
  endToEndPayments: number;
}

export async function report(settings: ReportSettings, bare: IntakeResult | undefined, intake: RelayIntakeResult[], endToEnd: EndToEndResult[]): Promise<void> {
  const ratio = (perSecond: number) => (bare ? round(perSecond / bare.perSecond, 3) : null);
  const failed = (failures: Record<string, number>) => Object.values(failures).reduce((a, b) => a + b, 0);
  const rows: Record<string, Record<string, number | string | null>> = {};
  if (bare) {
    rows["intake: bare express (ceiling)"] = {
      "per s": bare.perSecond,
      "p50 ms": bare.latencyMs.p50,
      "p99 ms": bare.latencyMs.p99,
      "vs bare": 1,
      errors: failed(bare.failures),
      "peak RSS MB": null,
    };
  }
  for (const run of intake) {
    rows[`intake: relay, ${run.dialect}`] = {
      "per s": run.perSecond,
      "p50 ms": run.latencyMs.p50,
      "p99 ms": run.latencyMs.p99,
      "vs bare": ratio(run.perSecond),
      errors: failed(run.failures),
      "peak RSS MB": run.rssHighWaterMb ?? run.peakRssMb,
    };
  }
  for (const run of endToEnd) {
    rows[`end to end: ${run.payments} payments, ${run.dialect}`] = {
      "per s": run.perSecond,
      "p50 ms": run.timeToSettleMs.p50,
      "p99 ms": run.timeToSettleMs.p99,
      "vs bare": null,
      errors: run.payments - run.settled,
      "peak RSS MB": null,
    };
  }
  console.log(
    `\nRelay throughput and latency: concurrency ${settings.concurrency}, intake over ${settings.seconds} s after ${settings.warmupSeconds} s warm-up;` +
      ` end to end from POST to SETTLED (p50/p99 = time to settle)`,
  );
  console.table(rows);
  for (const run of [...intake, ...(bare ? [{ ...bare, dialect: "bare" }] : [])]) {
    if (run.firstFailure) console.log(`first failure (${run.dialect}): ${run.firstFailure}`);
  }
  const describeCpu = (cpu: CpuUse | undefined) =>
    cpu
      ? `${Object.entries(cpu.processes).map(([name, cores]) => `${name} ${cores}`).join(", ")}, others ${cpu.others}` +
        ` (machine ${cpu.machine} of ${cpus().length} cores)`
      : "not measured";
  if (bare) console.log(`bare: cores used during the window: ${describeCpu(bare.cpu)}`);
  for (const run of intake) {
    console.log(
      `${run.dialect}: relay CPU ${run.relayCpuMsPerPayment} ms per payment accepted; cores used during the window: ${describeCpu(run.cpu)}`,
    );
    console.log(`${run.dialect}: payments stored by status at the end of intake: ${JSON.stringify(run.stored)}; relay error log lines: ${run.relayErrorLines}`);
  }
  for (const run of endToEnd) {
    console.log(
      `${run.dialect} end to end: ${run.settled}/${run.payments} settled in ${run.elapsedMs} ms; time to LOCKED p50 ${run.timeToLockMs.p50} ms,` +
        ` p99 ${run.timeToLockMs.p99} ms; POST p50 ${run.postLatencyMs.p50} ms; final ${JSON.stringify(run.final)}; relay error log lines: ${run.relayErrorLines}`,
    );
    const span = (t: { first: number; median: number; last: number } | null) => (t ? `${t.first}/${t.median}/${t.last} s` : "none");
    console.log(
      `${run.dialect} end to end: first/median/last after the first POST: posted ${span(run.timeline.posted)}, locked ${span(run.timeline.locked)},` +
        ` settled ${span(run.timeline.settled)}; cores used: ${describeCpu(run.cpu)}`,
    );
  }

  const sqliteIntake = intake.find((run) => run.dialect === "sqlite");
  const sqliteE2e = endToEnd.find((run) => run.dialect === "sqlite");
  const rssValues = intake.map((run) => run.rssHighWaterMb ?? run.peakRssMb);
  const peakRss = rssValues.length > 0 ? Math.max(...rssValues) : undefined;
  const targets: Record<string, { value: number | null; target: string; met: boolean }> = {
    intakeSqlitePerSecond: {
      value: sqliteIntake?.perSecond ?? null,
      target: `>= ${TARGETS.intakeSqlitePerSecond}`,
      met: (sqliteIntake?.perSecond ?? 0) >= TARGETS.intakeSqlitePerSecond,
    },
    intakeSqliteVsBare: {
      value: sqliteIntake ? ratio(sqliteIntake.perSecond) : null,
      target: `>= ${TARGETS.intakeSqliteVsBare}`,
      met: sqliteIntake !== undefined && (ratio(sqliteIntake.perSecond) ?? 0) >= TARGETS.intakeSqliteVsBare,
    },
    endToEndPerSecond: {
      value: sqliteE2e?.perSecond ?? null,
      target: `>= ${TARGETS.endToEndPerSecond}`,
      met: (sqliteE2e?.perSecond ?? 0) >= TARGETS.endToEndPerSecond,
    },
    peakRssMb: { value: peakRss ?? null, target: `< ${TARGETS.peakRssMb}`, met: peakRss !== undefined && peakRss < TARGETS.peakRssMb },
  };
  console.log("");
  for (const [name, target] of Object.entries(targets)) {
    console.log(`${target.met ? "MET   " : "MISSED"} ${name}: ${target.value ?? "not measured"} (target ${target.target})`);
  }

  const file = path.join("bench-results", "relay.json");
  const results = {
    settings: { ...settings, cpus: cpus().length },
    bare: bare ?? null,
    intake,
    endToEnd,
    ratios: Object.fromEntries(intake.map((run) => [run.dialect, ratio(run.perSecond)])),
    targets,
    measuredAt: new Date().toISOString(),
  };
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(results, null, 2) + "\n");
  console.log(`\nwrote ${file}`);
  if (!Object.values(targets).every((t) => t.met)) process.exitCode = 1;
}

