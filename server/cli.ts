import "dotenv/config";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Command, Option } from "commander";
import { JsonRpcProvider } from "ethers";
import type { DeploymentRecord } from "../scripts/lib/deploy";
import { startRelay } from "./relay";
import { createAuthService } from "./auth/service";
import { loadConfig } from "./config/env";
import { openDatabase, type DatabaseHandle } from "./db/database";
import { backupDatabase, restoreDatabase, type DatabaseCheck } from "./db/backup";
import { parseCamt, type CamtMessage } from "./iso20022/camt";
import { createDomainServices, type DomainServices } from "./services";

/** `npx corridor …`: administration that needs no running relay, on the configured database. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command("corridor").description("Corridor relay administration").showHelpAfterError();

  program
    .command("serve")
    .description("run the relay: API, chain submitter and indexer, webhooks (configured by the environment)")
    .action(async () => {
      const config = loadConfig();
      const deployment = await loadDeployment(config.RPC_URL, config.DEPLOYMENT_FILE);
      const relay = await startRelay(config, { deployment });
      console.log(`Corridor relay listening at ${relay.url}`);
      await new Promise<void>((resolve) => {
        const shutdown = () => {
          process.off("SIGINT", shutdown);
          process.off("SIGTERM", shutdown);
          relay.stop().then(resolve, resolve);
        };
        process.on("SIGINT", shutdown);
        process.on("SIGTERM", shutdown);
      });
    });

  const keys = program.command("keys").description("API keys (shown once, stored hashed)");
  keys
    .command("create")
    .description("create an API key")
    .addOption(new Option("--role <role>", "bank, treasury or admin").choices(["bank", "treasury", "admin"]).makeOptionMandatory())
    .option("--bank <bic>", "the bank's BIC (required for --role bank)")
    .option("--label <label>", "a name to recognise the key by")
    .action(async (options: { role: "bank" | "treasury" | "admin"; bank?: string; label?: string }) => {
      await withDatabase(async (db) => {
        const created = await createAuthService({ db }).createKey({ role: options.role, bic: options.bank, label: options.label });
        if (!created.ok) throw new Error(`${created.code}: ${created.message}`);
        console.log(JSON.stringify({ key: created.value.key, id: created.value.info.id, role: created.value.info.role, bic: created.value.info.bic }, null, 2));
      });
    });
  keys
    .command("list")
    .description("list API keys (never the keys themselves)")
    .action(async () => {
      await withDatabase(async (db) => console.log(JSON.stringify(await createAuthService({ db }).listKeys(), null, 2)));
    });
  keys
    .command("revoke <id>")
    .description("revoke an API key")
    .action(async (id: string) => {
      await withDatabase(async (db) => {
        const revoked = await createAuthService({ db }).revokeKey(id);
        if (!revoked.ok) throw new Error(`${revoked.code}: ${revoked.message}`);
        console.log(`revoked ${id}`);
      });
    });

  const statements = program.command("statements").description("bank statements (camt.053 / camt.054)");
  statements
    .command("import <files...>")
    .description("import statement files; a file already imported changes nothing")
    .action(async (files: string[]) => {
      await withServices(async ({ services, database }) => {
        for (const file of files) {
          const message = readStatementFile(file);
          const imported = await services.statements.import(database.db, message, "cli");
          if (!imported.ok) throw new Error(`${file}: ${imported.code}: ${imported.message}`);
          console.log(JSON.stringify({ file, kind: message.kind, statements: imported.value }));
        }
      });
    });

  program
    .command("reconcile")
    .description("reconcile chain events, ledger transfers and statement entries over a date range")
    .requiredOption("--from <date>", "first value date, YYYY-MM-DD")
    .requiredOption("--to <date>", "last value date, YYYY-MM-DD")
    .option("--currency <codes>", "comma-separated currencies (default: all)")
    .action(async (options: { from: string; to: string; currency?: string }) => {
      await withServices(async ({ services }) => {
        const currencies = options.currency?.split(",").map((c) => c.trim().toUpperCase());
        const run = await services.reconciliation.run({ from: options.from, to: options.to, currencies, requestedBy: "cli" });
        if (!run.ok) throw new Error(`${run.code}: ${run.message}`);
        console.log(JSON.stringify(run.value, null, 2));
      });
    });

  const database = program.command("db").description("the relay's SQLite database (PostgreSQL: use pg_dump and pg_restore)");
  database
    .command("backup <file>")
    .description("copy the database to FILE (safe while the relay runs), then check the copy")
    .option("--force", "overwrite FILE if it exists")
    .action(async (file: string, options: { force?: boolean }) => {
      printCheck("backed up", await backupDatabase(loadConfig().DATABASE_URL, file, { force: options.force }));
    });
  database
    .command("restore <file>")
    .description("replace the database with backup FILE (stop the relay first); the replaced one is kept beside it")
    .action((file: string) => {
      const { restored, previous } = restoreDatabase(loadConfig().DATABASE_URL, file);
      printCheck("restored", restored);
      if (previous) console.log(`the database it replaced is kept as ${previous}`);
    });

  await program.parseAsync(argv);
}

function printCheck(what: string, check: DatabaseCheck): void {
  console.log(JSON.stringify({ [what]: check.file, ...check, file: undefined }, null, 2));
  if (!check.ledgerBalanced) console.warn("warning: the ledger's debits and credits differ in some currency; reconcile before relying on it");
}

function readStatementFile(file: string): CamtMessage {
  try {
    return parseCamt(readFileSync(file, "utf8"));
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new Error(`${file}: ${code ? `${code}: ` : ""}${(error as Error).message}`);
  }
}

/** The domain services on the configured database and chain, closed afterwards. */
async function withServices(work: (context: { services: DomainServices; database: DatabaseHandle }) => Promise<void>): Promise<void> {
  const config = loadConfig();
  const deployment = await loadDeployment(config.RPC_URL, config.DEPLOYMENT_FILE);
  const provider = new JsonRpcProvider(config.RPC_URL, Number(deployment.chainId), { staticNetwork: true });
  const database = await openDatabase(config.DATABASE_URL);
  try {
    await work({ services: createDomainServices({ config, deployment, database, provider }), database });
  } finally {
    provider.destroy();
    await database.close();
  }
}

/** DEPLOYMENT_FILE, or deployments/<chainId>.json for the chain RPC_URL serves. */
export async function loadDeployment(rpcUrl: string, file?: string): Promise<DeploymentRecord> {
  let location = file;
  if (!location) {
    const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
    try {
      location = path.join("deployments", `${(await provider.getNetwork()).chainId}.json`);
    } finally {
      provider.destroy();
    }
  }
  return JSON.parse(readFileSync(location, "utf8")) as DeploymentRecord;
}

async function withDatabase<T>(work: (db: Awaited<ReturnType<typeof openDatabase>>["db"]) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const handle = await openDatabase(config.DATABASE_URL);
  try {
    return await work(handle.db);
  } finally {
    await handle.close();
  }
}
