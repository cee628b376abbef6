import { reset } from "@nomicfoundation/hardhat-network-helpers";
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { network } from "hardhat";
import type { JsonRpcServer } from "hardhat/types";
import pino from "pino";
import { deployCorridorFixture, TEST_BANKS, TEST_CURRENCIES, type CorridorFixture } from "../contracts/fixtures";
import { provisionDemoRelay, type DemoKeys } from "../../scripts/lib/demo-relay";
import { loadConfig, RELAY_VARIABLES } from "../../server/config/env";
import { openDatabase } from "../../server/db/database";
import { createLedgerService } from "../../server/ledger/service";
import { startRelay } from "../../server/relay";
import { uetrToBytes16 } from "../../server/chain/typed-data";
import { verifyWebhookSignature } from "../../server/webhooks/signature";
import { allowOperator, apiClient, deploymentOf, OPERATOR_KEY, startRpcServer } from "./relay-harness";
import { eventually } from "../support/eventually";
import { seededRandom } from "../../scripts/lib/seeded-random";

/**
 * Crash safety of the relay as it is deployed: `corridor serve` in a child process, SIGKILLed at
 * random moments (while payments are taken in and while they settle) and started again on the
 * same database. Whatever the moments, every payment must settle exactly once on chain, the ledger
 * must balance and agree with the chain, and every status change must reach both banks.
 *
 * CRASH_SEED=<n> replays the same random choices (payments, pauses, kill moments); the timing of
 * the processes still varies from run to run.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const CLI = path.join(ROOT, "bin", "corridor.js");
const PAYMENTS = 200;
/** The issue's minimum; the killer aims for more (CRASH_KILLS overrides the aim). */
const MIN_KILLS = 5;
const TARGET_KILLS = Math.max(MIN_KILLS, Number(process.env.CRASH_KILLS ?? 7));
/** Kills made after intake had finished while the relay had work left (payments, transactions or webhooks). */
const MIN_KILLS_DURING_SETTLEMENT = 2;
const STATUSES = ["RECEIVED", "SUBMITTED", "LOCKED", "SETTLED"];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface ReceivedEvent {
  id: string;
  bic: string;
  uetr: string;
  status: string;
}

/**
 * The banks' webhook endpoint (`<url>/<BIC>`): checks each request's signature with that bank's
 * secret and that the event concerns that bank, and records events by `corridor-event-id` (delivery
 * is at least once, so a repeat is counted, not recorded again).
 */
async function startBankEndpoints(secrets: Map<string, string>) {
  const events = new Map<string, ReceivedEvent>();
  const problems: string[] = [];
  let deliveries = 0;
  let repeats = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      deliveries++;
      const body = Buffer.concat(chunks).toString("utf8");
      const bic = decodeURIComponent((req.url ?? "").split("/").pop() ?? "");
      const secret = secrets.get(bic);
      const signature = req.headers["corridor-signature"] as string | undefined;
      if (!secret || !verifyWebhookSignature(secret, signature, body)) {
        problems.push(`bad signature for ${bic}: ${body.slice(0, 120)}`);
        res.writeHead(401).end();
        return;
      }
      const id = req.headers["corridor-event-id"] as string;
      const event = JSON.parse(body) as { id: string; type: string; data: { uetr: string; status: string; debtorAgent: { bic: string }; creditorAgent: { bic: string } } };
      if (event.id !== id) problems.push(`event ${event.id} delivered with corridor-event-id ${id}`);
      if (event.data.debtorAgent.bic !== bic && event.data.creditorAgent.bic !== bic) problems.push(`event ${id} of ${event.data.uetr} sent to ${bic}`);
      const seen = events.get(id);
      if (seen) {
        repeats++;
        if (seen.status !== event.data.status || seen.uetr !== event.data.uetr || seen.bic !== bic) problems.push(`event ${id} repeated with other content`);
      } else {
        events.set(id, { id, bic, uetr: event.data.uetr, status: event.data.status });
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    events,
    problems,
    stats: () => ({ deliveries, repeats }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `corridor serve` as a child process that can be killed and started again. */
class RelayProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private expectingExit = false;
  readonly output: string[] = [];
  unexpectedExits: string[] = [];
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  starts = 0;

  /** Should this test process end without its after hook (mocha bailing out), the relay goes too. */
  private readonly onExit = () => this.child?.kill("SIGKILL");

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    readonly url: string,
  ) {
    process.on("exit", this.onExit);
  }

  dispose(): void {
    process.off("exit", this.onExit);
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<number> {
    const began = Date.now();
    this.expectingExit = false;
    const child = spawn(process.execPath, [CLI, "serve"], { cwd: ROOT, env: this.env, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    this.starts++;
    const incarnation = this.starts;
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim()) this.output.push(`[${incarnation}] ${line}`);
      }
      if (this.output.length > 400) this.output.splice(0, this.output.length - 400);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    this.exited = new Promise<void>((resolve) => {
      child.once("exit", (code, signal) => {
        this.lastExit = { code, signal };
        if (!this.expectingExit) this.unexpectedExits.push(`incarnation ${incarnation} exited by itself (code ${code}, signal ${signal})`);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (this.child !== child) throw new Error(`relay exited before it was ready:\n${this.output.slice(-30).join("\n")}`);
      try {
        const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2_000) });
        await res.body?.cancel();
        if (res.status === 200) return Date.now() - began;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`relay not ready within 60 s:\n${this.output.slice(-30).join("\n")}`);
      await sleep(100);
    }
  }

  async kill(): Promise<void> {
    if (!this.child) return;
    this.expectingExit = true;
    this.child.kill("SIGKILL");
    await this.exited;
  }

  /** SIGTERM (the relay stops its workers and closes the database), SIGKILL if it hangs. */
  async stop(): Promise<"clean" | "killed"> {
    const child = this.child;
    if (!child) return "clean";
    this.expectingExit = true;
    child.kill("SIGTERM");
    const outcome = await Promise.race([this.exited.then(() => "clean" as const), sleep(15_000).then(() => "timeout" as const)]);
    if (outcome === "clean") return "clean";
    child.kill("SIGKILL");
    await this.exited;
    return "killed";
  }
}

/** The relay's payment counts by status and outbox depth, from /metrics (no API key needed). */
async function relayState(url: string): Promise<Record<string, number> | null> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(1_500) });
    const text = await res.text();
    const state: Record<string, number> = {};
    for (const match of text.matchAll(/^corridor_payments\{status="(\w+)"\} (\d+)$/gm)) state[match[1]] = Number(match[2]);
    for (const match of text.matchAll(/^corridor_outbox_depth\{status="(\w+)"\} (\d+)$/gm)) state[`outbox_${match[1]}`] = Number(match[2]);
    for (const match of text.matchAll(/^corridor_webhook_deliveries\{status="(\w+)"\} (\d+)$/gm)) state[`webhooks_${match[1]}`] = Number(match[2]);
    return state;
  } catch {
    return null;
  }
}

interface PlannedPayment {
  index: number;
  debtor: number;
  creditor: number;
  currency: string;
  amount: bigint;
  idempotencyKey: string;
  body: Record<string, unknown>;
  uetr?: string;
}

describe("relay crash safety (corridor serve as a child process, SIGKILL and restart)", function () {
  this.timeout(10 * 60_000);

  const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const random = seededRandom(seed);
  const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));

  let fixture: CorridorFixture;
  let rpc: { url: string; server: JsonRpcServer } | undefined;
  let endpoints: Awaited<ReturnType<typeof startBankEndpoints>> | undefined;
  let relay: RelayProcess | undefined;
  let keys: DemoKeys;
  let workDir: string;
  let databaseUrl: string;
  const secrets = new Map<string, string>();
  const bics = TEST_BANKS.map((b) => b.bic);
  let passed = false;
  /** Set when the test fails or ends: the killer and the senders stop, so nothing outlives it. */
  let aborted = false;
  let killerDone: Promise<void> = Promise.resolve();

  before(async () => {
    // The relay runs in its own process on the wall clock; earlier suites move the shared chain's
    // clock ahead (time travel), so start from a fresh chain whose clock agrees with it.
    await reset();
    fixture = await deployCorridorFixture();
    await allowOperator(fixture);
    await network.provider.send("evm_setIntervalMining", [1_000]);
    rpc = await startRpcServer();
    workDir = mkdtempSync(path.join(tmpdir(), "corridor-crash-"));
    databaseUrl = path.join(workDir, "corridor.db");
    const deploymentFile = path.join(workDir, "deployment.json");
    const deployment = await deploymentOf(fixture);
    writeFileSync(deploymentFile, JSON.stringify(deployment, null, 2));
    endpoints = await startBankEndpoints(secrets);

    // Provisioning, once, by a relay in this process: participants, opening balances, API keys and
    // the banks' webhook endpoints and secrets. The child processes then find it all in the database.
    const setup = await startRelay(
      loadConfig({ PORT: "0", DATABASE_URL: databaseUrl, RPC_URL: rpc.url, CONFIRMATIONS: "1", OPERATOR_PRIVATE_KEY: OPERATOR_KEY, LOG_LEVEL: "silent" }),
      { deployment, logger: pino({ level: "silent" }) },
    );
    try {
      keys = await provisionDemoRelay(setup, fixture, fixture.banks.map((signer, i) => ({ signer, bank: TEST_BANKS[i] })));
      for (const bic of bics) {
        const updated = await setup.participants.update(bic, { webhookUrl: `${endpoints.url}/${bic}`, rotateWebhookSecret: true });
        if (!updated.ok || !updated.value.webhookSecret) throw new Error(`webhook of ${bic}: ${updated.ok ? "no secret" : updated.message}`);
        secrets.set(bic, updated.value.webhookSecret);
      }
    } finally {
      await setup.stop();
    }

    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env };
    // Set but empty: dotenv leaves them alone and the relay takes its defaults.
    for (const name of RELAY_VARIABLES) env[name] = "";
    Object.assign(env, {
      HOST: "127.0.0.1",
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      RPC_URL: rpc.url,
      OPERATOR_PRIVATE_KEY: OPERATOR_KEY,
      DEPLOYMENT_FILE: deploymentFile,
      CONFIRMATIONS: "1",
      AUTO_RELEASE: "true",
      LOG_LEVEL: "warn",
    });
    relay = new RelayProcess(env, `http://127.0.0.1:${port}`);
  });

  after(async () => {
    aborted = true;
    await killerDone;
    const stopped = await relay?.stop();
    if (stopped === "killed") console.log("    the relay did not stop on SIGTERM within 15 s and was killed");
    relay?.dispose();
    await endpoints?.close();
    await rpc?.server.close();
    await network.provider.send("evm_setIntervalMining", [0]);
    if (passed && workDir) rmSync(workDir, { recursive: true, force: true });
    else if (workDir) console.log(`    relay database and deployment kept in ${workDir} (CRASH_SEED=${seed})`);
  });

  it(`settles ${PAYMENTS} payments exactly once while the relay is SIGKILLed at least ${MIN_KILLS} times`, async () => {
    const started = Date.now();
    const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
    const proc = relay!;
    const api = apiClient(proc.url);
    const balancesBefore = new Map<string, bigint>();
    const balanceKey = (bank: number, currency: string) => `${bank}:${currency}`;
    for (const [bank, signer] of fixture.banks.entries()) {
      for (const currency of TEST_CURRENCIES) balancesBefore.set(balanceKey(bank, currency), await fixture.tokens[currency].balanceOf(signer));
    }

    // ----- the plan: 200 payments between the four banks, in three currencies ---------------------
    const planned: PlannedPayment[] = Array.from({ length: PAYMENTS }, (_, index) => {
      const debtor = index % bics.length;
      const creditor = (debtor + between(1, bics.length - 1)) % bics.length;
      const currency = TEST_CURRENCIES[between(0, TEST_CURRENCIES.length - 1)];
      const amount = BigInt(between(1, 500_000));
      return {
        index,
        debtor,
        creditor,
        currency,
        amount,
        idempotencyKey: randomUUID(),
        body: {
          endToEndId: `CRASH-${seed}-${index}`,
          debtorAgent: { bic: bics[debtor] },
          creditorAgent: { bic: bics[creditor] },
          amount: { value: amount.toString(), currency },
          debtor: { name: `Payer ${index}`, account: `ACC-D-${index}` },
          creditor: { name: `Payee ${index}`, account: `ACC-C-${index}` },
          remittanceInformation: `crash test payment ${index}`,
        },
      };
    });

    const startup = [await proc.start()];
    console.log(`    seed ${seed}; relay ready in ${startup[0]} ms`);

    // ----- intake: each bank sends its payments one after another, retrying with the same key ----
    const intake = { retries: 0, replayed: 0, resent: 0, done: false };
    /** POSTs the payment until the relay answers 201, always with its one Idempotency-Key. */
    async function send(payment: PlannedPayment): Promise<{ uetr: string; replayed: boolean }> {
      const deadline = Date.now() + 150_000;
      for (;;) {
        if (aborted) throw new Error("aborted");
        try {
          const res = await fetch(`${proc.url}/v1/payments`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${keys.banks[bics[payment.debtor]]}`,
              "idempotency-key": payment.idempotencyKey,
              "content-type": "application/json",
            },
            body: JSON.stringify(payment.body),
            signal: AbortSignal.timeout(20_000),
          });
          const text = await res.text();
          if (res.status === 201) {
            const replayed = res.headers.get("idempotent-replayed") === "true";
            if (replayed) intake.replayed++;
            return { uetr: (JSON.parse(text) as { uetr: string }).uetr, replayed };
          }
          // A dying relay drops the connection; it does not answer. Any answer but 201 is a bug.
          throw new Error(`payment ${payment.index}: HTTP ${res.status} ${text}`);
        } catch (error) {
          if (error instanceof Error && error.message.startsWith(`payment ${payment.index}:`)) throw error;
          // The relay is down or died mid-request: retry with the same Idempotency-Key.
        }
        intake.retries++;
        if (Date.now() > deadline) throw new Error(`payment ${payment.index} not accepted within 150 s`);
        await sleep(between(50, 250));
      }
    }
    /**
     * A bank that never saw the answer (its own timeout, a network cut) sends the payment again,
     * with the same key, seconds later, usually to another incarnation of the relay: it must get
     * the first answer back, not a second payment.
     */
    async function resend(payment: PlannedPayment): Promise<void> {
      const again = await send(payment);
      intake.resent++;
      expect(again.uetr, `payment ${payment.index} sent again with its key`).to.equal(payment.uetr);
      expect(again.replayed, `payment ${payment.index} sent again: Idempotent-Replayed`).to.equal(true);
    }
    const pauses = planned.map(() => between(20, 160));
    const answerLost = planned.map(() => random() < 0.2);
    const intakeDone = Promise.all(
      bics.map(async (_, bank) => {
        const lost: PlannedPayment[] = [];
        for (const payment of planned.filter((p) => p.debtor === bank)) {
          payment.uetr = (await send(payment)).uetr;
          if (answerLost[payment.index]) lost.push(payment);
          if (lost.length > 0 && payment.index - lost[0].index >= 40) await resend(lost.shift()!);
          await sleep(pauses[payment.index]);
        }
        for (const payment of lost) await resend(payment);
      }),
    ).finally(() => {
      intake.done = true;
    });
    let intakeSeconds = "";
    void intakeDone.then(() => (intakeSeconds = elapsed()), () => undefined);

    // ----- the killer: SIGKILL after a random uptime, start again, until enough kills were made ---
    const kills: { at: string; phase: "intake" | "settlement"; state: Record<string, number> | null; uptimeMs: number }[] = [];
    /** The relay had work left: payments to settle, transactions to confirm or webhooks to deliver. */
    const workLeft = (state: Record<string, number> | null) =>
      state !== null && ((state.SETTLED ?? 0) < PAYMENTS || (state.outbox_pending ?? 0) + (state.outbox_sent ?? 0) + (state.webhooks_pending ?? 0) > 0);
    const killsDuringSettlement = () => kills.filter((k) => k.phase === "settlement" && workLeft(k.state)).length;
    const killer = (async () => {
      for (;;) {
        if (aborted) return;
        const enough = kills.length >= TARGET_KILLS && intake.done && killsDuringSettlement() >= MIN_KILLS_DURING_SETTLEMENT;
        if (enough) return;
        // Short lives after intake, so that settlement (which moves on only while the relay is up) spans several kills.
        const uptimeMs = intake.done ? between(300, 1_200) : between(700, 3_000);
        await sleep(uptimeMs);
        const phase = intake.done ? "settlement" : "intake";
        const state = await relayState(proc.url);
        if (phase === "settlement" && kills.length >= MIN_KILLS && state && !workLeft(state)) return; // nothing left to interrupt
        if (aborted) return;
        await proc.kill();
        kills.push({ at: elapsed(), phase, state, uptimeMs });
        if (aborted) return;
        startup.push(await proc.start());
      }
    })();

    killerDone = killer.catch(() => undefined);
    try {
      await Promise.all([intakeDone, killer]);
    } catch (error) {
      aborted = true;
      throw error;
    }
    expect(planned.every((p) => p.uetr), "every payment accepted").to.equal(true);
    console.log(`    intake of ${PAYMENTS} payments done at ${intakeSeconds} (${intake.retries} retries after failed requests, ${intake.resent} sent again after a "lost" answer, ${intake.replayed} replayed answers)`);
    for (const [k, kill] of kills.entries()) {
      const state = kill.state ? Object.entries(kill.state).map(([s, n]) => `${s}=${n}`).join(" ") : "metrics unavailable";
      console.log(`    kill ${k + 1} at ${kill.at} during ${kill.phase} after ${kill.uptimeMs} ms up: ${state}`);
    }

    // ----- every payment settles (the relay keeps running now) ------------------------------------
    const byUetr = new Map(planned.map((p) => [p.uetr!, p]));
    expect(byUetr.size, "distinct UETRs").to.equal(PAYMENTS);
    const listAll = async (query = "") => {
      const all: { uetr: string; status: string; endToEndId: string }[] = [];
      let cursor: string | null = null;
      do {
        const res = await api("GET", `/v1/payments?limit=100${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { key: keys.treasury });
        if (res.status !== 200) throw new Error(`list: HTTP ${res.status}`);
        all.push(...res.body.payments);
        cursor = res.body.nextCursor;
      } while (cursor);
      return all;
    };
    let lastCounts = "";
    await eventually(
      async () => {
        const all = await listAll();
        const counts: Record<string, number> = {};
        for (const p of all) counts[p.status] = (counts[p.status] ?? 0) + 1;
        lastCounts = JSON.stringify(counts);
        return all.length === PAYMENTS && counts.SETTLED === PAYMENTS ? true : undefined;
      },
      240_000,
      `all ${PAYMENTS} payments SETTLED (last seen ${lastCounts})`,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last seen ${lastCounts}\n${proc.output.slice(-40).join("\n")}`);
    });
    const settledAt = elapsed();
    const all = await listAll();
    expect(all.length, "payments the relay knows").to.equal(PAYMENTS);
    expect(new Set(all.map((p) => p.uetr))).to.deep.equal(new Set(byUetr.keys()));
    expect(new Set(all.map((p) => p.endToEndId)).size, "one payment per end-to-end id").to.equal(PAYMENTS);

    // ----- histories, and every status change delivered to both banks -----------------------------
    const histories = new Map<string, string[]>();
    for (const uetr of byUetr.keys()) {
      const res = await api("GET", `/v1/payments/${uetr}`, { key: keys.treasury });
      expect(res.status).to.equal(200);
      histories.set(uetr, (res.body.history as { status: string }[]).map((h) => h.status));
    }
    for (const [uetr, history] of histories) expect(history, `history of ${uetr}`).to.deep.equal(STATUSES);
    const receivedFor = (uetr: string, bic: string) =>
      [...endpoints!.events.values()].filter((e) => e.uetr === uetr && e.bic === bic).map((e) => e.status);
    const missingHooks = () => {
      const missing: string[] = [];
      const received = new Map<string, string[]>();
      for (const event of endpoints!.events.values()) {
        const key = `${event.uetr}|${event.bic}`;
        received.set(key, [...(received.get(key) ?? []), event.status]);
      }
      for (const [uetr, history] of histories) {
        const p = byUetr.get(uetr)!;
        for (const bic of [bics[p.debtor], bics[p.creditor]]) {
          const got = received.get(`${uetr}|${bic}`) ?? [];
          for (const status of history) if (!got.includes(status)) missing.push(`${uetr} ${status} -> ${bic}`);
        }
      }
      return missing;
    };
    await eventually(async () => (missingHooks().length === 0 ? true : undefined), 90_000, "every webhook").catch((error: Error) => {
      const missing = missingHooks();
      throw new Error(`${error.message}: ${missing.length} missing, e.g. ${missing.slice(0, 5).join("; ")}`);
    });
    expect(endpoints!.problems, "webhook problems").to.deep.equal([]);
    for (const [uetr, history] of histories) {
      const p = byUetr.get(uetr)!;
      for (const bic of [bics[p.debtor], bics[p.creditor]]) {
        // One event per status change and bank (repeats of an event share its id and were deduped).
        expect([...receivedFor(uetr, bic)].sort(), `events of ${uetr} for ${bic}`).to.deep.equal([...history].sort());
      }
    }
    const hooksAt = elapsed();
    // The indexer may report a release before the submitter has read its receipt, and a webhook
    // sent just before a kill is sent again (the receiver dedupes it) once its lease runs out.
    await eventually(
      async () => {
        const state = await relayState(proc.url);
        return state && !state.outbox_pending && !state.outbox_sent && state.webhooks_pending === 0 ? true : undefined;
      },
      60_000,
      "the chain outbox and the webhook outbox to drain",
    );

    // ----- the chain: one lock and one release per payment, nothing else --------------------------
    const { escrow } = fixture;
    const locked = await escrow.queryFilter(escrow.filters.Locked(), 0, "latest");
    const released = await escrow.queryFilter(escrow.filters.Released(), 0, "latest");
    const refunded = await escrow.queryFilter(escrow.filters.Refunded(), 0, "latest");
    const countBy = (events: { args: { uetr: string } }[]) => {
      const counts = new Map<string, number>();
      for (const e of events) counts.set(e.args.uetr.toLowerCase(), (counts.get(e.args.uetr.toLowerCase()) ?? 0) + 1);
      return counts;
    };
    const locks = countBy(locked);
    const releases = countBy(released);
    expect(refunded.length, "refunds on chain").to.equal(0);
    expect(locked.length, "Locked events on chain").to.equal(PAYMENTS);
    expect(released.length, "Released events on chain").to.equal(PAYMENTS);
    for (const [uetr, p] of byUetr) {
      const id = uetrToBytes16(uetr).toLowerCase();
      expect(locks.get(id), `locks of ${uetr}`).to.equal(1);
      expect(releases.get(id), `releases of ${uetr}`).to.equal(1);
      const lock = locked.find((e) => e.args.uetr.toLowerCase() === id)!;
      expect(lock.args.payer).to.equal(fixture.banks[p.debtor].address);
      expect(lock.args.payee).to.equal(fixture.banks[p.creditor].address);
      expect(lock.args.token).to.equal(await fixture.tokens[p.currency].getAddress());
      expect(lock.args.amount).to.equal(p.amount);
    }

    // ----- balances: the chain moved exactly the payments; each bank's ledger agrees ---------------
    for (const [bank, signer] of fixture.banks.entries()) {
      for (const currency of TEST_CURRENCIES) {
        let expected = balancesBefore.get(balanceKey(bank, currency))!;
        for (const p of planned.filter((q) => q.currency === currency)) {
          if (p.debtor === bank) expected -= p.amount;
          if (p.creditor === bank) expected += p.amount;
        }
        expect(await fixture.tokens[currency].balanceOf(signer), `${bics[bank]} ${currency} on chain`).to.equal(expected);
      }
      const res = await api("GET", "/v1/accounts", { key: keys.banks[bics[bank]] });
      expect(res.status).to.equal(200);
      const accounts = res.body.accounts as { currency: string; posted: string; onChain: string | null; pendingDebits: string; pendingCredits: string }[];
      expect(accounts.map((a) => a.currency).sort()).to.deep.equal([...TEST_CURRENCIES].sort());
      for (const account of accounts) {
        expect(account.posted, `${bics[bank]} ${account.currency}: ledger vs chain`).to.equal(account.onChain);
        expect([account.pendingDebits, account.pendingCredits], `${bics[bank]} ${account.currency} pending`).to.deep.equal(["0", "0"]);
      }
    }

    // ----- stop the relay cleanly, then read its database ------------------------------------------
    expect(await proc.stop(), "the relay stops on SIGTERM").to.equal("clean");
    expect(proc.lastExit, "exit after SIGTERM").to.deep.equal({ code: 0, signal: null });
    expect(proc.unexpectedExits, "relay exits nobody asked for").to.deep.equal([]);
    const handle = await openDatabase(databaseUrl);
    try {
      const { db } = handle;
      const payments = await db.selectFrom("payments").select(["uetr", "status"]).execute();
      expect(payments.length, "payment rows").to.equal(PAYMENTS);
      const totals = await createLedgerService({ dialect: handle.dialect }).totals(db);
      expect([...totals.keys()].sort()).to.deep.equal([...TEST_CURRENCIES].sort());
      for (const [currency, { debits, credits }] of totals) expect(debits, `${currency} debits vs credits`).to.equal(credits);
      const transfers = await db.selectFrom("ledger_transfers").select(["uetr", "kind"]).where("uetr", "is not", null).execute();
      expect(transfers.length, "ledger transfers of payments: a pending lock and its posting each").to.equal(2 * PAYMENTS);
      const intents = await db.selectFrom("chain_intents").select(["uetr", "kind", "status", "last_error"]).execute();
      expect(intents.filter((i) => i.status !== "done"), "unfinished chain intents").to.deep.equal([]);
      expect(intents.length, "one lock and one release intent per payment").to.equal(2 * PAYMENTS);
      const deliveries = await db.selectFrom("webhook_deliveries").select(["id", "bic", "status"]).execute();
      expect(deliveries.length, "webhook events: four status changes to two banks").to.equal(PAYMENTS * STATUSES.length * 2);
      expect(deliveries.filter((d) => d.status !== "delivered"), "webhooks not delivered").to.deep.equal([]);
      const unseen = deliveries.filter((d) => !endpoints!.events.has(d.id));
      expect(unseen, "delivered events the banks never received").to.deep.equal([]);
      expect(endpoints!.events.size, "events received").to.equal(deliveries.length);
      const txs = await db.selectFrom("chain_transactions").select("hash").execute();
      const stats = endpoints!.stats();
      console.log(
        `    ${kills.length} kills (${kills.filter((k) => k.phase === "intake").length} during intake, ${killsDuringSettlement()} during settlement after intake); ` +
          `restarts ready in ${startup.slice(1).join("/")} ms`,
      );
      console.log(`    all SETTLED at ${settledAt}, all webhooks at ${hooksAt}; ${txs.length} transactions signed; ${stats.deliveries} webhook requests, ${stats.repeats} repeats`);
    } finally {
      await handle.close();
    }

    expect(kills.length, "kills").to.be.at.least(MIN_KILLS);
    expect(kills.filter((k) => k.phase === "intake").length, "kills during intake").to.be.at.least(1);
    expect(killsDuringSettlement(), "kills during settlement after intake").to.be.at.least(MIN_KILLS_DURING_SETTLEMENT);
    console.log(`    total ${elapsed()}`);
    passed = true;
  });
});
