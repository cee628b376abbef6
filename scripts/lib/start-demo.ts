import { existsSync } from "node:fs";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { loadConfig, type RelayConfig } from "../../server/config/env";
import { startRelay } from "../../server/relay";
import { JournalMismatchError, readJournal, recordJournal, replayJournal, type ChainJournal, type Eip1193 } from "./chain-journal";
import { majorToMinorUnits } from "../../server/config/currencies";
import { DEFAULT_DEMO_LIMITS, DEMO_BANKS, DEMO_CURRENCIES, HARDHAT_ACCOUNT_0_KEY } from "./demo";
import { demoApi } from "./demo-api";
import { describeDemoChain, MissingDeploymentError, openDemoChain } from "./demo-chain";
import { provisionDemoRelay, type DemoKeys } from "./demo-relay";
import { demoReserveAccountsSetting, publishReserveStatements } from "./demo-reserves";
import { demoState, hasCompleteRun, readDemoKeys, removeDemoState, writeDemoKeys, type DemoState } from "./demo-state";
import { startDemoTraffic } from "./demo-traffic";
import { runDemoWindow } from "./demo-window";

/**
 * `npm start`: the local Corridor network in one process. The task (tasks/start.ts) starts the
 * embedded Hardhat node, or none when RPC_URL names another; this module replays or journals the
 * embedded chain, deploys the contracts and sets up the demo banks (or finds them from the
 * previous run), runs the relay and the demo traffic, and stops it all on Ctrl-C or SIGTERM.
 */

export interface StartFlags {
  traffic: boolean;
  fresh: boolean;
}

export interface DemoNetwork {
  /** RPC_URL when set: the demo then runs on that node and starts none. */
  readonly externalRpcUrl: string | undefined;
  /** On the embedded node's provider, before its JSON-RPC server listens: replay or start the journal. */
  onNodeProvider(provider: Eip1193): Promise<void>;
  /** Once the chain answers at rpcUrl: contracts, banks, relay, traffic. */
  start(rpcUrl: string): Promise<void>;
}

const FRESH_HINT = "`npm start -- --fresh` starts over (it deletes the previous run's database, keys and chain journal)";
const log = (line: string) => console.log(line);
const warn = (line: string) => console.warn(line);
const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The demo's relay settings; any set in the environment win. */
function demoEnvironment(external: boolean): NodeJS.ProcessEnv {
  return {
    DATABASE_URL: "./data/corridor.db",
    // The embedded node mines a block a second. A node of one's own (hardhat node, anvil) may mine
    // only when a transaction comes, and no depth would ever be reached: there, a transaction is
    // final once mined, unless CONFIRMATIONS says otherwise (a chain that reorganizes).
    CONFIRMATIONS: external ? "0" : "1",
    AUTO_RELEASE: "true",
    OPERATOR_PRIVATE_KEY: HARDHAT_ACCOUNT_0_KEY,
    PORT: "3000",
    LOG_LEVEL: "warn",
    // Short windows, so that the demo's net payments settle within a minute.
    WINDOW_INTERVAL_SECONDS: "30",
    RESERVE_ACCOUNTS: demoReserveAccountsSetting(DEMO_CURRENCIES),
    // The banks' single-payment cap on chain: the relay refuses a larger payment at once (422)
    // rather than accept it and see its lock revert.
    RISK_SINGLE_PAYMENT_CAP: DEMO_CURRENCIES.map((c) => `${c}=${majorToMinorUnits(DEFAULT_DEMO_LIMITS.singlePaymentCapMajor, c)}`).join(","),
    ...Object.fromEntries(Object.entries(process.env).filter(([, value]) => value !== undefined && value !== "")),
  };
}

/**
 * Decides, before the node exists, whether this start reuses the previous run (and then gives the
 * embedded node the journal's genesis date) or starts over, and installs the Ctrl-C handler.
 */
export function prepareDemoNetwork(hre: HardhatRuntimeEnvironment, flags: StartFlags): DemoNetwork {
  const externalRpcUrl = process.env.RPC_URL || undefined;
  const env = demoEnvironment(externalRpcUrl !== undefined);
  const state = demoState(env.DATABASE_URL!);
  const stoppers: (() => Promise<unknown>)[] = [];
  installShutdown(stoppers);

  if (flags.fresh) {
    removeDemoState(state);
    log(`Corridor: --fresh: the previous run's database, keys${externalRpcUrl ? "" : " and chain"} are deleted`);
  }
  let journal: ChainJournal | undefined;
  let reuse = hasCompleteRun(state);
  if (!externalRpcUrl && reuse) {
    journal = readJournal(state.journal);
    reuse = journal !== undefined;
  }
  if (!reuse && !flags.fresh && [state.keys, state.journal, state.deployment, state.sqliteFile ?? ""].some((file) => existsSync(file))) {
    log(`Corridor: the previous run beside ${env.DATABASE_URL} did not finish setting up (or has no chain journal): starting over`);
    removeDemoState(state);
  }
  if (!reuse && state.sqliteFile === null) warn("Warning: the demo does not empty a PostgreSQL database; a new chain wants an empty one");

  const hardhat = hre.config.networks.hardhat;
  // FIFO: replayed transactions are mined in the order sent, which is the journaled order.
  hardhat.mining.mempool.order = "fifo";
  // The replayed chain starts from the same genesis block, whose hash includes its timestamp.
  if (journal) hardhat.initialDate = new Date(journal.genesis.t * 1000).toISOString();

  return {
    externalRpcUrl,

    async onNodeProvider(provider) {
      await provider.request({ method: "hardhat_setLoggingEnabled", params: [false] });
      try {
        if (journal) {
          log(`Corridor: replaying the previous run's chain, ${journal.blocks.length} blocks from ${state.journal}…`);
          await replayJournal(provider, journal, (done, total) => log(`  replayed blocks ${done}/${total}`));
          // The node's clock resumes from the last replayed block: move it to now in one step.
          const last = journal.blocks.at(-1)?.t ?? journal.genesis.t;
          await provider.request({ method: "evm_setNextBlockTimestamp", params: [Math.max(Math.floor(Date.now() / 1000), last + 1)] });
          await provider.request({ method: "evm_mine" });
        }
        const recorder = await recordJournal({ provider, file: state.journal, resume: journal, warn });
        stoppers.push(() => recorder.stop());
      } catch (error) {
        if (!(error instanceof JournalMismatchError)) await fail(stoppers, `the chain journal: ${message(error)}`);
        await fail(stoppers, `the previous run's chain could not be replayed: ${message(error)}`, FRESH_HINT);
      }
    },

    async start(rpcUrl) {
      try {
        await startNetwork({ rpcUrl, embedded: !externalRpcUrl, reuse, env, state, stoppers, traffic: flags.traffic });
      } catch (error) {
        await fail(stoppers, message(error), error instanceof MissingDeploymentError ? FRESH_HINT : undefined);
      }
    },
  };
}

async function startNetwork(options: {
  rpcUrl: string;
  embedded: boolean;
  reuse: boolean;
  env: NodeJS.ProcessEnv;
  state: DemoState;
  stoppers: (() => Promise<unknown>)[];
  traffic: boolean;
}): Promise<void> {
  const { rpcUrl, embedded, reuse, state, stoppers } = options;
  const config: RelayConfig = loadConfig({ ...options.env, RPC_URL: rpcUrl });
  const chain = await openDemoChain({ rpcUrl, operatorKey: config.OPERATOR_PRIVATE_KEY!, state, reuse, log });
  stoppers.push(async () => chain.provider.destroy());
  if (embedded) {
    // Transactions are mined as they come, and a block a second besides, so that confirmation
    // depths are reached while nothing else happens (the replay had turned both off).
    await chain.provider.send("evm_setAutomine", [true]);
    await chain.provider.send("evm_setIntervalMining", [1_000]);
  }
  describeDemoChain(chain, log);

  log("\nCorridor: starting the relay (it signs the demo banks' settlement-window approvals: Hardhat's well-known dev keys)…");
  const relay = await startRelay(config, { deployment: chain.record, windowApprovers: chain.banks });
  stoppers.push(() => relay.stop());
  let keys: DemoKeys;
  if (reuse) {
    keys = readDemoKeys(state);
  } else {
    keys = await provisionDemoRelay(relay, chain.contracts, chain.banks.map((signer, i) => ({ signer, bank: DEMO_BANKS[i] })));
    writeDemoKeys(state, keys); // the last step of a first start: from now on the run is reused
  }
  const api = demoApi(relay.url);
  await publishReserveStatements({ api, treasuryKey: keys.treasury, accounts: config.RESERVE_ACCOUNTS, supply: (c) => chain.contracts.tokens[c].totalSupply() }).then(
    (stated) => stated.length > 0 && log(`Proof of reserves: today's camt.053 of each reserve account imported (${stated.join(", ")}), closing balance = token supply`),
    (error) => warn(`Warning: the reserve statements were not imported: ${message(error)}`),
  );

  log(`\nRelay API      ${relay.url}/v1   (database ${config.DATABASE_URL}, auto-release ${config.AUTO_RELEASE ? "on" : "off"})`);
  log(`API docs       ${relay.url}/docs   OpenAPI ${relay.url}/openapi.json`);
  log(`Dashboard      ${relay.url}/dashboard/   (sign in with the treasury key)`);
  log(`Health         ${relay.url}/readyz   metrics ${relay.url}/metrics`);
  log(`\nDemo API keys (Authorization: Bearer <key>; kept in ${state.keys}):`);
  for (const bank of DEMO_BANKS) log(`  bank ${bank.bic}  ${keys.banks[bank.bic]}`);
  log(`  treasury          ${keys.treasury}`);
  log(`  admin             ${keys.admin}`);

  // The demo window is a show for a first start, not part of the network: if it fails, the network still runs.
  if (!reuse) {
    try {
      const demo = await runDemoWindow({ relayUrl: relay.url, keys, banks: DEMO_BANKS, netting: chain.contracts.netting, log });
      if (!demo.proofVerified) warn("Warning: the demo window's inclusion proof did not verify on chain");
    } catch (error) {
      warn(`Warning: the demo settlement window did not complete: ${message(error)}`);
    }
  }
  if (options.traffic) {
    const traffic = await startDemoTraffic({ api, keys, banks: DEMO_BANKS, currencies: DEMO_CURRENCIES, log, warn });
    stoppers.push(() => traffic.stop());
  }
  log(`\nCorridor ${embedded ? "local network" : "demo"} ready at ${rpcUrl}. Press Ctrl-C to stop.`);
  if (!embedded) log("(RPC_URL: the node is yours; Ctrl-C stops the relay and the traffic, not the node)");
}

let stopping = false;

/** Stops what started, newest first (traffic, relay, provider, journal), and exits. */
async function stopAll(stoppers: (() => Promise<unknown>)[], code: number): Promise<never> {
  stopping = true;
  for (const stop of [...stoppers].reverse()) {
    await stop().catch((error) => warn(`Warning: while stopping: ${message(error)}`));
  }
  if (code === 0) log("Corridor stopped.");
  process.exit(code);
}

async function fail(stoppers: (() => Promise<unknown>)[], reason: string, hint?: string): Promise<never> {
  console.error(`\nCorridor could not start: ${reason}`);
  if (hint) console.error(hint);
  return stopAll(stoppers, 1);
}

/**
 * Ctrl-C and SIGTERM stop everything and exit 0 (the node task alone would keep running, and the
 * default handler would exit 130 mid-write). A second signal while stopping exits at once, unless
 * it comes within a second of the first: `npm start` passes on the Ctrl-C the process saw itself.
 */
function installShutdown(stoppers: (() => Promise<unknown>)[]): void {
  let firstAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      if (Date.now() - firstAt < 1_000) return;
      warn(`Corridor: ${signal} again, exiting without waiting`);
      process.exit(1);
    }
    firstAt = Date.now();
    log(`\nCorridor: ${signal}, stopping…`);
    void stopAll(stoppers, 0);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
