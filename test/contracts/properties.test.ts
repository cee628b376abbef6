/**
 * Model-based property tests: random sequences of token, escrow, PvP, netting, registry, pause and
 * time commands run against the contracts and against a small in-memory model of the corridor.
 * The model predicts every balance, total supply, payment state and, for commands that must fail,
 * the exact custom error; after every step the chain is compared with the model.
 */
import { expect } from "chai";
import fc from "fast-check";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { id, sha256, toBeHex, type BaseContract, type ContractTransactionReceipt, type ContractTransactionResponse } from "ethers";
import type { DepositToken } from "../../typechain-types";
import { DEFAULT_DEMO_LIMITS } from "../../scripts/lib/demo";
import { currencyExponent, majorToMinorUnits } from "../../server/config/currencies";
import { computeNetPositions, type Obligation } from "../../server/settlement/net-positions";
import { buildMerkleTree } from "../../server/settlement/merkle";
import {
  ZERO_BYTES16,
  ZERO_BYTES32,
  paymentLeafHash,
  type LockTerms,
  type NetPosition,
} from "../../server/chain/typed-data";
import {
  TEST_BANKS,
  TEST_CURRENCIES,
  approveWindow,
  deployCorridorFixture,
  signPvP,
  signRelease,
  signWindow,
  type CorridorFixture,
} from "./fixtures";

const NUM_RUNS = 200;
const BANK_COUNT = TEST_BANKS.length;
const TOKEN_COUNT = TEST_CURRENCIES.length;
const MAX_LOCK_DURATION = 30n * 24n * 3600n; // SettlementEscrow.MAX_LOCK_DURATION

/** Mirrors ISettlementEscrow.PaymentState. */
enum PaymentState {
  None = 0,
  Locked = 1,
  Released = 2,
  Refunded = 3,
}

/** Mirrors IParticipantRegistry.Status. */
enum Status {
  Active = 1,
  Suspended = 2,
}

/** What can be paused: the escrow, the netting contract and each deposit token. */
const PAUSE_ESCROW = 0;
const PAUSE_NETTING = 1;
const pauseOfToken = (token: number) => 2 + token;
const PAUSE_TARGETS = 2 + TOKEN_COUNT;

/** A predicted revert: which contract's ABI declares the error, and its name. */
interface Failure {
  source: "escrow" | "netting" | "registry" | "token";
  error: string;
}
const fail = (source: Failure["source"], error: string): Failure => ({ source, error });

interface Payment {
  terms: LockTerms;
  token: number;
  state: PaymentState;
  /** The hashlock's preimage, or null for an attested payment. */
  preimage: string | null;
}

interface PvPPair {
  legA: LockTerms;
  legB: LockTerms;
  preimage: string | null;
}

// ---------------------------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------------------------

class CorridorModel {
  readonly supply: bigint[];
  readonly suspended: boolean[] = Array<boolean>(BANK_COUNT).fill(false);
  readonly paused: boolean[] = Array<boolean>(PAUSE_TARGETS).fill(false);
  readonly singlePaymentCap: bigint[];
  readonly netDebitCap: bigint[];
  /** Every payment ever locked, by UETR (insertion order is lock order). */
  readonly payments = new Map<string, Payment>();
  readonly pvpPairs: PvPPair[] = [];
  readonly usedEvidence: string[][];
  readonly settledWindows: string[] = [];
  /** Every UETR a lock was attempted with; those never locked must stay unknown to the escrow. */
  readonly attemptedUetrs = new Set<string>();
  private readonly balances: Map<string, bigint>[];
  private counter = 0;

  constructor(
    readonly banks: readonly string[],
    readonly tokens: readonly string[],
    readonly escrow: string,
    readonly netting: string,
  ) {
    const { balanceMajor, singlePaymentCapMajor, netDebitCapMajor } = DEFAULT_DEMO_LIMITS;
    const initial = TEST_CURRENCIES.map((c) => majorToMinorUnits(balanceMajor, c));
    this.singlePaymentCap = TEST_CURRENCIES.map((c) => majorToMinorUnits(singlePaymentCapMajor, c));
    this.netDebitCap = TEST_CURRENCIES.map((c) => majorToMinorUnits(netDebitCapMajor, c));
    this.supply = initial.map((amount) => amount * BigInt(BANK_COUNT));
    this.balances = initial.map((amount) => new Map(banks.map((bank) => [bank.toLowerCase(), amount])));
    this.usedEvidence = TEST_CURRENCIES.map((c) => TEST_BANKS.map((bank) => id(`demo-mint:${bank.bic}:${c}`)));
  }

  balanceOf(token: number, account: string): bigint {
    return this.balances[token].get(account.toLowerCase()) ?? 0n;
  }

  tokenIndex(address: string): number {
    const index = this.tokens.findIndex((t) => t.toLowerCase() === address.toLowerCase());
    if (index < 0) throw new Error(`model: unknown token ${address}`);
    return index;
  }

  transfer(token: number, from: string, to: string, amount: bigint): void {
    const available = this.balanceOf(token, from);
    if (available < amount) throw new Error(`model: ${from} cannot pay ${amount} of token ${token}`);
    this.balances[token].set(from.toLowerCase(), available - amount);
    this.balances[token].set(to.toLowerCase(), this.balanceOf(token, to) + amount);
  }

  mint(token: number, to: string, amount: bigint, evidence: string): void {
    this.balances[token].set(to.toLowerCase(), this.balanceOf(token, to) + amount);
    this.supply[token] += amount;
    this.usedEvidence[token].push(evidence);
  }

  burn(token: number, from: string, amount: bigint, evidence: string): void {
    const available = this.balanceOf(token, from);
    if (available < amount) throw new Error(`model: cannot burn ${amount} from ${from}`);
    this.balances[token].set(from.toLowerCase(), available - amount);
    this.supply[token] -= amount;
    this.usedEvidence[token].push(evidence);
  }

  lock(terms: LockTerms, preimage: string | null): void {
    const token = this.tokenIndex(terms.token);
    this.transfer(token, terms.payer, this.escrow, terms.amount);
    this.payments.set(terms.uetr, { terms, token, state: PaymentState.Locked, preimage });
  }

  /** Records a payment's one and only outcome and moves its tokens out of escrow. */
  settle(uetr: string, outcome: PaymentState.Released | PaymentState.Refunded): void {
    const payment = this.payments.get(uetr);
    if (!payment || payment.state !== PaymentState.Locked) {
      throw new Error(`model: payment ${uetr} would get a second outcome (${PaymentState[payment?.state ?? 0]})`);
    }
    payment.state = outcome;
    const to = outcome === PaymentState.Released ? payment.terms.payee : payment.terms.payer;
    this.transfer(payment.token, this.escrow, to, payment.terms.amount);
  }

  openLocks(): Payment[] {
    return [...this.payments.values()].filter((p) => p.state === PaymentState.Locked);
  }

  escrowHeld(token: number): bigint {
    return this.openLocks()
      .filter((p) => p.token === token)
      .reduce((sum, p) => sum + p.terms.amount, 0n);
  }

  /**
   * A payment chosen by index: when `openOnly`, among the open locks that pass `filter` (or all
   * open locks, if none does) if there are any; otherwise among all payments, settled ones included.
   */
  pickPayment(index: number, openOnly: boolean, filter: (p: Payment) => boolean = () => true): Payment {
    const open = this.openLocks();
    const preferred = open.filter(filter);
    const pool = !openOnly || open.length === 0 ? [...this.payments.values()] : preferred.length > 0 ? preferred : open;
    return pool[index % pool.length];
  }

  /** A PvP pair chosen by index: when `openOnly`, among pairs whose both legs are locked, if any. */
  pickPvPPair(index: number, openOnly: boolean): PvPPair {
    const isOpen = (terms: LockTerms) => this.payments.get(terms.uetr)?.state === PaymentState.Locked;
    const open = this.pvpPairs.filter((pair) => isOpen(pair.legA) && isOpen(pair.legB));
    const pool = openOnly && open.length > 0 ? open : this.pvpPairs;
    return pool[index % pool.length];
  }

  nextUetr(): string {
    const uetr = toBeHex(++this.counter, 16);
    this.attemptedUetrs.add(uetr);
    return uetr;
  }

  nextPreimage(): string {
    return id(`property-preimage:${++this.counter}`);
  }

  nextId(kind: string): string {
    return id(`property-${kind}:${++this.counter}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The system under test and chain helpers
// ---------------------------------------------------------------------------------------------

interface Real {
  fx: CorridorFixture;
  tokens: DepositToken[];
}

function contractFor(r: Real, source: Failure["source"]): BaseContract {
  if (source === "escrow") return r.fx.escrow;
  if (source === "netting") return r.fx.netting;
  if (source === "registry") return r.fx.registry;
  return r.tokens[0]; // every deposit token has the same ABI
}

/** Pins the timestamp of the next block (so the model knows it exactly) and returns it. */
async function pinNextBlockTime(): Promise<bigint> {
  const next = BigInt(await time.latest()) + 1n;
  await time.setNextBlockTimestamp(next);
  return next;
}

/** Sends a transaction that must revert with `failure`, or succeed when `failure` is null. */
async function submit(
  r: Real,
  failure: Failure | null,
  send: () => Promise<ContractTransactionResponse>,
): Promise<ContractTransactionReceipt | null> {
  if (failure) {
    await expect(send()).to.be.revertedWithCustomError(contractFor(r, failure.source), failure.error);
    return null;
  }
  const receipt = await (await send()).wait();
  if (!receipt) throw new Error("no receipt");
  return receipt;
}

/** The escrow's Released/Refunded events in a receipt, as "Released:<uetr>". */
function outcomeEvents(r: Real, receipt: ContractTransactionReceipt): string[] {
  const escrow = (r.fx.escrow.target as string).toLowerCase();
  return receipt.logs.flatMap((log) => {
    if (log.address.toLowerCase() !== escrow) return [];
    const parsed = r.fx.escrow.interface.parseLog(log);
    if (!parsed || (parsed.name !== "Released" && parsed.name !== "Refunded")) return [];
    return [`${parsed.name}:${(parsed.args[0] as string).toLowerCase()}`];
  });
}

/** Every on-chain quantity the model predicts, compared after every step. */
async function checkInvariants(m: CorridorModel, r: Real): Promise<void> {
  const { fx, tokens } = r;
  const perToken = tokens.map((token) =>
    Promise.all([
      token.totalSupply(),
      token.balanceOf(fx.escrow),
      token.balanceOf(fx.netting),
      token.paused(),
      ...fx.banks.map((bank) => token.balanceOf(bank)),
    ]),
  );
  const payments = [...m.payments.values()];
  const neverLocked = [...m.attemptedUetrs].filter((uetr) => !m.payments.has(uetr));
  const [tokenFacts, states, unknownStates, escrowPaused, nettingPaused, statuses] = await Promise.all([
    Promise.all(perToken),
    Promise.all(payments.map((p) => fx.escrow.paymentState(p.terms.uetr))),
    Promise.all(neverLocked.map((uetr) => fx.escrow.paymentState(uetr))),
    fx.escrow.paused(),
    fx.netting.paused(),
    Promise.all(fx.banks.map((bank) => fx.registry.participant(bank))),
  ]);

  tokenFacts.forEach(([supply, escrowBalance, nettingBalance, tokenPaused, ...bankBalances], t) => {
    const currency = TEST_CURRENCIES[t];
    // (1) total supply moves only by mint and burn
    expect(supply, `(1) ${currency} total supply`).to.equal(m.supply[t]);
    // (2) the escrow holds exactly the open locks
    expect(escrowBalance, `(2) escrow ${currency} balance = sum of open locks`).to.equal(m.escrowHeld(t));
    expect(m.balanceOf(t, m.escrow), `model: escrow ${currency} account = open locks`).to.equal(m.escrowHeld(t));
    expect(nettingBalance, `netting contract keeps no ${currency}`).to.equal(0n);
    bankBalances.forEach((balance, b) => {
      expect(balance, `bank ${b} ${currency} balance`).to.equal(m.balanceOf(t, m.banks[b]));
    });
    const held = m.banks.reduce((sum, bank) => sum + m.balanceOf(t, bank), m.escrowHeld(t));
    expect(held, `model: ${currency} balances add up to the supply`).to.equal(m.supply[t]);
    expect(tokenPaused, `${currency} paused`).to.equal(m.paused[pauseOfToken(t)]);
  });
  // (3) each payment has the single outcome the model recorded
  states.forEach((state, i) => {
    expect(Number(state), `(3) paymentState(${payments[i].terms.uetr})`).to.equal(payments[i].state);
  });
  unknownStates.forEach((state, i) => {
    expect(Number(state), `(3) paymentState(${neverLocked[i]}) of a failed lock`).to.equal(PaymentState.None);
  });
  expect(escrowPaused, "escrow paused").to.equal(m.paused[PAUSE_ESCROW]);
  expect(nettingPaused, "netting paused").to.equal(m.paused[PAUSE_NETTING]);
  statuses.forEach((participant, b) => {
    expect(Number(participant.status), `bank ${b} status`).to.equal(m.suspended[b] ? Status.Suspended : Status.Active);
  });
}

// ---------------------------------------------------------------------------------------------
// Predictions shared by several commands
// ---------------------------------------------------------------------------------------------

interface PlannedLock {
  terms: LockTerms;
  token: number;
  payee: number;
  preimage: string | null;
}

/** Why `lock`/`lockBatch` of `locks` by bank `payer` at time `now` must revert, or null. */
function lockFailure(m: CorridorModel, payer: number, locks: readonly PlannedLock[], now: bigint): Failure | null {
  if (m.paused[PAUSE_ESCROW]) return fail("escrow", "EnforcedPause");
  const spent = Array<bigint>(TOKEN_COUNT).fill(0n);
  const seen = new Set<string>();
  for (const { terms, token, payee } of locks) {
    if (terms.amount === 0n) return fail("escrow", "ZeroAmount");
    if (terms.expiry <= now) return fail("escrow", "ExpiryNotInFuture");
    if (terms.expiry > now + MAX_LOCK_DURATION) return fail("escrow", "ExpiryTooFar");
    if (payee === payer) return fail("escrow", "PayerIsPayee");
    if (m.payments.has(terms.uetr) || seen.has(terms.uetr)) return fail("escrow", "PaymentAlreadyExists");
    if (m.suspended[payer] || m.suspended[payee]) return fail("registry", "ParticipantSuspended");
    if (terms.amount > m.singlePaymentCap[token]) return fail("registry", "SinglePaymentCapExceeded");
    if (m.paused[pauseOfToken(token)]) return fail("token", "EnforcedPause");
    if (terms.amount > m.balanceOf(token, terms.payer) - spent[token]) return fail("token", "ERC20InsufficientBalance");
    spent[token] += terms.amount;
    seen.add(terms.uetr);
  }
  return null;
}

/** Why a payment cannot be released or refunded because of its recorded state or wrong terms. */
function lockedFailure(m: CorridorModel, terms: LockTerms): Failure | null {
  const payment = m.payments.get(terms.uetr);
  if (!payment) return fail("escrow", "PaymentNotFound");
  if (payment.state === PaymentState.Released) return fail("escrow", "PaymentAlreadyReleased");
  if (payment.state === PaymentState.Refunded) return fail("escrow", "PaymentAlreadyRefunded");
  if (terms.amount !== payment.terms.amount) return fail("escrow", "TermsMismatch");
  return null;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries for command parameters
// ---------------------------------------------------------------------------------------------

/** True about one time in five: for the variants that must fail. */
const rarely = fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });
const usually = rarely.map((x) => !x);
const bankArb = fc.nat({ max: BANK_COUNT - 1 });
const tokenArb = fc.nat({ max: TOKEN_COUNT - 1 });
/** An amount as whole units plus a fraction; mostly within the single-payment cap, sometimes above or zero. */
const amountArb = fc.record({
  major: fc.oneof(
    { weight: 6, arbitrary: fc.bigInt({ min: 0n, max: 1_100_000n }) },
    { weight: 1, arbitrary: fc.constant(DEFAULT_DEMO_LIMITS.singlePaymentCapMajor) },
  ),
  minor: fc.bigInt({ min: 0n, max: 999n }),
});
type AmountSpec = { major: bigint; minor: bigint };
/** Counterparty selector: 0 is the bank itself (must fail), else one of the other banks. */
const counterpartyArb = fc.nat({ max: 7 });
/** Seconds from the lock's block to its expiry: mostly valid, sometimes past or beyond 30 days. */
const expiryOffsetArb = fc.oneof(
  { weight: 1, arbitrary: fc.integer({ min: -60, max: 0 }) },
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 7200 }) },
  { weight: 1, arbitrary: fc.constantFrom(86_400, 30 * 86_400, 30 * 86_400 + 1) },
);
/** PvP legs are mostly valid, so that many pairs get both legs locked. */
const pvpAmountArb = fc.oneof(
  { weight: 9, arbitrary: fc.record({ major: fc.bigInt({ min: 1n, max: 999_999n }), minor: fc.bigInt({ min: 0n, max: 999n }) }) },
  { weight: 1, arbitrary: amountArb },
);
const pvpExpiryOffsetArb = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(0, 30 * 86_400 + 1) },
  { weight: 9, arbitrary: fc.integer({ min: 60, max: 7200 }) },
);

function amountOf(spec: AmountSpec, token: number): bigint {
  const scale = 10n ** BigInt(currencyExponent(TEST_CURRENCIES[token]));
  return spec.major * scale + (spec.minor % scale);
}

function counterparty(bank: number, selector: number): number {
  return selector === 0 ? bank : (bank + 1 + ((selector - 1) % (BANK_COUNT - 1))) % BANK_COUNT;
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

type Exec<P> = (m: CorridorModel, r: Real, p: P) => Promise<void>;

/** One command: runs against chain and model, then checks every invariant. */
class Step<P> implements fc.AsyncCommand<CorridorModel, Real> {
  constructor(
    private readonly name: string,
    private readonly params: P,
    private readonly exec: Exec<P>,
    private readonly ready: (m: CorridorModel) => boolean,
  ) {}

  check(m: Readonly<CorridorModel>): boolean {
    return this.ready(m as CorridorModel);
  }

  async run(m: CorridorModel, r: Real): Promise<void> {
    await this.exec(m, r, this.params);
    await checkInvariants(m, r);
  }

  toString(): string {
    return `${this.name}${fc.stringify(this.params)}`;
  }
}

function command<P>(
  name: string,
  params: fc.Arbitrary<P>,
  exec: Exec<P>,
  ready: (m: CorridorModel) => boolean = () => true,
): fc.Arbitrary<Step<P>> {
  return params.map((p) => new Step(name, p, exec, ready));
}

const hasPayments = (m: CorridorModel) => m.payments.size > 0;

// --- mint ---

interface MintParams {
  bank: number;
  token: number;
  amount: AmountSpec;
  reuseEvidence: boolean;
}

async function mint(m: CorridorModel, r: Real, p: MintParams): Promise<void> {
  const to = m.banks[p.bank];
  const amount = amountOf(p.amount, p.token);
  const used = m.usedEvidence[p.token];
  const evidence = p.reuseEvidence ? used[used.length - 1] : m.nextId("mint");
  let failure: Failure | null = null;
  if (amount === 0n) failure = fail("token", "ZeroAmount");
  else if (used.includes(evidence)) failure = fail("token", "EvidenceAlreadyUsed");
  else if (m.paused[pauseOfToken(p.token)]) failure = fail("token", "EnforcedPause");
  else if (m.suspended[p.bank]) failure = fail("token", "HolderNotAllowed");
  await pinNextBlockTime();
  await submit(r, failure, () => r.tokens[p.token].connect(r.fx.admin).mint(to, amount, evidence));
  if (!failure) m.mint(p.token, to, amount, evidence);
}

// --- burn ---

interface BurnParams {
  bank: number;
  token: number;
  /** Share of the bank's balance to burn, in percent; above 100 must fail. */
  percent: number;
}

async function burn(m: CorridorModel, r: Real, p: BurnParams): Promise<void> {
  const bank = r.fx.banks[p.bank];
  const amount = (m.balanceOf(p.token, bank.address) * BigInt(p.percent)) / 100n;
  const evidence = m.nextId("burn");
  const token = r.tokens[p.token];
  await pinNextBlockTime();
  await submit(r, null, () => token.connect(bank).approve(r.fx.admin, amount));
  let failure: Failure | null = null;
  if (amount === 0n) failure = fail("token", "ZeroAmount");
  else if (m.paused[pauseOfToken(p.token)]) failure = fail("token", "EnforcedPause");
  else if (amount > m.balanceOf(p.token, bank.address)) failure = fail("token", "ERC20InsufficientBalance");
  await pinNextBlockTime();
  await submit(r, failure, () => token.connect(r.fx.admin).burn(bank, amount, evidence));
  if (!failure) m.burn(p.token, bank.address, amount, evidence);
}

// --- lock and lockBatch ---

interface LockSpec {
  payee: number;
  token: number;
  amount: AmountSpec;
  expiryOffset: number;
  hashlocked: boolean;
}

const lockSpecArb = fc.record({
  payee: counterpartyArb,
  token: tokenArb,
  amount: amountArb,
  expiryOffset: expiryOffsetArb,
  hashlocked: fc.boolean(),
});

interface LockPlanInput {
  payer: number;
  payee: number;
  token: number;
  amount: bigint;
  expiry: bigint;
  preimage: string | null;
  uetr: string;
  linkedUetr?: string;
}

function planLock(m: CorridorModel, input: LockPlanInput): PlannedLock {
  const terms: LockTerms = {
    uetr: input.uetr,
    payer: m.banks[input.payer],
    payee: m.banks[input.payee],
    token: m.tokens[input.token],
    amount: input.amount,
    expiry: input.expiry,
    hashlock: input.preimage === null ? ZERO_BYTES32 : sha256(input.preimage),
    linkedUetr: input.linkedUetr ?? ZERO_BYTES16,
  };
  return { terms, token: input.token, payee: input.payee, preimage: input.preimage };
}

function planGrossLock(m: CorridorModel, payer: number, spec: LockSpec, now: bigint): PlannedLock {
  return planLock(m, {
    payer,
    payee: counterparty(payer, spec.payee),
    token: spec.token,
    amount: amountOf(spec.amount, spec.token),
    expiry: now + BigInt(spec.expiryOffset),
    preimage: spec.hashlocked ? m.nextPreimage() : null,
    uetr: m.nextUetr(),
  });
}

/** The LockRequest a payer submits for these terms (the payer is the caller). */
const requestOf = ({ payer: _payer, ...request }: LockTerms) => request;

interface LockParams {
  payer: number;
  lock: LockSpec;
}

async function lock(m: CorridorModel, r: Real, p: LockParams): Promise<void> {
  const now = await pinNextBlockTime();
  const plan = planGrossLock(m, p.payer, p.lock, now);
  const failure = lockFailure(m, p.payer, [plan], now);
  await submit(r, failure, () => r.fx.escrow.connect(r.fx.banks[p.payer]).lock(requestOf(plan.terms)));
  if (!failure) m.lock(plan.terms, plan.preimage);
}

interface LockBatchParams {
  payer: number;
  locks: LockSpec[];
  /** Give the last request the first one's UETR: the whole batch must revert. */
  duplicateUetr: boolean;
}

async function lockBatch(m: CorridorModel, r: Real, p: LockBatchParams): Promise<void> {
  const now = await pinNextBlockTime();
  const plans = p.locks.map((spec) => planGrossLock(m, p.payer, spec, now));
  if (p.duplicateUetr && plans.length > 1) plans[plans.length - 1].terms.uetr = plans[0].terms.uetr;
  const failure = lockFailure(m, p.payer, plans, now);
  const requests = plans.map((plan) => requestOf(plan.terms));
  await submit(r, failure, () => r.fx.escrow.connect(r.fx.banks[p.payer]).lockBatch(requests));
  if (!failure) for (const plan of plans) m.lock(plan.terms, plan.preimage);
}

// --- PvP: lock two linked legs, then settle them together ---

interface LockPvPParams {
  bankA: number;
  counterparty: number;
  tokenA: number;
  /** Leg B's token is another token than leg A's. */
  tokenBShift: number;
  amountA: AmountSpec;
  amountB: AmountSpec;
  expiryOffsetA: number;
  expiryOffsetB: number;
  hashlocked: boolean;
}

/** Leg A pays bank B in token A; leg B pays bank A in token B; each names the other. */
async function lockPvP(m: CorridorModel, r: Real, p: LockPvPParams): Promise<void> {
  const bankB = counterparty(p.bankA, p.counterparty);
  const tokenB = (p.tokenA + 1 + (p.tokenBShift % (TOKEN_COUNT - 1))) % TOKEN_COUNT;
  const preimage = p.hashlocked ? m.nextPreimage() : null;
  const uetrA = m.nextUetr();
  const uetrB = m.nextUetr();
  const legs = [
    { payer: p.bankA, payee: bankB, token: p.tokenA, amount: p.amountA, offset: p.expiryOffsetA, uetr: uetrA, linkedUetr: uetrB },
    { payer: bankB, payee: p.bankA, token: tokenB, amount: p.amountB, offset: p.expiryOffsetB, uetr: uetrB, linkedUetr: uetrA },
  ];
  const terms: LockTerms[] = [];
  for (const leg of legs) {
    const now = await pinNextBlockTime();
    const plan = planLock(m, {
      ...leg,
      amount: amountOf(leg.amount, leg.token),
      expiry: now + BigInt(leg.offset),
      preimage,
    });
    const failure = lockFailure(m, leg.payer, [plan], now);
    await submit(r, failure, () => r.fx.escrow.connect(r.fx.banks[leg.payer]).lock(requestOf(plan.terms)));
    if (!failure) m.lock(plan.terms, preimage);
    terms.push(plan.terms);
  }
  m.pvpPairs.push({ legA: terms[0], legB: terms[1], preimage });
}

type Authorization = "attester" | "payee" | "stranger";

interface SettlePvPParams {
  pair: number;
  /** Prefer a pair whose both legs are locked. */
  openOnly: boolean;
  /** Submit leg B as the first leg. */
  swap: boolean;
  /** A valid preimage or attester signature, or an invalid one (payee's or stranger's). */
  authorization: Authorization;
}

async function settlePvP(m: CorridorModel, r: Real, p: SettlePvPParams): Promise<void> {
  const pair = m.pickPvPPair(p.pair, p.openOnly);
  const [legA, legB] = p.swap ? [pair.legB, pair.legA] : [pair.legA, pair.legB];
  const valid = p.authorization === "attester";
  const authorization =
    pair.preimage !== null
      ? valid
        ? pair.preimage
        : id("not the preimage")
      : await signPvP(r.fx, valid ? r.fx.admin : r.fx.banks[m.banks.indexOf(legA.payee)], legA, legB);
  const now = await pinNextBlockTime();
  const failure = ((): Failure | null => {
    if (m.paused[PAUSE_ESCROW]) return fail("escrow", "EnforcedPause");
    for (const leg of [legA, legB]) {
      const stateFailure = lockedFailure(m, leg);
      if (stateFailure) return stateFailure;
      if (now >= leg.expiry) return fail("escrow", "LockExpired");
    }
    if (!valid) return fail("escrow", pair.preimage !== null ? "InvalidPreimage" : "InvalidAttestation");
    for (const leg of [legA, legB]) {
      if (m.suspended[m.banks.indexOf(leg.payee)]) return fail("registry", "ParticipantSuspended");
    }
    for (const leg of [legA, legB]) {
      if (m.paused[pauseOfToken(m.tokenIndex(leg.token))]) return fail("token", "EnforcedPause");
    }
    return null;
  })();
  const receipt = await submit(r, failure, () => r.fx.escrow.connect(r.fx.outsider).settlePvP(legA, legB, authorization));
  if (receipt) {
    expect(outcomeEvents(r, receipt), "(3) one Released event per leg").to.deep.equal([
      `Released:${legA.uetr}`,
      `Released:${legB.uetr}`,
    ]);
    m.settle(legA.uetr, PaymentState.Released);
    m.settle(legB.uetr, PaymentState.Released);
  }
}

// --- release and refund ---

interface ReleaseParams {
  payment: number;
  /** Prefer open locks; otherwise any payment, settled ones included (must fail). */
  openOnly: boolean;
  /** Attester or payee signature / the preimage (valid), or the payer's signature / a wrong preimage. */
  authorization: Authorization;
  /** Pass terms with a different amount (must fail with TermsMismatch). */
  tamper: boolean;
}

async function release(m: CorridorModel, r: Real, p: ReleaseParams): Promise<void> {
  const payment = m.pickPayment(p.payment, p.openOnly, (x) => x.terms.linkedUetr === ZERO_BYTES16);
  const terms = p.tamper ? { ...payment.terms, amount: payment.terms.amount + 1n } : payment.terms;
  const valid = p.authorization !== "stranger";
  let authorization: string;
  if (payment.preimage !== null) {
    authorization = valid ? payment.preimage : id("not the preimage");
  } else {
    const signerAddress = p.authorization === "payee" ? terms.payee : terms.payer;
    const signer = p.authorization === "attester" ? r.fx.admin : r.fx.banks[m.banks.indexOf(signerAddress)];
    authorization = await signRelease(r.fx, signer, terms);
  }
  const now = await pinNextBlockTime();
  const failure = ((): Failure | null => {
    if (m.paused[PAUSE_ESCROW]) return fail("escrow", "EnforcedPause");
    const stateFailure = lockedFailure(m, terms);
    if (stateFailure) return stateFailure;
    if (now >= terms.expiry) return fail("escrow", "LockExpired");
    if (terms.linkedUetr !== ZERO_BYTES16) return fail("escrow", "LinkedLegRequiresPvP");
    if (!valid) return fail("escrow", payment.preimage !== null ? "InvalidPreimage" : "InvalidAttestation");
    if (m.suspended[m.banks.indexOf(terms.payee)]) return fail("registry", "ParticipantSuspended");
    if (m.paused[pauseOfToken(payment.token)]) return fail("token", "EnforcedPause");
    return null;
  })();
  const receipt = await submit(r, failure, () => r.fx.escrow.connect(r.fx.outsider).release(terms, authorization));
  if (receipt) {
    expect(outcomeEvents(r, receipt), "(3) one Released event").to.deep.equal([`Released:${terms.uetr}`]);
    m.settle(terms.uetr, PaymentState.Released);
  }
}

interface RefundParams {
  payment: number;
  openOnly: boolean;
  tamper: boolean;
}

async function refund(m: CorridorModel, r: Real, p: RefundParams): Promise<void> {
  const payment = m.pickPayment(p.payment, p.openOnly);
  const terms = p.tamper ? { ...payment.terms, amount: payment.terms.amount + 1n } : payment.terms;
  const now = await pinNextBlockTime();
  const failure = ((): Failure | null => {
    if (m.paused[PAUSE_ESCROW]) return fail("escrow", "EnforcedPause");
    const stateFailure = lockedFailure(m, terms);
    if (stateFailure) return stateFailure;
    if (now < terms.expiry) return fail("escrow", "LockNotExpired");
    if (m.paused[pauseOfToken(payment.token)]) return fail("token", "EnforcedPause");
    return null; // a suspended payer still gets its own funds back
  })();
  const receipt = await submit(r, failure, () => r.fx.escrow.connect(r.fx.outsider).refund(terms));
  if (receipt) {
    expect(outcomeEvents(r, receipt), "(3) one Refunded event").to.deep.equal([`Refunded:${terms.uetr}`]);
    m.settle(terms.uetr, PaymentState.Refunded);
  }
}

// --- net settlement of a window ---

interface ObligationSpec {
  debtor: number;
  creditor: number;
  token: number;
  major: bigint;
}

interface SettleWindowParams {
  obligations: ObligationSpec[];
  /**
   * "badApproval": one debtor's approval signed by another bank; "replay": reuse a settled window id;
   * "roundTrip": every obligation is matched by one back, so nothing nets and nothing may move.
   */
  variant: "valid" | "badApproval" | "replay" | "roundTrip";
  /** Which debtor position gets the bad approval / which settled window is replayed. */
  pick: number;
}

async function settleWindow(m: CorridorModel, r: Real, p: SettleWindowParams): Promise<void> {
  const { fx } = r;
  const obligations: Obligation[] = p.obligations.map((o) => ({
    debtor: m.banks[o.debtor],
    creditor: m.banks[counterparty(o.debtor, 1 + o.creditor)],
    token: m.tokens[o.token],
    amount: majorToMinorUnits(o.major, TEST_CURRENCIES[o.token]) + 1n,
  }));
  if (p.variant === "roundTrip") {
    obligations.push(...obligations.map((o) => ({ ...o, debtor: o.creditor, creditor: o.debtor })));
  }
  const positions: NetPosition[] = computeNetPositions(obligations);
  const leaves = obligations.map((o) => paymentLeafHash({ uetr: m.nextUetr(), ...o }));
  const paymentsRoot = buildMerkleTree(leaves).root;
  const replay = p.variant === "replay" && m.settledWindows.length > 0;
  const windowId = replay ? m.settledWindows[p.pick % m.settledWindows.length] : m.nextId("window");
  const approvals = await approveWindow(fx, windowId, paymentsRoot, positions);
  const debtorIndexes = positions.flatMap((pos, i) => (pos.amount < 0n ? [i] : []));
  let badApproval = -1;
  if (p.variant === "badApproval" && debtorIndexes.length > 0) {
    badApproval = debtorIndexes[p.pick % debtorIndexes.length];
    const owner = m.banks.indexOf(positions[badApproval].bank);
    const impostor = fx.banks[(owner + 1) % BANK_COUNT];
    approvals[badApproval] = await signWindow(fx, impostor, windowId, paymentsRoot, positions);
  }

  const failure = ((): Failure | null => {
    if (m.paused[PAUSE_NETTING]) return fail("netting", "EnforcedPause");
    if (m.settledWindows.includes(windowId)) return fail("netting", "WindowAlreadySettled");
    for (const [i, pos] of positions.entries()) {
      const bank = m.banks.indexOf(pos.bank);
      if (pos.amount > 0n) {
        if (m.suspended[bank]) return fail("registry", "ParticipantSuspended");
        continue;
      }
      if (i === badApproval) return fail("netting", "InvalidApproval");
      if (m.suspended[bank]) return fail("registry", "ParticipantSuspended");
      if (-pos.amount > m.netDebitCap[m.tokenIndex(pos.token)]) return fail("registry", "NetDebitCapExceeded");
    }
    for (const pos of positions.filter((x) => x.amount < 0n)) {
      const token = m.tokenIndex(pos.token);
      if (m.paused[pauseOfToken(token)]) return fail("token", "EnforcedPause");
      if (-pos.amount > m.balanceOf(token, pos.bank)) return fail("token", "ERC20InsufficientBalance");
    }
    return null;
  })();

  const readBalances = () => Promise.all(r.tokens.map((token) => Promise.all(fx.banks.map((bank) => token.balanceOf(bank)))));
  const before = await readBalances();
  await pinNextBlockTime();
  const receipt = await submit(r, failure, () => fx.netting.connect(fx.admin).settleWindow(windowId, paymentsRoot, positions, approvals));
  if (!receipt) return;
  const after = await readBalances();
  // (4) each bank's balance moves by exactly its net position, and nobody else's moves
  for (let t = 0; t < TOKEN_COUNT; t++) {
    for (let b = 0; b < BANK_COUNT; b++) {
      const position = positions.find((pos) => m.tokenIndex(pos.token) === t && m.banks.indexOf(pos.bank) === b);
      expect(after[t][b] - before[t][b], `(4) bank ${b} ${TEST_CURRENCIES[t]} delta = net position`).to.equal(
        position?.amount ?? 0n,
      );
    }
  }
  for (const pos of positions.filter((x) => x.amount < 0n)) m.transfer(m.tokenIndex(pos.token), pos.bank, m.netting, -pos.amount);
  for (const pos of positions.filter((x) => x.amount > 0n)) m.transfer(m.tokenIndex(pos.token), m.netting, pos.bank, pos.amount);
  m.settledWindows.push(windowId);
}

// --- registry status, pausing, time ---

interface StatusParams {
  bank: number;
  /** Suspend a suspended bank or reactivate an active one (must fail with StatusUnchanged). */
  redundant: boolean;
}

async function setStatus(m: CorridorModel, r: Real, p: StatusParams): Promise<void> {
  const suspend = p.redundant ? m.suspended[p.bank] : !m.suspended[p.bank];
  const failure = p.redundant ? fail("registry", "StatusUnchanged") : null;
  const registry = r.fx.registry.connect(r.fx.admin);
  const bank = r.fx.banks[p.bank];
  await pinNextBlockTime();
  await submit(r, failure, () => (suspend ? registry.suspend(bank) : registry.reactivate(bank)));
  if (!failure) m.suspended[p.bank] = suspend;
}

interface PauseParams {
  /** 0 escrow, 1 netting, 2.. a token. */
  target: number;
  /** Pause a paused contract or unpause a running one (must fail). */
  redundant: boolean;
}

async function setPaused(m: CorridorModel, r: Real, p: PauseParams): Promise<void> {
  const { fx } = r;
  const contract =
    p.target === PAUSE_ESCROW ? fx.escrow : p.target === PAUSE_NETTING ? fx.netting : r.tokens[p.target - 2];
  const source: Failure["source"] = p.target === PAUSE_ESCROW ? "escrow" : p.target === PAUSE_NETTING ? "netting" : "token";
  const isPaused = m.paused[p.target];
  const pause = p.redundant ? isPaused : !isPaused;
  const failure = p.redundant ? fail(source, isPaused ? "EnforcedPause" : "ExpectedPause") : null;
  await pinNextBlockTime();
  await submit(r, failure, () => (pause ? contract.connect(fx.admin).pause() : contract.connect(fx.admin).unpause()));
  if (!failure) m.paused[p.target] = pause;
}

async function advanceTime(_m: CorridorModel, _r: Real, p: { seconds: number }): Promise<void> {
  await time.increase(p.seconds);
}

interface AdvanceToExpiryParams {
  payment: number;
  /** The next transaction's timestamp relative to the payment's expiry. */
  delta: number;
}

/** Moves time so that the next transaction lands right around a payment's expiry. */
async function advanceToExpiry(m: CorridorModel, _r: Real, p: AdvanceToExpiryParams): Promise<void> {
  const { terms } = m.pickPayment(p.payment, true);
  const target = terms.expiry + BigInt(p.delta) - 1n; // the next block is one second later
  if (target > BigInt(await time.latest())) await time.increaseTo(target);
}

// ---------------------------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------------------------

const commandArb = fc.oneof(
  { weight: 2, arbitrary: command("mint", fc.record({ bank: bankArb, token: tokenArb, amount: amountArb, reuseEvidence: rarely }), mint) },
  { weight: 1, arbitrary: command("burn", fc.record({ bank: bankArb, token: tokenArb, percent: fc.nat({ max: 110 }) }), burn) },
  { weight: 4, arbitrary: command("lock", fc.record({ payer: bankArb, lock: lockSpecArb }), lock) },
  {
    weight: 2,
    arbitrary: command(
      "lockBatch",
      fc.record({ payer: bankArb, locks: fc.array(lockSpecArb, { minLength: 1, maxLength: 3 }), duplicateUetr: rarely }),
      lockBatch,
    ),
  },
  {
    weight: 2,
    arbitrary: command(
      "lockPvP",
      fc.record({
        bankA: bankArb,
        counterparty: fc.integer({ min: 1, max: BANK_COUNT - 1 }),
        tokenA: tokenArb,
        tokenBShift: fc.nat({ max: 1 }),
        amountA: pvpAmountArb,
        amountB: pvpAmountArb,
        expiryOffsetA: pvpExpiryOffsetArb,
        expiryOffsetB: pvpExpiryOffsetArb,
        hashlocked: fc.boolean(),
      }),
      lockPvP,
    ),
  },
  {
    weight: 4,
    arbitrary: command(
      "settlePvP",
      fc.record({ pair: fc.nat(), openOnly: usually, swap: fc.boolean(), authorization: fc.constantFrom<Authorization>("attester", "attester", "stranger") }),
      settlePvP,
      (m) => m.pvpPairs.length > 0,
    ),
  },
  {
    weight: 4,
    arbitrary: command(
      "release",
      fc.record({
        payment: fc.nat(),
        openOnly: fc.boolean(),
        authorization: fc.constantFrom<Authorization>("attester", "payee", "stranger"),
        tamper: rarely,
      }),
      release,
      hasPayments,
    ),
  },
  {
    weight: 3,
    arbitrary: command("refund", fc.record({ payment: fc.nat(), openOnly: fc.boolean(), tamper: rarely }), refund, hasPayments),
  },
  {
    weight: 2,
    arbitrary: command(
      "settleWindow",
      fc.record({
        obligations: fc.array(
          fc.record({
            debtor: bankArb,
            creditor: fc.nat({ max: BANK_COUNT - 2 }),
            token: tokenArb,
            major: fc.oneof(
              { weight: 12, arbitrary: fc.bigInt({ min: 0n, max: 3_000_000n }) },
              { weight: 1, arbitrary: fc.bigInt({ min: 4_500_000n, max: 6_000_000n }) },
            ),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        variant: fc.constantFrom<SettleWindowParams["variant"]>("valid", "valid", "valid", "badApproval", "replay", "roundTrip"),
        pick: fc.nat(),
      }),
      settleWindow,
    ),
  },
  { weight: 1, arbitrary: command("setStatus", fc.record({ bank: bankArb, redundant: rarely }), setStatus) },
  { weight: 1, arbitrary: command("setPaused", fc.record({ target: fc.nat({ max: PAUSE_TARGETS - 1 }), redundant: rarely }), setPaused) },
  {
    weight: 2,
    arbitrary: command(
      "advanceTime",
      fc.record({
        seconds: fc.oneof(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 601, max: 7200 }), fc.constantFrom(86_400, 31 * 86_400)),
      }),
      advanceTime,
    ),
  },
  {
    weight: 2,
    arbitrary: command("advanceToExpiry", fc.record({ payment: fc.nat(), delta: fc.integer({ min: -2, max: 1 }) }), advanceToExpiry, hasPayments),
  },
);

async function setup(): Promise<{ model: CorridorModel; real: Real }> {
  const fx = await loadFixture(deployCorridorFixture);
  const tokens = TEST_CURRENCIES.map((currency) => fx.tokens[currency]);
  const model = new CorridorModel(
    fx.banks.map((bank) => bank.address),
    tokens.map((token) => token.target as string),
    fx.escrow.target as string,
    fx.netting.target as string,
  );
  const real: Real = { fx, tokens };
  await checkInvariants(model, real);
  return { model, real };
}

describe("Corridor properties (model-based, fast-check)", function () {
  // ~1 minute on a 2-core machine; generous so that a failure has time to shrink
  this.timeout(15 * 60 * 1000);

  it(`keeps supply, escrow, balances and payment outcomes consistent over ${NUM_RUNS} random command sequences`, async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(commandArb, { minLength: 5, maxLength: 20 }), (steps) => fc.asyncModelRun(setup, steps)),
      { numRuns: NUM_RUNS },
    );
  });
});
