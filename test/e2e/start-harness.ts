import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import hre from "hardhat";
import { DEMO_BANKS } from "../../scripts/lib/demo";
import type { DemoKeys } from "../../scripts/lib/demo-relay";

/**
 * Runs `npm start` (or `hardhat start`, or `hardhat node`) as a user would, in its own process
 * group, so that a test can send the group SIGINT as a terminal's Ctrl-C does: npm does not pass a
 * signal sent to it alone on to the script.
 */

export const ROOT = path.resolve(__dirname, "../..");
const READY = /Corridor (?:local network|demo) ready at (\S+)\./;
const RELAY = /Relay API\s+(\S+)\/v1/;

/**
 * A suite of `npm start` tests: a start takes its time, each test's processes are killed after
 * it, and under `npm run coverage` the suite is skipped (the artifacts are instrumented there, and
 * the escrow's then exceeds the contract size limit of the node `npm start` runs).
 */
export function startSuite(suite: Mocha.Suite): void {
  suite.timeout(300_000);
  suite.beforeAll(function () {
    if ((hre as unknown as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING) this.skip();
  });
  suite.afterEach(killAll);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export interface Spawned {
  child: ChildProcess;
  /** stdout and stderr interleaved, as a terminal shows them. */
  output(): string;
  stderr(): string;
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** The exit code (null when killed by a signal), once the process has exited by itself. */
  exited: Promise<number | null>;
  /** Sends the process group `signal` and resolves with the exit code once every process has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<Spawned>();

/** `command` in ROOT, in a process group of its own. */
export function spawnGroup(command: string, args: string[], env: Record<string, string>): Spawned {
  const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env }, detached: true });
  let output = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const spawned: Spawned = {
    child,
    output: () => output,
    stderr: () => stderr,
    exited,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = output.match(pattern);
          if (!match) return false;
          clearTimeout(timer);
          child.stdout?.off("data", check);
          child.stderr?.off("data", check);
          resolve(match);
          return true;
        };
        const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${output}`)), timeoutMs);
        if (check()) return;
        child.stdout?.on("data", check);
        child.stderr?.on("data", check);
        void exited.then((code) => {
          if (check()) return;
          clearTimeout(timer);
          reject(new Error(`exited with ${code} before ${pattern}; output:\n${output}`));
        });
      });
    },
    async stop(signal = "SIGINT") {
      if (child.exitCode === null && child.signalCode === null) signalGroup(child, signal);
      const code = await exited;
      running.delete(spawned);
      return code;
    },
  };
  running.add(spawned);
  return spawned;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

/** For afterEach: whatever a failed test left running is killed. */
export function killAll(): void {
  for (const spawned of running) signalGroup(spawned.child, "SIGKILL");
  running.clear();
}

export interface StartedDemo extends Spawned {
  rpcUrl: string;
  relayUrl: string;
  keys: DemoKeys;
}

export function npmSpawn(args: string[], env: Record<string, string>): Spawned {
  return spawnGroup("npm", ["start", "--", ...args], { npm_config_script_shell: "bash", ...env });
}

/**
 * `npm start -- <args>` up to its ready line, with the relay URL and the demo keys it printed.
 * npm runs the script with bash, as on macOS: dash (Debian's sh) re-raises a Ctrl-C it saw once
 * its child exits, whatever the child's exit code, and npm then reports the signal, not the code.
 */
export async function npmStart(args: string[], env: Record<string, string>, timeoutMs = 240_000): Promise<StartedDemo> {
  const started = npmSpawn(args, env);
  const [, rpcUrl] = await started.waitFor(READY, timeoutMs);
  const output = started.output();
  const key = (label: RegExp) => {
    const found = output.match(label)?.[1];
    if (!found) throw new Error(`no key ${label} in the output:\n${output}`);
    return found;
  };
  const keys: DemoKeys = {
    banks: Object.fromEntries(DEMO_BANKS.map((bank) => [bank.bic, key(new RegExp(`bank ${bank.bic}\\s+(crd_\\S+)`))])),
    treasury: key(/treasury\s+(crd_\S+)/),
    admin: key(/admin\s+(crd_\S+)/),
  };
  return { ...started, rpcUrl, relayUrl: output.match(RELAY)![1], keys };
}

/** The relay's answer as status and JSON body. */
export async function call<T = Record<string, unknown>>(relayUrl: string, path: string, key: string, init: { method?: string; body?: unknown; idempotencyKey?: string } = {}): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  if (init.idempotencyKey) headers["idempotency-key"] = init.idempotencyKey;
  const res = await fetch(`${relayUrl}${path}`, { method: init.method ?? "GET", headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as T };
}

/** stderr without npm's own notices (this machine's npm config warns about "nodedir" on every run). */
export function errorOutput(spawned: Spawned): string {
  return spawned
    .stderr()
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("npm warn"))
    .join("\n");
}
