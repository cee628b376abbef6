/**
 * What processes used, read from Linux's /proc: CPU time (other work on the machine skews every
 * figure, so each window reports who used the cores) and resident memory.
 */
import { readFileSync } from "node:fs";

const RSS_SAMPLE_MS = 100;

/** Linux reports CPU time in USER_HZ ticks, 100 a second on every common configuration. */
const TICKS_PER_SECOND = 100;

export interface CpuReading {
  at: number;
  processes: Record<string, number>;
  machineBusy: number;
}

/** Cores used on average over a window (1 = one core busy all the time). */
export interface CpuUse {
  seconds: number;
  processes: Record<string, number>;
  /** Every process on the machine (PostgreSQL's server included). */
  machine: number;
  /** The machine less the processes named: PostgreSQL, and anything else running meanwhile. */
  others: number;
}

function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  } catch {
    return NaN; // exited, or no procfs
  }
}

function machineBusyTicks(): number {
  try {
    const values = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(Number);
    return values.reduce((a, b) => a + b, 0) - values[3] - values[4]; // all but idle and iowait
  } catch {
    return NaN;
  }
}

export function readCpu(pids: Record<string, number>): CpuReading {
  return {
    at: Date.now(),
    processes: Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processTicks(pid)])),
    machineBusy: machineBusyTicks(),
  };
}

export function cpuBetween(before: CpuReading, after: CpuReading): CpuUse {
  const seconds = (after.at - before.at) / 1000;
  const cores = (ticks: number) => round(ticks / TICKS_PER_SECOND / seconds, 2);
  const processes = Object.fromEntries(Object.keys(after.processes).map((name) => [name, cores(after.processes[name] - before.processes[name])]));
  const machine = cores(after.machineBusy - before.machineBusy);
  const named = Object.values(processes).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  return { seconds: round(seconds, 1), processes, machine, others: round(Math.max(0, machine - named), 2) };
}

function procStatusKb(pid: number, field: "VmRSS" | "VmHWM"): number | undefined {
  try {
    const match = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined; // exited, or no procfs
  }
}

/** Samples VmRSS every RSS_SAMPLE_MS; `stop` also reads the kernel's high-water mark (VmHWM). */
export function sampleRss(pid: number): { stop(): { maxSampledMb: number; highWaterMb: number | null } } {
  let max = procStatusKb(pid, "VmRSS") ?? 0;
  const timer = setInterval(() => {
    max = Math.max(max, procStatusKb(pid, "VmRSS") ?? 0);
  }, RSS_SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      max = Math.max(max, procStatusKb(pid, "VmRSS") ?? 0);
      const hwm = procStatusKb(pid, "VmHWM");
      return { maxSampledMb: round(max / 1024, 1), highWaterMb: hwm === undefined ? null : round(hwm / 1024, 1) };
    },
  };
}

export const round = (value: number, digits = 0) => Number(value.toFixed(digits));
