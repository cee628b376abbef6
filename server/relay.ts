import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { JsonRpcProvider, Wallet } from "ethers";
import pino, { type Logger } from "pino";
import { sql } from "kysely";
import type { DeploymentRecord } from "../scripts/lib/deploy";
import { connectCorridor } from "./chain/contracts";
import { createChainIndexer, type ChainIndexer } from "./chain/indexer";
import { createChainSubmitter, type ChainSubmitter } from "./chain/submitter";
import type { RelayConfig } from "./config/env";
import { openDatabase, type DatabaseHandle } from "./db/database";
import { createApp } from "./http/app";
import { createMetrics } from "./metrics";
import { reconciliationRoutes } from "./http/routes/reconciliation";
import { webhookRoutes } from "./http/routes/webhooks";
import { createDomainServices, type DomainServices, type WindowApprover } from "./services";
import { createWebhookService, type WebhookService } from "./webhooks/service";

/** Everything one relay process runs: API, chain submitter and indexer, webhook worker, expiry sweep, window driver. */
export interface Relay extends Readonly<DomainServices> {
  readonly url: string;
  readonly database: DatabaseHandle;
  readonly webhooks: WebhookService;
  readonly submitter: ChainSubmitter;
  readonly indexer: ChainIndexer;
  stop(): Promise<void>;
}

export interface RelayOptions {
  deployment: DeploymentRecord;
  logger?: Logger;
  /** Poll intervals in ms; tests shorten them. */
  intervals?: { submitter?: number; indexer?: number; webhooks?: number; expiry?: number; windows?: number };
  /** Bank keys whose settlement-window approvals the relay signs itself: the demo's banks, never real ones. */
  windowApprovers?: readonly WindowApprover[];
  rateLimitPerMinute?: number;
  /** The relay's clock (expiries, retries, leases); tests that move chain time move it too. */
  now?: () => number;
}

export async function startRelay(config: RelayConfig, options: RelayOptions): Promise<Relay> {
  const logger = options.logger ?? pino({ level: config.LOG_LEVEL });
  if (!config.OPERATOR_PRIVATE_KEY) throw new Error("OPERATOR_PRIVATE_KEY is required: the relay signs locks, releases and refunds with it");
  const { deployment } = options;
  // An idle submitter run reads only the database; an idle indexer run makes two JSON-RPC calls.
  const intervals = { submitter: 100, indexer: 250, webhooks: 500, expiry: 5_000, windows: 1_000, ...options.intervals };
  const workerId = `relay-${process.pid}-${randomUUID().slice(0, 8)}`;

  const database = await openDatabase(config.DATABASE_URL);
  const { db, dialect } = database;
  // batchStallTime 0: calls made together still share one JSON-RPC batch, but a lone call is not
  // held back 10 ms (ethers' default) waiting for company; the chain workers make many in a row.
  const provider = new JsonRpcProvider(config.RPC_URL, Number(deployment.chainId), {
    staticNetwork: true,
    polling: true,
    pollingInterval: 500,
    batchStallTime: 0,
    // No response cache: a receipt read just before a reorg must not be reused after it.
    cacheTimeout: -1,
  });
  const signer = new Wallet(config.OPERATOR_PRIVATE_KEY, provider);
  const contracts = connectCorridor(deployment, provider);
  const chainLogger = logger.child({ component: "chain" });
  const services = createDomainServices({ config, deployment, database, provider, now: options.now, approvers: options.windowApprovers, logger: chainLogger });
  const { ledger, auth, participants, payments, funds, statements, interchange, reconciliation, fx, windows } = services;
  const webhooks = createWebhookService({
    db,
    dialect,
    maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    workerId,
    now: options.now,
    // Even when tests run the relay's clock ahead with the chain's, a receiver checks freshness against real time.
    signatureClock: Date.now,
    logger: logger.child({ component: "webhooks" }),
  });
  const submitter = createChainSubmitter({
    db,
    dialect,
    provider,
    signer,
    escrowAddress: deployment.contracts.SettlementEscrow,
    payments,
    funds,
    windows,
    workerId,
    leaseMs: 30_000,
    batchSize: 100,
    confirmations: config.CONFIRMATIONS,
    now: options.now,
    logger: chainLogger,
    // The raw call: ethers' broadcastTransaction would decode each transaction and recover its
    // sender (elliptic-curve math, ~3 ms of CPU) and ask for the block number, for nothing.
    sendRawTransaction: (raw) => provider.send("eth_sendRawTransaction", [raw]),
  });
  const indexer = createChainIndexer({
    db,
    dialect,
    provider,
    escrowAddress: deployment.contracts.SettlementEscrow,
    fromBlock: deployment.deployBlock,
    confirmations: config.CONFIRMATIONS,
    payments,
    funds,
    tokenAddresses: Object.values(deployment.contracts.tokens),
    nettingAddress: deployment.contracts.NettingSettlement,
    windows,
    batchBlocks: 500,
    logger: chainLogger,
  });

  const metrics = createMetrics({ database, indexer, feed: services.paymentFeed });
  const app = createApp({
    db,
    transact: database.transact,
    auth,
    payments,
    participants,
    ledger,
    interchange,
    statements,
    funds,
    fx,
    windows,
    treasury: services.treasury,
    paymentFeed: services.paymentFeed,
    xmlBodyLimit: `${config.ISO_BODY_LIMIT_BYTES}b`,
    chainBalance: async (address, currency) => {
      const token = contracts.tokens[currency];
      return token ? token.balanceOf(address) : null;
    },
    readiness: [
      { name: "database", check: async () => void (await sql`select 1`.execute(db)) },
      { name: "rpc", check: async () => void (await provider.getBlockNumber()) },
    ],
    metrics,
    extraRoutes: [
      { path: "/webhooks", router: webhookRoutes({ db, webhooks }) },
      { path: "/reconciliation", router: reconciliationRoutes({ db, reconciliation }) },
    ],
    rateLimitPerMinute: options.rateLimitPerMinute,
    now: options.now,
    logError: (error) => logger.error({ err: error }, "request failed"),
  });

  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(config.PORT, config.HOST, () => resolve(listening));
  });
  const address = server.address() as AddressInfo;
  const url = `http://${config.HOST}:${address.port}`;

  submitter.start(intervals.submitter);
  indexer.start(intervals.indexer);
  webhooks.start(intervals.webhooks);
  windows.start(intervals.windows);
  const expirySweep = setInterval(() => {
    payments.refundExpired(options.now?.()).catch((error) => logger.warn({ err: error }, "expiry sweep failed"));
  }, intervals.expiry);
  logger.info({ url, workerId, dialect }, "relay started");

  return {
    ...services,
    url,
    database,
    webhooks,
    submitter,
    indexer,
    async stop() {
      clearInterval(expirySweep);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections(); // keep-alive clients would otherwise hold close() open
      await closed;
      await Promise.all([submitter.stop(), indexer.stop(), webhooks.stop(), windows.stop()]);
      provider.destroy();
      await database.close();
      logger.info("relay stopped");
    },
  };
}
