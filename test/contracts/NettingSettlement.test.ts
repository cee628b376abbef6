import { expect } from "chai";
import fc from "fast-check";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  AbiCoder,
  MaxInt256,
  MaxUint256,
  MinInt256,
  TypedDataEncoder,
  ZeroAddress,
  ZeroHash,
  concat,
  getAddress,
  hexlify,
  id,
  keccak256,
  randomBytes,
  recoverAddress,
  type ContractTransactionResponse,
  type LogDescription,
} from "ethers";
import { ERC1271WalletMock__factory, NettingSettlement__factory } from "../../typechain-types";
import {
  TEST_CURRENCIES,
  approveWindow,
  deployCorridorFixture,
  randomUetr,
  signWindow,
  type CorridorFixture,
} from "./fixtures";
import { buildMerkleTree, verifyMerkleProof, type MerkleTree } from "../../server/settlement/merkle";
import { computeNetPositions, type Obligation } from "../../server/settlement/net-positions";
import {
  SETTLEMENT_WINDOW_TYPES,
  nettingDomain,
  paymentLeafHash,
  type NetPosition,
  type PaymentLeaf,
} from "../../server/chain/typed-data";
import { majorToMinorUnits } from "../../server/config/currencies";

type Currency = (typeof TEST_CURRENCIES)[number];

const MAX_POSITIONS = 512;
const MAX_ABS_AMOUNT = 2n ** 128n - 1n;
const NET_POSITION_TYPE = "NetPosition(address bank,address token,int256 amount)";
const SETTLEMENT_WINDOW_TYPE =
  "SettlementWindow(bytes32 windowId,bytes32 paymentsRoot,NetPosition[] positions)" + NET_POSITION_TYPE;
const SETTLER_ROLE = id("SETTLER_ROLE");
const PAUSER_ROLE = id("PAUSER_ROLE");
const abi = AbiCoder.defaultAbiCoder();

// ---------------------------------------------------------------------------------------------
// Addresses and positions
// ---------------------------------------------------------------------------------------------

interface HasAddress {
  address: string;
}

function compareAddresses(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function addressOf(contract: { target: unknown }): string {
  return getAddress(contract.target as string);
}

function tokenOf(fx: CorridorFixture, currency: Currency): string {
  return addressOf(fx.tokens[currency]);
}

function currencyOf(fx: CorridorFixture, token: string): Currency {
  const currency = TEST_CURRENCIES.find((c) => tokenOf(fx, c) === getAddress(token));
  if (!currency) throw new Error(`not a test token: ${token}`);
  return currency;
}

/** Bank and token addresses in ascending numeric order, the order positions must follow. */
function sortedAddresses(fx: CorridorFixture): { b: string[]; t: string[] } {
  return {
    b: fx.banks.map((bank) => bank.address).sort(compareAddresses),
    t: TEST_CURRENCIES.map((currency) => tokenOf(fx, currency)).sort(compareAddresses),
  };
}

function signerOf(fx: CorridorFixture, address: string): HardhatEthersSigner {
  const signer = fx.banks.find((bank) => bank.address === getAddress(address));
  if (!signer) throw new Error(`not a test bank: ${address}`);
  return signer;
}

function pos(bank: string, token: string, amount: bigint): NetPosition {
  return { bank, token, amount };
}

function pay(debtor: HasAddress, creditor: HasAddress, token: string, amount: bigint): Obligation {
  return { debtor: debtor.address, creditor: creditor.address, token, amount };
}

function randomBytes32(): string {
  return hexlify(randomBytes(32));
}

function positionsHash(positions: readonly NetPosition[]): string {
  const structHashes = positions.map((p) =>
    keccak256(abi.encode(["bytes32", "address", "address", "int256"], [id(NET_POSITION_TYPE), p.bank, p.token, p.amount])),
  );
  return keccak256(concat(structHashes));
}

// ---------------------------------------------------------------------------------------------
// Windows
// ---------------------------------------------------------------------------------------------

interface WindowCall {
  windowId: string;
  paymentsRoot: string;
  positions: NetPosition[];
  approvals: string[];
}

interface PaymentWindow extends WindowCall {
  payments: PaymentLeaf[];
  tree: MerkleTree;
}

/**
 * A window built as the relay builds it: payments with fresh UETRs, a Merkle tree of their leaves,
 * the net positions, and (when `sign`) every debtor's approval by its test bank.
 */
async function paymentWindow(
  fx: CorridorFixture,
  obligations: readonly Obligation[],
  { windowId = randomBytes32(), sign = true }: { windowId?: string; sign?: boolean } = {},
): Promise<PaymentWindow> {
  const payments = obligations.map((o) => ({ uetr: randomUetr(), ...o }));
  const tree = buildMerkleTree(payments.map(paymentLeafHash));
  const positions = computeNetPositions(obligations);
  const approvals = sign ? await approveWindow(fx, windowId, tree.root, positions) : positions.map(() => "0x");
  return { windowId, paymentsRoot: tree.root, positions, approvals, payments, tree };
}

/** GBP: banks 0 and 1 pay bank 2; JPY: bank 2 pays bank 3. Three debits, two credits. */
function basicObligations(fx: CorridorFixture): Obligation[] {
  const [b0, b1, b2, b3] = fx.banks;
  return [
    pay(b0, b2, tokenOf(fx, "GBP"), 10_000n),
    pay(b1, b2, tokenOf(fx, "GBP"), 5_000n),
    pay(b2, b3, tokenOf(fx, "JPY"), 700n),
  ];
}

function basicWindow(fx: CorridorFixture, windowId?: string): Promise<PaymentWindow> {
  return paymentWindow(fx, basicObligations(fx), { windowId });
}

/** Positions as given, with empty approvals: for checks made before any signature is looked at. */
function unsignedWindow(positions: NetPosition[]): WindowCall {
  return { windowId: randomBytes32(), paymentsRoot: randomBytes32(), positions, approvals: positions.map(() => "0x") };
}

/** Positions as given, each debtor's approval signed by its test bank. */
async function signedWindow(fx: CorridorFixture, positions: NetPosition[]): Promise<WindowCall> {
  const window = unsignedWindow(positions);
  return { ...window, approvals: await approveWindow(fx, window.windowId, window.paymentsRoot, positions) };
}

function withApprovalAt<W extends WindowCall>(window: W, index: number, approval: string): W {
  return { ...window, approvals: window.approvals.map((a, i) => (i === index ? approval : a)) };
}

type SignedData = Pick<WindowCall, "windowId" | "paymentsRoot" | "positions">;

/** The window with every debit of `bank` approved by `signer`'s signature of `signed` (default: the window). */
async function approvedBy<W extends WindowCall>(
  fx: CorridorFixture,
  window: W,
  bank: HasAddress,
  signer: HardhatEthersSigner,
  signed: Partial<SignedData> = {},
): Promise<W> {
  const { windowId, paymentsRoot, positions } = { ...window, ...signed };
  const signature = await signWindow(fx, signer, windowId, paymentsRoot, positions);
  const approvals = window.approvals.map((a, i) => {
    const p = window.positions[i];
    return p.bank === bank.address && p.amount < 0n ? signature : a;
  });
  return { ...window, approvals };
}

function typedDataHash(fx: CorridorFixture, { windowId, paymentsRoot, positions }: SignedData): string {
  const domain = nettingDomain(fx.chainId, addressOf(fx.netting));
  return TypedDataEncoder.hash(domain, SETTLEMENT_WINDOW_TYPES, { windowId, paymentsRoot, positions });
}

function debtorIndex(window: WindowCall, bank: HasAddress): number {
  const index = window.positions.findIndex((p) => p.bank === bank.address && p.amount < 0n);
  if (index < 0) throw new Error(`${bank.address} is no debtor of the window`);
  return index;
}

function lastDebtor(window: WindowCall): NetPosition {
  const debtors = window.positions.filter((p) => p.amount < 0n);
  return debtors[debtors.length - 1];
}

function settle(fx: CorridorFixture, window: WindowCall, caller: HardhatEthersSigner = fx.admin) {
  return fx.netting.connect(caller).settleWindow(window.windowId, window.paymentsRoot, window.positions, window.approvals);
}

/** Random obligations between distinct test banks in GBP, JPY and BHD, each at most 50,000 major units. */
function obligationsArbitrary(fx: CorridorFixture, minLength: number, maxLength: number): fc.Arbitrary<Obligation[]> {
  const n = fx.banks.length;
  const obligation = fc.constantFrom(...TEST_CURRENCIES).chain((currency) =>
    fc
      .record({
        debtor: fc.nat(n - 1),
        shift: fc.integer({ min: 1, max: n - 1 }),
        amount: fc.bigInt({ min: 1n, max: majorToMinorUnits(50_000n, currency) }),
      })
      .map(({ debtor, shift, amount }) =>
        pay(fx.banks[debtor], fx.banks[(debtor + shift) % n], tokenOf(fx, currency), amount),
      ),
  );
  return fc.array(obligation, { minLength, maxLength });
}

/** Thirty random obligations, the same on every run. */
function sampleObligations(fx: CorridorFixture): Obligation[] {
  return fc.sample(obligationsArbitrary(fx, 30, 30), { seed: 20_240_917, numRuns: 1 })[0];
}

// ---------------------------------------------------------------------------------------------
// Ledger: every balance the contract could touch, to compare before and after
// ---------------------------------------------------------------------------------------------

type Ledger = Record<string, bigint>;

function ledgerKey(currency: Currency, holder: string): string {
  return `${currency} ${getAddress(holder)}`;
}

async function ledger(fx: CorridorFixture, extraHolders: readonly string[] = []): Promise<Ledger> {
  const holders = [...fx.banks.map((bank) => bank.address), addressOf(fx.netting), ...extraHolders];
  const entries: [string, bigint][] = [];
  for (const currency of TEST_CURRENCIES) {
    const token = fx.tokens[currency];
    entries.push([`${currency} supply`, await token.totalSupply()]);
    for (const holder of holders) entries.push([ledgerKey(currency, holder), await token.balanceOf(holder)]);
  }
  return Object.fromEntries(entries);
}

function ledgerAfter(fx: CorridorFixture, before: Ledger, positions: readonly NetPosition[]): Ledger {
  const after = { ...before };
  for (const p of positions) {
    const key = ledgerKey(currencyOf(fx, p.token), p.bank);
    if (after[key] === undefined) throw new Error(`no ledger entry ${key}`);
    after[key] += p.amount;
  }
  return after;
}

/** Balances moved by exactly the net positions, the contract holds nothing, the root is recorded. */
async function expectSettled(
  fx: CorridorFixture,
  window: WindowCall,
  before: Ledger,
  extraHolders: readonly string[] = [],
): Promise<void> {
  expect(await ledger(fx, extraHolders)).to.deep.equal(ledgerAfter(fx, before, window.positions));
  for (const currency of TEST_CURRENCIES) {
    expect(await fx.tokens[currency].balanceOf(fx.netting), `${currency} held by the contract`).to.equal(0n);
  }
  expect(await fx.netting.paymentsRootOf(window.windowId)).to.equal(window.paymentsRoot);
}

interface RejectOptions {
  caller?: HardhatEthersSigner;
  extraHolders?: readonly string[];
  /** The window's root after the attempt: zero unless it had been settled before. */
  rootAfter?: string;
}

/** Sends `settleWindow`, lets `assertRevert` check the revert, then checks that nothing changed. */
async function expectRejected(
  fx: CorridorFixture,
  window: WindowCall,
  assertRevert: (settling: Promise<ContractTransactionResponse>) => PromiseLike<unknown>,
  { caller, extraHolders = [], rootAfter = ZeroHash }: RejectOptions = {},
): Promise<void> {
  const before = await ledger(fx, extraHolders);
  await assertRevert(settle(fx, window, caller));
  expect(await ledger(fx, extraHolders)).to.deep.equal(before);
  expect(await fx.netting.paymentsRootOf(window.windowId)).to.equal(rootAfter);
}

async function logsOf(fx: CorridorFixture, tx: ContractTransactionResponse): Promise<{ address: string; log: LogDescription }[]> {
  const receipt = await tx.wait();
  if (!receipt) throw new Error("no receipt");
  const contracts = [fx.netting, ...TEST_CURRENCIES.map((c) => fx.tokens[c])];
  return receipt.logs.flatMap((raw) => {
    const contract = contracts.find((c) => addressOf(c) === getAddress(raw.address));
    const log = contract?.interface.parseLog(raw);
    return log ? [{ address: getAddress(raw.address), log }] : [];
  });
}

async function settleSampleWindow() {
  const fx = await loadFixture(deployCorridorFixture);
  const window = await paymentWindow(fx, sampleObligations(fx));
  const before = await ledger(fx);
  const tx = await settle(fx, window);
  return { fx, window, before, tx };
}

/** A registered contract-wallet bank (ERC-1271) holding GBP, which approved the netting contract. */
async function deployWalletBank(fx: CorridorFixture) {
  const owner = (await ethers.getSigners())[fx.banks.length + 2];
  const wallet = await new ERC1271WalletMock__factory(fx.admin).deploy(owner.address);
  await wallet.waitForDeployment();
  const address = addressOf(wallet);
  const gbp = fx.tokens.GBP;
  await fx.registry.registerParticipant(address, "ECHOUS33XXX");
  await fx.registry.setLimits(address, gbp, 1_000_000n, 1_000_000n);
  await gbp.mint(address, 1_000_000n, id("wallet-bank-mint"));
  await wallet.connect(owner).execute(gbp, gbp.interface.encodeFunctionData("approve", [addressOf(fx.netting), MaxUint256]));
  return { wallet, owner, address };
}

// ---------------------------------------------------------------------------------------------
// Malformed windows, rejected by shape before any participant or signature check
// ---------------------------------------------------------------------------------------------

interface ShapeCase {
  title: string;
  error: string;
  build(addresses: { b: string[]; t: string[] }): { positions: NetPosition[]; args: unknown[] };
}

const filler = (count: number) => Array.from({ length: count }, () => pos(ZeroAddress, ZeroAddress, 0n));
const netted = (b: string[], token: string, amount: bigint) => [pos(b[0], token, -amount), pos(b[1], token, amount)];

const SHAPE_CASES: ShapeCase[] = [
  {
    title: "the banks of a token are in descending order",
    error: "PositionsNotSorted",
    build: ({ b, t }) => ({ positions: [pos(b[1], t[0], 100n), pos(b[0], t[0], -100n)], args: [1] }),
  },
  {
    title: "a bank appears twice in one token",
    error: "PositionsNotSorted",
    build: ({ b, t }) => ({ positions: [pos(b[0], t[0], -60n), pos(b[0], t[0], -40n), pos(b[1], t[0], 100n)], args: [1] }),
  },
  {
    title: "the tokens are in descending order",
    error: "PositionsNotSorted",
    build: ({ b, t }) => ({ positions: [...netted(b, t[1], 5n), ...netted(b, t[0], 7n)], args: [2] }),
  },
  {
    title: "a token's positions are split around another token",
    error: "PositionsNotSorted",
    build: ({ b, t }) => ({
      positions: [...netted(b, t[0], 5n), ...netted(b, t[1], 3n), pos(b[2], t[0], -1n), pos(b[3], t[0], 1n)],
      args: [4],
    }),
  },
  {
    title: "a position is zero",
    error: "ZeroPosition",
    build: ({ b, t }) => ({ positions: [pos(b[0], t[0], -100n), pos(b[1], t[0], 0n), pos(b[2], t[0], 100n)], args: [1] }),
  },
  {
    title: "a debit is 2^128",
    error: "AmountTooLarge",
    build: ({ b, t }) => ({ positions: [pos(b[0], t[0], -(2n ** 128n)), pos(b[1], t[0], 2n ** 128n)], args: [0, -(2n ** 128n)] }),
  },
  {
    title: "a credit is 2^128",
    error: "AmountTooLarge",
    build: ({ b, t }) => ({ positions: [pos(b[0], t[0], 2n ** 128n), pos(b[1], t[0], -(2n ** 128n))], args: [0, 2n ** 128n] }),
  },
  {
    title: "a debit is the least int256",
    error: "AmountTooLarge",
    build: ({ b, t }) => ({ positions: [pos(b[0], t[0], MinInt256), pos(b[1], t[0], 1n)], args: [0, MinInt256] }),
  },
  {
    title: "a later credit is the greatest int256",
    error: "AmountTooLarge",
    build: ({ b, t }) => ({ positions: [pos(b[0], t[0], -1n), pos(b[1], t[0], MaxInt256)], args: [1, MaxInt256] }),
  },
  {
    title: "a single token's positions sum to -1",
    error: "PositionsDoNotNet",
    build: ({ b, t }) => ({ positions: [pos(b[0], t[0], -100n), pos(b[1], t[0], 99n)], args: [t[0], -1n] }),
  },
  {
    title: "the window holds a single position",
    error: "PositionsDoNotNet",
    build: ({ b, t }) => ({ positions: [pos(b[0], t[0], -100n)], args: [t[0], -100n] }),
  },
  {
    title: "the first of two tokens does not net",
    error: "PositionsDoNotNet",
    build: ({ b, t }) => ({
      positions: [pos(b[0], t[0], -100n), pos(b[1], t[0], 101n), ...netted(b, t[1], 5n)],
      args: [t[0], 1n],
    }),
  },
  {
    title: "the middle of three tokens does not net",
    error: "PositionsDoNotNet",
    build: ({ b, t }) => ({
      positions: [...netted(b, t[0], 9n), pos(b[0], t[1], -5n), pos(b[2], t[1], 6n), ...netted(b, t[2], 3n)],
      args: [t[1], 1n],
    }),
  },
  {
    title: "the last of three tokens does not net",
    error: "PositionsDoNotNet",
    build: ({ b, t }) => ({
      positions: [...netted(b, t[0], 9n), ...netted(b, t[1], 3n), pos(b[0], t[2], -5n), pos(b[3], t[2], 4n)],
      args: [t[2], -1n],
    }),
  },
  {
    title: "the window holds MAX_POSITIONS + 1 positions",
    error: "TooManyPositions",
    build: () => ({ positions: filler(MAX_POSITIONS + 1), args: [MAX_POSITIONS + 1, MAX_POSITIONS] }),
  },
];

// ---------------------------------------------------------------------------------------------

describe("NettingSettlement", () => {
  describe("constructor", () => {
    it("grants the admin DEFAULT_ADMIN_ROLE, SETTLER_ROLE and PAUSER_ROLE, and keeps the registry", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      const [, other] = fx.banks;
      const netting = await new NettingSettlement__factory(fx.admin).deploy(fx.registry, other.address);
      for (const role of [await netting.DEFAULT_ADMIN_ROLE(), SETTLER_ROLE, PAUSER_ROLE]) {
        expect(await netting.hasRole(role, other.address), role).to.equal(true);
        expect(await netting.hasRole(role, fx.admin.address), role).to.equal(false);
      }
      expect(await netting.registry()).to.equal(addressOf(fx.registry));
      expect(await netting.paused()).to.equal(false);
    });

    it("reverts ZeroAddress for a zero registry", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      const factory = new NettingSettlement__factory(fx.admin);
      await expect(factory.deploy(ZeroAddress, fx.admin.address)).to.be.revertedWithCustomError(factory, "ZeroAddress");
    });

    it("reverts ZeroAddress for a zero admin", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      const factory = new NettingSettlement__factory(fx.admin);
      await expect(factory.deploy(fx.registry, ZeroAddress)).to.be.revertedWithCustomError(factory, "ZeroAddress");
    });
  });

  describe("constants and domain", () => {
    it("exposes the role ids, MAX_POSITIONS and the EIP-712 typehashes", async () => {
      const { netting } = await loadFixture(deployCorridorFixture);
      expect(await netting.SETTLER_ROLE()).to.equal(SETTLER_ROLE);
      expect(await netting.PAUSER_ROLE()).to.equal(PAUSER_ROLE);
      expect(await netting.MAX_POSITIONS()).to.equal(BigInt(MAX_POSITIONS));
      expect(await netting.NET_POSITION_TYPEHASH()).to.equal(id(NET_POSITION_TYPE));
      expect(await netting.SETTLEMENT_WINDOW_TYPEHASH()).to.equal(id(SETTLEMENT_WINDOW_TYPE));
      expect(TypedDataEncoder.from(SETTLEMENT_WINDOW_TYPES).encodeType("SettlementWindow")).to.equal(SETTLEMENT_WINDOW_TYPE);
    });

    it("has the DOMAIN_SEPARATOR of nettingDomain", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      const domain = nettingDomain(fx.chainId, addressOf(fx.netting));
      expect(await fx.netting.DOMAIN_SEPARATOR()).to.equal(TypedDataEncoder.hashDomain(domain));
      const { name, version, chainId, verifyingContract } = await fx.netting.eip712Domain();
      expect([name, version, chainId, verifyingContract]).to.deep.equal([
        domain.name,
        domain.version,
        fx.chainId,
        addressOf(fx.netting),
      ]);
    });
  });

  describe("settleWindow", () => {
    describe("a window of random payments between four banks in GBP, JPY and BHD", () => {
      it("spans all four banks and all three currencies (test data check)", async () => {
        const { fx, window } = await settleSampleWindow();
        expect(new Set(window.positions.map((p) => p.bank)).size).to.equal(fx.banks.length);
        expect(new Set(window.positions.map((p) => p.token)).size).to.equal(TEST_CURRENCIES.length);
        expect(window.positions.some((p) => p.amount < 0n) && window.positions.some((p) => p.amount > 0n)).to.equal(true);
      });

      it("moves each bank's balance by exactly its net position and leaves the contract holding nothing", async () => {
        const { fx, window, before } = await settleSampleWindow();
        await expectSettled(fx, window, before);
      });

      it("makes exactly one transfer per position, all debits before any credit", async () => {
        const { fx, window, tx } = await settleSampleWindow();
        const netting = addressOf(fx.netting);
        const transfers = (await logsOf(fx, tx)).filter(({ log }) => log.name === "Transfer");
        const debits = window.positions.filter((p) => p.amount < 0n).map((p) => [p.token, p.bank, netting, -p.amount]);
        const credits = window.positions.filter((p) => p.amount > 0n).map((p) => [p.token, netting, p.bank, p.amount]);
        expect(transfers.map(({ address, log }) => [address, ...log.args])).to.deep.equal([...debits, ...credits]);
      });

      it("emits WindowSettled, then NetPositionSettled for every position in order", async () => {
        const { fx, window, tx } = await settleSampleWindow();
        await expect(tx)
          .to.emit(fx.netting, "WindowSettled")
          .withArgs(window.windowId, window.paymentsRoot, positionsHash(window.positions), window.positions.length, fx.admin.address);
        const events = (await logsOf(fx, tx)).filter(({ address }) => address === addressOf(fx.netting));
        expect(events.map(({ log }) => log.name)).to.deep.equal([
          "WindowSettled",
          ...window.positions.map(() => "NetPositionSettled"),
        ]);
        expect(events.slice(1).map(({ log }) => [...log.args])).to.deep.equal(
          window.positions.map((p) => [window.windowId, p.bank, p.token, p.amount]),
        );
      });

      it("records the payments root", async () => {
        const { fx, window } = await settleSampleWindow();
        expect(await fx.netting.paymentsRootOf(window.windowId)).to.equal(window.paymentsRoot);
      });
    });

    it("settles any random window exactly (fast-check)", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      await fc.assert(
        fc.asyncProperty(obligationsArbitrary(fx, 1, 25), async (obligations) => {
          const fresh = await loadFixture(deployCorridorFixture);
          const window = await paymentWindow(fresh, obligations);
          const before = await ledger(fresh);
          await expect(settle(fresh, window))
            .to.emit(fresh.netting, "WindowSettled")
            .withArgs(window.windowId, window.paymentsRoot, positionsHash(window.positions), window.positions.length, fresh.admin.address);
          await expectSettled(fresh, window, before);
        }),
        { numRuns: 12 },
      );
    });

    it("settles a window whose payments net to exactly zero with no positions, and records its root", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      const [b0, b1, b2] = fx.banks;
      const gbp = tokenOf(fx, "GBP");
      const window = await paymentWindow(fx, [pay(b0, b1, gbp, 500n), pay(b1, b2, gbp, 500n), pay(b2, b0, gbp, 500n)]);
      expect(window.positions).to.deep.equal([]);
      const before = await ledger(fx);
      const tx = await settle(fx, window);
      await expect(tx)
        .to.emit(fx.netting, "WindowSettled")
        .withArgs(window.windowId, window.paymentsRoot, keccak256("0x"), 0, fx.admin.address);
      await expect(tx).not.to.emit(fx.netting, "NetPositionSettled");
      await expectSettled(fx, window, before);
    });

    it("settles a net debit exactly at the bank's net debit cap", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      const [b0, b1] = fx.banks;
      const window = await paymentWindow(fx, [pay(b0, b1, tokenOf(fx, "BHD"), 123_456n)]);
      await fx.registry.setLimits(b0.address, fx.tokens.BHD, 1n, 123_456n);
      const before = await ledger(fx);
      await settle(fx, window);
      await expectSettled(fx, window, before);
    });

    it("accepts amounts of exactly 2^128 - 1 as well-formed, stopping only at the net debit cap", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      const { b, t } = sortedAddresses(fx);
      const window = await signedWindow(fx, [pos(b[0], t[0], -MAX_ABS_AMOUNT), pos(b[1], t[0], MAX_ABS_AMOUNT)]);
      const cap = (await fx.registry.limitsOf(b[0], t[0])).netDebitCap;
      await expectRejected(fx, window, (settling) =>
        expect(settling).to.be.revertedWithCustomError(fx.registry, "NetDebitCapExceeded").withArgs(b[0], t[0], MAX_ABS_AMOUNT, cap),
      );
    });

    it("ignores whatever is given as a creditor's approval", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      const window = await basicWindow(fx);
      const garbled = {
        ...window,
        approvals: window.approvals.map((a, i) => (window.positions[i].amount > 0n ? hexlify(randomBytes(65 + i)) : a)),
      };
      const before = await ledger(fx);
      await settle(fx, garbled);
      await expectSettled(fx, garbled, before);
    });

    describe("with an ERC-1271 contract-wallet bank", () => {
      async function walletWindow() {
        const fx = await loadFixture(deployCorridorFixture);
        const walletBank = await deployWalletBank(fx);
        const [b0, b1] = fx.banks;
        const gbp = tokenOf(fx, "GBP");
        const unsigned = await paymentWindow(fx, [pay(walletBank, b0, gbp, 25_000n), pay(b1, walletBank, gbp, 4_000n)], {
          sign: false,
        });
        return { fx, walletBank, window: await approvedBy(fx, unsigned, b1, b1) };
      }

      it("settles when the wallet's owner key signed the approval", async () => {
        const { fx, walletBank, window } = await walletWindow();
        const approved = await approvedBy(fx, window, walletBank, walletBank.owner);
        const before = await ledger(fx, [walletBank.address]);
        await settle(fx, approved);
        await expectSettled(fx, approved, before, [walletBank.address]);
      });

      it("reverts InvalidApproval when another key signed for the wallet", async () => {
        const { fx, walletBank, window } = await walletWindow();
        const approved = await approvedBy(fx, window, walletBank, fx.outsider);
        await expectRejected(
          fx,
          approved,
          (settling) => expect(settling).to.be.revertedWithCustomError(fx.netting, "InvalidApproval").withArgs(walletBank.address),
          { extraHolders: [walletBank.address] },
        );
      });
    });

    describe("reverts", () => {
      it("EmptyWindowId for a zero window id", async () => {
        const fx = await loadFixture(deployCorridorFixture);
        const window = { ...(await basicWindow(fx)), windowId: ZeroHash };
        await expectRejected(fx, window, (settling) => expect(settling).to.be.revertedWithCustomError(fx.netting, "EmptyWindowId"));
      });

      it("EmptyPaymentsRoot for a zero payments root", async () => {
        const fx = await loadFixture(deployCorridorFixture);
        const window = { ...(await basicWindow(fx)), paymentsRoot: ZeroHash };
        await expectRejected(fx, window, (settling) =>
          expect(settling).to.be.revertedWithCustomError(fx.netting, "EmptyPaymentsRoot"),
        );
      });

      it("WindowAlreadySettled when the same window is settled twice", async () => {
        const fx = await loadFixture(deployCorridorFixture);
        const window = await basicWindow(fx);
        await settle(fx, window);
        await expectRejected(
          fx,
          window,
          (settling) => expect(settling).to.be.revertedWithCustomError(fx.netting, "WindowAlreadySettled").withArgs(window.windowId),
          { rootAfter: window.paymentsRoot },
        );
      });

      it("WindowAlreadySettled when a settled window id comes back with other payments and positions", async () => {
        const fx = await loadFixture(deployCorridorFixture);
        const first = await basicWindow(fx);
        await settle(fx, first);
        const [b0, , , b3] = fx.banks;
        const second = await paymentWindow(fx, [pay(b3, b0, tokenOf(fx, "BHD"), 1_000n)], { windowId: first.windowId });
        await expectRejected(
          fx,
          second,
          (settling) => expect(settling).to.be.revertedWithCustomError(fx.netting, "WindowAlreadySettled").withArgs(first.windowId),
          { rootAfter: first.paymentsRoot },
        );
      });

      for (const delta of [-1, 1]) {
        it(`ApprovalsLengthMismatch with ${delta < 0 ? "one approval too few" : "one approval too many"}`, async () => {
          const fx = await loadFixture(deployCorridorFixture);
          const window = await basicWindow(fx);
          const approvals = delta < 0 ? window.approvals.slice(0, -1) : [...window.approvals, "0x"];
          await expectRejected(fx, { ...window, approvals }, (settling) =>
            expect(settling)
              .to.be.revertedWithCustomError(fx.netting, "ApprovalsLengthMismatch")
              .withArgs(window.positions.length, approvals.length),
          );
        });
      }

      for (const shape of SHAPE_CASES) {
        it(`${shape.error} when ${shape.title}`, async () => {
          const fx = await loadFixture(deployCorridorFixture);
          const { positions, args } = shape.build(sortedAddresses(fx));
          await expectRejected(fx, unsignedWindow(positions), (settling) =>
            expect(settling).to.be.revertedWithCustomError(fx.netting, shape.error).withArgs(...args),
          );
        });
      }

      it("not TooManyPositions for exactly MAX_POSITIONS positions (the next check fails instead)", async () => {
        const fx = await loadFixture(deployCorridorFixture);
        await expectRejected(fx, unsignedWindow(filler(MAX_POSITIONS)), (settling) =>
          expect(settling).to.be.revertedWithCustomError(fx.netting, "ZeroPosition").withArgs(0),
        );
      });

      describe("InvalidApproval", () => {
        async function rejectedApproval(
          fx: CorridorFixture,
          window: WindowCall,
          bank: string,
        ): Promise<void> {
          await expectRejected(fx, window, (settling) =>
            expect(settling).to.be.revertedWithCustomError(fx.netting, "InvalidApproval").withArgs(bank),
          );
        }

        it("when a debtor's signature is missing", async () => {
          const fx = await loadFixture(deployCorridorFixture);
          const window = await basicWindow(fx);
          const [b0] = fx.banks;
          await rejectedApproval(fx, withApprovalAt(window, debtorIndex(window, b0), "0x"), b0.address);
        });

        it("when only the last debtor's signature is missing", async () => {
          const fx = await loadFixture(deployCorridorFixture);
          const window = await basicWindow(fx);
          const last = lastDebtor(window);
          await rejectedApproval(fx, withApprovalAt(window, window.positions.indexOf(last), "0x"), last.bank);
        });

        it("when another bank signed in the debtor's place", async () => {
          const fx = await loadFixture(deployCorridorFixture);
          const window = await basicWindow(fx);
          const [b0, , , b3] = fx.banks;
          await rejectedApproval(fx, await approvedBy(fx, window, b0, b3), b0.address);
        });

        it("when the approval is garbage", async () => {
          const fx = await loadFixture(deployCorridorFixture);
          const window = await basicWindow(fx);
          const [, b1] = fx.banks;
          await rejectedApproval(fx, withApprovalAt(window, debtorIndex(window, b1), hexlify(randomBytes(65))), b1.address);
        });

        it("when the positions were changed after approval", async () => {
          const fx = await loadFixture(deployCorridorFixture);
          const window = await basicWindow(fx);
          const [b0, b1] = fx.banks;
          // Move one penny of debit from bank 0 to bank 1: still well-formed, no longer what they signed.
          const positions = window.positions.map((p) =>
            p.bank === b0.address && p.amount < 0n
              ? { ...p, amount: p.amount + 1n }
              : p.bank === b1.address && p.amount < 0n
                ? { ...p, amount: p.amount - 1n }
                : p,
          );
          const firstDebtor = positions.find((p) => p.amount < 0n)!;
          await rejectedApproval(fx, { ...window, positions }, firstDebtor.bank);
        });

        it("when the debtor approved another window id", async () => {
          const fx = await loadFixture(deployCorridorFixture);
          const window = await basicWindow(fx);
          const [, b1] = fx.banks;
          const approved = await approvedBy(fx, window, b1, b1, { windowId: randomBytes32() });
          await rejectedApproval(fx, approved, b1.address);
        });

        it("when the debtor approved another payments root", async () => {
          const fx = await loadFixture(deployCorridorFixture);
          const window = await basicWindow(fx);
          const [, , b2] = fx.banks;
          const approved = await approvedBy(fx, window, b2, b2, { paymentsRoot: randomBytes32() });
          await rejectedApproval(fx, approved, b2.address);
        });

        for (const [what, domainOf] of [
          ["chain", (fx: CorridorFixture) => nettingDomain(fx.chainId + 1n, addressOf(fx.netting))],
          ["contract", (fx: CorridorFixture) => nettingDomain(fx.chainId, addressOf(fx.escrow))],
        ] as const) {
          it(`when the debtor signed for another ${what}`, async () => {
            const fx = await loadFixture(deployCorridorFixture);
            const window = await basicWindow(fx);
            const [b0] = fx.banks;
            const signature = await b0.signTypedData(domainOf(fx), SETTLEMENT_WINDOW_TYPES, {
              windowId: window.windowId,
              paymentsRoot: window.paymentsRoot,
              positions: window.positions,
            });
            await rejectedApproval(fx, withApprovalAt(window, debtorIndex(window, b0), signature), b0.address);
          });
        }
      });

      it("NetDebitCapExceeded when a debit exceeds the debtor's cap", async () => {
        const fx = await loadFixture(deployCorridorFixture);
        const window = await basicWindow(fx);
        const [b0] = fx.banks;
        const gbp = tokenOf(fx, "GBP");
        await fx.registry.setLimits(b0.address, gbp, 1n, 9_999n);
        await expectRejected(fx, window, (settling) =>
          expect(settling).to.be.revertedWithCustomError(fx.registry, "NetDebitCapExceeded").withArgs(b0.address, gbp, 10_000n, 9_999n),
        );
      });

      it("CurrencyNotEnabled when the debtor's currency is disabled", async () => {
        const fx = await loadFixture(deployCorridorFixture);
        const window = await basicWindow(fx);
        const [, b1] = fx.banks;
        const gbp = tokenOf(fx, "GBP");
        await fx.registry.setLimits(b1.address, gbp, 0n, 1_000_000n);
        await expectRejected(fx, window, (settling) =>
          expect(settling).to.be.revertedWithCustomError(fx.registry, "CurrencyNotEnabled").withArgs(b1.address, gbp),
        );
      });

      for (const [role, index] of [
        ["debtor", 0],
        ["creditor", 3],
      ] as const) {
        it(`ParticipantSuspended for a suspended ${role}`, async () => {
          const fx = await loadFixture(deployCorridorFixture);
          const window = await basicWindow(fx); // bank 0 only pays, bank 3 only receives
          const bank = fx.banks[index];
          await fx.registry.suspend(bank.address);
          await expectRejected(fx, window, (settling) =>
            expect(settling).to.be.revertedWithCustomError(fx.registry, "ParticipantSuspended").withArgs(bank.address),
          );
        });
      }

      it("ParticipantUnknown for an unregistered creditor", async () => {
        const fx = await loadFixture(deployCorridorFixture);
        const window = await paymentWindow(fx, [pay(fx.banks[0], fx.outsider, tokenOf(fx, "GBP"), 100n)]);
        await expectRejected(fx, window, (settling) =>
          expect(settling).to.be.revertedWithCustomError(fx.registry, "ParticipantUnknown").withArgs(fx.outsider.address),
        );
      });

      it("NotABank for a settlement contract as creditor", async () => {
        const fx = await loadFixture(deployCorridorFixture);
        const escrow = { address: await fx.escrow.getAddress() };
        const window = await paymentWindow(fx, [pay(fx.banks[0], escrow, tokenOf(fx, "GBP"), 100n)]);
        await expectRejected(fx, window, (settling) =>
          expect(settling).to.be.revertedWithCustomError(fx.registry, "NotABank").withArgs(escrow.address),
        );
      });

      it("ParticipantUnknown for an unregistered debtor that signed", async () => {
        const fx = await loadFixture(deployCorridorFixture);
        const window = await paymentWindow(fx, [pay(fx.outsider, fx.banks[0], tokenOf(fx, "GBP"), 100n)], { sign: false });
        const approved = await approvedBy(fx, window, fx.outsider, fx.outsider);
        await expectRejected(fx, approved, (settling) =>
          expect(settling).to.be.revertedWithCustomError(fx.registry, "ParticipantUnknown").withArgs(fx.outsider.address),
        );
      });

      it("ERC20InsufficientBalance when the last debtor is short, undoing the earlier debits", async () => {
        const fx = await loadFixture(deployCorridorFixture);
        const window = await basicWindow(fx);
        const short = lastDebtor(window);
        const token = fx.tokens[currencyOf(fx, short.token)];
        const debit = -short.amount;
        const balance = await token.balanceOf(short.bank);
        await token.connect(signerOf(fx, short.bank)).transfer(fx.banks.find((b) => b.address !== short.bank)!, balance - debit + 1n);
        await expectRejected(fx, window, (settling) =>
          expect(settling).to.be.revertedWithCustomError(token, "ERC20InsufficientBalance").withArgs(short.bank, debit - 1n, debit),
        );
      });

      it("ERC20InsufficientAllowance when the last debtor's allowance is short", async () => {
        const fx = await loadFixture(deployCorridorFixture);
        const window = await basicWindow(fx);
        const short = lastDebtor(window);
        const token = fx.tokens[currencyOf(fx, short.token)];
        const debit = -short.amount;
        await token.connect(signerOf(fx, short.bank)).approve(fx.netting, debit - 1n);
        await expectRejected(fx, window, (settling) =>
          expect(settling)
            .to.be.revertedWithCustomError(token, "ERC20InsufficientAllowance")
            .withArgs(addressOf(fx.netting), debit - 1n, debit),
        );
      });

      it("the token's EnforcedPause when a position's token is paused", async () => {
        const fx = await loadFixture(deployCorridorFixture);
        const window = await basicWindow(fx);
        await fx.tokens.JPY.pause();
        expect(await fx.netting.paused()).to.equal(false);
        await expectRejected(fx, window, (settling) => expect(settling).to.be.revertedWithCustomError(fx.tokens.JPY, "EnforcedPause"));
      });

      it("EnforcedPause while paused", async () => {
        const fx = await loadFixture(deployCorridorFixture);
        const window = await basicWindow(fx);
        await fx.netting.pause();
        await expectRejected(fx, window, (settling) => expect(settling).to.be.revertedWithCustomError(fx.netting, "EnforcedPause"));
      });

      for (const who of ["a bank", "an outsider"] as const) {
        it(`AccessControlUnauthorizedAccount when ${who} without SETTLER_ROLE calls`, async () => {
          const fx = await loadFixture(deployCorridorFixture);
          const window = await basicWindow(fx);
          const caller = who === "a bank" ? fx.banks[0] : fx.outsider;
          await expectRejected(
            fx,
            window,
            (settling) =>
              expect(settling)
                .to.be.revertedWithCustomError(fx.netting, "AccessControlUnauthorizedAccount")
                .withArgs(caller.address, SETTLER_ROLE),
            { caller },
          );
        });
      }
    });
  });

  describe("roles", () => {
    it("lets a newly granted settler settle, naming it as settledBy", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      const window = await basicWindow(fx);
      await expect(fx.netting.grantRole(SETTLER_ROLE, fx.outsider.address))
        .to.emit(fx.netting, "RoleGranted")
        .withArgs(SETTLER_ROLE, fx.outsider.address, fx.admin.address);
      const before = await ledger(fx);
      await expect(settle(fx, window, fx.outsider))
        .to.emit(fx.netting, "WindowSettled")
        .withArgs(window.windowId, window.paymentsRoot, positionsHash(window.positions), window.positions.length, fx.outsider.address);
      await expectSettled(fx, window, before);
    });

    it("stops the admin settling once its SETTLER_ROLE is revoked", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      const window = await basicWindow(fx);
      await fx.netting.revokeRole(SETTLER_ROLE, fx.admin.address);
      await expectRejected(fx, window, (settling) =>
        expect(settling)
          .to.be.revertedWithCustomError(fx.netting, "AccessControlUnauthorizedAccount")
          .withArgs(fx.admin.address, SETTLER_ROLE),
      );
    });

    it("lets only DEFAULT_ADMIN_ROLE holders grant roles", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      await expect(fx.netting.connect(fx.outsider).grantRole(SETTLER_ROLE, fx.outsider.address))
        .to.be.revertedWithCustomError(fx.netting, "AccessControlUnauthorizedAccount")
        .withArgs(fx.outsider.address, ZeroHash);
      expect(await fx.netting.hasRole(SETTLER_ROLE, fx.outsider.address)).to.equal(false);
    });

    for (const action of ["pause", "unpause"] as const) {
      it(`requires PAUSER_ROLE to ${action}`, async () => {
        const fx = await loadFixture(deployCorridorFixture);
        if (action === "unpause") await fx.netting.pause();
        await expect(fx.netting.connect(fx.outsider)[action]())
          .to.be.revertedWithCustomError(fx.netting, "AccessControlUnauthorizedAccount")
          .withArgs(fx.outsider.address, PAUSER_ROLE);
        expect(await fx.netting.paused()).to.equal(action === "unpause");
      });
    }

    it("lets a newly granted pauser pause and unpause", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      await fx.netting.grantRole(PAUSER_ROLE, fx.outsider.address);
      await expect(fx.netting.connect(fx.outsider).pause()).to.emit(fx.netting, "Paused").withArgs(fx.outsider.address);
      await expect(fx.netting.connect(fx.outsider).unpause()).to.emit(fx.netting, "Unpaused").withArgs(fx.outsider.address);
    });
  });

  describe("pause", () => {
    it("emits Paused and blocks settlement", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      await expect(fx.netting.pause()).to.emit(fx.netting, "Paused").withArgs(fx.admin.address);
      expect(await fx.netting.paused()).to.equal(true);
      const window = await basicWindow(fx);
      await expectRejected(fx, window, (settling) => expect(settling).to.be.revertedWithCustomError(fx.netting, "EnforcedPause"));
    });

    it("reverts EnforcedPause when already paused", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      await fx.netting.pause();
      await expect(fx.netting.pause()).to.be.revertedWithCustomError(fx.netting, "EnforcedPause");
    });

    it("leaves the views answering", async () => {
      const { fx, window } = await settleSampleWindow();
      await fx.netting.pause();
      expect(await fx.netting.paymentsRootOf(window.windowId)).to.equal(window.paymentsRoot);
      expect(await fx.netting.verifyPayment(window.windowId, window.payments[0], window.tree.proof(0))).to.equal(true);
      expect(await fx.netting.approvalDigest(window.windowId, window.paymentsRoot, window.positions)).to.equal(
        typedDataHash(fx, window),
      );
    });
  });

  describe("unpause", () => {
    it("emits Unpaused and lets settlement resume", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      await fx.netting.pause();
      await expect(fx.netting.unpause()).to.emit(fx.netting, "Unpaused").withArgs(fx.admin.address);
      expect(await fx.netting.paused()).to.equal(false);
      const window = await basicWindow(fx);
      const before = await ledger(fx);
      await settle(fx, window);
      await expectSettled(fx, window, before);
    });

    it("reverts ExpectedPause when not paused", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      await expect(fx.netting.unpause()).to.be.revertedWithCustomError(fx.netting, "ExpectedPause");
    });
  });

  describe("approvalDigest", () => {
    it("equals the ethers TypedDataEncoder hash of random windows (fast-check)", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      await fc.assert(
        fc.asyncProperty(obligationsArbitrary(fx, 0, 30), async (obligations) => {
          const window = unsignedWindow(computeNetPositions(obligations));
          expect(await fx.netting.approvalDigest(window.windowId, window.paymentsRoot, window.positions)).to.equal(
            typedDataHash(fx, window),
          );
        }),
        { numRuns: 20 },
      );
    });

    it("equals the TypedDataEncoder hash for an empty list of positions", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      const window = unsignedWindow([]);
      expect(await fx.netting.approvalDigest(window.windowId, window.paymentsRoot, [])).to.equal(typedDataHash(fx, window));
    });

    it("is the digest each debtor's approval signs", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      const window = await paymentWindow(fx, sampleObligations(fx));
      const digest = await fx.netting.approvalDigest(window.windowId, window.paymentsRoot, window.positions);
      window.positions.forEach((p, i) => {
        if (p.amount < 0n) expect(recoverAddress(digest, window.approvals[i]), `position ${i}`).to.equal(p.bank);
      });
    });

    it("changes with the window id, the root and the positions", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      const window = await basicWindow(fx);
      const digestOf = (w: SignedData) =>
        fx.netting.approvalDigest(w.windowId, w.paymentsRoot, w.positions);
      const reference = await digestOf(window);
      const [first, second, ...rest] = window.positions;
      const variants = [
        { ...window, windowId: randomBytes32() },
        { ...window, paymentsRoot: randomBytes32() },
        { ...window, positions: [{ ...first, amount: first.amount - 1n }, { ...second, amount: second.amount + 1n }, ...rest] },
      ];
      for (const variant of variants) expect(await digestOf(variant)).to.not.equal(reference);
    });

    it("accepts amounts of exactly ±(2^128 - 1)", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      const { b, t } = sortedAddresses(fx);
      const window = unsignedWindow([pos(b[0], t[0], -MAX_ABS_AMOUNT), pos(b[1], t[0], MAX_ABS_AMOUNT)]);
      expect(await fx.netting.approvalDigest(window.windowId, window.paymentsRoot, window.positions)).to.equal(
        typedDataHash(fx, window),
      );
    });

    for (const shape of SHAPE_CASES) {
      it(`reverts ${shape.error} like settleWindow when ${shape.title}`, async () => {
        const fx = await loadFixture(deployCorridorFixture);
        const { positions, args } = shape.build(sortedAddresses(fx));
        await expect(fx.netting.approvalDigest(randomBytes32(), randomBytes32(), positions))
          .to.be.revertedWithCustomError(fx.netting, shape.error)
          .withArgs(...args);
      });
    }
  });

  describe("paymentLeaf", () => {
    const address = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((bytes) => getAddress(hexlify(bytes)));
    const payment: fc.Arbitrary<PaymentLeaf> = fc.record({
      uetr: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes) => hexlify(bytes)),
      debtor: address,
      creditor: address,
      token: address,
      amount: fc.bigInt({ min: 0n, max: MaxUint256 }),
    });

    it("equals paymentLeafHash for random payments (fast-check)", async () => {
      const { netting } = await loadFixture(deployCorridorFixture);
      await fc.assert(
        fc.asyncProperty(payment, async (p) => {
          expect(await netting.paymentLeaf(p)).to.equal(paymentLeafHash(p));
        }),
        { numRuns: 25 },
      );
    });

    it("equals paymentLeafHash at the extremes", async () => {
      const { netting } = await loadFixture(deployCorridorFixture);
      const extremes: PaymentLeaf[] = [
        { uetr: "0x" + "00".repeat(16), debtor: ZeroAddress, creditor: ZeroAddress, token: ZeroAddress, amount: 0n },
        { uetr: "0x" + "ff".repeat(16), debtor: getAddress("0x" + "ff".repeat(20)), creditor: ZeroAddress, token: ZeroAddress, amount: MaxUint256 },
      ];
      for (const p of extremes) expect(await netting.paymentLeaf(p)).to.equal(paymentLeafHash(p));
    });
  });

  describe("paymentsRootOf", () => {
    it("is zero for a window never settled", async () => {
      const { netting } = await loadFixture(deployCorridorFixture);
      expect(await netting.paymentsRootOf(randomBytes32())).to.equal(ZeroHash);
    });

    it("is the root each settled window was settled with", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      const first = await basicWindow(fx);
      const second = await paymentWindow(fx, [pay(fx.banks[3], fx.banks[1], tokenOf(fx, "BHD"), 77n)]);
      await settle(fx, first);
      await settle(fx, second);
      expect(await fx.netting.paymentsRootOf(first.windowId)).to.equal(first.paymentsRoot);
      expect(await fx.netting.paymentsRootOf(second.windowId)).to.equal(second.paymentsRoot);
    });
  });

  describe("verifyPayment", () => {
    it("is true for every included payment's proof, as verifyMerkleProof agrees off chain", async () => {
      const { fx, window } = await settleSampleWindow();
      for (const [i, payment] of window.payments.entries()) {
        const proof = window.tree.proof(i);
        expect(verifyMerkleProof(paymentLeafHash(payment), proof, window.paymentsRoot), `off chain ${i}`).to.equal(true);
        expect(await fx.netting.verifyPayment(window.windowId, payment, proof), `on chain ${i}`).to.equal(true);
      }
    });

    it("is true for the one payment of a one-payment window, whose proof is empty", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      const window = await paymentWindow(fx, [pay(fx.banks[0], fx.banks[1], tokenOf(fx, "JPY"), 1n)]);
      await settle(fx, window);
      expect(window.paymentsRoot).to.equal(paymentLeafHash(window.payments[0]));
      expect(await fx.netting.verifyPayment(window.windowId, window.payments[0], [])).to.equal(true);
    });

    const tampers: [string, (fx: CorridorFixture, p: PaymentLeaf) => PaymentLeaf][] = [
      ["another uetr", (_, p) => ({ ...p, uetr: randomUetr() })],
      ["debtor and creditor swapped", (_, p) => ({ ...p, debtor: p.creditor, creditor: p.debtor })],
      ["another token", (fx, p) => ({ ...p, token: tokenOf(fx, currencyOf(fx, p.token) === "GBP" ? "JPY" : "GBP") })],
      ["an amount one unit higher", (_, p) => ({ ...p, amount: p.amount + 1n })],
    ];
    for (const [change, tamper] of tampers) {
      it(`is false for an included payment with ${change}`, async () => {
        const { fx, window } = await settleSampleWindow();
        const tampered = tamper(fx, window.payments[0]);
        const proof = window.tree.proof(0);
        expect(verifyMerkleProof(paymentLeafHash(tampered), proof, window.paymentsRoot)).to.equal(false);
        expect(await fx.netting.verifyPayment(window.windowId, tampered, proof)).to.equal(false);
      });
    }

    it("is false for a tampered proof and for another payment's proof", async () => {
      const { fx, window } = await settleSampleWindow();
      const proof = window.tree.proof(0);
      const tampered = [randomBytes32(), ...proof.slice(1)];
      expect(await fx.netting.verifyPayment(window.windowId, window.payments[0], tampered)).to.equal(false);
      expect(await fx.netting.verifyPayment(window.windowId, window.payments[0], window.tree.proof(1))).to.equal(false);
      expect(await fx.netting.verifyPayment(window.windowId, window.payments[0], [])).to.equal(false);
    });

    it("is false under a window id never settled", async () => {
      const { fx, window } = await settleSampleWindow();
      expect(await fx.netting.verifyPayment(randomBytes32(), window.payments[0], window.tree.proof(0))).to.equal(false);
    });

    it("is false under another settled window", async () => {
      const { fx, window } = await settleSampleWindow();
      const other = await basicWindow(fx);
      await settle(fx, other);
      expect(await fx.netting.verifyPayment(other.windowId, window.payments[0], window.tree.proof(0))).to.equal(false);
    });

    it("is false until the window is settled, then true", async () => {
      const fx = await loadFixture(deployCorridorFixture);
      const window = await basicWindow(fx);
      const check = () => fx.netting.verifyPayment(window.windowId, window.payments[1], window.tree.proof(1));
      expect(await check()).to.equal(false);
      await settle(fx, window);
      expect(await check()).to.equal(true);
    });
  });
});
