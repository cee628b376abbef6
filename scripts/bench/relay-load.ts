/**
 * Closed-loop HTTP load generator for the relay benchmark, run as its own process (so that the
 * in-process Hardhat node of the benchmark does not share its event loop): `concurrency` workers,
 * each sending its next request when the previous one is answered, over keep-alive connections.
 * Every request is a distinct payment with its own Idempotency-Key.
 *
 * Input: a LoadConfig as JSON in argv[2]. Output on stdout: `WINDOW start` and `WINDOW end` around
 * the measured window, then one line `RESULT <json>` (a LoadResult).
 * Two modes: for `durationMs` after `warmupMs` (throughput and latency), or `total` requests whose
 * answers (UETR, start time) are reported one by one (the end-to-end run).
 */
import { Agent, request } from "node:http";
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";

export interface LoadConfig {
  /** Base URL, e.g. http://127.0.0.1:3000 (only 127.0.0.1 is accepted). */
  url: string;
  path: string;
  concurrency: number;
  /** Timed mode: measured window, after an unmeasured warm-up on the same connections. */
  durationMs?: number;
  warmupMs?: number;
  /** Counted mode: exactly this many requests, each answer recorded. */
  total?: number;
  /** Debtor banks in turn; each payment is sent with its debtor's key to the next bank. */
  banks: { bic: string; key: string }[];
  currencies: string[];
  /** Minor units per payment. */
  amount: string;
  expiresInSeconds: number;
  /** Distinguishes runs' end-to-end ids. */
  label: string;
  /** Per-request timeout; a request past it counts as an error. */
  timeoutMs?: number;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  /** Requests answered 2xx within the measured window (or all, in counted mode). */
  ok: number;
  /** Answers by status code (non-2xx) and transport errors by code. */
  failures: Record<string, number>;
  /** Length of the measured window: from its start to the last answer of a request begun in it. */
  elapsedMs: number;
  perSecond: number;
  latencyMs: LatencySummary;
  /** Counted mode: one [uetr, epoch ms at send] per accepted payment. */
  accepted?: [string, number][];
  firstFailure?: string;
}

export function summarize(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  if (sorted.length === 0) return { p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  // Nearest-rank percentiles.
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  let sum = 0;
  for (const value of sorted) sum += value;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1], mean: sum / sorted.length };
}

interface Answer {
  status: number;
  body: string | null;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]) as LoadConfig;
  const base = new URL(config.url);
  if (base.hostname !== "127.0.0.1") throw new Error(`load only goes to 127.0.0.1, not ${base.hostname}`);
  const agent = new Agent({ keepAlive: true, maxSockets: config.concurrency, maxFreeSockets: config.concurrency });
  const timeoutMs = config.timeoutMs ?? 30_000;
  const counted = config.total !== undefined;

  let sequence = 0;
  function nextRequest(): { headers: Record<string, string | number>; body: string } {
    const i = sequence++;
    const banks = config.banks;
    const debtor = banks[i % banks.length];
    const creditor = banks[(i + 1) % banks.length];
    const currency = config.currencies[Math.floor(i / banks.length) % config.currencies.length];
    const body = JSON.stringify({
      endToEndId: `${config.label}-${i}`.slice(0, 35),
      debtorAgent: { bic: debtor.bic },
      creditorAgent: { bic: creditor.bic },
      amount: { value: config.amount, currency },
      debtor: { name: "Bench Debtor Ltd", account: "GB33BUKB20201555555555" },
      creditor: { name: "Bench Creditor GmbH", account: "DE89370400440532013000" },
      remittanceInformation: `bench ${i}`,
      expiresInSeconds: config.expiresInSeconds,
    });
    return {
      body,
      headers: {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        authorization: `Bearer ${debtor.key}`,
        "idempotency-key": randomUUID(),
      },
    };
  }

  function send(keepBody: boolean): Promise<Answer> {
    const { headers, body } = nextRequest();
    return new Promise((resolve, reject) => {
      const req = request(
        { host: base.hostname, port: base.port, path: config.path, method: "POST", agent, headers, timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          const wanted = keepBody || (res.statusCode ?? 0) >= 300;
          res.on("data", (chunk: Buffer) => {
            if (wanted) chunks.push(chunk);
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: wanted ? Buffer.concat(chunks).toString("utf8") : null }));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(Object.assign(new Error(`timeout after ${timeoutMs} ms`), { code: "ETIMEOUT" })));
      req.on("error", reject);
      req.end(body);
    });
  }

  const failures: Record<string, number> = {};
  let firstFailure: string | undefined;
  const fail = (what: string, detail: string) => {
    failures[what] = (failures[what] ?? 0) + 1;
    firstFailure ??= `${what}: ${detail.slice(0, 300)}`;
  };

  const latencies: number[] = [];
  const accepted: [string, number][] = [];
  let ok = 0;
  let windowStart = 0;
  let windowEnd = Infinity;
  let lastAnswer = 0;

  async function worker(): Promise<void> {
    for (;;) {
      const started = performance.now();
      if (counted ? sequence >= config.total! : started >= windowEnd) return;
      const inWindow = counted || started >= windowStart;
      const sentAt = performance.timeOrigin + started;
      try {
        const answer = await send(counted);
        const finished = performance.now();
        if (!inWindow) continue;
        lastAnswer = Math.max(lastAnswer, finished);
        if (answer.status >= 200 && answer.status < 300) {
          ok++;
          latencies.push(finished - started);
          if (counted) accepted.push([(JSON.parse(answer.body!) as { uetr: string }).uetr, sentAt]);
        } else {
          fail(String(answer.status), answer.body ?? "");
        }
      } catch (error) {
        if (inWindow) fail((error as { code?: string }).code ?? "error", (error as Error).message);
        await new Promise((resolve) => setTimeout(resolve, 10)); // a refused connection must not spin
      }
    }
  }

  // The parent brackets its CPU readings with these lines.
  const announce = (line: string) => process.stdout.write(`${line}\n`);
  const workers: Promise<void>[] = [];
  if (counted) {
    windowStart = performance.now();
    announce("WINDOW start");
  } else {
    windowStart = performance.now() + (config.warmupMs ?? 0);
    windowEnd = windowStart + config.durationMs!;
    setTimeout(() => announce("WINDOW start"), Math.max(0, windowStart - performance.now()));
  }
  for (let k = 0; k < config.concurrency; k++) workers.push(worker());
  await Promise.all(workers);
  announce("WINDOW end");
  agent.destroy();
  const elapsedMs = Math.max(1, lastAnswer - windowStart);
  const result: LoadResult = {
    ok,
    failures,
    elapsedMs,
    perSecond: (ok * 1000) / elapsedMs,
    latencyMs: summarize(latencies),
    ...(counted ? { accepted } : {}),
    ...(firstFailure ? { firstFailure } : {}),
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  // Stay until the parent has read this process's CPU time and stops it (or a minute passes).
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 60_000);
    process.once("SIGTERM", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
