/**
 * The reconciliation benchmark's two child processes (so that each one's peak RSS is its own):
 *
 * - `generate <db file> <records> <injected file>`: a fresh SQLite database (migrated by
 *   openDatabase), then `records` payments as Released chain events, `:release` ledger transfers
 *   and statement entries, bulk-inserted, with 1 % of the payments given one fault each, the
 *   classes in turn; the expected breaks go to `injected file`. Some payments are reported twice
 *   (camt.054 then camt.053), carry a separate CHRG entry, or are keyed only by EndToEndId or only
 *   by amount + currency + date, so that every matching path is timed.
 * - `run <db file> <injected file>`: the floor (a plain SQL join of the three tables on UETR), then
 *   the reconciliation service over the whole range; prints one `RESULT <json>` line.
 */
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import SqliteDatabase from "better-sqlite3";
import { openDatabase } from "../../../server/db/database";
import { breakId, createReconciliationService, type BreakClass } from "../../../server/reconciliation/service";

export const FROM = "2025-03-01";
export const TO = "2025-03-03";
const FROM_MS = Date.parse(`${FROM}T00:00:00Z`);
const SPAN_MS = 3 * 86_400_000;
const CURRENCIES = ["GBP", "EUR", "USD"];
const ACCOUNT = "GB00CORR00000001";
const BANKS = ["AAAAGB2L", "BBBBDEFF"];
/** One payment in this many gets a fault; one in CHARGE_EVERY a charge, and so on. */
const FAULT_EVERY = 100;
const CHARGE_EVERY = 50;
const TWICE_EVERY = 50;
const BY_END_TO_END_EVERY = 200;
const BY_AMOUNT_EVERY = 199;
const FAULTS: BreakClass[] = [
  "missing_on_chain",
  "missing_in_ledger",
  "missing_in_statement",
  "amount_mismatch",
  "currency_mismatch",
  "duplicate",
  "reversed_after_settlement",
  "unknown_entry",
];

const tokenOf = (currency: string) => `0x${Buffer.from(currency).toString("hex").padStart(40, "0")}`;

/** The injected breaks: class by break id. */
type Injected = Record<string, BreakClass>;

async function generate(file: string, records: number, injectedFile: string): Promise<void> {
  await (await openDatabase(file)).close();
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = OFF");
  const injected: Injected = {};
  const chain = sqlite.prepare(
    "insert into chain_events (id, block_number, block_hash, tx_hash, log_index, name, uetr, args, block_time, amount, token) values (?, ?, ?, ?, 0, 'Released', ?, '{}', ?, ?, ?)",
  );
  const ledger = sqlite.prepare(
    "insert into ledger_transfers (id, kind, debit_account_id, credit_account_id, currency, amount, pending_id, uetr, reference, created_at) values (?, 'post_pending', ?, ?, ?, ?, null, ?, null, ?)",
  );
  const entry = sqlite.prepare(
    `insert into statement_entries (id, statement_id, account_id, acct_svcr_ref, uetr, end_to_end_id, amount, currency, credit_debit, status, booking_date, value_date, is_charge, reversal, imported_at)
     values (?, 'stmt', '${ACCOUNT}', ?, ?, ?, ?, ?, 'CRDT', ?, ?, ?, ?, ?, 0)`,
  );
  const payment = sqlite.prepare(
    `insert into payments (uetr, end_to_end_id, debtor_bic, creditor_bic, currency, amount, expires_at, status, created_at, updated_at) values (?, ?, '${BANKS[0]}', '${BANKS[1]}', ?, ?, 0, 'SETTLED', 0, 0)`,
  );

  sqlite.transaction(() => {
    for (const bic of BANKS) sqlite.prepare("insert into participants values (?, ?, 'GB', ?, 'active', null, null, 0)").run(bic, bic, `0x${bic}`);
    for (const currency of CURRENCIES) {
      for (const bic of BANKS) sqlite.prepare("insert into ledger_accounts values (?, 'bank', ?, ?, 0, '0', '0', '0', '0', 0)").run(`bank:${bic}:${currency}`, bic, currency);
    }
    sqlite
      .prepare("insert into statements (id, kind, message_id, statement_id, account_id, created_at, content_hash, imported_by, imported_at) values ('stmt', 'camt.053', 'm', 's', ?, 0, 'h', 'bench', 0)")
      .run(ACCOUNT);
  })();

  const BATCH = 50_000;
  for (let start = 0; start < records; start += BATCH) {
    sqlite.transaction(() => {
      for (let i = start; i < Math.min(records, start + BATCH); i++) {
        const uetr = randomUUID();
        const currency = CURRENCIES[i % CURRENCIES.length];
        // Unique amounts: the amount + currency + date key is unambiguous, as payments' mostly are.
        const amount = BigInt(i) * 1000n + BigInt(1 + (i % 997));
        const time = FROM_MS + Math.floor((i / records) * SPAN_MS);
        const date = new Date(time).toISOString().slice(0, 10);
        const fault = i % FAULT_EVERY === 0 ? FAULTS[(i / FAULT_EVERY) % FAULTS.length] : undefined;
        if (fault === "unknown_entry") {
          // The payment itself stays sound; the bank books something nobody sent beside it.
          const stranger = randomUUID();
          injected[breakId(`uetr:${stranger}`)] = fault;
          entry.run(`u-${i}`, `U-${i}`, stranger, null, (amount + 1n).toString(), currency, "BOOK", date, date, 0, 0);
        } else if (fault !== undefined) {
          injected[breakId(`uetr:${uetr}`)] = fault;
        }
        const token = tokenOf(currency);
        if (fault !== "missing_on_chain") chain.run(`ev-${i}`, i, `0xb${i}`, `0xt${i}`, uetr, time, amount.toString(), token);
        if (fault === "duplicate") chain.run(`ev-${i}-again`, i, `0xb${i}`, `0xt${i}b`, uetr, time, amount.toString(), token);
        if (fault !== "missing_in_ledger") ledger.run(`${uetr}:release`, `bank:${BANKS[0]}:${currency}`, `bank:${BANKS[1]}:${currency}`, currency, amount.toString(), uetr, time);
        if (fault === "missing_in_statement") continue;
        // A changed amount or currency under the amount + currency + date key would be a different key: faulted payments keep their UETR.
        const byEndToEnd = fault === undefined && i % BY_END_TO_END_EVERY === 1;
        const byAmount = fault === undefined && i % BY_AMOUNT_EVERY === 2;
        const stated = fault === "amount_mismatch" ? amount - 1n : amount;
        const statedCurrency = fault === "currency_mismatch" ? CURRENCIES[(i + 1) % CURRENCIES.length] : currency;
        const keyUetr = byEndToEnd || byAmount ? null : uetr;
        const endToEndId = byEndToEnd ? `E2E-${i}` : null;
        if (byEndToEnd) payment.run(uetr, endToEndId, currency, amount.toString());
        if (i % TWICE_EVERY === 3) entry.run(`n-${i}`, `R-${i}`, keyUetr, endToEndId, stated.toString(), statedCurrency, "PDNG", date, date, 0, 0);
        entry.run(`s-${i}`, `R-${i}`, keyUetr, endToEndId, stated.toString(), statedCurrency, "BOOK", date, date, 0, 0);
        if (i % CHARGE_EVERY === 4) entry.run(`c-${i}`, `C-${i}`, uetr, null, "250", currency, "BOOK", date, date, 1, 0);
        if (fault === "reversed_after_settlement") entry.run(`r-${i}`, `V-${i}`, uetr, null, stated.toString(), currency, "BOOK", date, date, 0, 1);
      }
    })();
  }
  sqlite.close();
  writeFileSync(injectedFile, JSON.stringify(injected));
  console.log("GENERATED");
}

async function run(file: string, injectedFile: string): Promise<void> {
  const injected = JSON.parse(readFileSync(injectedFile, "utf8")) as Injected;
  const handle = await openDatabase(file);
  const floorStarted = process.hrtime.bigint();
  const sqlite = new SqliteDatabase(file, { readonly: true });
  const floor = sqlite
    .prepare(
      `select count(*) as matched from chain_events c
       join ledger_transfers l on l.uetr = c.uetr and l.id like '%:release'
       join statement_entries s on s.uetr = c.uetr and s.is_charge = 0
       where c.name = 'Released' and l.amount = c.amount and s.amount = c.amount and s.currency = l.currency`,
    )
    .get() as { matched: number };
  const floorSeconds = Number(process.hrtime.bigint() - floorStarted) / 1e9;
  sqlite.close();

  const currencyByToken = new Map(CURRENCIES.map((c) => [tokenOf(c), c]));
  const service = createReconciliationService({
    db: handle.db,
    dialect: "sqlite",
    currencyOfToken: (address) => currencyByToken.get(address.toLowerCase()),
    tokenSupply: async () => 0n,
    config: { graceSeconds: 86_400, reserveAccounts: {} },
  });
  const started = process.hrtime.bigint();
  const result = await service.run({ from: FROM, to: TO, requestedBy: "bench", now: Date.parse("2025-03-10T00:00:00Z") });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (!result.ok) throw new Error(`run refused: ${result.code}`);

  const found = await handle.db.selectFrom("recon_breaks").select(["id", "class"]).execute();
  const foundById = new Map(found.map((b) => [b.id, b.class]));
  const missed = Object.keys(injected).filter((id) => foundById.get(id) !== injected[id]);
  const invented = found.filter((b) => injected[b.id] === undefined).length;
  await handle.close();
  const counts = result.value.counts!;
  console.log(
    `RESULT ${JSON.stringify({
      seconds,
      records: counts.chain.read + counts.ledger.read + counts.statement.read,
      counts,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      injected: Object.keys(injected).length,
      found: found.length,
      missed: missed.length,
      invented,
      floor: { seconds: floorSeconds, matched: floor.matched },
    })}`,
  );
}

const [phase, file, ...rest] = process.argv.slice(2);
const work = phase === "generate" ? generate(file, Number(rest[0]), rest[1]) : run(file, rest[0]);
work.catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
