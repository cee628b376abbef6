import fc from "fast-check";
import { BREAK_CLASSES, type BreakClass, type ChainRecord, type LedgerRecord, type MovementKind, type PaymentReference, type StatementRecord } from "../../../server/reconciliation/types";

/**
 * Random but consistent worlds for reconciliation: payments and funds movements as the chain,
 * the ledger and the bank report them, with faults of every break class injected on distinct
 * items, and the breaks those faults must produce (by item key).
 *
 * Dates: the run covers 2025-03-01..2025-03-03; `now` is 2025-03-04 01:00Z with one day of grace.
 */

export const FROM = "2025-03-01";
export const TO = "2025-03-03";
export const NOW = Date.parse("2025-03-04T01:00:00Z");
export const GRACE_SECONDS = 86_400;
export const CURRENCIES = ["GBP", "EUR", "USD"] as const;
export const ACCOUNT = "GB00CORR00000001";
const DAY_MS = 86_400_000;
const FROM_MS = Date.parse(`${FROM}T00:00:00Z`);

export type ItemFault = Exclude<BreakClass, "unknown_entry" | "reserve_mismatch">;
const FAULTS = BREAK_CLASSES.filter((c): c is ItemFault => c !== "unknown_entry" && c !== "reserve_mismatch");

export interface ItemSpec {
  kind: MovementKind;
  uetr: string;
  amount: number;
  currency: number;
  day: number;
  offsetMs: number;
  statementKey: "uetr" | "end_to_end_id" | "amount_currency_date";
  chainKeyed: boolean;
  reorged: boolean;
  charge: boolean;
  reportedTwice: boolean;
  endToEndGroup: number;
  fault: ItemFault | null;
  duplicateSide: "chain" | "ledger" | "statement";
  /** Without a fault: settled the day before the range (statement in range), or recent and not yet reported. */
  timing: "in_range" | "settled_before" | "recent_unreported" | "stray_before";
}

export interface GhostSpec {
  uetr: string;
  keyedBy: "uetr" | "end_to_end_id" | "nothing";
}

export interface World {
  chain: ChainRecord[];
  ledger: LedgerRecord[];
  statement: StatementRecord[];
  payments: PaymentReference[];
  /** Break class by item key. */
  expected: Map<string, BreakClass>;
}

const itemSpec = fc.record({
  kind: fc.constantFrom<MovementKind>("payment", "payment", "mint", "burn"),
  uetr: fc.uuid({ version: 4 }),
  amount: fc.integer({ min: 1, max: 999_999 }),
  currency: fc.integer({ min: 0, max: CURRENCIES.length - 1 }),
  day: fc.integer({ min: 0, max: 2 }),
  offsetMs: fc.integer({ min: 0, max: DAY_MS - 60_000 }), // the ledger books a second after the chain: same UTC day
  statementKey: fc.constantFrom<ItemSpec["statementKey"]>("uetr", "end_to_end_id", "amount_currency_date"),
  chainKeyed: fc.boolean(),
  reorged: fc.boolean(),
  charge: fc.boolean(),
  reportedTwice: fc.boolean(),
  endToEndGroup: fc.integer({ min: 0, max: 3 }),
  fault: fc.option(fc.constantFrom(...FAULTS), { freq: 2 }),
  duplicateSide: fc.constantFrom<ItemSpec["duplicateSide"]>("chain", "ledger", "statement"),
  timing: fc.constantFrom<ItemSpec["timing"]>("in_range", "in_range", "in_range", "settled_before", "recent_unreported", "stray_before"),
});

const ghostSpec = fc.record({ uetr: fc.uuid({ version: 4 }), keyedBy: fc.constantFrom<GhostSpec["keyedBy"]>("uetr", "end_to_end_id", "nothing") });

/** Worlds of up to `maxItems` items; `withFaults: false` injects none. */
export function worldArbitrary(options: { maxItems: number; withFaults: boolean }): fc.Arbitrary<World> {
  return fc
    .record({
      items: fc.uniqueArray(itemSpec, { minLength: 1, maxLength: options.maxItems, selector: (s) => s.uetr }),
      ghosts: fc.uniqueArray(ghostSpec, { maxLength: options.withFaults ? 3 : 0, selector: (g) => g.uetr }),
    })
    .filter(({ items, ghosts }) => !ghosts.some((g) => items.some((i) => i.uetr === g.uetr)))
    .map(({ items, ghosts }) => buildWorld(items.map((item) => (options.withFaults ? item : { ...item, fault: null })), ghosts));
}

/** Makes each spec consistent (a fault that needs a keyed record gets one), then the records. */
export function buildWorld(specs: readonly ItemSpec[], ghosts: readonly GhostSpec[]): World {
  const world: World = { chain: [], ledger: [], statement: [], payments: [], expected: new Map() };
  specs.forEach((raw, index) => addItem(world, normalize(raw), index));
  ghosts.forEach((ghost, index) => addGhost(world, ghost, index));
  return world;
}

function normalize(spec: ItemSpec): ItemSpec {
  const s = { ...spec };
  if (s.kind !== "payment" && s.statementKey === "end_to_end_id") s.statementKey = "uetr";
  if (s.kind === "payment" || s.fault === "missing_in_ledger" || s.fault === "amount_mismatch" || s.fault === "currency_mismatch" || s.fault === "duplicate") {
    s.chainKeyed = true; // only a funds-in's evidence can lack the movement id; a changed event must keep its key
  }
  if (s.fault === "reversed_after_settlement" && s.statementKey === "amount_currency_date") s.statementKey = "uetr";
  if (s.fault === "duplicate" && s.duplicateSide === "statement") s.statementKey = "uetr";
  if (s.fault !== null) s.timing = "in_range";
  if (s.fault === "missing_in_statement") s.day = 0; // well past the grace period
  if (s.timing === "settled_before" && s.statementKey === "amount_currency_date") s.statementKey = "uetr";
  return s;
}

function addItem(world: World, s: ItemSpec, index: number): void {
  // Distinct amounts keep the amount + currency + date key unambiguous between items.
  const amount = BigInt(s.amount) * 1000n + BigInt(index);
  const currency = CURRENCIES[s.currency];
  const otherCurrency = CURRENCIES[(s.currency + 1) % CURRENCIES.length];
  const dayStart = FROM_MS + DAY_MS * (s.timing === "settled_before" || s.timing === "stray_before" ? -1 : s.timing === "recent_unreported" ? 2 : s.day);
  const time = dayStart + (s.timing === "recent_unreported" ? 3 * 3_600_000 + (s.offsetMs % (20 * 3_600_000)) : s.offsetMs);
  const date = s.timing === "settled_before" ? FROM : new Date(time).toISOString().slice(0, 10);
  const uetr = s.uetr;
  const endToEndId = `E2E-${s.endToEndGroup}`;
  if (s.kind === "payment") world.payments.push({ uetr, endToEndId, amount, currency });

  const fault = s.fault;
  if (fault !== "missing_on_chain") {
    const event: ChainRecord = {
      id: `ev-${uetr}`,
      kind: s.kind,
      uetr: s.chainKeyed ? uetr : null,
      amount: fault === "amount_mismatch" ? amount + 1n : amount,
      currency: fault === "currency_mismatch" ? otherCurrency : currency,
      time,
    };
    world.chain.push(event);
    if (fault === "duplicate" && s.duplicateSide === "chain") world.chain.push({ ...event, id: `ev2-${uetr}` });
  }

  if (fault !== "missing_in_ledger" || s.reorged) {
    const settle = (id: string, undoes = false): LedgerRecord => ({ id, kind: s.kind, uetr, amount, currency, time: time + 1000, undoes });
    if (s.kind !== "payment") world.ledger.push(settle(`funds:${uetr}:${s.kind}`));
    else world.ledger.push(settle(`${uetr}:release`));
    // A reorg undid the settlement; it was applied again, unless the fault is that it never was.
    if (s.reorged) world.ledger.push(settle(`${uetr}:reorg:1:unrelease`, true));
    if (s.reorged && fault !== "missing_in_ledger") world.ledger.push(settle(`${uetr}:reorg:1:release`));
    if (fault === "duplicate" && s.duplicateSide === "ledger") world.ledger.push(settle(`${uetr}:reorg:2:release`));
  }

  const reported = fault !== "missing_in_statement" && s.timing !== "recent_unreported" && s.timing !== "stray_before";
  const entry = (id: string, fields: Partial<StatementRecord>): StatementRecord => ({
    id,
    accountId: ACCOUNT,
    acctSvcrRef: `REF-${uetr}`,
    uetr: s.statementKey === "uetr" ? uetr : null,
    endToEndId: s.statementKey === "end_to_end_id" ? endToEndId : null,
    amount,
    currency,
    direction: s.kind === "burn" ? "DBIT" : "CRDT",
    status: "BOOK",
    date,
    isCharge: false,
    isReversal: false,
    ...fields,
  });
  if (reported) {
    if (s.reportedTwice) world.statement.push(entry(`054-${uetr}`, { status: index % 2 === 0 ? "PDNG" : "BOOK" }));
    world.statement.push(entry(`053-${uetr}`, {}));
    if (fault === "duplicate" && s.duplicateSide === "statement") world.statement.push(entry(`053b-${uetr}`, { acctSvcrRef: `REF2-${uetr}` }));
    if (fault === "reversed_after_settlement") {
      world.statement.push(entry(`rvsl-${uetr}`, { acctSvcrRef: `RVSL-${uetr}`, isReversal: true, direction: "DBIT" }));
    }
  }
  if (s.charge && s.kind === "payment" && s.timing !== "stray_before") {
    // The bank's fee for the payment, booked apart and quoting its UETR.
    world.statement.push(entry(`chrg-${uetr}`, { acctSvcrRef: `CHRG-${uetr}`, uetr, endToEndId: null, amount: 25n, isCharge: true, direction: "DBIT" }));
  }
  if (fault !== null) world.expected.set(`uetr:${uetr}`, fault);
}

/** A statement entry that matches nothing: an unknown UETR, an unknown EndToEndId, or no key at all. */
function addGhost(world: World, ghost: GhostSpec, index: number): void {
  const entry: StatementRecord = {
    id: `ghost-${ghost.uetr}`,
    accountId: ACCOUNT,
    acctSvcrRef: `GHOST-${index}`,
    uetr: ghost.keyedBy === "uetr" ? ghost.uetr : null,
    endToEndId: ghost.keyedBy === "end_to_end_id" ? `UNKNOWN-${index}` : null,
    amount: 7_000_000_000n + BigInt(index),
    currency: "GBP",
    direction: "CRDT",
    status: "BOOK",
    date: FROM,
    isCharge: false,
    isReversal: false,
  };
  world.statement.push(entry);
  world.expected.set(ghost.keyedBy === "uetr" ? `uetr:${ghost.uetr}` : `entry:${ACCOUNT}:GHOST-${index}`, "unknown_entry");
}

/** A booked GBP credit of 2025-03-02 on the operator's account, changed field by field. */
export function bookedEntry(id: string, fields: Partial<StatementRecord>): StatementRecord {
  return {
    id,
    accountId: ACCOUNT,
    acctSvcrRef: id,
    uetr: null,
    endToEndId: null,
    amount: 0n,
    currency: "GBP",
    direction: "CRDT",
    status: "BOOK",
    date: "2025-03-02",
    isCharge: false,
    isReversal: false,
    ...fields,
  };
}
