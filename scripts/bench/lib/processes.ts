/** Child processes of the benchmarks: started, watched for a line of output, and stopped. */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

export const ROOT = path.resolve(__dirname, "../../..");

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

export interface Child {
  process: ChildProcess;
  /** Everything it printed, capped to the last 200 kB. */
  output(): string;
  exited: Promise<number | null>;
}

export function start(args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 400_000) output = output.slice(-200_000);
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return { process: child, output: () => output, exited };
}

/** A TypeScript file of this folder in a fresh Node process (transpiled, as bin/corridor.js does). */
export function startScript(file: string, args: string[] = [], env: NodeJS.ProcessEnv = process.env): Child {
  return start(["-r", require.resolve("ts-node/register/transpile-only"), path.join(__dirname, "..", file), ...args], env);
}

export async function waitForOutput(child: Child, pattern: RegExp, timeoutMs: number, what: string): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = child.output().match(pattern);
    if (match) return match;
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`${what} exited (${child.process.exitCode ?? child.process.signalCode}) before ${pattern}:\n${tail(child.output())}`);
    }
    if (Date.now() > deadline) throw new Error(`${what}: no ${pattern} within ${timeoutMs} ms:\n${tail(child.output())}`);
    await sleep(50);
  }
}

export async function stop(child: Child, graceMs = 15_000): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill("SIGTERM");
  const timer = setTimeout(() => child.process.kill("SIGKILL"), graceMs);
  await child.exited;
  clearTimeout(timer);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const tail = (text: string, lines = 30) => text.trim().split("\n").slice(-lines).join("\n");
