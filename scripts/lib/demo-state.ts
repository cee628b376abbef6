import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { DeploymentRecord } from "./deploy";
import type { DemoKeys } from "./demo-relay";

/**
 * What a demo run leaves for the next one, beside its database: the demo API keys (the database
 * stores only their hashes), the deployment the database describes, and the embedded node's chain
 * journal. A run is complete, and the next start reuses it, once its keys file is written: that
 * is the last step of a first start.
 */
export interface DemoState {
  /** The SQLite file, or null for PostgreSQL (which the demo never deletes). */
  sqliteFile: string | null;
  keys: string;
  deployment: string;
  journal: string;
}

const POSTGRES = /^postgres(ql)?:\/\//;

/** `data/corridor.db` -> data/corridor.demo-keys.json, data/corridor.deployment.json, data/corridor.chain-journal.ndjson. */
export function demoState(databaseUrl: string): DemoState {
  const sqliteFile = POSTGRES.test(databaseUrl) ? null : databaseUrl.replace(/^sqlite:(\/\/)?/, "");
  // Beside a PostgreSQL database there is no file: its demo files go to ./data.
  const stem = sqliteFile ? sqliteFile.replace(/\.(db|sqlite3?)$/, "") : path.join("data", "corridor-postgres");
  return { sqliteFile, keys: `${stem}.demo-keys.json`, deployment: `${stem}.deployment.json`, journal: `${stem}.chain-journal.ndjson` };
}

/** True when a previous run finished setting up: its keys and deployment are there. */
export function hasCompleteRun(state: DemoState): boolean {
  return existsSync(state.keys) && existsSync(state.deployment) && (state.sqliteFile === null || existsSync(state.sqliteFile));
}

/** Forgets a previous run: the SQLite database (with its WAL files), the keys, the deployment and the journal. */
export function removeDemoState(state: DemoState): void {
  const files = [state.keys, state.deployment, state.journal];
  if (state.sqliteFile) files.push(...["", "-wal", "-shm"].map((suffix) => state.sqliteFile + suffix));
  for (const file of files) rmSync(file, { force: true });
}

export function readDemoKeys(state: DemoState): DemoKeys {
  return JSON.parse(readFileSync(state.keys, "utf8")) as DemoKeys;
}

/** Readable only by the user: the keys are the demo's, but they are bearer keys. */
export function writeDemoKeys(state: DemoState, keys: DemoKeys): void {
  writeAtomically(state.keys, JSON.stringify(keys, null, 2) + "\n", 0o600);
}

export function readDeployment(state: DemoState): DeploymentRecord {
  return JSON.parse(readFileSync(state.deployment, "utf8")) as DeploymentRecord;
}

export function writeDeployment(state: DemoState, record: DeploymentRecord): void {
  writeAtomically(state.deployment, JSON.stringify(record, null, 2) + "\n", 0o644);
}

/** Written whole or not at all: a kill mid-write must not leave half a file that looks complete. */
function writeAtomically(file: string, text: string, mode: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode });
  renameSync(temporary, file);
}
