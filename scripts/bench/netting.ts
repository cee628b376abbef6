/**
 * Netting benchmark (`npm run bench:netting`). Prints tables and writes bench-results/netting.json;
 * exits non-zero when a run fails (window not SETTLED, payments deferred, or the on-chain balance
 * changes differ from the net positions) or a target is missed.
 *
 * On the in-process Hardhat network: the Corridor contracts with one deposit token (GBP) and 20
 * banks (Hardhat accounts #1-#19 plus random wallets funded with hardhat_setBalance; account #0 is
 * admin and the relay's operator), and a relay (startRelay) on a fresh SQLite file, reading the
 * chain through a JSON-RPC server, signing every bank's window approval itself. For each size N,
 * N net payments between random pairs of banks with random amounts (seeded PRNG: every run
 * queues the same obligations) are queued in the open GBP window through the payment service
 * (setup, not measured); then the window is closed with POST /v1/windows/{id}/close and
 * GET /v1/windows/{id} is polled until it is SETTLED. Measured:
 *
 * - close -> SETTLED: from just before the close request to the poll that sees SETTLED;
 * - settleWindow gas (receipt gasUsed of the window's txHash), total and per payment;
 * - liquidity: sum of |net positions| over the gross sum (the saving is 1 - that);
 * - phases of close -> SETTLED, from the relay's own timestamps (its database) and the blocks
 *   this process saw appear: round computed, approvals signed, settle intent queued, transaction
 *   signed and sent, mined, confirmed, payments marked SETTLED by the indexer (their history
 *   entries), window SETTLED; and how many approvals the relay signed, and the polls' cost.
 *
 * Baseline in the same run: the gross alternative through the escrow, as the relay settles gross
 * payments: one lockBatchFor and one releaseBatch (sent by the attester) of 100 payments between
 * the same banks, gas per payment.
 *
 * Environment (optional): BENCH_NETTING_SIZES (100,1000,10000), BENCH_NETTING_CONFIRMATIONS (1).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import hre from "hardhat";
import pino from "pino";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { Wallet, parseEther, toBeHex, type ContractTransactionResponse } from "ethers";
import { deployCorridor, type CorridorContracts } from "../lib/deploy";
import { DEFAULT_DEMO_LIMITS, HARDHAT_ACCOUNT_0_KEY, setUpDemoBanks, type DemoBank } from "../lib/demo";
import { provisionDemoRelay } from "../lib/demo-relay";
import { apiClient, startRpcServer, type Api } from "../../test/e2e/relay-harness";
import { loadConfig } from "../../server/config/env";
import { startRelay, type Relay } from "../../server/relay";
import type { WindowApprover } from "../../server/services";
import type { Caller } from "../../server/payments/types";
import { ZERO_BYTES16, ZERO_BYTES32, uetrToBytes16, type LockTerms } from "../../server/chain/typed-data";
import { ROOT, sleep } from "./lib/processes";
import { round } from "./lib/usage";
import { seededRandom } from "../lib/seeded-random";

const SIZES = (process.env.BENCH_NETTING_SIZES ?? "100,1000,10000").split(",").filter(Boolean).map(Number);
const CONFIRMATIONS = Number(process.env.BENCH_NETTING_CONFIRMATIONS ?? 1);
const BANKS = 20;
const CURRENCY = "GBP";
/** Amounts in minor units: 1.00 to 10,000.00 GBP. */
const MIN_AMOUNT = 100;
const MAX_AMOUNT = 1_000_000;
const GROSS_BATCH = 100;
/** Payments queued per database transaction during setup. */
const SETUP_CHUNK = 500;
const POLL_MS = 50;
const SETTLE_TIMEOUT_MS = 180_000;
const WATCHDOG_MS = 30 * 60_000;
const TARGET_GAS_PER_PAYMENT_AT_1000 = 1_000;
const TARGET_CLOSE_TO_SETTLED_MS_AT_10000 = 5_000;
/** Caps far above anything the bench sends (minor units), so that no payment is refused. */
const RISK_CAP = "GBP=1000000000000000";
const TREASURY: Caller = { keyId: "bench", role: "treasury", bic: null };


/** A UUID v4 from the PRNG, so that the UETRs (and the Merkle tree) are the same every run. */
function seededUetr(random: () => number): string {
  const hex = Array.from({ length: 4 }, () => Math.floor(random() * 2 ** 32).toString(16).padStart(8, "0")).join("").split("");
  hex[12] = "4";
  hex[16] = "89ab"[parseInt(hex[16], 16) & 3];
  const s = hex.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** Every approval the relay signs with a bank's key: when, and how long signing took. */
const signatures: { bank: string; started: number; ms: number }[] = [];

/** The signer, its signTypedData timed (other members are the signer's own, bound to it). */
function timedApprover(signer: WindowApprover): WindowApprover {
  return new Proxy(signer, {
    get(target, property) {
      if (property === "signTypedData") {
        return async (...args: Parameters<WindowApprover["signTypedData"]>) => {
          const started = Date.now();
          try {
            return await target.signTypedData(...args);
          } finally {
            signatures.push({ bank: target.address, started, ms: Date.now() - started });
          }
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

interface BenchBank {
  signer: WindowApprover;
  bank: DemoBank;
  address: string;
}

interface Obligation {
  uetr: string;
  debtor: number;
  creditor: number;
  amount: bigint;
}

function obligations(size: number, seed: number): Obligation[] {
  const random = seededRandom(seed);
  return Array.from({ length: size }, () => {
    const debtor = Math.floor(random() * BANKS);
    const creditor = (debtor + 1 + Math.floor(random() * (BANKS - 1))) % BANKS;
    const amount = BigInt(MIN_AMOUNT + Math.floor(random() * (MAX_AMOUNT - MIN_AMOUNT + 1)));
    return { uetr: seededUetr(random), debtor, creditor, amount };
  });
}

async function gasOf(pending: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await pending).wait();
  if (!receipt) throw new Error("no receipt");
  return Number(receipt.gasUsed);
}

const abs = (n: bigint) => (n < 0n ? -n : n);

// ---------------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------------

/** Hardhat's accounts #1-#19, then random wallets with ETH for gas, up to BANKS. */
async function benchBanks(): Promise<BenchBank[]> {
  const accounts = (await hre.ethers.getSigners()).slice(1, BANKS + 1);
  const signers: WindowApprover[] = [...accounts];
  while (signers.length < BANKS) {
    const wallet = Wallet.createRandom().connect(hre.ethers.provider);
    await hre.network.provider.send("hardhat_setBalance", [wallet.address, toBeHex(parseEther("1000"))]);
    signers.push(wallet);
  }
  return signers.map((signer, i) => {
    const letter = String.fromCharCode(65 + i); // A..T
    return { signer, address: signer.address, bank: { name: `Bench Bank ${letter}`, bic: `BNK${letter}GB2LXXX`, country: "GB" } };
  });
}

/** The gross alternative: lockBatchFor then releaseBatch (attester sending, no signatures) of 100 payments. */
async function grossBaseline(contracts: CorridorContracts, operator: HardhatEthersSigner, banks: BenchBank[]) {
  const { escrow } = contracts;
  const token = await contracts.tokens[CURRENCY].getAddress();
  const expiry = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp + 7 * 24 * 3600);
  const termsOf = (o: Obligation): LockTerms => ({
    uetr: uetrToBytes16(o.uetr),
    payer: banks[o.debtor].address,
    payee: banks[o.creditor].address,
    token,
    amount: o.amount,
    expiry,
    hashlock: ZERO_BYTES32,
    linkedUetr: ZERO_BYTES16,
  });
  const lockAll = (terms: LockTerms[]) => gasOf(escrow.connect(operator).lockBatchFor(terms.map(({ payer, ...request }) => ({ payer, request }))));
  // Steady state: the escrow already holds an open lock of the token.
  await lockAll(obligations(1, 7).map(termsOf));
  const terms = obligations(GROSS_BATCH, 1).map(termsOf);
  const lockGas = await lockAll(terms);
  const releaseGas = await gasOf(escrow.connect(operator).releaseBatch(terms, terms.map(() => "0x")));
  return {
    batch: GROSS_BATCH,
    lockBatchForGas: lockGas,
    releaseBatchGas: releaseGas,
    lockPerPayment: round(lockGas / GROSS_BATCH),
    releasePerPayment: round(releaseGas / GROSS_BATCH),
    gasPerPayment: round((lockGas + releaseGas) / GROSS_BATCH),
  };
}

// ---------------------------------------------------------------------------------------------
// One window
// ---------------------------------------------------------------------------------------------

/** Block numbers as this process sees them appear (the chain runs in this process). */
function watchBlocks() {
  const seen: { number: number; at: number }[] = [];
  let running = true;
  const loop = (async () => {
    let last = -1;
    while (running) {
      const head = Number(await hre.network.provider.send("eth_blockNumber"));
      if (head > last) {
        seen.push({ number: head, at: Date.now() });
        last = head;
      }
      await sleep(5);
    }
  })();
  return {
    firstAt: (block: number) => seen.find((s) => s.number >= block)?.at ?? null,
    async stop() {
      running = false;
      await loop;
    },
  };
}

interface WindowJson {
  id: string;
  state: string;
  paymentCount: number;
  grossTotal: string;
  positions: { bic: string; address: string; amount: string }[];
  deferred: { uetr: string; reason: string }[];
  txHash: string | null;
  blockNumber: number | null;
  failureReason: string | null;
  includedPayments: string[];
}

async function queuePayments(relay: Relay, banks: BenchBank[], payments: Obligation[], size: number): Promise<string> {
  const windows = new Set<string>();
  for (let k = 0; k < payments.length; k += SETUP_CHUNK) {
    await relay.database.db.transaction().execute(async (trx) => {
      for (const [i, p] of payments.slice(k, k + SETUP_CHUNK).entries()) {
        const created = await relay.payments.create(
          TREASURY,
          {
            uetr: p.uetr,
            endToEndId: `NET-${size}-${k + i}`,
            debtorAgent: banks[p.debtor].bank.bic,
            creditorAgent: banks[p.creditor].bank.bic,
            amount: { value: p.amount, currency: CURRENCY },
            settlement: "net",
          },
          trx,
        );
        if (!created.ok) throw new Error(`payment ${k + i} refused: ${created.code}: ${created.message}`);
        if (created.value.status !== "QUEUED" || !created.value.windowId) throw new Error(`payment ${k + i} is ${created.value.status}, not QUEUED in a window`);
        windows.add(created.value.windowId);
      }
    });
  }
  if (windows.size !== 1) throw new Error(`the ${size} payments joined ${windows.size} windows, not one`);
  return [...windows][0];
}

async function balancesOf(contracts: CorridorContracts, banks: BenchBank[]): Promise<bigint[]> {
  const token = contracts.tokens[CURRENCY];
  return Promise.all(banks.map((b) => token.balanceOf(b.address)));
}

/** Phase times of close -> SETTLED, in ms after the close request was sent, from the relay's records. */
async function phasesOf(relay: Relay, windowId: string, t0: number, blocks: ReturnType<typeof watchBlocks>, blockNumber: number, approvalMs: number) {
  const { db } = relay.database;
  const w = await db.selectFrom("settlement_windows").selectAll().where("id", "=", windowId).executeTakeFirstOrThrow();
  const approvals = await db
    .selectFrom("window_approvals")
    .select([db.fn.min("created_at").as("first"), db.fn.max("created_at").as("last"), db.fn.countAll<number>().as("count")])
    .where("window_id", "=", windowId)
    .where("round", "=", w.round)
    .executeTakeFirstOrThrow();
  const intent = await db.selectFrom("chain_intents").select(["created_at", "tx_hash"]).where("kind", "=", "settle_window").where("uetr", "=", windowId).executeTakeFirst();
  const tx = w.tx_hash ? await db.selectFrom("chain_transactions").select("sent_at").where("hash", "=", w.tx_hash).executeTakeFirst() : undefined;
  const settledHistory = await db
    .selectFrom("payment_status_history")
    .innerJoin("payments", "payments.uetr", "payment_status_history.uetr")
    .select([db.fn.min("payment_status_history.at").as("first"), db.fn.max("payment_status_history.at").as("last"), db.fn.countAll<number>().as("count")])
    .where("payments.window_id", "=", windowId)
    .where("payment_status_history.status", "=", "SETTLED")
    .executeTakeFirstOrThrow();
  const since = (at: unknown) => (at === null || at === undefined ? null : Number(at) - t0);
  return {
    closedAt: since(w.closed_at),
    roundComputed: since(w.approval_deadline === null ? null : Number(w.approval_deadline) - approvalMs),
    firstApprovalSigned: since(approvals.first),
    lastApprovalSigned: since(approvals.last),
    approvalsSigned: Number(approvals.count),
    settleIntentQueued: since(intent?.created_at),
    txSignedAndSent: since(tx?.sent_at),
    txMinedBlockSeen: since(blocks.firstAt(blockNumber)),
    confirmationBlockSeen: since(blocks.firstAt(blockNumber + CONFIRMATIONS)),
    firstPaymentSettled: since(settledHistory.first),
    lastPaymentSettled: since(settledHistory.last),
    windowSettled: since(w.settled_at),
    paymentsSettled: Number(settledHistory.count),
  };
}

async function runWindow(size: number, ctx: { relay: Relay; api: Api; treasuryKey: string; contracts: CorridorContracts; banks: BenchBank[]; grossGasPerPayment: number; approvalMs: number }) {
  const { relay, api, treasuryKey, contracts, banks } = ctx;
  const payments = obligations(size, 1_000 + size);
  console.log(`N=${size}: queueing ${size.toLocaleString("en")} net payments through the payment service ...`);
  const setupStarted = Date.now();
  const windowId = await queuePayments(relay, banks, payments, size);
  const setupSeconds = (Date.now() - setupStarted) / 1000;
  const before = await balancesOf(contracts, banks);
  const blocks = watchBlocks();

  console.log(`N=${size}: closing window ${windowId} and polling it until SETTLED ...`);
  const load1m = loadavg()[0];
  const cpuBefore = process.cpuUsage();
  const t0 = Date.now();
  const closed = await api("POST", `/v1/windows/${windowId}/close`, { key: treasuryKey, idempotencyKey: `close-${windowId}` });
  const closeHttpMs = Date.now() - t0;
  if (closed.status !== 200) throw new Error(`close answered ${closed.status}: ${JSON.stringify(closed.body)}`);
  let window: WindowJson;
  const polls: { sent: number; ms: number; state: string }[] = [];
  const signaturesBefore = signatures.length;
  for (;;) {
    const sent = Date.now();
    const res = await api("GET", `/v1/windows/${windowId}`, { key: treasuryKey });
    polls.push({ sent: sent - t0, ms: Date.now() - sent, state: (res.body as WindowJson).state });
    if (res.status !== 200) throw new Error(`GET window answered ${res.status}: ${JSON.stringify(res.body)}`);
    window = res.body as WindowJson;
    if (window.state === "SETTLED" || window.state === "FAILED") break;
    if (Date.now() - t0 > SETTLE_TIMEOUT_MS) break;
    await sleep(POLL_MS);
  }
  const closeToSettledMs = Date.now() - t0;
  const cpu = process.cpuUsage(cpuBefore);
  // The confirmation block may not be seen yet when CONFIRMATIONS is 0; wait a little for the record.
  await sleep(20);
  await blocks.stop();

  const failures: string[] = [];
  if (window.state !== "SETTLED") failures.push(`window ${windowId} is ${window.state} after ${closeToSettledMs} ms${window.failureReason ? `: ${window.failureReason}` : ""}`);
  const after = await balancesOf(contracts, banks);

  // Net positions computed here from the payments the window included, and as the window reports them.
  const included = new Set(window.includedPayments);
  const expected = new Array<bigint>(BANKS).fill(0n);
  let gross = 0n;
  for (const p of payments) {
    if (!included.has(p.uetr)) continue;
    expected[p.debtor] -= p.amount;
    expected[p.creditor] += p.amount;
    gross += p.amount;
  }
  const reported = new Map(window.positions.map((p) => [p.address.toLowerCase(), BigInt(p.amount)]));
  const mismatches: string[] = [];
  banks.forEach((b, i) => {
    const delta = after[i] - before[i];
    const position = reported.get(b.address.toLowerCase()) ?? 0n;
    if (delta !== expected[i] || position !== expected[i]) mismatches.push(`${b.bank.bic}: on chain ${delta}, window ${position}, computed ${expected[i]}`);
  });
  if (window.state === "SETTLED" && mismatches.length > 0) failures.push(`balances differ from net positions: ${mismatches.join("; ")}`);
  if (window.deferred.length > 0) failures.push(`${window.deferred.length} payments deferred (first: ${window.deferred[0].reason})`);
  if (window.paymentCount !== included.size || window.paymentCount + window.deferred.length !== size) {
    failures.push(`window counts ${window.paymentCount} included + ${window.deferred.length} deferred of ${size} queued`);
  }
  if (BigInt(window.grossTotal) !== gross) failures.push(`window gross ${window.grossTotal}, computed ${gross}`);

  let gasTotal = 0;
  let phases: Awaited<ReturnType<typeof phasesOf>> | null = null;
  if (window.state === "SETTLED" && window.txHash) {
    const receipt = await hre.ethers.provider.getTransactionReceipt(window.txHash);
    if (!receipt || receipt.status !== 1) failures.push(`settleWindow transaction ${window.txHash} has no successful receipt`);
    else gasTotal = Number(receipt.gasUsed);
    phases = await phasesOf(relay, windowId, t0, blocks, window.blockNumber ?? receipt?.blockNumber ?? 0, ctx.approvalMs);
    if (phases.paymentsSettled !== window.paymentCount) failures.push(`${phases.paymentsSettled} payments SETTLED, ${window.paymentCount} included`);
  }

  const sumAbsNet = expected.reduce((sum, n) => sum + abs(n), 0n);
  const netToGross = gross === 0n ? NaN : Number((sumAbsNet * 1_000_000n) / gross) / 1_000_000;
  const gasPerPayment = window.paymentCount > 0 ? gasTotal / window.paymentCount : NaN;
  return {
    payments: size,
    banks: BANKS,
    windowId,
    state: window.state,
    settledPayments: window.paymentCount,
    deferred: window.deferred.length,
    positions: window.positions.length,
    debtorPositions: window.positions.filter((p) => BigInt(p.amount) < 0n).length,
    grossTotal: gross.toString(),
    sumAbsNetPositions: sumAbsNet.toString(),
    netToGross: round(netToGross, 4),
    liquiditySaving: round(1 - netToGross, 4),
    closeToSettledMs,
    closeHttpMs,
    /** CPU time of this process (chain, relay and poller all run in it) over close -> SETTLED. */
    processCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    /** The machine's 1-minute load average when the window was closed (other work skews the times). */
    loadAverage1m: round(load1m, 2),
    polls: { count: polls.length, meanMs: round(polls.reduce((sum, p) => sum + p.ms, 0) / polls.length, 1), maxMs: Math.max(...polls.map((p) => p.ms)) },
    stateFirstSeenMs: Object.fromEntries([...new Set(polls.map((p) => p.state))].map((state) => [state, polls.find((p) => p.state === state)!.sent])),
    approvalSignatures: { count: signatures.length - signaturesBefore, totalMs: signatures.slice(signaturesBefore).reduce((sum, x) => sum + x.ms, 0) },
    settleWindowGas: gasTotal,
    gasPerPayment: round(gasPerPayment, 1),
    ratioToGross: round(gasPerPayment / ctx.grossGasPerPayment, 4),
    txHash: window.txHash,
    blockNumber: window.blockNumber,
    phasesMs: phases,
    balancesMatchPositions: mismatches.length === 0,
    setupSeconds: round(setupSeconds, 1),
    failures,
  };
}

type WindowRun = Awaited<ReturnType<typeof runWindow>>;

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`netting benchmark: still running after ${WATCHDOG_MS / 60_000} min; giving up`);
    process.exit(2);
  }, WATCHDOG_MS);
  watchdog.unref();
  if (SIZES.some((n) => !Number.isSafeInteger(n) || n < 1)) throw new Error("BENCH_NETTING_SIZES must be positive integers, comma separated");

  console.log(`Deploying the contracts and setting up ${BANKS} banks (${CURRENCY}) on the in-process Hardhat network ...`);
  const [admin] = await hre.ethers.getSigners();
  const { contracts, record } = await deployCorridor(admin, { currencies: [CURRENCY] });
  const banks = await benchBanks();
  await setUpDemoBanks(contracts, banks, DEFAULT_DEMO_LIMITS, admin.address);

  console.log(`Gross baseline: lockBatchFor + releaseBatch of ${GROSS_BATCH} payments through the escrow ...`);
  const gross = await grossBaseline(contracts, admin, banks);

  const rpc = await startRpcServer();
  // Automine, plus a block a second so that confirmation depths are reached when nothing is sent.
  await hre.network.provider.send("evm_setIntervalMining", [1_000]);
  const dir = mkdtempSync(path.join(tmpdir(), "corridor-bench-netting-"));
  let relay: Relay | undefined;
  try {
    const config = loadConfig({
      PORT: "0",
      DATABASE_URL: path.join(dir, "corridor.db"),
      RPC_URL: rpc.url,
      CONFIRMATIONS: String(CONFIRMATIONS),
      OPERATOR_PRIVATE_KEY: HARDHAT_ACCOUNT_0_KEY,
      RISK_SINGLE_PAYMENT_CAP: RISK_CAP,
      RISK_DAILY_VOLUME_CAP: RISK_CAP,
      WINDOW_INTERVAL_SECONDS: String(7 * 24 * 3600),
      LOG_LEVEL: "silent",
    });
    relay = await startRelay(config, {
      deployment: { ...record, deployBlock: await hre.ethers.provider.getBlockNumber() },
      logger: pino({ level: "silent" }),
      intervals: { submitter: 50, indexer: 50, windows: 50 },
      windowApprovers: banks.map((b) => timedApprover(b.signer)),
    });
    const keys = await provisionDemoRelay(relay, contracts, banks);
    const api = apiClient(relay.url);

    const runs: WindowRun[] = [];
    for (const size of SIZES) {
      const run = await runWindow(size, { relay, api, treasuryKey: keys.treasury, contracts, banks, grossGasPerPayment: gross.gasPerPayment, approvalMs: config.WINDOW_APPROVAL_SECONDS * 1000 });
      runs.push(run);
      for (const failure of run.failures) console.error(`FAILED N=${size}: ${failure}`);
    }

    const at = (n: number) => runs.find((r) => r.payments === n);
    const target = (run: WindowRun | undefined, value: (r: WindowRun) => number, met: (v: number) => boolean, limit: string) =>
      run ? { value: value(run), target: limit, met: met(value(run)) } : { value: null, target: limit, met: null };
    const targets = {
      gasPerPaymentAt1000: target(at(1_000), (r) => r.gasPerPayment, (v) => v <= TARGET_GAS_PER_PAYMENT_AT_1000, `<= ${TARGET_GAS_PER_PAYMENT_AT_1000}`),
      closeToSettledMsAt10000: target(at(10_000), (r) => r.closeToSettledMs, (v) => v < TARGET_CLOSE_TO_SETTLED_MS_AT_10000, `< ${TARGET_CLOSE_TO_SETTLED_MS_AT_10000}`),
    };

    console.log(`\nNetted settlement: ${BANKS} banks, ${CURRENCY}, relay on SQLite, CONFIRMATIONS=${CONFIRMATIONS}, block every 1 s (automine):`);
    console.table(
      Object.fromEntries(
        runs.map((r) => [
          `N=${r.payments}`,
          {
            state: r.state,
            "close->SETTLED ms": r.closeToSettledMs,
            "CPU ms": r.processCpuMs,
            "settleWindow gas": r.settleWindowGas,
            "gas/payment": r.gasPerPayment,
            "vs gross": `${r.ratioToGross}x`,
            positions: r.positions,
            "sum|net|/gross": r.netToGross,
            saving: `${round(r.liquiditySaving * 100, 2)}%`,
            deferred: r.deferred,
            "balances ok": r.balancesMatchPositions,
          },
        ]),
      ),
    );
    console.log(
      `Gross baseline (escrow, ${GROSS_BATCH} payments): lockBatchFor ${gross.lockBatchForGas} + releaseBatch ${gross.releaseBatchGas} gas = ${gross.gasPerPayment} gas/payment (lock ${gross.lockPerPayment}, release ${gross.releasePerPayment})`,
    );
    for (const r of runs) {
      console.log(`N=${r.payments}: netting ${r.gasPerPayment} gas/payment vs gross ${gross.gasPerPayment}: ${r.ratioToGross}x (${round(gross.gasPerPayment / r.gasPerPayment, 1)}x less gas)`);
    }
    console.log("\nPhases of close -> SETTLED, ms after the close request (relay's records; blocks as seen in this process):");
    const phaseNames = [...new Set(runs.flatMap((r) => Object.keys(r.phasesMs ?? {})))];
    console.table(Object.fromEntries(phaseNames.map((name) => [name, Object.fromEntries(runs.map((r) => [`N=${r.payments}`, (r.phasesMs as Record<string, number | null> | null)?.[name] ?? null]))])));
    for (const r of runs) {
      console.log(
        `N=${r.payments}: ${r.approvalSignatures.count} approval signatures made for ${r.debtorPositions} debtor positions (${r.approvalSignatures.totalMs} ms in signTypedData); ` +
          `${r.polls.count} polls of GET /v1/windows/{id}, mean ${r.polls.meanMs} ms, max ${r.polls.maxMs} ms; this process used ${r.processCpuMs} ms of CPU in ${r.closeToSettledMs} ms`,
      );
    }
    console.log(`Machine: ${cpus().length} cores; 1-minute load average at each close: ${runs.map((r) => `N=${r.payments} ${r.loadAverage1m}`).join(", ")}`);
    for (const [name, t] of Object.entries(targets)) {
      console.log(`${t.met === null ? "SKIPPED" : t.met ? "MET   " : "MISSED"} ${name}: ${t.value ?? "not measured"} (target ${t.target})`);
    }

    const file = path.join(ROOT, "bench-results", "netting.json");
    mkdirSync(path.dirname(file), { recursive: true });
    const report = {
      banks: BANKS,
      currency: CURRENCY,
      amounts: { minMinorUnits: MIN_AMOUNT, maxMinorUnits: MAX_AMOUNT },
      relay: { database: "sqlite", confirmations: CONFIRMATIONS, intervalsMs: { submitter: 50, indexer: 50, windows: 50 }, blockIntervalMs: 1_000, pollMs: POLL_MS },
      grossBaseline: gross,
      runs,
      targets,
      machine: { node: process.version, platform: process.platform, cpus: cpus().length },
      measuredAt: new Date().toISOString(),
    };
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nwrote ${path.relative(ROOT, file)}`);
    const failed = runs.some((r) => r.failures.length > 0);
    if (failed || Object.values(targets).some((t) => t.met === false)) process.exitCode = 1;
  } finally {
    await relay?.stop();
    await rpc.server.close();
    await hre.network.provider.send("evm_setIntervalMining", [0]);
    rmSync(dir, { recursive: true, force: true });
    clearTimeout(watchdog);
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
