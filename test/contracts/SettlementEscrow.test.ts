import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  MaxUint256,
  TypedDataEncoder,
  ZeroAddress,
  concat,
  dataSlice,
  hexlify,
  id,
  Interface,
  keccak256,
  randomBytes,
  sha256,
  type AddressLike,
  type ContractTransactionResponse,
  type TypedDataDomain,
} from "ethers";
import {
  DepositToken__factory,
  ERC1271WalletMock__factory,
  ReentrantTokenMock__factory,
  SettlementEscrow__factory,
  type DepositToken,
} from "../../typechain-types";
import {
  deployCorridorFixture,
  lockRequest,
  randomUetr,
  signPvP,
  signRelease,
  termsOf,
  type CorridorFixture,
  type LockRequestInput,
} from "./fixtures";
import {
  PVP_RELEASE_TYPES,
  RELEASE_TYPES,
  ZERO_BYTES16,
  ZERO_BYTES32,
  escrowDomain,
  hashLockTerms,
  type LockTerms,
} from "../../server/chain/typed-data";

/** ISettlementEscrow.PaymentState as returned by `paymentState`. */
const State = { None: 0n, Locked: 1n, Released: 2n, Refunded: 3n } as const;

const MAX_UINT128 = 2n ** 128n - 1n;
const MAX_LOCK_DURATION = 30n * 24n * 60n * 60n;
const MAX_BATCH_SIZE = 100;
const DEFAULT_ADMIN_ROLE = ZERO_BYTES32;
const ATTESTER_ROLE = id("ATTESTER_ROLE");
const PAUSER_ROLE = id("PAUSER_ROLE");

// ---------------------------------------------------------------------------------------------
// Context
// ---------------------------------------------------------------------------------------------

/**
 * The corridor fixture with its banks named after the part they play: alice pays bob (gross
 * payments, and leg A of a PvP pair), bob pays carol (leg B), dave is a bystander bank.
 */
interface Ctx extends CorridorFixture {
  alice: HardhatEthersSigner;
  bob: HardhatEthersSigner;
  carol: HardhatEthersSigner;
  dave: HardhatEthersSigner;
  gbp: DepositToken;
  jpy: DepositToken;
  bhd: DepositToken;
  /** Every account whose balances must stay put when a call reverts. */
  holders: AddressLike[];
}

async function setup(): Promise<Ctx> {
  const fixture = await loadFixture(deployCorridorFixture);
  const [alice, bob, carol, dave] = fixture.banks;
  const { GBP: gbp, JPY: jpy, BHD: bhd } = fixture.tokens;
  const holders = [...fixture.banks, fixture.outsider, fixture.escrow];
  return { ...fixture, alice, bob, carol, dave, gbp, jpy, bhd, holders };
}

/** The fixture plus a registered ERC-1271 contract-wallet bank with GBP limits, owned by a spare key. */
async function setupWithWalletBank() {
  const base = await setup();
  const owner = await spareSigner(0);
  const wallet = await new ERC1271WalletMock__factory(owner).deploy(owner);
  await base.registry.registerParticipant(wallet, "WLLTGB2LXXX");
  await base.registry.setLimits(wallet, base.gbp, 1_000_000n, 1_000_000n);
  const ctx: Ctx = { ...base, holders: [...base.holders, wallet] };
  return { ctx, owner, wallet };
}

/** A hardhat account the fixture leaves unused. */
async function spareSigner(index: number): Promise<HardhatEthersSigner> {
  return (await ethers.getSigners())[6 + index];
}

// ---------------------------------------------------------------------------------------------
// Revert-without-effect assertion
// ---------------------------------------------------------------------------------------------

async function observe(ctx: Ctx, uetrs: readonly string[]) {
  const tokens = [ctx.gbp, ctx.jpy, ctx.bhd];
  return {
    paused: await ctx.escrow.paused(),
    balances: await Promise.all(tokens.flatMap((token) => ctx.holders.map((holder) => token.balanceOf(holder)))),
    states: await Promise.all(uetrs.map((uetr) => ctx.escrow.paymentState(uetr))),
  };
}

/**
 * Expects `action` to revert with the custom error `error(...args)` of `contract`, and that no
 * balance of any holder in any currency, no watched payment state and the pause flag moved.
 */
async function expectRevertWithoutEffect(
  ctx: Ctx,
  watched: readonly string[],
  action: () => Promise<unknown>,
  contract: { interface: any },
  error: string,
  ...args: unknown[]
): Promise<void> {
  const before = await observe(ctx, watched);
  await expect(action()).to.be.revertedWithCustomError(contract, error).withArgs(...args);
  expect(await observe(ctx, watched)).to.deep.equal(before);
}

/** What a revert assertion expects: the contract whose custom error it is, its name and arguments. */
type ExpectedRevert = [contract: { interface: any }, error: string, ...args: unknown[]];

/**
 * A revert assertion for one escrow call: `send` makes the call with its subject (the arguments
 * after `ctx`, as many as `send` declares), `watched` names the payments it must leave untouched.
 */
function revertAssertion<S extends unknown[]>(
  send: (ctx: Ctx, ...subject: S) => Promise<unknown>,
  watched: (...subject: S) => readonly string[],
): (ctx: Ctx, ...rest: [...S, ...ExpectedRevert]) => Promise<void> {
  const arity = send.length - 1;
  return (ctx, ...rest) => {
    const subject = rest.slice(0, arity) as S;
    const [contract, error, ...args] = rest.slice(arity) as ExpectedRevert;
    return expectRevertWithoutEffect(ctx, watched(...subject), () => send(ctx, ...subject), contract, error, ...args);
  };
}

// ---------------------------------------------------------------------------------------------
// Payments
// ---------------------------------------------------------------------------------------------

async function lockAs(ctx: Ctx, payer: HardhatEthersSigner, request: LockRequestInput): Promise<LockTerms> {
  await ctx.escrow.connect(payer).lock(request);
  return termsOf(request, payer);
}

/** alice locks 100.00 GBP for bob, expiring in an hour, attested unless overridden. */
async function lockPayment(ctx: Ctx, overrides: Partial<LockRequestInput> = {}): Promise<LockTerms> {
  return lockAs(ctx, ctx.alice, await lockRequest(ctx.bob, ctx.gbp, overrides));
}

function newSecret(): { preimage: string; hashlock: string } {
  const preimage = hexlify(randomBytes(32));
  return { preimage, hashlock: sha256(preimage) };
}

function tokenAt(address: string): DepositToken {
  return DepositToken__factory.connect(address, ethers.provider);
}

function lockedEventArgs(terms: LockTerms): unknown[] {
  return [
    terms.uetr,
    terms.payer,
    terms.payee,
    terms.token,
    terms.amount,
    terms.expiry,
    terms.hashlock,
    terms.linkedUetr,
  ];
}

async function signReleaseIn(domain: TypedDataDomain, signer: HardhatEthersSigner, terms: LockTerms): Promise<string> {
  return signer.signTypedData(domain, RELEASE_TYPES, { uetr: terms.uetr, termsHash: hashLockTerms(terms) });
}

/** Expects `tx` to have paid `terms` out to the payee, released by `by`. */
async function expectReleased(
  ctx: Ctx,
  terms: LockTerms,
  tx: Promise<ContractTransactionResponse>,
  by: AddressLike,
): Promise<void> {
  await expect(tx).to.emit(ctx.escrow, "Released").withArgs(terms.uetr, by);
  await expect(tx).to.changeTokenBalances(
    tokenAt(terms.token),
    [ctx.escrow, terms.payee, terms.payer],
    [-terms.amount, terms.amount, 0n],
  );
  expect(await ctx.escrow.paymentState(terms.uetr)).to.equal(State.Released);
}

/** Leaves `account` with exactly `keep` of `token`, the rest going to dave. */
async function drain(ctx: Ctx, account: HardhatEthersSigner, token: DepositToken, keep: bigint): Promise<void> {
  const balance = await token.balanceOf(account);
  await token.connect(account).transfer(ctx.dave, balance - keep);
}

/** Pins the timestamp of the next block and returns it. */
async function pinNextBlock(secondsAhead = 10): Promise<bigint> {
  const next = (await time.latest()) + secondsAhead;
  await time.setNextBlockTimestamp(next);
  return BigInt(next);
}

const ALTERABLE_TERMS = ["payer", "payee", "token", "amount", "expiry", "hashlock", "linkedUetr"] as const;
type AlterableTerm = (typeof ALTERABLE_TERMS)[number];

/** `terms` with one field changed to another plausible value. */
function alter(ctx: Ctx, terms: LockTerms, field: AlterableTerm): LockTerms {
  const other: { [K in AlterableTerm]: LockTerms[K] } = {
    payer: ctx.dave.address,
    payee: ctx.dave.address,
    token: ctx.bhd.target as string,
    amount: terms.amount + 1n,
    expiry: terms.expiry + 1n,
    hashlock: newSecret().hashlock,
    linkedUetr: randomUetr(),
  };
  return { ...terms, [field]: other[field] };
}

// ---------------------------------------------------------------------------------------------
// PvP pairs
// ---------------------------------------------------------------------------------------------

interface PvP {
  legA: LockTerms;
  legB: LockTerms;
}

interface PvPOptions {
  /** Shared by both legs unless a leg overrides it; zero (attested) by default. */
  hashlock?: string;
  legA?: Partial<LockRequestInput>;
  legB?: Partial<LockRequestInput>;
  payerB?: HardhatEthersSigner;
  payeeB?: HardhatEthersSigner;
  tokenB?: DepositToken;
}

/** Leg A: alice pays bob 100.00 GBP; leg B: bob pays carol 19,000 JPY; each leg names the other. */
async function lockPvP(ctx: Ctx, options: PvPOptions = {}): Promise<PvP> {
  const uetrA = randomUetr();
  const uetrB = randomUetr();
  const hashlock = options.hashlock ?? ZERO_BYTES32;
  const requestA = await lockRequest(ctx.bob, ctx.gbp, { uetr: uetrA, linkedUetr: uetrB, hashlock, ...options.legA });
  const requestB = await lockRequest(options.payeeB ?? ctx.carol, options.tokenB ?? ctx.jpy, {
    uetr: uetrB,
    linkedUetr: uetrA,
    hashlock,
    amount: 19_000n,
    ...options.legB,
  });
  const legA = await lockAs(ctx, ctx.alice, requestA);
  const legB = await lockAs(ctx, options.payerB ?? ctx.bob, requestB);
  return { legA, legB };
}

function uetrsOf(pvp: PvP): string[] {
  return [pvp.legA.uetr, pvp.legB.uetr];
}

// =============================================================================================

describe("SettlementEscrow", () => {
  describe("constructor", () => {
    it("reverts with ZeroAddress for a zero registry", async () => {
      const ctx = await setup();
      const factory = new SettlementEscrow__factory(ctx.admin);
      await expect(factory.deploy(ZeroAddress, ctx.admin)).to.be.revertedWithCustomError(factory, "ZeroAddress").withArgs();
    });

    it("reverts with ZeroAddress for a zero admin", async () => {
      const ctx = await setup();
      const factory = new SettlementEscrow__factory(ctx.admin);
      await expect(factory.deploy(ctx.registry, ZeroAddress)).to.be.revertedWithCustomError(factory, "ZeroAddress").withArgs();
    });

    it("wires the registry and grants the admin, attester and pauser roles to the admin only", async () => {
      const ctx = await setup();
      const escrow = await new SettlementEscrow__factory(ctx.admin).deploy(ctx.registry, ctx.dave);
      expect(await escrow.registry()).to.equal(ctx.registry.target);
      for (const role of [DEFAULT_ADMIN_ROLE, ATTESTER_ROLE, PAUSER_ROLE]) {
        expect(await escrow.hasRole(role, ctx.dave)).to.equal(true);
        expect(await escrow.hasRole(role, ctx.admin)).to.equal(false);
      }
      expect(await escrow.paused()).to.equal(false);
    });
  });

  describe("views and constants", () => {
    it("registry() is the participant registry", async () => {
      const ctx = await setup();
      expect(await ctx.escrow.registry()).to.equal(ctx.registry.target);
    });

    it("DOMAIN_SEPARATOR matches the server's escrow domain", async () => {
      const ctx = await setup();
      const expected = TypedDataEncoder.hashDomain(escrowDomain(ctx.chainId, ctx.escrow.target as string));
      expect(await ctx.escrow.DOMAIN_SEPARATOR()).to.equal(expected);
      const domain = await ctx.escrow.eip712Domain();
      expect([domain.name, domain.version, domain.chainId, domain.verifyingContract]).to.deep.equal([
        "Corridor SettlementEscrow",
        "1",
        ctx.chainId,
        ctx.escrow.target,
      ]);
    });

    it("the typehashes match the server's EIP-712 types", async () => {
      const ctx = await setup();
      expect(await ctx.escrow.RELEASE_TYPEHASH()).to.equal(
        id(TypedDataEncoder.from(RELEASE_TYPES).encodeType("Release")),
      );
      expect(await ctx.escrow.PVP_RELEASE_TYPEHASH()).to.equal(
        id(TypedDataEncoder.from(PVP_RELEASE_TYPES).encodeType("PvPRelease")),
      );
    });

    it("exposes its limits and role ids", async () => {
      const ctx = await setup();
      expect(await ctx.escrow.MAX_BATCH_SIZE()).to.equal(BigInt(MAX_BATCH_SIZE));
      expect(await ctx.escrow.MAX_LOCK_DURATION()).to.equal(MAX_LOCK_DURATION);
      expect(await ctx.escrow.ATTESTER_ROLE()).to.equal(ATTESTER_ROLE);
      expect(await ctx.escrow.PAUSER_ROLE()).to.equal(PAUSER_ROLE);
      expect(await ctx.escrow.DEFAULT_ADMIN_ROLE()).to.equal(DEFAULT_ADMIN_ROLE);
    });

    it("hashTerms matches the server's hashLockTerms, field by field", async () => {
      const ctx = await setup();
      const terms: LockTerms = {
        uetr: randomUetr(),
        payer: ctx.alice.address,
        payee: ctx.bob.address,
        token: ctx.gbp.target as string,
        amount: 2n ** 200n,
        expiry: 2n ** 63n,
        hashlock: newSecret().hashlock,
        linkedUetr: randomUetr(),
      };
      expect(await ctx.escrow.hashTerms(terms)).to.equal(hashLockTerms(terms));
      for (const field of ALTERABLE_TERMS) {
        const altered = alter(ctx, terms, field);
        expect(await ctx.escrow.hashTerms(altered)).to.equal(hashLockTerms(altered)).and.not.equal(hashLockTerms(terms));
      }
    });

    it("supports the ERC-165 and IAccessControl interface ids", async () => {
      const ctx = await setup();
      expect(await ctx.escrow.supportsInterface("0x01ffc9a7")).to.equal(true);
      expect(await ctx.escrow.supportsInterface("0x7965db0b")).to.equal(true);
      expect(await ctx.escrow.supportsInterface("0xffffffff")).to.equal(false);
    });
  });

  describe("paymentState", () => {
    it("is None for an unknown and for the zero UETR", async () => {
      const ctx = await setup();
      expect(await ctx.escrow.paymentState(randomUetr())).to.equal(State.None);
      expect(await ctx.escrow.paymentState(ZERO_BYTES16)).to.equal(State.None);
    });

    it("is Locked after lock, then Released after release", async () => {
      const ctx = await setup();
      const terms = await lockPayment(ctx);
      expect(await ctx.escrow.paymentState(terms.uetr)).to.equal(State.Locked);
      await ctx.escrow.release(terms, await signRelease(ctx, ctx.admin, terms));
      expect(await ctx.escrow.paymentState(terms.uetr)).to.equal(State.Released);
    });

    it("is Refunded after refund", async () => {
      const ctx = await setup();
      const terms = await lockPayment(ctx);
      await time.increaseTo(terms.expiry);
      await ctx.escrow.refund(terms);
      expect(await ctx.escrow.paymentState(terms.uetr)).to.equal(State.Refunded);
    });

    it("is Released for both legs of a settled PvP pair", async () => {
      const ctx = await setup();
      const pvp = await lockPvP(ctx);
      await ctx.escrow.settlePvP(pvp.legA, pvp.legB, await signPvP(ctx, ctx.admin, pvp.legA, pvp.legB));
      expect(await ctx.escrow.paymentState(pvp.legA.uetr)).to.equal(State.Released);
      expect(await ctx.escrow.paymentState(pvp.legB.uetr)).to.equal(State.Released);
    });
  });

  // -------------------------------------------------------------------------------------------

  describe("lock", () => {
    it("moves the amount from the payer to the escrow and emits Locked with all terms", async () => {
      const ctx = await setup();
      const { hashlock } = newSecret();
      const request = await lockRequest(ctx.bob, ctx.gbp, { amount: 12_345n, hashlock, linkedUetr: randomUetr() });
      const terms = termsOf(request, ctx.alice);
      const tx = ctx.escrow.connect(ctx.alice).lock(request);
      await expect(tx).to.emit(ctx.escrow, "Locked").withArgs(...lockedEventArgs(terms));
      await expect(tx).to.changeTokenBalances(ctx.gbp, [ctx.alice, ctx.escrow, ctx.bob], [-12_345n, 12_345n, 0n]);
      expect(await ctx.escrow.paymentState(request.uetr)).to.equal(State.Locked);
      expect(await ctx.escrow.hashTerms(terms)).to.equal(hashLockTerms(terms));
    });

    it("accepts an amount equal to the payer's single-payment cap", async () => {
      const ctx = await setup();
      const { singlePaymentCap } = await ctx.registry.limitsOf(ctx.alice, ctx.gbp);
      const terms = await lockPayment(ctx, { amount: singlePaymentCap });
      expect(await ctx.escrow.paymentState(terms.uetr)).to.equal(State.Locked);
      expect(await ctx.gbp.balanceOf(ctx.escrow)).to.equal(singlePaymentCap);
    });

    it("accepts an expiry one second ahead and one exactly MAX_LOCK_DURATION ahead", async () => {
      const ctx = await setup();
      const soon = await lockRequest(ctx.bob, ctx.gbp, { expiry: (await pinNextBlock()) + 1n });
      await ctx.escrow.connect(ctx.alice).lock(soon);
      const far = await lockRequest(ctx.bob, ctx.gbp, { expiry: (await pinNextBlock()) + MAX_LOCK_DURATION });
      await ctx.escrow.connect(ctx.alice).lock(far);
      expect(await ctx.escrow.paymentState(soon.uetr)).to.equal(State.Locked);
      expect(await ctx.escrow.paymentState(far.uetr)).to.equal(State.Locked);
    });

    /** Expects alice's lock of `request` to revert with `error(...args)` and change nothing. */
    const expectLockRevert = revertAssertion(
      (ctx, request: LockRequestInput) => ctx.escrow.connect(ctx.alice).lock(request),
      (request) => [request.uetr],
    );

    it("reverts with ZeroUetr for a zero UETR", async () => {
      const ctx = await setup();
      await expectLockRevert(ctx, await lockRequest(ctx.bob, ctx.gbp, { uetr: ZERO_BYTES16 }), ctx.escrow, "ZeroUetr");
    });

    it("reverts with ZeroAmount for a zero amount", async () => {
      const ctx = await setup();
      await expectLockRevert(ctx, await lockRequest(ctx.bob, ctx.gbp, { amount: 0n }), ctx.escrow, "ZeroAmount");
    });

    it("reverts with AmountTooLarge above 2^128 - 1, and checks the cap at 2^128 - 1", async () => {
      const ctx = await setup();
      for (const amount of [MAX_UINT128 + 1n, MaxUint256]) {
        const request = await lockRequest(ctx.bob, ctx.gbp, { amount });
        await expectLockRevert(ctx, request, ctx.escrow, "AmountTooLarge", amount);
      }
      const { singlePaymentCap } = await ctx.registry.limitsOf(ctx.alice, ctx.gbp);
      const atLimit = await lockRequest(ctx.bob, ctx.gbp, { amount: MAX_UINT128 });
      await expectLockRevert(
        ctx,
        atLimit,
        ctx.registry,
        "SinglePaymentCapExceeded",
        ctx.alice.address,
        ctx.gbp.target,
        MAX_UINT128,
        singlePaymentCap,
      );
    });

    it("reverts with ExpiryNotInFuture for an expiry at the block time or before it", async () => {
      const ctx = await setup();
      const past = BigInt(await time.latest()) - 1n;
      await expectLockRevert(ctx, await lockRequest(ctx.bob, ctx.gbp, { expiry: past }), ctx.escrow, "ExpiryNotInFuture", past);
      const request = await lockRequest(ctx.bob, ctx.gbp);
      request.expiry = await pinNextBlock();
      await expectLockRevert(ctx, request, ctx.escrow, "ExpiryNotInFuture", request.expiry);
    });

    it("reverts with ExpiryTooFar one second past MAX_LOCK_DURATION", async () => {
      const ctx = await setup();
      const request = await lockRequest(ctx.bob, ctx.gbp);
      const now = await pinNextBlock();
      request.expiry = now + MAX_LOCK_DURATION + 1n;
      await expectLockRevert(ctx, request, ctx.escrow, "ExpiryTooFar", request.expiry, now + MAX_LOCK_DURATION);
    });

    it("reverts with PayerIsPayee when the payer pays itself", async () => {
      const ctx = await setup();
      const request = await lockRequest(ctx.alice, ctx.gbp);
      await expectLockRevert(ctx, request, ctx.escrow, "PayerIsPayee", ctx.alice.address);
    });

    it("reverts with PvPLegsNotLinked when a leg links to itself", async () => {
      const ctx = await setup();
      const uetr = randomUetr();
      const request = await lockRequest(ctx.bob, ctx.gbp, { uetr, linkedUetr: uetr });
      await expectLockRevert(ctx, request, ctx.escrow, "PvPLegsNotLinked", uetr, uetr);
    });

    it("reverts with PaymentAlreadyExists for a locked UETR, whoever locks it", async () => {
      const ctx = await setup();
      const terms = await lockPayment(ctx);
      const again = await lockRequest(ctx.bob, ctx.gbp, { uetr: terms.uetr });
      await expectLockRevert(ctx, again, ctx.escrow, "PaymentAlreadyExists", terms.uetr);
      await expectRevertWithoutEffect(
        ctx,
        [terms.uetr],
        () => ctx.escrow.connect(ctx.carol).lock({ ...again, payee: ctx.dave.address }),
        ctx.escrow,
        "PaymentAlreadyExists",
        terms.uetr,
      );
    });

    it("reverts with PaymentAlreadyExists for a released UETR", async () => {
      const ctx = await setup();
      const terms = await lockPayment(ctx);
      await ctx.escrow.release(terms, await signRelease(ctx, ctx.admin, terms));
      const again = await lockRequest(ctx.bob, ctx.gbp, { uetr: terms.uetr });
      await expectLockRevert(ctx, again, ctx.escrow, "PaymentAlreadyExists", terms.uetr);
    });

    it("reverts with PaymentAlreadyExists for a refunded UETR", async () => {
      const ctx = await setup();
      const terms = await lockPayment(ctx);
      await time.increaseTo(terms.expiry);
      await ctx.escrow.refund(terms);
      const again = await lockRequest(ctx.bob, ctx.gbp, { uetr: terms.uetr });
      await expectLockRevert(ctx, again, ctx.escrow, "PaymentAlreadyExists", terms.uetr);
    });

    it("reverts with the registry's ParticipantUnknown for an unregistered payer", async () => {
      const ctx = await setup();
      const request = await lockRequest(ctx.bob, ctx.gbp);
      await expectRevertWithoutEffect(
        ctx,
        [request.uetr],
        () => ctx.escrow.connect(ctx.outsider).lock(request),
        ctx.registry,
        "ParticipantUnknown",
        ctx.outsider.address,
      );
    });

    it("reverts with the registry's ParticipantUnknown for an unregistered payee", async () => {
      const ctx = await setup();
      const request = await lockRequest(ctx.outsider, ctx.gbp);
      await expectLockRevert(ctx, request, ctx.registry, "ParticipantUnknown", ctx.outsider.address);
    });

    it("reverts with the registry's NotABank when the payee is a settlement contract", async () => {
      const ctx = await setup();
      for (const contract of [ctx.escrow, ctx.netting]) {
        const request = await lockRequest({ address: await contract.getAddress() }, ctx.gbp);
        await expectLockRevert(ctx, request, ctx.registry, "NotABank", request.payee);
      }
    });

    it("reverts with ParticipantSuspended as soon as the payer is suspended, until reactivated", async () => {
      const ctx = await setup();
      await lockPayment(ctx);
      await ctx.registry.suspend(ctx.alice);
      const request = await lockRequest(ctx.bob, ctx.gbp);
      await expectLockRevert(ctx, request, ctx.registry, "ParticipantSuspended", ctx.alice.address);
      await ctx.registry.reactivate(ctx.alice);
      await ctx.escrow.connect(ctx.alice).lock(request);
      expect(await ctx.escrow.paymentState(request.uetr)).to.equal(State.Locked);
    });

    it("reverts with ParticipantSuspended for a suspended payee", async () => {
      const ctx = await setup();
      await ctx.registry.suspend(ctx.bob);
      const request = await lockRequest(ctx.bob, ctx.gbp);
      await expectLockRevert(ctx, request, ctx.registry, "ParticipantSuspended", ctx.bob.address);
    });

    it("reverts with CurrencyNotEnabled when the payer's cap for the token is zero", async () => {
      const ctx = await setup();
      await ctx.registry.setLimits(ctx.alice, ctx.gbp, 0, 0);
      const request = await lockRequest(ctx.bob, ctx.gbp);
      await expectLockRevert(ctx, request, ctx.registry, "CurrencyNotEnabled", ctx.alice.address, ctx.gbp.target);
    });

    /** A fresh USD deposit token, registered with the registry or not; alice holds 1,000.00 of it. */
    async function deployUsd(ctx: Ctx, register: boolean): Promise<DepositToken> {
      const usd = await new DepositToken__factory(ctx.admin).deploy(
        "Corridor USD Deposit",
        "cUSD",
        "USD",
        2,
        ctx.registry,
        ctx.admin,
      );
      if (register) await ctx.registry.registerToken(usd);
      await usd.mint(ctx.alice, 100_000n, id("test-mint:usd"));
      await usd.connect(ctx.alice).approve(ctx.escrow, MaxUint256);
      return usd;
    }

    it("reverts with CurrencyNotEnabled for a registered token the payer has no limits for", async () => {
      const ctx = await setup();
      const usd = await deployUsd(ctx, true);
      const request = await lockRequest(ctx.bob, usd);
      await expectLockRevert(ctx, request, ctx.registry, "CurrencyNotEnabled", ctx.alice.address, usd.target);
      expect(await usd.balanceOf(ctx.alice)).to.equal(100_000n);
    });

    it("reverts with CurrencyNotEnabled for a token the registry does not know", async () => {
      const ctx = await setup();
      const usd = await deployUsd(ctx, false);
      const request = await lockRequest(ctx.bob, usd);
      await expectLockRevert(ctx, request, ctx.registry, "CurrencyNotEnabled", ctx.alice.address, usd.target);
      expect(await usd.balanceOf(ctx.alice)).to.equal(100_000n);
    });

    it("reverts with SinglePaymentCapExceeded one unit above the cap", async () => {
      const ctx = await setup();
      const { singlePaymentCap } = await ctx.registry.limitsOf(ctx.alice, ctx.jpy);
      const request = await lockRequest(ctx.bob, ctx.jpy, { amount: singlePaymentCap + 1n });
      await expectLockRevert(
        ctx,
        request,
        ctx.registry,
        "SinglePaymentCapExceeded",
        ctx.alice.address,
        ctx.jpy.target,
        singlePaymentCap + 1n,
        singlePaymentCap,
      );
    });

    it("reverts with the token's ERC20InsufficientBalance when the payer lacks funds", async () => {
      const ctx = await setup();
      await drain(ctx, ctx.alice, ctx.gbp, 9_999n);
      const request = await lockRequest(ctx.bob, ctx.gbp, { amount: 10_000n });
      await expectLockRevert(ctx, request, ctx.gbp, "ERC20InsufficientBalance", ctx.alice.address, 9_999n, 10_000n);
    });

    it("reverts with the token's ERC20InsufficientAllowance when the escrow is not approved enough", async () => {
      const ctx = await setup();
      await ctx.gbp.connect(ctx.alice).approve(ctx.escrow, 9_999n);
      const request = await lockRequest(ctx.bob, ctx.gbp, { amount: 10_000n });
      await expectLockRevert(ctx, request, ctx.gbp, "ERC20InsufficientAllowance", ctx.escrow.target, 9_999n, 10_000n);
      expect(await ctx.gbp.allowance(ctx.alice, ctx.escrow)).to.equal(9_999n);
    });
  });

  // -------------------------------------------------------------------------------------------

  describe("lockBatch", () => {
    async function requestsFor(ctx: Ctx, count: number, overrides: Partial<LockRequestInput> = {}) {
      const base = await lockRequest(ctx.bob, ctx.gbp, overrides);
      return Array.from({ length: count }, () => ({ ...base, uetr: randomUetr() }));
    }

    const expectBatchRevert = revertAssertion(
      (ctx, requests: LockRequestInput[]) => ctx.escrow.connect(ctx.alice).lockBatch(requests),
      (requests) => requests.map((request) => request.uetr),
    );

    it("locks every request in several currencies with one Locked event each", async () => {
      const ctx = await setup();
      const requests = [
        await lockRequest(ctx.bob, ctx.gbp, { amount: 10_000n }),
        await lockRequest(ctx.carol, ctx.jpy, { amount: 5_000n, hashlock: newSecret().hashlock }),
        await lockRequest(ctx.dave, ctx.bhd, { amount: 7_000n, linkedUetr: randomUetr() }),
      ];
      const tx = ctx.escrow.connect(ctx.alice).lockBatch(requests);
      for (const request of requests) {
        await expect(tx).to.emit(ctx.escrow, "Locked").withArgs(...lockedEventArgs(termsOf(request, ctx.alice)));
      }
      await expect(tx).to.changeTokenBalances(ctx.gbp, [ctx.alice, ctx.escrow], [-10_000n, 10_000n]);
      await expect(tx).to.changeTokenBalances(ctx.jpy, [ctx.alice, ctx.escrow], [-5_000n, 5_000n]);
      await expect(tx).to.changeTokenBalances(ctx.bhd, [ctx.alice, ctx.escrow], [-7_000n, 7_000n]);
      for (const request of requests) {
        expect(await ctx.escrow.paymentState(request.uetr)).to.equal(State.Locked);
      }
    });

    it("accepts exactly MAX_BATCH_SIZE requests", async () => {
      const ctx = await setup();
      const requests = await requestsFor(ctx, MAX_BATCH_SIZE, { amount: 100n });
      await ctx.escrow.connect(ctx.alice).lockBatch(requests);
      expect(await ctx.gbp.balanceOf(ctx.escrow)).to.equal(100n * BigInt(MAX_BATCH_SIZE));
      for (const request of requests) {
        expect(await ctx.escrow.paymentState(request.uetr)).to.equal(State.Locked);
      }
    });

    it("reverts with EmptyBatch for no requests", async () => {
      const ctx = await setup();
      await expectBatchRevert(ctx, [], ctx.escrow, "EmptyBatch");
    });

    it("reverts with BatchTooLarge for MAX_BATCH_SIZE + 1 requests", async () => {
      const ctx = await setup();
      const requests = await requestsFor(ctx, MAX_BATCH_SIZE + 1);
      await expectBatchRevert(ctx, requests, ctx.escrow, "BatchTooLarge", MAX_BATCH_SIZE + 1, MAX_BATCH_SIZE);
    });

    it("reverts the whole batch when its last request is invalid", async () => {
      const ctx = await setup();
      const requests = await requestsFor(ctx, 3);
      requests[2].amount = 0n;
      await expectBatchRevert(ctx, requests, ctx.escrow, "ZeroAmount");
    });

    it("reverts the whole batch when the registry rejects one request", async () => {
      const ctx = await setup();
      await ctx.registry.suspend(ctx.carol);
      const requests = await requestsFor(ctx, 3);
      requests[1].payee = ctx.carol.address;
      await expectBatchRevert(ctx, requests, ctx.registry, "ParticipantSuspended", ctx.carol.address);
    });

    it("reverts the whole batch when the payer's funds run out part-way", async () => {
      const ctx = await setup();
      await drain(ctx, ctx.alice, ctx.gbp, 25_000n);
      const requests = await requestsFor(ctx, 3, { amount: 10_000n });
      await expectBatchRevert(ctx, requests, ctx.gbp, "ERC20InsufficientBalance", ctx.alice.address, 5_000n, 10_000n);
    });

    it("reverts with PaymentAlreadyExists for a UETR repeated inside the batch", async () => {
      const ctx = await setup();
      const requests = await requestsFor(ctx, 3);
      requests[2] = { ...requests[2], uetr: requests[0].uetr };
      await expectBatchRevert(ctx, requests, ctx.escrow, "PaymentAlreadyExists", requests[0].uetr);
    });

    it("reverts with PaymentAlreadyExists for a UETR locked earlier", async () => {
      const ctx = await setup();
      const earlier = await lockPayment(ctx);
      const requests = await requestsFor(ctx, 2);
      requests[1].uetr = earlier.uetr;
      await expectBatchRevert(ctx, requests, ctx.escrow, "PaymentAlreadyExists", earlier.uetr);
      expect(await ctx.escrow.paymentState(earlier.uetr)).to.equal(State.Locked);
    });
  });

  // -------------------------------------------------------------------------------------------

  describe("release", () => {
    /** Expects the outsider's release of `terms` with `authorization` to revert with no effect. */
    const expectReleaseRevert = revertAssertion(
      (ctx, terms: LockTerms, authorization: string) => ctx.escrow.connect(ctx.outsider).release(terms, authorization),
      (terms) => [terms.uetr],
    );

    describe("with a hashlock preimage", () => {
      it("pays the payee when anyone presents the sha256 preimage", async () => {
        const ctx = await setup();
        const secret = newSecret();
        const terms = await lockPayment(ctx, { hashlock: secret.hashlock });
        await expectReleased(ctx, terms, ctx.escrow.connect(ctx.outsider).release(terms, secret.preimage), ctx.outsider);
      });

      it("reverts with InvalidPreimage for a wrong preimage", async () => {
        const ctx = await setup();
        const terms = await lockPayment(ctx, { hashlock: newSecret().hashlock });
        await expectReleaseRevert(ctx, terms, newSecret().preimage, ctx.escrow, "InvalidPreimage", terms.uetr);
      });

      const wrongLengths: [string, (preimage: string) => string][] = [
        ["empty", () => "0x"],
        ["31 bytes (the preimage cut short)", (preimage) => dataSlice(preimage, 0, 31)],
        ["33 bytes (the preimage and one more byte)", (preimage) => concat([preimage, "0x00"])],
      ];
      for (const [label, mangle] of wrongLengths) {
        it(`reverts with InvalidPreimage for a preimage of the wrong length: ${label}`, async () => {
          const ctx = await setup();
          const secret = newSecret();
          const terms = await lockPayment(ctx, { hashlock: secret.hashlock });
          await expectReleaseRevert(ctx, terms, mangle(secret.preimage), ctx.escrow, "InvalidPreimage", terms.uetr);
        });
      }

      it("reverts with InvalidPreimage when the hashlock is the keccak256 (not sha256) of the preimage", async () => {
        const ctx = await setup();
        const preimage = hexlify(randomBytes(32));
        const terms = await lockPayment(ctx, { hashlock: keccak256(preimage) });
        await expectReleaseRevert(ctx, terms, preimage, ctx.escrow, "InvalidPreimage", terms.uetr);
      });

      it("reverts with InvalidPreimage for an attester's signature instead of the preimage", async () => {
        const ctx = await setup();
        const terms = await lockPayment(ctx, { hashlock: newSecret().hashlock });
        const signature = await signRelease(ctx, ctx.admin, terms);
        await expectReleaseRevert(ctx, terms, signature, ctx.escrow, "InvalidPreimage", terms.uetr);
      });
    });

    describe("with an attestation", () => {
      it("pays the payee on an ATTESTER_ROLE holder's signature, submitted by anyone", async () => {
        const ctx = await setup();
        const terms = await lockPayment(ctx);
        const signature = await signRelease(ctx, ctx.admin, terms);
        await expectReleased(ctx, terms, ctx.escrow.connect(ctx.outsider).release(terms, signature), ctx.outsider);
      });

      it("pays the payee on the payee's own signature", async () => {
        const ctx = await setup();
        const terms = await lockPayment(ctx);
        const signature = await signRelease(ctx, ctx.bob, terms);
        await expectReleased(ctx, terms, ctx.escrow.connect(ctx.bob).release(terms, signature), ctx.bob);
      });

      it("pays the payee when an ATTESTER_ROLE holder or the payee sends the release itself, with no authorization", async () => {
        const ctx = await setup();
        const byAttester = await lockPayment(ctx);
        await expectReleased(ctx, byAttester, ctx.escrow.connect(ctx.admin).release(byAttester, "0x"), ctx.admin);
        const byPayee = await lockPayment(ctx);
        await expectReleased(ctx, byPayee, ctx.escrow.connect(ctx.bob).release(byPayee, "0x"), ctx.bob);
      });

      const uncalledSenders: [string, (ctx: Ctx) => HardhatEthersSigner][] = [
        ["an outsider", (ctx) => ctx.outsider],
        ["the payer", (ctx) => ctx.alice],
        ["another bank", (ctx) => ctx.carol],
      ];
      for (const [label, senderOf] of uncalledSenders) {
        it(`reverts with InvalidAttestation when ${label} sends the release with no authorization`, async () => {
          const ctx = await setup();
          const terms = await lockPayment(ctx);
          const send = () => ctx.escrow.connect(senderOf(ctx)).release(terms, "0x");
          await expectRevertWithoutEffect(ctx, [terms.uetr], send, ctx.escrow, "InvalidAttestation", terms.uetr);
        });
      }

      it("reverts with InvalidAttestation when a revoked attester sends the release with no authorization", async () => {
        const ctx = await setup();
        const attester = await spareSigner(0);
        await ctx.escrow.grantRole(ATTESTER_ROLE, attester);
        await ctx.escrow.revokeRole(ATTESTER_ROLE, attester);
        const terms = await lockPayment(ctx);
        const send = () => ctx.escrow.connect(attester).release(terms, "0x");
        await expectRevertWithoutEffect(ctx, [terms.uetr], send, ctx.escrow, "InvalidAttestation", terms.uetr);
      });

      it("still needs the preimage of a hashlocked payment when an attester sends the release", async () => {
        const ctx = await setup();
        const terms = await lockPayment(ctx, { hashlock: newSecret().hashlock });
        const send = () => ctx.escrow.connect(ctx.admin).release(terms, "0x");
        await expectRevertWithoutEffect(ctx, [terms.uetr], send, ctx.escrow, "InvalidPreimage", terms.uetr);
      });

      it("honours a newly granted attester and stops honouring a revoked one", async () => {
        const ctx = await setup();
        const attester = await spareSigner(0);
        await ctx.escrow.grantRole(ATTESTER_ROLE, attester);
        const first = await lockPayment(ctx);
        await expectReleased(
          ctx,
          first,
          ctx.escrow.connect(ctx.outsider).release(first, await signRelease(ctx, attester, first)),
          ctx.outsider,
        );
        await ctx.escrow.revokeRole(ATTESTER_ROLE, attester);
        const second = await lockPayment(ctx);
        const signature = await signRelease(ctx, attester, second);
        await expectReleaseRevert(ctx, second, signature, ctx.escrow, "InvalidAttestation", second.uetr);
      });

      const strangers: [string, (ctx: Ctx) => HardhatEthersSigner][] = [
        ["an outsider", (ctx) => ctx.outsider],
        ["the payer", (ctx) => ctx.alice],
        ["another bank", (ctx) => ctx.carol],
      ];
      for (const [label, signerOf] of strangers) {
        it(`reverts with InvalidAttestation for a signature by ${label}`, async () => {
          const ctx = await setup();
          const terms = await lockPayment(ctx);
          const signature = await signRelease(ctx, signerOf(ctx), terms);
          await expectReleaseRevert(ctx, terms, signature, ctx.escrow, "InvalidAttestation", terms.uetr);
        });
      }

      it("reverts with InvalidAttestation for an attester's signature over another payment's terms", async () => {
        const ctx = await setup();
        const terms = await lockPayment(ctx);
        const other = await lockPayment(ctx);
        const signature = await signRelease(ctx, ctx.admin, other);
        await expectReleaseRevert(ctx, terms, signature, ctx.escrow, "InvalidAttestation", terms.uetr);
      });

      it("reverts with InvalidAttestation for an attester's signature over altered terms of the same UETR", async () => {
        const ctx = await setup();
        const terms = await lockPayment(ctx);
        const signature = await signRelease(ctx, ctx.admin, { ...terms, amount: terms.amount * 2n });
        await expectReleaseRevert(ctx, terms, signature, ctx.escrow, "InvalidAttestation", terms.uetr);
      });

      it("reverts with InvalidAttestation for an attester's signature under another EIP-712 domain", async () => {
        const ctx = await setup();
        const terms = await lockPayment(ctx);
        const domains = [
          escrowDomain(ctx.chainId + 1n, ctx.escrow.target as string),
          escrowDomain(ctx.chainId, ctx.netting.target as string),
          { ...escrowDomain(ctx.chainId, ctx.escrow.target as string), version: "2" },
        ];
        for (const domain of domains) {
          const signature = await signReleaseIn(domain, ctx.admin, terms);
          await expectReleaseRevert(ctx, terms, signature, ctx.escrow, "InvalidAttestation", terms.uetr);
        }
      });

      it("reverts with InvalidAttestation for a malformed signature", async () => {
        const ctx = await setup();
        const terms = await lockPayment(ctx);
        for (const signature of ["0x", "0x" + "11".repeat(65), hexlify(randomBytes(32))]) {
          await expectReleaseRevert(ctx, terms, signature, ctx.escrow, "InvalidAttestation", terms.uetr);
        }
      });

      it("reverts with InvalidAttestation for a PvPRelease signature used as a Release", async () => {
        const ctx = await setup();
        const terms = await lockPayment(ctx);
        const signature = await signPvP(ctx, ctx.admin, terms, terms);
        await expectReleaseRevert(ctx, terms, signature, ctx.escrow, "InvalidAttestation", terms.uetr);
      });
    });

    describe("to an ERC-1271 contract-wallet payee", () => {
      /** A registered contract wallet with GBP limits, owned by a spare key, which alice pays. */
      async function walletScenario() {
        const { ctx, owner, wallet } = await setupWithWalletBank();
        const terms = await lockPayment(ctx, { payee: wallet.target as string });
        return { ctx, owner, wallet, terms };
      }

      it("pays the wallet on its owner key's signature", async () => {
        const { ctx, owner, terms } = await walletScenario();
        const signature = await signRelease(ctx, owner, terms);
        await expectReleased(ctx, terms, ctx.escrow.connect(ctx.outsider).release(terms, signature), ctx.outsider);
      });

      it("reverts with InvalidAttestation for a signature by a key that does not own the wallet", async () => {
        const { ctx, terms } = await walletScenario();
        const signature = await signRelease(ctx, await spareSigner(1), terms);
        await expectReleaseRevert(ctx, terms, signature, ctx.escrow, "InvalidAttestation", terms.uetr);
      });

      it("reverts with InvalidAttestation for the owner's signature over other terms", async () => {
        const { ctx, owner, terms } = await walletScenario();
        const signature = await signRelease(ctx, owner, { ...terms, uetr: randomUetr() });
        await expectReleaseRevert(ctx, terms, signature, ctx.escrow, "InvalidAttestation", terms.uetr);
      });
    });

    describe("reverts", () => {
      for (const field of ALTERABLE_TERMS) {
        it(`with TermsMismatch when the ${field} is altered, even with an attestation of the altered terms`, async () => {
          const ctx = await setup();
          const terms = await lockPayment(ctx);
          const altered = alter(ctx, terms, field);
          const signature = await signRelease(ctx, ctx.admin, altered);
          await expectReleaseRevert(ctx, altered, signature, ctx.escrow, "TermsMismatch", terms.uetr);
        });
      }

      it("with PaymentNotFound for a UETR never locked", async () => {
        const ctx = await setup();
        const terms = termsOf(await lockRequest(ctx.bob, ctx.gbp), ctx.alice);
        const signature = await signRelease(ctx, ctx.admin, terms);
        await expectReleaseRevert(ctx, terms, signature, ctx.escrow, "PaymentNotFound", terms.uetr);
      });

      it("with PaymentAlreadyReleased when the same signature is replayed", async () => {
        const ctx = await setup();
        const terms = await lockPayment(ctx);
        const signature = await signRelease(ctx, ctx.admin, terms);
        await ctx.escrow.release(terms, signature);
        await expectReleaseRevert(ctx, terms, signature, ctx.escrow, "PaymentAlreadyReleased", terms.uetr);
      });

      it("with PaymentAlreadyReleased when a hashlocked payment is released twice", async () => {
        const ctx = await setup();
        const secret = newSecret();
        const terms = await lockPayment(ctx, { hashlock: secret.hashlock });
        await ctx.escrow.release(terms, secret.preimage);
        await expectReleaseRevert(ctx, terms, secret.preimage, ctx.escrow, "PaymentAlreadyReleased", terms.uetr);
      });

      it("with PaymentAlreadyRefunded after a refund", async () => {
        const ctx = await setup();
        const terms = await lockPayment(ctx);
        const signature = await signRelease(ctx, ctx.admin, terms);
        await time.increaseTo(terms.expiry);
        await ctx.escrow.refund(terms);
        await expectReleaseRevert(ctx, terms, signature, ctx.escrow, "PaymentAlreadyRefunded", terms.uetr);
      });

      it("with LockExpired at the expiry second", async () => {
        const ctx = await setup();
        const terms = await lockPayment(ctx);
        const signature = await signRelease(ctx, ctx.admin, terms);
        await time.setNextBlockTimestamp(terms.expiry);
        await expectReleaseRevert(ctx, terms, signature, ctx.escrow, "LockExpired", terms.uetr, terms.expiry);
      });

      it("with LockExpired after expiry, for a hashlocked payment too", async () => {
        const ctx = await setup();
        const secret = newSecret();
        const attested = await lockPayment(ctx);
        const hashlocked = await lockPayment(ctx, { hashlock: secret.hashlock });
        const signature = await signRelease(ctx, ctx.admin, attested);
        await time.increaseTo(hashlocked.expiry + 3600n);
        await expectReleaseRevert(ctx, attested, signature, ctx.escrow, "LockExpired", attested.uetr, attested.expiry);
        await expectReleaseRevert(
          ctx,
          hashlocked,
          secret.preimage,
          ctx.escrow,
          "LockExpired",
          hashlocked.uetr,
          hashlocked.expiry,
        );
      });

      it("is still possible one second before expiry", async () => {
        const ctx = await setup();
        const terms = await lockPayment(ctx);
        const signature = await signRelease(ctx, ctx.admin, terms);
        await time.setNextBlockTimestamp(terms.expiry - 1n);
        await expectReleased(ctx, terms, ctx.escrow.connect(ctx.outsider).release(terms, signature), ctx.outsider);
      });

      it("with LinkedLegRequiresPvP for an attested PvP leg", async () => {
        const ctx = await setup();
        const { legA } = await lockPvP(ctx);
        const signature = await signRelease(ctx, ctx.admin, legA);
        await expectReleaseRevert(ctx, legA, signature, ctx.escrow, "LinkedLegRequiresPvP", legA.uetr, legA.linkedUetr);
      });

      it("with LinkedLegRequiresPvP for a hashlocked PvP leg and its preimage", async () => {
        const ctx = await setup();
        const secret = newSecret();
        const { legB } = await lockPvP(ctx, { hashlock: secret.hashlock });
        await expectReleaseRevert(
          ctx,
          legB,
          secret.preimage,
          ctx.escrow,
          "LinkedLegRequiresPvP",
          legB.uetr,
          legB.linkedUetr,
        );
      });

      it("with the registry's ParticipantSuspended when the payee was suspended after the lock", async () => {
        const ctx = await setup();
        const terms = await lockPayment(ctx);
        const signature = await signRelease(ctx, ctx.admin, terms);
        await ctx.registry.suspend(ctx.bob);
        await expectReleaseRevert(ctx, terms, signature, ctx.registry, "ParticipantSuspended", ctx.bob.address);
      });
    });
  });

  // -------------------------------------------------------------------------------------------

  describe("refund", () => {
    const expectRefundRevert = revertAssertion(
      (ctx, terms: LockTerms) => ctx.escrow.connect(ctx.outsider).refund(terms),
      (terms) => [terms.uetr],
    );

    async function expectRefunded(ctx: Ctx, terms: LockTerms, by: HardhatEthersSigner): Promise<void> {
      const tx = ctx.escrow.connect(by).refund(terms);
      await expect(tx).to.emit(ctx.escrow, "Refunded").withArgs(terms.uetr, by.address);
      await expect(tx).to.changeTokenBalances(
        tokenAt(terms.token),
        [ctx.escrow, terms.payer, terms.payee],
        [-terms.amount, terms.amount, 0n],
      );
      expect(await ctx.escrow.paymentState(terms.uetr)).to.equal(State.Refunded);
    }

    it("returns the funds to the payer when anyone calls it after expiry", async () => {
      const ctx = await setup();
      const terms = await lockPayment(ctx);
      await time.increaseTo(terms.expiry + 60n);
      await expectRefunded(ctx, terms, ctx.outsider);
    });

    it("works at the expiry second", async () => {
      const ctx = await setup();
      const terms = await lockPayment(ctx);
      await time.setNextBlockTimestamp(terms.expiry);
      await expectRefunded(ctx, terms, ctx.carol);
    });

    it("refunds a hashlocked payment without its preimage", async () => {
      const ctx = await setup();
      const terms = await lockPayment(ctx, { hashlock: newSecret().hashlock });
      await time.increaseTo(terms.expiry);
      await expectRefunded(ctx, terms, ctx.bob);
    });

    it("refunds one expired PvP leg alone and leaves the other leg locked", async () => {
      const ctx = await setup();
      const now = BigInt(await time.latest());
      const pvp = await lockPvP(ctx, { legB: { expiry: now + 600n } });
      await time.increaseTo(pvp.legB.expiry);
      await expectRefunded(ctx, pvp.legB, ctx.outsider);
      expect(await ctx.escrow.paymentState(pvp.legA.uetr)).to.equal(State.Locked);
    });

    it("still returns the funds to a payer suspended since the lock", async () => {
      const ctx = await setup();
      const terms = await lockPayment(ctx);
      await ctx.registry.suspend(ctx.alice);
      await time.increaseTo(terms.expiry);
      await expectRefunded(ctx, terms, ctx.outsider);
    });

    it("reverts with LockNotExpired one second before expiry", async () => {
      const ctx = await setup();
      const terms = await lockPayment(ctx);
      await time.setNextBlockTimestamp(terms.expiry - 1n);
      await expectRefundRevert(ctx, terms, ctx.escrow, "LockNotExpired", terms.uetr, terms.expiry);
    });

    it("reverts with LockNotExpired right after the lock", async () => {
      const ctx = await setup();
      const terms = await lockPayment(ctx);
      await expectRefundRevert(ctx, terms, ctx.escrow, "LockNotExpired", terms.uetr, terms.expiry);
    });

    it("reverts with PaymentAlreadyReleased after a release", async () => {
      const ctx = await setup();
      const terms = await lockPayment(ctx);
      await ctx.escrow.release(terms, await signRelease(ctx, ctx.admin, terms));
      await time.increaseTo(terms.expiry);
      await expectRefundRevert(ctx, terms, ctx.escrow, "PaymentAlreadyReleased", terms.uetr);
    });

    it("reverts with PaymentAlreadyRefunded the second time", async () => {
      const ctx = await setup();
      const terms = await lockPayment(ctx);
      await time.increaseTo(terms.expiry);
      await ctx.escrow.refund(terms);
      await expectRefundRevert(ctx, terms, ctx.escrow, "PaymentAlreadyRefunded", terms.uetr);
    });

    it("reverts with PaymentNotFound for a UETR never locked", async () => {
      const ctx = await setup();
      const terms = termsOf(await lockRequest(ctx.bob, ctx.gbp), ctx.alice);
      await time.increaseTo(terms.expiry);
      await expectRefundRevert(ctx, terms, ctx.escrow, "PaymentNotFound", terms.uetr);
    });

    for (const field of ALTERABLE_TERMS) {
      it(`reverts with TermsMismatch when the ${field} is altered`, async () => {
        const ctx = await setup();
        const terms = await lockPayment(ctx);
        await time.increaseTo(terms.expiry + 10n);
        await expectRefundRevert(ctx, alter(ctx, terms, field), ctx.escrow, "TermsMismatch", terms.uetr);
      });
    }
  });

  // -------------------------------------------------------------------------------------------

  describe("releaseBatch", () => {
    /** Locks `count` attested payments alice pays bob, and the admin's attestation of each. */
    async function attestedBatch(ctx: Ctx, count: number, overrides: Partial<LockRequestInput> = {}) {
      const requests = await Promise.all(Array.from({ length: count }, () => lockRequest(ctx.bob, ctx.gbp, { amount: 100n, ...overrides })));
      await ctx.escrow.connect(ctx.alice).lockBatch(requests);
      const terms = requests.map((request) => termsOf(request, ctx.alice));
      const authorizations = await Promise.all(terms.map((t) => signRelease(ctx, ctx.admin, t)));
      return { terms, authorizations };
    }

    const expectBatchRevert = revertAssertion(
      (ctx, terms: LockTerms[], authorizations: string[]) => ctx.escrow.connect(ctx.outsider).releaseBatch(terms, authorizations),
      (terms) => terms.map((t) => t.uetr),
    );

    it("releases a batch an attester sends itself, with no authorizations", async () => {
      const ctx = await setup();
      const { terms } = await attestedBatch(ctx, 3);
      const tx = ctx.escrow.connect(ctx.admin).releaseBatch(terms, terms.map(() => "0x"));
      for (const t of terms) await expect(tx).to.emit(ctx.escrow, "Released").withArgs(t.uetr, ctx.admin.address);
      await expect(tx).to.changeTokenBalances(ctx.gbp, [ctx.escrow, ctx.bob], [-300n, 300n]);
    });

    it("releases payments authorized by preimage, attester, payee and ERC-1271 wallet, one Released event each", async () => {
      const { ctx, owner, wallet } = await setupWithWalletBank();
      const secret = newSecret();
      const hashlocked = await lockPayment(ctx, { amount: 1_000n, hashlock: secret.hashlock });
      const attested = await lockAs(ctx, ctx.alice, await lockRequest(ctx.carol, ctx.jpy, { amount: 2_000n }));
      const payeeSigned = await lockPayment(ctx, { amount: 3_000n });
      const toWallet = await lockPayment(ctx, { amount: 4_000n, payee: wallet.target as string });
      const terms = [hashlocked, attested, payeeSigned, toWallet];
      const authorizations = [
        secret.preimage,
        await signRelease(ctx, ctx.admin, attested),
        await signRelease(ctx, ctx.bob, payeeSigned),
        await signRelease(ctx, owner, toWallet),
      ];
      const tx = ctx.escrow.connect(ctx.outsider).releaseBatch(terms, authorizations);
      for (const t of terms) await expect(tx).to.emit(ctx.escrow, "Released").withArgs(t.uetr, ctx.outsider.address);
      await expect(tx).to.changeTokenBalances(ctx.gbp, [ctx.escrow, ctx.bob, wallet, ctx.alice], [-8_000n, 4_000n, 4_000n, 0n]);
      await expect(tx).to.changeTokenBalances(ctx.jpy, [ctx.escrow, ctx.carol, ctx.alice], [-2_000n, 2_000n, 0n]);
      for (const t of terms) expect(await ctx.escrow.paymentState(t.uetr)).to.equal(State.Released);
    });

    it("accepts exactly MAX_BATCH_SIZE payments", async () => {
      const ctx = await setup();
      const { terms, authorizations } = await attestedBatch(ctx, MAX_BATCH_SIZE);
      const tx = ctx.escrow.connect(ctx.outsider).releaseBatch(terms, authorizations);
      await expect(tx).to.changeTokenBalances(ctx.gbp, [ctx.escrow, ctx.bob], [-100n * BigInt(MAX_BATCH_SIZE), 100n * BigInt(MAX_BATCH_SIZE)]);
      for (const t of terms) expect(await ctx.escrow.paymentState(t.uetr)).to.equal(State.Released);
    });

    it("reverts with EmptyBatch for no payments", async () => {
      const ctx = await setup();
      await expectBatchRevert(ctx, [], [], ctx.escrow, "EmptyBatch");
    });

    it("reverts with BatchTooLarge for MAX_BATCH_SIZE + 1 payments", async () => {
      const ctx = await setup();
      const { terms, authorizations } = await attestedBatch(ctx, MAX_BATCH_SIZE);
      const extra = await lockPayment(ctx);
      await expectBatchRevert(
        ctx,
        [...terms, extra],
        [...authorizations, await signRelease(ctx, ctx.admin, extra)],
        ctx.escrow,
        "BatchTooLarge",
        MAX_BATCH_SIZE + 1,
        MAX_BATCH_SIZE,
      );
    });

    it("reverts with BatchLengthMismatch when the authorizations do not pair with the terms", async () => {
      const ctx = await setup();
      const { terms, authorizations } = await attestedBatch(ctx, 2);
      await expectBatchRevert(ctx, terms, authorizations.slice(1), ctx.escrow, "BatchLengthMismatch", 2, 1);
      await expectBatchRevert(ctx, terms.slice(1), authorizations, ctx.escrow, "BatchLengthMismatch", 1, 2);
    });

    it("reverts the whole batch when one attestation is invalid", async () => {
      const ctx = await setup();
      const { terms, authorizations } = await attestedBatch(ctx, 3);
      authorizations[1] = await signRelease(ctx, ctx.outsider, terms[1]);
      await expectBatchRevert(ctx, terms, authorizations, ctx.escrow, "InvalidAttestation", terms[1].uetr);
    });

    it("reverts the whole batch when one preimage is wrong", async () => {
      const ctx = await setup();
      const { terms, authorizations } = await attestedBatch(ctx, 2);
      const hashlocked = await lockPayment(ctx, { hashlock: newSecret().hashlock });
      await expectBatchRevert(ctx, [...terms, hashlocked], [...authorizations, newSecret().preimage], ctx.escrow, "InvalidPreimage", hashlocked.uetr);
    });

    it("reverts the whole batch when one authorization belongs to another payment of the batch", async () => {
      const ctx = await setup();
      const { terms, authorizations } = await attestedBatch(ctx, 2);
      await expectBatchRevert(ctx, terms, [authorizations[1], authorizations[0]], ctx.escrow, "InvalidAttestation", terms[0].uetr);
    });

    it("reverts with PaymentAlreadyReleased for a payment released earlier", async () => {
      const ctx = await setup();
      const { terms, authorizations } = await attestedBatch(ctx, 3);
      await ctx.escrow.release(terms[2], authorizations[2]);
      await expectBatchRevert(ctx, terms, authorizations, ctx.escrow, "PaymentAlreadyReleased", terms[2].uetr);
      expect(await ctx.escrow.paymentState(terms[0].uetr)).to.equal(State.Locked);
    });

    it("reverts with PaymentAlreadyRefunded for a payment refunded earlier", async () => {
      const ctx = await setup();
      const { terms, authorizations } = await attestedBatch(ctx, 2);
      const expiring = await lockPayment(ctx, { expiry: BigInt(await time.latest()) + 600n });
      const signature = await signRelease(ctx, ctx.admin, expiring);
      await time.increaseTo(expiring.expiry);
      await ctx.escrow.refund(expiring);
      await expectBatchRevert(ctx, [...terms, expiring], [...authorizations, signature], ctx.escrow, "PaymentAlreadyRefunded", expiring.uetr);
    });

    it("reverts with PaymentAlreadyReleased for a UETR repeated inside the batch", async () => {
      const ctx = await setup();
      const { terms, authorizations } = await attestedBatch(ctx, 2);
      await expectBatchRevert(
        ctx,
        [...terms, terms[0]],
        [...authorizations, authorizations[0]],
        ctx.escrow,
        "PaymentAlreadyReleased",
        terms[0].uetr,
      );
    });

    it("reverts with LinkedLegRequiresPvP for a PvP leg in the batch", async () => {
      const ctx = await setup();
      const { terms, authorizations } = await attestedBatch(ctx, 1);
      const pvp = await lockPvP(ctx);
      const signature = await signRelease(ctx, ctx.admin, pvp.legA);
      await expectBatchRevert(
        ctx,
        [...terms, pvp.legA],
        [...authorizations, signature],
        ctx.escrow,
        "LinkedLegRequiresPvP",
        pvp.legA.uetr,
        pvp.legB.uetr,
      );
    });
  });

  // -------------------------------------------------------------------------------------------

  describe("refundBatch", () => {
    /** Locks `count` payments alice pays bob and `count` dave pays carol, all expiring together. */
    async function expiredBatch(ctx: Ctx, count: number) {
      const expiry = BigInt(await time.latest()) + 600n;
      const fromAlice = await Promise.all(Array.from({ length: count }, () => lockRequest(ctx.bob, ctx.gbp, { amount: 100n, expiry })));
      const fromDave = await Promise.all(Array.from({ length: count }, () => lockRequest(ctx.carol, ctx.gbp, { amount: 10n, expiry })));
      await ctx.escrow.connect(ctx.alice).lockBatch(fromAlice);
      await ctx.escrow.connect(ctx.dave).lockBatch(fromDave);
      await time.increaseTo(expiry);
      return [...fromAlice.map((r) => termsOf(r, ctx.alice)), ...fromDave.map((r) => termsOf(r, ctx.dave))];
    }

    const expectBatchRevert = revertAssertion(
      (ctx, terms: LockTerms[]) => ctx.escrow.connect(ctx.outsider).refundBatch(terms),
      (terms) => terms.map((t) => t.uetr),
    );

    it("returns every payment to its payer, one Refunded event each", async () => {
      const ctx = await setup();
      const terms = await expiredBatch(ctx, 2);
      const tx = ctx.escrow.connect(ctx.outsider).refundBatch(terms);
      for (const t of terms) await expect(tx).to.emit(ctx.escrow, "Refunded").withArgs(t.uetr, ctx.outsider.address);
      await expect(tx).to.changeTokenBalances(ctx.gbp, [ctx.escrow, ctx.alice, ctx.dave, ctx.bob, ctx.carol], [-220n, 200n, 20n, 0n, 0n]);
      for (const t of terms) expect(await ctx.escrow.paymentState(t.uetr)).to.equal(State.Refunded);
    });

    it("reverts with EmptyBatch for no payments and BatchTooLarge for MAX_BATCH_SIZE + 1", async () => {
      const ctx = await setup();
      await expectBatchRevert(ctx, [], ctx.escrow, "EmptyBatch");
      const terms = await expiredBatch(ctx, (MAX_BATCH_SIZE + 2) / 2);
      await expectBatchRevert(ctx, terms.slice(1), ctx.escrow, "BatchTooLarge", MAX_BATCH_SIZE + 1, MAX_BATCH_SIZE);
    });

    it("reverts the whole batch with LockNotExpired when one payment has not expired", async () => {
      const ctx = await setup();
      const terms = await expiredBatch(ctx, 1);
      const live = await lockPayment(ctx);
      await expectBatchRevert(ctx, [...terms, live], ctx.escrow, "LockNotExpired", live.uetr, live.expiry);
    });

    it("reverts with PaymentAlreadyReleased for a payment released earlier", async () => {
      const ctx = await setup();
      const released = await lockPayment(ctx, { expiry: BigInt(await time.latest()) + 900n });
      await ctx.escrow.release(released, await signRelease(ctx, ctx.admin, released));
      const terms = await expiredBatch(ctx, 1);
      await expectBatchRevert(ctx, [...terms, released], ctx.escrow, "PaymentAlreadyReleased", released.uetr);
    });

    it("reverts with PaymentAlreadyRefunded for a UETR repeated inside the batch", async () => {
      const ctx = await setup();
      const terms = await expiredBatch(ctx, 1);
      await expectBatchRevert(ctx, [...terms, terms[0]], ctx.escrow, "PaymentAlreadyRefunded", terms[0].uetr);
    });
  });

  // -------------------------------------------------------------------------------------------

  describe("settlePvP", () => {
    const expectSettleRevert = revertAssertion(
      (ctx, pvp: PvP, authorization: string) => ctx.escrow.connect(ctx.outsider).settlePvP(pvp.legA, pvp.legB, authorization),
      (pvp) => uetrsOf(pvp),
    );

    async function expectSettled(ctx: Ctx, pvp: PvP, authorization: string): Promise<void> {
      const { legA, legB } = pvp;
      const tx = ctx.escrow.connect(ctx.outsider).settlePvP(legA, legB, authorization);
      await expect(tx).to.emit(ctx.escrow, "Released").withArgs(legA.uetr, ctx.outsider.address);
      await expect(tx).to.emit(ctx.escrow, "Released").withArgs(legB.uetr, ctx.outsider.address);
      await expect(tx).to.emit(ctx.escrow, "PvPSettled").withArgs(legA.uetr, legB.uetr, ctx.outsider.address);
      await expect(tx).to.changeTokenBalances(
        tokenAt(legA.token),
        [ctx.escrow, legA.payer, legA.payee],
        [-legA.amount, 0n, legA.amount],
      );
      await expect(tx).to.changeTokenBalances(
        tokenAt(legB.token),
        [ctx.escrow, legB.payer, legB.payee],
        [-legB.amount, 0n, legB.amount],
      );
      expect(await ctx.escrow.paymentState(legA.uetr)).to.equal(State.Released);
      expect(await ctx.escrow.paymentState(legB.uetr)).to.equal(State.Released);
    }

    const attest = (ctx: Ctx, pvp: PvP, signer: HardhatEthersSigner = ctx.admin) =>
      signPvP(ctx, signer, pvp.legA, pvp.legB);

    describe("settles both legs", () => {
      it("on an attester's PvPRelease signature", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx);
        await expectSettled(ctx, pvp, await attest(ctx, pvp));
      });

      it("on the shared hashlock preimage", async () => {
        const ctx = await setup();
        const secret = newSecret();
        const pvp = await lockPvP(ctx, { hashlock: secret.hashlock });
        await expectSettled(ctx, pvp, secret.preimage);
      });

      it("for a currency swap, where leg B pays leg A's payer", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx, { payeeB: ctx.alice });
        await expectSettled(ctx, pvp, await attest(ctx, pvp));
      });
    });

    describe("reverts", () => {
      it("with PvPLegsNotLinked for two gross payments", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx, { legA: { linkedUetr: ZERO_BYTES16 }, legB: { linkedUetr: ZERO_BYTES16 } });
        await expectSettleRevert(ctx, pvp, await attest(ctx, pvp), ctx.escrow, "PvPLegsNotLinked", ...uetrsOf(pvp));
      });

      it("with PvPLegsNotLinked when leg B links to a third payment", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx, { legB: { linkedUetr: randomUetr() } });
        await expectSettleRevert(ctx, pvp, await attest(ctx, pvp), ctx.escrow, "PvPLegsNotLinked", ...uetrsOf(pvp));
      });

      it("with PvPLegsNotLinked when leg A links to a third payment", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx, { legA: { linkedUetr: randomUetr() } });
        await expectSettleRevert(ctx, pvp, await attest(ctx, pvp), ctx.escrow, "PvPLegsNotLinked", ...uetrsOf(pvp));
      });

      it("with PvPSameToken when both legs are in one currency", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx, { tokenB: ctx.gbp });
        await expectSettleRevert(ctx, pvp, await attest(ctx, pvp), ctx.escrow, "PvPSameToken", ctx.gbp.target);
      });

      it("with PvPCounterpartyMismatch when leg B is not paid by leg A's payee", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx, { payerB: ctx.dave });
        await expectSettleRevert(
          ctx,
          pvp,
          await attest(ctx, pvp),
          ctx.escrow,
          "PvPCounterpartyMismatch",
          ctx.bob.address,
          ctx.dave.address,
        );
      });

      it("with PvPCounterpartyMismatch when the legs are passed in the wrong order", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx);
        const swapped = { legA: pvp.legB, legB: pvp.legA };
        await expectSettleRevert(
          ctx,
          swapped,
          await attest(ctx, swapped),
          ctx.escrow,
          "PvPCounterpartyMismatch",
          ctx.carol.address,
          ctx.alice.address,
        );
      });

      it("with PvPConditionMismatch when only one leg is hashlocked", async () => {
        const ctx = await setup();
        const secret = newSecret();
        const pvp = await lockPvP(ctx, { legA: { hashlock: secret.hashlock } });
        await expectSettleRevert(ctx, pvp, secret.preimage, ctx.escrow, "PvPConditionMismatch", ...uetrsOf(pvp));
      });

      it("with PvPConditionMismatch when the legs have different hashlocks", async () => {
        const ctx = await setup();
        const secret = newSecret();
        const pvp = await lockPvP(ctx, { hashlock: secret.hashlock, legB: { hashlock: newSecret().hashlock } });
        await expectSettleRevert(ctx, pvp, secret.preimage, ctx.escrow, "PvPConditionMismatch", ...uetrsOf(pvp));
      });

      const nonAttesters: [string, (ctx: Ctx) => HardhatEthersSigner][] = [
        ["leg B's payee", (ctx) => ctx.carol],
        ["the counterparty", (ctx) => ctx.bob],
        ["an outsider", (ctx) => ctx.outsider],
      ];
      for (const [label, signerOf] of nonAttesters) {
        it(`with InvalidAttestation for a signature by ${label}`, async () => {
          const ctx = await setup();
          const pvp = await lockPvP(ctx);
          const signature = await attest(ctx, pvp, signerOf(ctx));
          await expectSettleRevert(ctx, pvp, signature, ctx.escrow, "InvalidAttestation", pvp.legA.uetr);
        });
      }

      it("with InvalidAttestation for an attester's Release signature of one leg", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx);
        const signature = await signRelease(ctx, ctx.admin, pvp.legA);
        await expectSettleRevert(ctx, pvp, signature, ctx.escrow, "InvalidAttestation", pvp.legA.uetr);
      });

      it("with InvalidAttestation for an attester's signature over the legs in the other order", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx, { payeeB: ctx.alice });
        const signature = await signPvP(ctx, ctx.admin, pvp.legB, pvp.legA);
        await expectSettleRevert(ctx, pvp, signature, ctx.escrow, "InvalidAttestation", pvp.legA.uetr);
      });

      it("with InvalidPreimage for a wrong preimage", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx, { hashlock: newSecret().hashlock });
        await expectSettleRevert(ctx, pvp, newSecret().preimage, ctx.escrow, "InvalidPreimage", pvp.legA.uetr);
      });

      it("with InvalidPreimage for an attester's signature on hashlocked legs", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx, { hashlock: newSecret().hashlock });
        await expectSettleRevert(ctx, pvp, await attest(ctx, pvp), ctx.escrow, "InvalidPreimage", pvp.legA.uetr);
      });

      it("with LockExpired when leg B has expired, leaving both legs locked", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx, { legB: { expiry: BigInt(await time.latest()) + 600n } });
        const signature = await attest(ctx, pvp);
        await time.increaseTo(pvp.legB.expiry);
        await expectSettleRevert(ctx, pvp, signature, ctx.escrow, "LockExpired", pvp.legB.uetr, pvp.legB.expiry);
        expect(await ctx.escrow.paymentState(pvp.legA.uetr)).to.equal(State.Locked);
        expect(await ctx.escrow.paymentState(pvp.legB.uetr)).to.equal(State.Locked);
      });

      it("with LockExpired when leg A has expired", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx, { legA: { expiry: BigInt(await time.latest()) + 600n } });
        const signature = await attest(ctx, pvp);
        await time.setNextBlockTimestamp(pvp.legA.expiry);
        await expectSettleRevert(ctx, pvp, signature, ctx.escrow, "LockExpired", pvp.legA.uetr, pvp.legA.expiry);
      });

      it("with PaymentAlreadyReleased when the pair is settled twice", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx);
        const signature = await attest(ctx, pvp);
        await ctx.escrow.settlePvP(pvp.legA, pvp.legB, signature);
        await expectSettleRevert(ctx, pvp, signature, ctx.escrow, "PaymentAlreadyReleased", pvp.legA.uetr);
      });

      it("with PaymentAlreadyRefunded when one leg was refunded", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx, { legB: { expiry: BigInt(await time.latest()) + 600n } });
        const signature = await attest(ctx, pvp);
        await time.increaseTo(pvp.legB.expiry);
        await ctx.escrow.refund(pvp.legB);
        await expectSettleRevert(ctx, pvp, signature, ctx.escrow, "PaymentAlreadyRefunded", pvp.legB.uetr);
        expect(await ctx.escrow.paymentState(pvp.legA.uetr)).to.equal(State.Locked);
      });

      it("with PaymentNotFound when leg B was never locked", async () => {
        const ctx = await setup();
        const uetrB = randomUetr();
        const legA = await lockPayment(ctx, { linkedUetr: uetrB });
        const legB = termsOf(await lockRequest(ctx.carol, ctx.jpy, { uetr: uetrB, linkedUetr: legA.uetr }), ctx.bob);
        const pvp = { legA, legB };
        await expectSettleRevert(ctx, pvp, await attest(ctx, pvp), ctx.escrow, "PaymentNotFound", uetrB);
      });

      it("with TermsMismatch when a leg's terms are altered, even with an attestation of them", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx);
        const altered = { legA: pvp.legA, legB: { ...pvp.legB, amount: pvp.legB.amount + 1n } };
        await expectSettleRevert(ctx, altered, await attest(ctx, altered), ctx.escrow, "TermsMismatch", pvp.legB.uetr);
      });

      it("with the registry's ParticipantSuspended when leg B's payee is suspended", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx);
        await ctx.registry.suspend(ctx.carol);
        await expectSettleRevert(ctx, pvp, await attest(ctx, pvp), ctx.registry, "ParticipantSuspended", ctx.carol.address);
      });

      it("with the registry's ParticipantSuspended when leg A's payee (the counterparty) is suspended", async () => {
        const ctx = await setup();
        const secret = newSecret();
        const pvp = await lockPvP(ctx, { hashlock: secret.hashlock });
        await ctx.registry.suspend(ctx.bob);
        await expectSettleRevert(ctx, pvp, secret.preimage, ctx.registry, "ParticipantSuspended", ctx.bob.address);
      });

      // Atomicity: leg A's transfer goes out first and succeeds; leg B's then fails, and the
      // revert takes leg A's transfer back with it: no balance moves, both legs stay locked.
      it("with the token's EnforcedPause when leg B's token is paused, undoing leg A's transfer", async () => {
        const ctx = await setup();
        const pvp = await lockPvP(ctx);
        await ctx.jpy.pause();
        await expectSettleRevert(ctx, pvp, await attest(ctx, pvp), ctx.jpy, "EnforcedPause");
        expect(await ctx.escrow.paymentState(pvp.legA.uetr)).to.equal(State.Locked);
        expect(await ctx.escrow.paymentState(pvp.legB.uetr)).to.equal(State.Locked);
        await ctx.jpy.unpause();
        await expectSettled(ctx, pvp, await attest(ctx, pvp));
      });
    });
  });

  // -------------------------------------------------------------------------------------------

  describe("re-entry", () => {
    const zeroRequest = { uetr: ZERO_BYTES16, payee: ZeroAddress, token: ZeroAddress, amount: 0n, expiry: 0n, hashlock: ZERO_BYTES32, linkedUetr: ZERO_BYTES16 };
    const zeroTerms = { ...zeroRequest, payer: ZeroAddress };
    // Arguments only need to encode: the guard refuses the call before anything reads them.
    const ENTRY_POINTS: Record<string, unknown[]> = {
      lock: [zeroRequest],
      lockBatch: [[zeroRequest]],
      lockFor: [ZeroAddress, zeroRequest],
      lockBatchFor: [[{ payer: ZeroAddress, request: zeroRequest }]],
      release: [zeroTerms, "0x"],
      releaseBatch: [[zeroTerms], ["0x"]],
      refund: [zeroTerms],
      refundBatch: [[zeroTerms]],
      settlePvP: [zeroTerms, zeroTerms, "0x"],
    };

    for (const [name, args] of Object.entries(ENTRY_POINTS)) {
      it(`refuses re-entry into ${name} from inside a token transfer, and the outer lock reverts whole`, async () => {
        const ctx = await setup();
        // A registered currency whose token calls back into the escrow while the escrow pulls it.
        const token = await new ReentrantTokenMock__factory(ctx.admin).deploy("XTS");
        await ctx.registry.registerToken(token);
        await ctx.registry.setLimits(ctx.alice, token, 1_000_000n, 1_000_000n);
        await token.mint(ctx.alice, 1_000n);
        await token.connect(ctx.alice).approve(ctx.escrow, MaxUint256);
        await token.setReentry(ctx.escrow, new Interface(SettlementEscrow__factory.abi).encodeFunctionData(name, args));
        const request = await lockRequest(ctx.bob, token, { amount: 100n });
        await expect(ctx.escrow.connect(ctx.alice).lock(request)).to.be.revertedWithCustomError(ctx.escrow, "ReentrancyGuardReentrantCall");
        expect(await ctx.escrow.paymentState(request.uetr)).to.equal(State.None);
        expect(await token.balanceOf(ctx.alice)).to.equal(1_000n);
      });
    }
  });

  describe("pause and unpause", () => {
    const PAUSABLE = ["lock", "lockBatch", "release", "releaseBatch", "refund", "refundBatch", "settlePvP"] as const;
    type Pausable = (typeof PAUSABLE)[number];

    /** A paused escrow, with one ready call of each pausable function. */
    async function pausedScenario() {
      const ctx = await setup();
      const live = await lockPayment(ctx);
      const expiring = await lockPayment(ctx, { expiry: BigInt(await time.latest()) + 60n });
      const pvp = await lockPvP(ctx);
      const single = await lockRequest(ctx.bob, ctx.gbp);
      const batched = await lockRequest(ctx.carol, ctx.jpy);
      const releaseSignature = await signRelease(ctx, ctx.admin, live);
      const pvpSignature = await signPvP(ctx, ctx.admin, pvp.legA, pvp.legB);
      await time.increaseTo(expiring.expiry);
      await expect(ctx.escrow.pause()).to.emit(ctx.escrow, "Paused").withArgs(ctx.admin.address);
      const calls: Record<Pausable, () => Promise<unknown>> = {
        lock: () => ctx.escrow.connect(ctx.alice).lock(single),
        lockBatch: () => ctx.escrow.connect(ctx.alice).lockBatch([batched]),
        release: () => ctx.escrow.connect(ctx.outsider).release(live, releaseSignature),
        releaseBatch: () => ctx.escrow.connect(ctx.outsider).releaseBatch([live], [releaseSignature]),
        refund: () => ctx.escrow.connect(ctx.outsider).refund(expiring),
        refundBatch: () => ctx.escrow.connect(ctx.outsider).refundBatch([expiring]),
        settlePvP: () => ctx.escrow.connect(ctx.outsider).settlePvP(pvp.legA, pvp.legB, pvpSignature),
      };
      const watched = [live.uetr, expiring.uetr, ...uetrsOf(pvp), single.uetr, batched.uetr];
      return { ctx, calls, watched };
    }

    for (const name of PAUSABLE) {
      it(`${name} reverts with EnforcedPause while paused and works once unpaused`, async () => {
        const { ctx, calls, watched } = await pausedScenario();
        expect(await ctx.escrow.paused()).to.equal(true);
        await expectRevertWithoutEffect(ctx, watched, calls[name], ctx.escrow, "EnforcedPause");
        await expect(ctx.escrow.unpause()).to.emit(ctx.escrow, "Unpaused").withArgs(ctx.admin.address);
        await expect(calls[name]()).not.to.be.reverted;
      });
    }

    it("reverts pause with EnforcedPause when already paused, and unpause with ExpectedPause when not", async () => {
      const { ctx, watched } = await pausedScenario();
      await expectRevertWithoutEffect(ctx, watched, () => ctx.escrow.pause(), ctx.escrow, "EnforcedPause");
      await ctx.escrow.unpause();
      await expectRevertWithoutEffect(ctx, watched, () => ctx.escrow.unpause(), ctx.escrow, "ExpectedPause");
    });

    it("keeps the views working while paused", async () => {
      const { ctx, watched } = await pausedScenario();
      expect(await ctx.escrow.paymentState(watched[0])).to.equal(State.Locked);
      expect(await ctx.escrow.registry()).to.equal(ctx.registry.target);
    });
  });

  describe("roles", () => {
    const notPausers: [string, (ctx: Ctx) => Promise<HardhatEthersSigner>][] = [
      ["an outsider", async (ctx) => ctx.outsider],
      ["a bank", async (ctx) => ctx.alice],
      [
        "an attester without PAUSER_ROLE",
        async (ctx) => {
          const attester = await spareSigner(0);
          await ctx.escrow.grantRole(ATTESTER_ROLE, attester);
          return attester;
        },
      ],
    ];
    for (const [label, accountOf] of notPausers) {
      it(`pause and unpause revert with AccessControlUnauthorizedAccount for ${label}`, async () => {
        const ctx = await setup();
        const account = await accountOf(ctx);
        const escrow = ctx.escrow.connect(account);
        await expectRevertWithoutEffect(ctx, [], () => escrow.pause(), ctx.escrow, "AccessControlUnauthorizedAccount", account.address, PAUSER_ROLE);
        await ctx.escrow.pause();
        await expectRevertWithoutEffect(ctx, [], () => escrow.unpause(), ctx.escrow, "AccessControlUnauthorizedAccount", account.address, PAUSER_ROLE);
      });
    }

    it("lets the admin grant PAUSER_ROLE, and revoke it", async () => {
      const ctx = await setup();
      const pauser = await spareSigner(0);
      await expect(ctx.escrow.grantRole(PAUSER_ROLE, pauser))
        .to.emit(ctx.escrow, "RoleGranted")
        .withArgs(PAUSER_ROLE, pauser.address, ctx.admin.address);
      await expect(ctx.escrow.connect(pauser).pause()).to.emit(ctx.escrow, "Paused").withArgs(pauser.address);
      await expect(ctx.escrow.connect(pauser).unpause()).to.emit(ctx.escrow, "Unpaused").withArgs(pauser.address);
      await ctx.escrow.revokeRole(PAUSER_ROLE, pauser);
      await expectRevertWithoutEffect(
        ctx,
        [],
        () => ctx.escrow.connect(pauser).pause(),
        ctx.escrow,
        "AccessControlUnauthorizedAccount",
        pauser.address,
        PAUSER_ROLE,
      );
    });

    it("lets only DEFAULT_ADMIN_ROLE holders grant roles", async () => {
      const ctx = await setup();
      expect(await ctx.escrow.getRoleAdmin(ATTESTER_ROLE)).to.equal(DEFAULT_ADMIN_ROLE);
      expect(await ctx.escrow.getRoleAdmin(PAUSER_ROLE)).to.equal(DEFAULT_ADMIN_ROLE);
      for (const role of [ATTESTER_ROLE, PAUSER_ROLE, DEFAULT_ADMIN_ROLE]) {
        await expect(ctx.escrow.connect(ctx.alice).grantRole(role, ctx.alice))
          .to.be.revertedWithCustomError(ctx.escrow, "AccessControlUnauthorizedAccount")
          .withArgs(ctx.alice.address, DEFAULT_ADMIN_ROLE);
        expect(await ctx.escrow.hasRole(role, ctx.alice)).to.equal(false);
      }
    });

    it("lets the admin renounce its attester role, after which its signatures no longer release", async () => {
      const ctx = await setup();
      const terms = await lockPayment(ctx);
      await ctx.escrow.renounceRole(ATTESTER_ROLE, ctx.admin);
      expect(await ctx.escrow.hasRole(ATTESTER_ROLE, ctx.admin)).to.equal(false);
      await expectRevertWithoutEffect(
        ctx,
        [terms.uetr],
        async () => ctx.escrow.release(terms, await signRelease(ctx, ctx.admin, terms)),
        ctx.escrow,
        "InvalidAttestation",
        terms.uetr,
      );
    });
  });
});
