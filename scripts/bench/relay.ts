/**
 * Relay benchmark. Prints a table and writes bench-results/relay.json; exits non-zero when a
 * target is missed. Everything runs on 127.0.0.1:
 *
 * - the in-process Hardhat network behind a JSON-RPC server (this process), with the Corridor
 *   contracts and four funded banks that let the relay's operator lock for them;
 * - the relay as its own process (`bin/corridor.js serve` with the node flags of its first line,
 *   as `npx corridor serve` runs it; configured by environment, built to JavaScript first as in
 *   production) on a fresh SQLite file or a fresh PostgreSQL schema, its RSS read from /proc;
 * - a closed-loop load generator as its own process (scripts/bench/relay-load.ts): keep-alive
 *   HTTP, `concurrency` requests in flight, each a distinct payment with its own Idempotency-Key;
 * - the ceiling, measured in the same run with the same generator: a bare express 5 app with
 *   express.json() answering 201 (scripts/bench/bare-endpoint.ts), also its own process.
 *
 * Intake: payments accepted (201) per second and latency over the window, after a warm-up; the
 * relay's chain submitter and indexer keep running (they are part of the relay; AUTO_RELEASE off).
 * Each window also reports the cores each process used, and the rest of the machine's load.
 * End to end: `e2e` payments posted at the same concurrency to a relay with AUTO_RELEASE=true and
 * CONFIRMATIONS=1, timed from each POST to the SETTLED entry the relay records in the payment's
 * history (the time the indexer applied the Released event).
 *
 * Environment (optional): BENCH_RELAY_SECONDS (20), BENCH_RELAY_WARMUP_SECONDS (3),
 * BENCH_RELAY_CONCURRENCY (50), BENCH_RELAY_E2E (1000), BENCH_RELAY_DIALECTS (sqlite,postgres),
 * BENCH_RELAY_SKIP (comma list of: bare, intake, e2e), BENCH_RELAY_NODE_ARGS (node flags for the relay).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import hre from "hardhat";
import { deployCorridorFixture, TEST_BANKS, type CorridorFixture } from "../../test/contracts/fixtures";
import { allowOperator, deploymentOf, OPERATOR_KEY, startRpcServer } from "../../test/e2e/relay-harness";
import { dropTestDatabase, postgresAvailable, postgresTestUrl, sqliteTestUrl, TEST_POSTGRES_URL } from "../../test/server/databases";
import { provisionDemoRelay, type DemoKeys } from "../lib/demo-relay";
import { openDatabase, type DatabaseHandle, type Dialect } from "../../server/db/database";
import { createLedgerService } from "../../server/ledger/service";
import { createParticipantService } from "../../server/participants/service";
import { createAuthService } from "../../server/auth/service";
import type { Relay } from "../../server/relay";
import { RELAY_VARIABLES } from "../../server/config/env";
import { summarize, type LatencySummary, type LoadConfig, type LoadResult } from "./relay-load";
import { ROOT, sleep, start, startScript, stop, waitForOutput, type Child } from "./lib/processes";
import { cpuBetween, readCpu, round, sampleRss, type CpuUse } from "./lib/usage";
import { report, type EndToEndResult, type IntakeResult, type RelayIntakeResult } from "./relay-report";

const SECONDS = envNumber("BENCH_RELAY_SECONDS", 20);
const WARMUP_SECONDS = envNumber("BENCH_RELAY_WARMUP_SECONDS", 3);
const CONCURRENCY = envNumber("BENCH_RELAY_CONCURRENCY", 50);
const E2E_PAYMENTS = envNumber("BENCH_RELAY_E2E", 1000);
const DIALECTS = (process.env.BENCH_RELAY_DIALECTS ?? "sqlite,postgres").split(",").filter(Boolean) as Dialect[];
/** Extra node flags for the relay processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them. */
const RELAY_NODE_ARGS = (process.env.BENCH_RELAY_NODE_ARGS ?? "").split(" ").filter(Boolean);
const SKIP = new Set((process.env.BENCH_RELAY_SKIP ?? "").split(",").filter(Boolean));
/** The whole run is abandoned (children killed) after this long. */
const WATCHDOG_MS = 25 * 60_000;
const E2E_TIMEOUT_MS = 180_000;
/** 1.00 in GBP, 1 in JPY, 0.100 in BHD: far below every balance and cap of the fixture. */
const AMOUNT = "100";
const CURRENCIES = ["GBP", "JPY", "BHD"];
/** Long expiries: each automined block moves chain time on by at least a second. */
const EXPIRES_IN_SECONDS = 7 * 24 * 3600;

function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

/** Runs the load generator; CPU use of the named processes is read around its measured window. */
async function runLoad(config: LoadConfig, watched: Record<string, number>): Promise<{ load: LoadResult; cpu: CpuUse }> {
  const generator = startScript("relay-load.ts", [JSON.stringify(config)]);
  const budgetMs = (config.warmupMs ?? 0) + (config.durationMs ?? 0) + 120_000;
  try {
    const pids = { ...watched, "load generator": generator.process.pid!, "benchmark (Hardhat node)": process.pid };
    await waitForOutput(generator, /^WINDOW start$/m, budgetMs, "load generator");
    const before = readCpu(pids);
    await waitForOutput(generator, /^WINDOW end$/m, budgetMs, "load generator");
    const cpu = cpuBetween(before, readCpu(pids));
    const match = await waitForOutput(generator, /^RESULT (.+)$/m, 30_000, "load generator");
    return { load: JSON.parse(match[1]) as LoadResult, cpu };
  } finally {
    await stop(generator, 1_000);
  }
}

// ---------------------------------------------------------------------------------------------
// Relay processes
// ---------------------------------------------------------------------------------------------

interface RelayDatabase {
  url: string;
  handle: DatabaseHandle;
  keys: DemoKeys;
  drop(): Promise<void>;
}

/** A fresh database with the banks registered, their opening balances booked and API keys made. */
async function prepareDatabase(dialect: Dialect, fixture: CorridorFixture): Promise<RelayDatabase> {
  const url = dialect === "postgres" ? await postgresTestUrl() : sqliteTestUrl();
  const handle = await openDatabase(url);
  const { db } = handle;
  const ledger = createLedgerService({ dialect });
  const services = {
    database: handle,
    ledger,
    participants: createParticipantService({ db, ledger, currencies: Object.keys(fixture.tokens) }),
    auth: createAuthService({ db }),
  };
  const keys = await provisionDemoRelay(
    services as unknown as Relay, // provisioning uses only these parts of a relay
    fixture,
    fixture.banks.map((signer, i) => ({ signer, bank: TEST_BANKS[i] })),
  );
  return {
    url,
    handle,
    keys,
    async drop() {
      await handle.close();
      await dropTestDatabase(url);
    },
  };
}

interface RunningRelay {
  child: Child;
  url: string;
  pid: number;
}

/** `corridor serve` on the database, reading the chain from the block it starts at. */
async function startRelayProcess(database: RelayDatabase, fixture: CorridorFixture, rpcUrl: string, autoRelease: boolean): Promise<RunningRelay> {
  const deployment = { ...(await deploymentOf(fixture)), deployBlock: await hre.ethers.provider.getBlockNumber() };
  const deploymentFile = path.join(mkdtempSync(path.join(tmpdir(), "corridor-bench-")), "deployment.json");
  writeFileSync(deploymentFile, JSON.stringify(deployment));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of RELAY_VARIABLES) delete env[name];
  Object.assign(env, {
    HOST: "127.0.0.1",
    PORT: "0",
    DATABASE_URL: database.url,
    RPC_URL: rpcUrl,
    DEPLOYMENT_FILE: deploymentFile,
    CONFIRMATIONS: "1",
    OPERATOR_PRIVATE_KEY: OPERATOR_KEY,
    AUTO_RELEASE: String(autoRelease),
    LOG_LEVEL: "warn",
  });
  const child = start([...nodeFlagsOf(RELAY_BIN), ...RELAY_NODE_ARGS, RELAY_BIN, "serve"], env);
  const [, url] = await waitForOutput(child, /Corridor relay listening at (\S+)/, 60_000, "relay");
  return { child, url, pid: child.process.pid! };
}

const RELAY_BIN = path.join(ROOT, "bin/corridor.js");

/** The node flags of a script's `#!/usr/bin/env -S node …` line: what running it directly passes. */
function nodeFlagsOf(script: string): string[] {
  const shebang = readFileSync(script, "utf8").split("\n", 1)[0];
  return shebang.replace(/^#!.*?\bnode\b/, "").split(/\s+/).filter(Boolean);
}

/** Relay log lines at error level (pino level 50+), for the report. */
function relayErrors(output: string): string[] {
  return output.split("\n").filter((line) => /"level":(50|60)/.test(line));
}

// ---------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------

function loadConfig(url: string, keys: DemoKeys | undefined, label: string, extra: Partial<LoadConfig>): LoadConfig {
  return {
    url,
    path: "/v1/payments",
    concurrency: CONCURRENCY,
    banks: TEST_BANKS.map((bank) => ({ bic: bank.bic, key: keys?.banks[bank.bic] ?? "crd_bare" })),
    currencies: CURRENCIES,
    amount: AMOUNT,
    expiresInSeconds: EXPIRES_IN_SECONDS,
    label,
    ...extra,
  };
}



const timed = (extra: Partial<LoadConfig> = {}): Partial<LoadConfig> => ({ durationMs: SECONDS * 1000, warmupMs: WARMUP_SECONDS * 1000, ...extra });

function toIntake(load: LoadResult): IntakeResult {
  return {
    perSecond: round(load.perSecond, 1),
    accepted: load.ok,
    failures: load.failures,
    ...(load.firstFailure ? { firstFailure: load.firstFailure } : {}),
    latencyMs: roundLatency(load.latencyMs),
    elapsedMs: Math.round(load.elapsedMs),
  };
}

function roundLatency(l: LatencySummary): LatencySummary {
  return { p50: round(l.p50, 2), p90: round(l.p90, 2), p99: round(l.p99, 2), max: round(l.max, 2), mean: round(l.mean, 2) };
}

async function measureBare(): Promise<IntakeResult> {
  const server = startScript("bare-endpoint.ts");
  try {
    const [, url] = await waitForOutput(server, /listening at (\S+)/, 30_000, "bare endpoint");
    const { load, cpu } = await runLoad(loadConfig(url, undefined, "BARE", timed()), { "bare endpoint": server.process.pid! });
    return { ...toIntake(load), cpu };
  } finally {
    await stop(server);
  }
}

async function statusCounts(handle: DatabaseHandle): Promise<Record<string, number>> {
  const rows = await handle.db
    .selectFrom("payments")
    .select(["status", handle.db.fn.countAll<number>().as("count")])
    .groupBy("status")
    .execute();
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.count)]));
}

async function measureIntake(dialect: Dialect, fixture: CorridorFixture, rpcUrl: string): Promise<RelayIntakeResult> {
  const database = await prepareDatabase(dialect, fixture);
  let relay: RunningRelay | undefined;
  try {
    relay = await startRelayProcess(database, fixture, rpcUrl, false);
    const rss = sampleRss(relay.pid);
    const { load, cpu } = await runLoad(loadConfig(relay.url, database.keys, `IN-${dialect}`, timed()), { relay: relay.pid });
    const memory = rss.stop();
    const stored = await statusCounts(database.handle);
    return {
      dialect,
      ...toIntake(load),
      peakRssMb: memory.maxSampledMb,
      rssHighWaterMb: memory.highWaterMb,
      stored,
      relayErrorLines: relayErrors(relay.child.output()).length,
      cpu,
      relayCpuMsPerPayment: round((cpu.processes.relay * cpu.seconds * 1000) / Math.max(1, load.ok), 3),
    };
  } finally {
    if (relay) await stop(relay.child);
    await database.drop();
  }
}


async function measureEndToEnd(dialect: Dialect, fixture: CorridorFixture, rpcUrl: string): Promise<EndToEndResult> {
  const database = await prepareDatabase(dialect, fixture);
  let relay: RunningRelay | undefined;
  try {
    relay = await startRelayProcess(database, fixture, rpcUrl, true);
    const watched = { relay: relay.pid, "benchmark (Hardhat node)": process.pid };
    const cpuBefore = readCpu(watched);
    const { load } = await runLoad(loadConfig(relay.url, database.keys, `E2E-${dialect}`, { total: E2E_PAYMENTS }), { relay: relay.pid });
    const posted = new Map(load.accepted!);
    const { db } = database.handle;
    const deadline = Date.now() + E2E_TIMEOUT_MS;
    let final = await statusCounts(database.handle);
    for (;;) {
      const done = (final.SETTLED ?? 0) + (final.REJECTED ?? 0) + (final.CANCELLED ?? 0) + (final.REFUNDED ?? 0);
      if (done >= posted.size || Date.now() > deadline) break;
      await sleep(250);
      final = await statusCounts(database.handle);
    }
    const cpu = cpuBetween(cpuBefore, readCpu(watched));
    const history = await db
      .selectFrom("payment_status_history")
      .select(["uetr", "status", "at"])
      .where("status", "in", ["LOCKED", "SETTLED"])
      .execute();
    const settleMs: number[] = [];
    const lockMs: number[] = [];
    const lockedAt: number[] = [];
    const settledAt: number[] = [];
    for (const row of history) {
      const sentAt = posted.get(row.uetr);
      if (sentAt === undefined) continue;
      const at = Number(row.at);
      if (row.status === "SETTLED") {
        settleMs.push(at - sentAt);
        settledAt.push(at);
      } else {
        lockMs.push(at - sentAt);
        lockedAt.push(at);
      }
    }
    const firstPost = Math.min(...posted.values());
    const lastSettled = Math.max(0, ...settledAt);
    // When the payments got there, in seconds after the first POST: first, median, last.
    const since = (times: number[]) => {
      const s = summarize(times.map((t) => (t - firstPost) / 1000));
      return times.length === 0 ? null : { first: round(Math.min(...times.map((t) => (t - firstPost) / 1000)), 2), median: round(s.p50, 2), last: round(s.max, 2) };
    };
    const timeline = { posted: since([...posted.values()]), locked: since(lockedAt), settled: since(settledAt) };
    const elapsedMs = settleMs.length > 0 ? lastSettled - firstPost : NaN;
    // Unsettled payments count as not settled at all: the rate is over all of them or it is 0.
    const allSettled = settleMs.length === E2E_PAYMENTS;
    return {
      dialect,
      payments: E2E_PAYMENTS,
      settled: settleMs.length,
      perSecond: allSettled ? round((E2E_PAYMENTS * 1000) / elapsedMs, 1) : 0,
      elapsedMs: Math.round(elapsedMs),
      timeToSettleMs: roundLatency(summarize(settleMs)),
      timeToLockMs: roundLatency(summarize(lockMs)),
      postLatencyMs: roundLatency(load.latencyMs),
      final,
      timeline,
      cpu,
      relayErrorLines: relayErrors(relay.child.output()).length,
      ...(load.firstFailure ? { firstFailure: load.firstFailure } : {}),
    };
  } finally {
    if (relay) await stop(relay.child);
    await database.drop();
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`relay benchmark: still running after ${WATCHDOG_MS / 60_000} min; giving up`);
    process.exit(2);
  }, WATCHDOG_MS);
  watchdog.unref();

  // The relay runs as in production: the JavaScript the build writes (bin/corridor.js runs it).
  console.log("Building the relay (tsc -p tsconfig.build.json) ...");
  execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
  console.log("Deploying the contracts and funding the banks on the in-process Hardhat network ...");
  const fixture = await deployCorridorFixture();
  await allowOperator(fixture);
  const rpc = await startRpcServer();
  // Automine, plus a block a second so that confirmation depths are reached when nothing is sent.
  await hre.network.provider.send("evm_setIntervalMining", [1_000]);

  const dialects: Dialect[] = [];
  for (const dialect of DIALECTS) {
    if (dialect === "postgres" && !(await postgresAvailable())) {
      console.log(`PostgreSQL did not answer at ${TEST_POSTGRES_URL}: its runs are skipped`);
      continue;
    }
    dialects.push(dialect);
  }

  try {
    let bare: IntakeResult | undefined;
    if (!SKIP.has("bare")) {
      console.log(`Bare express endpoint: concurrency ${CONCURRENCY}, ${WARMUP_SECONDS} s warm-up + ${SECONDS} s ...`);
      bare = await measureBare();
    }
    const intake: RelayIntakeResult[] = [];
    if (!SKIP.has("intake")) {
      for (const dialect of dialects) {
        console.log(`Relay intake on ${dialect}: concurrency ${CONCURRENCY}, ${WARMUP_SECONDS} s warm-up + ${SECONDS} s ...`);
        intake.push(await measureIntake(dialect, fixture, rpc.url));
      }
    }
    const endToEnd: EndToEndResult[] = [];
    if (!SKIP.has("e2e")) {
      for (const dialect of dialects) {
        console.log(`End to end on ${dialect}: ${E2E_PAYMENTS} payments, AUTO_RELEASE=true, CONFIRMATIONS=1 ...`);
        endToEnd.push(await measureEndToEnd(dialect, fixture, rpc.url));
      }
    }
    await report({ concurrency: CONCURRENCY, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, endToEndPayments: E2E_PAYMENTS }, bare, intake, endToEnd);
  } finally {
    await rpc.server.close();
    await hre.network.provider.send("evm_setIntervalMining", [0]);
    clearTimeout(watchdog);
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
