import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import hre, { network } from "hardhat";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import type { JsonRpcServer } from "hardhat/types";
import pino from "pino";
import { bytes16ToUetr } from "../../server/chain/typed-data";
import { deployCorridorFixture, TEST_BANKS, type CorridorFixture } from "../contracts/fixtures";
import { provisionDemoRelay, type DemoKeys } from "../../scripts/lib/demo-relay";
import { allowRelayOperator, HARDHAT_ACCOUNT_0_KEY } from "../../scripts/lib/demo";
import type { DeploymentRecord } from "../../scripts/lib/deploy";
import { loadConfig } from "../../server/config/env";
import { startRelay, type Relay } from "../../server/relay";
import { dropTestDatabase, postgresTestUrl, sqliteTestUrl } from "../server/databases";
import type { Dialect } from "../../server/db/database";

/** The fixture's admin (Hardhat account #0) is attester and operator, so the relay signs with its key. */
export const OPERATOR_KEY = HARDHAT_ACCOUNT_0_KEY;

/** The in-process Hardhat network behind a real JSON-RPC HTTP server, as a relay sees any node. */
export async function startRpcServer(): Promise<{ url: string; server: JsonRpcServer }> {
  const server: JsonRpcServer = await hre.run(TASK_NODE_CREATE_SERVER, { hostname: "127.0.0.1", port: 0, provider: network.provider });
  const { port } = await server.listen();
  return { url: `http://127.0.0.1:${port}`, server };
}

export async function deploymentOf(f: CorridorFixture): Promise<DeploymentRecord> {
  return {
    chainId: f.chainId.toString(),
    deployBlock: 0,
    deployedAt: new Date().toISOString(),
    contracts: {
      ParticipantRegistry: await f.registry.getAddress(),
      SettlementEscrow: await f.escrow.getAddress(),
      NettingSettlement: await f.netting.getAddress(),
      tokens: Object.fromEntries(await Promise.all(Object.entries(f.tokens).map(async ([c, t]) => [c, await t.getAddress()] as const))),
    },
    roles: {},
  };
}

/** Each test bank lets the operator (the fixture's admin) lock on its behalf. */
export async function allowOperator(f: CorridorFixture): Promise<void> {
  for (const bank of f.banks) {
    for (const token of Object.values(f.tokens)) {
      await allowRelayOperator(bank, { escrow: f.escrow, token }, f.admin.address);
    }
  }
}

export interface RelayWorld {
  fixture: CorridorFixture;
  relay: Relay;
  keys: DemoKeys;
  rpcUrl: string;
  /** The relay's database; a PostgreSQL schema is dropped by stop(). */
  databaseUrl: string;
  api: Api;
  bic: (index: number) => string;
  /** The relay's clock (it follows the chain's); another relay on the same database must share it. */
  now: () => number;
  stop(): Promise<void>;
}

export type Api = (method: string, path: string, options?: { key?: string; body?: unknown; idempotencyKey?: string; headers?: Record<string, string> }) => Promise<{ status: number; body: any; headers: Headers }>;

export function apiClient(baseUrl: string): Api {
  return async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.key) headers.authorization = `Bearer ${options.key}`;
    if (options.idempotencyKey) headers["idempotency-key"] = options.idempotencyKey;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
      headers["content-type"] ??= "application/json";
    }
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
}

/**
 * A deployed network with funded banks and a relay on a fresh database, its API keys, and a block
 * mined every second so that confirmation depths are reached without any transaction. (Faster
 * interval mining would run the chain's clock ahead of the wall clock: each block adds >= 1 s.)
 */
export async function startRelayWorld(
  options: {
    dialect?: Dialect;
    env?: Record<string, string>;
    now?: () => number;
    fixture?: CorridorFixture;
    rpcUrl?: string;
    /** The relay signs settlement-window approvals for every test bank (as the demo does). */
    approveWindows?: boolean;
  } = {},
): Promise<RelayWorld> {
  const fixture = options.fixture ?? (await deployCorridorFixture());
  await allowOperator(fixture);
  await network.provider.send("evm_setIntervalMining", [1_000]);
  const rpc = options.rpcUrl ? { url: options.rpcUrl, server: undefined } : await startRpcServer();
  const databaseUrl = options.dialect === "postgres" ? await postgresTestUrl() : sqliteTestUrl();
  const config = loadConfig({
    PORT: "0",
    DATABASE_URL: databaseUrl,
    RPC_URL: rpc.url,
    CONFIRMATIONS: "1",
    OPERATOR_PRIVATE_KEY: OPERATOR_KEY,
    LOG_LEVEL: "silent",
    ...options.env,
  });
  // Earlier tests move the shared chain's clock ahead (time travel, a second per automined block);
  // the relay's clock must agree with the chain's, as it does on a real network.
  const head = await hre.ethers.provider.getBlock("latest");
  const chainLeadMs = Math.max(0, head!.timestamp * 1_000 - Date.now()) + 5_000;
  const now = () => (options.now?.() ?? Date.now()) + chainLeadMs;
  const relay = await startRelay(config, {
    deployment: await deploymentOf(fixture),
    logger: pino({ level: "silent" }),
    intervals: { submitter: 100, indexer: 100, webhooks: 100, expiry: 200, windows: 100 },
    now,
    windowApprovers: options.approveWindows ? fixture.banks : undefined,
  });
  const keys = await provisionDemoRelay(
    relay,
    fixture,
    fixture.banks.map((signer, i) => ({ signer, bank: TEST_BANKS[i] })),
  );
  return {
    fixture,
    relay,
    keys,
    rpcUrl: rpc.url,
    databaseUrl,
    api: apiClient(relay.url),
    bic: (index) => TEST_BANKS[index].bic,
    now,
    async stop() {
      await relay.stop();
      await rpc.server?.close();
      await network.provider.send("evm_setIntervalMining", [0]);
      await dropTestDatabase(databaseUrl);
    },
  };
}

/** A partner bank's webhook endpoint: a tiny real HTTP server that records what it receives. */
export async function startWebhookReceiver(): Promise<{ url: string; received: { headers: IncomingMessage["headers"]; body: string }[]; close(): Promise<void> }> {
  const received: { headers: IncomingMessage["headers"]; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A row of GET /v1/accounts. */
export interface AccountJson {
  currency: string;
  posted: string;
  pendingDebits: string;
  pendingCredits: string;
  available: string;
  onChain: string | null;
}

/** A bank's account in one currency, as the API reports it. */
export async function account(api: Api, key: string, currency: string): Promise<AccountJson> {
  const accounts = (await api("GET", "/v1/accounts", { key })).body.accounts as AccountJson[];
  return accounts.find((a) => a.currency === currency)!;
}

/** How many times each UETR appears in the escrow's events of one kind on the canonical chain. */
export async function eventCounts(f: CorridorFixture, name: "Locked" | "Released"): Promise<Record<string, number>> {
  const events = await f.escrow.queryFilter(name === "Locked" ? f.escrow.filters.Locked() : f.escrow.filters.Released());
  const counts: Record<string, number> = {};
  for (const event of events) {
    const uetr = bytes16ToUetr(event.args.uetr);
    counts[uetr] = (counts[uetr] ?? 0) + 1;
  }
  return counts;
}
