import { Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ChainIndexer } from "./chain/indexer";
import type { DatabaseHandle } from "./db/database";
import type { PaymentFeed } from "./payments/feed";
import type { Caller } from "./payments/types";
import { SETTLE_BUCKETS_SECONDS } from "./treasury/stats";

/** Reads every payment, for the settlement histogram. */
const OPERATOR: Caller = { role: "treasury", bic: null, keyId: "metrics" };

/**
 * The relay's Prometheus metrics. Gauges are read from the database at each scrape, so every
 * relay process reports the same system-wide figures. The time-to-settle histogram follows the
 * payment feed from the moment this process started: settlements made by any relay process,
 * each counted once, and only after its transaction committed.
 */
export function createMetrics(deps: { database: DatabaseHandle; indexer: ChainIndexer; feed: PaymentFeed }): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "corridor_" });
  const { db } = deps.database;
  const count = db.fn.countAll<number>().as("count");
  countGauge(registry, "corridor_payments", "Payments by status", { label: "status" }, () =>
    db.selectFrom("payments").select(["status as key", count]).groupBy("status").execute(),
  );
  countGauge(registry, "corridor_outbox_depth", "Chain intents not yet done, by status", { label: "status", always: ["pending", "sent"] }, () =>
    db.selectFrom("chain_intents").select(["status as key", count]).where("status", "in", ["pending", "sent"]).groupBy("status").execute(),
  );
  countGauge(registry, "corridor_webhook_deliveries", "Webhook events not delivered, by status (dead: out of attempts)", { label: "status", always: ["pending", "dead"] }, () =>
    db.selectFrom("webhook_deliveries").select(["status as key", count]).where("status", "in", ["pending", "dead"]).groupBy("status").execute(),
  );
  countGauge(registry, "corridor_recon_open_breaks", "Open reconciliation breaks, by class", { label: "class" }, () =>
    db.selectFrom("recon_breaks").select(["class as key", count]).where("status", "=", "open").groupBy("class").execute(),
  );
  new Gauge({
    name: "corridor_indexer_lag_blocks",
    help: "Blocks between the chain head and the last indexed block (-1: the chain did not answer)",
    registers: [registry],
    async collect() {
      this.set((await deps.indexer.head().catch(() => ({ lag: -1 }))).lag);
    },
  });
  let cursor = deps.feed.start();
  // Scrapes may overlap: each reads on from where the previous one stopped, never the same range twice.
  let following = Promise.resolve();
  const followSettlements = async (histogram: Histogram) => {
    for (;;) {
      const page = await deps.feed.read(OPERATOR, cursor, 1_000, { statuses: ["SETTLED"] });
      cursor = page.cursor;
      for (const { change, payment } of page.events) histogram.observe(Math.max(0, change.at - payment.createdAt) / 1_000);
      if (page.events.length < 1_000) return;
    }
  };
  new Histogram({
    name: "corridor_time_to_settle_seconds",
    help: "From intake to SETTLED, for payments settled since this relay process started",
    buckets: [...SETTLE_BUCKETS_SECONDS],
    registers: [registry],
    async collect() {
      following = following.catch(() => undefined).then(() => followSettlements(this));
      await following;
    },
  });
  return registry;
}

/** A gauge of row counts by one label, read at each scrape; `always` values are reported even at zero. */
function countGauge(
  registry: Registry,
  name: string,
  help: string,
  labels: { label: string; always?: readonly string[] },
  read: () => Promise<{ key: string; count: number | string | bigint }[]>,
): void {
  const { label, always = [] } = labels;
  new Gauge({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    async collect() {
      const rows = await read();
      this.reset();
      for (const value of always) this.set({ [label]: value }, 0);
      for (const row of rows) this.set({ [label]: row.key }, Number(row.count));
    },
  });
}
