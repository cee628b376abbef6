import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { Wallet, ZeroAddress, ZeroHash, hexlify, id, toUtf8Bytes } from "ethers";
import { DepositToken__factory, ParticipantRegistry__factory, type DepositToken } from "../../typechain-types";
import { deployCorridorFixture, TEST_BANKS, type CorridorFixture } from "./fixtures";

/** IParticipantRegistry.Status. */
const Status = { Unregistered: 0n, Active: 1n, Suspended: 2n } as const;

const MAX_UINT128 = 2n ** 128n - 1n;
const ZERO_BIC = "0x" + "00".repeat(11);

/** The bytes11 a BIC is stored (and reported) as: an 8-character BIC gets the "XXX" branch. */
function storedBic(bic: string): string {
  return hexlify(toUtf8Bytes(bic.length === 8 ? `${bic}XXX` : bic));
}

/** The bytes3 of an ISO 4217 code. */
function currencyCode(code: string): string {
  return hexlify(toUtf8Bytes(code));
}

function randomAddress(): string {
  return Wallet.createRandom().address;
}

interface Setup extends CorridorFixture {
  operatorRole: string;
  /** Signers the fixture left unused (not admin, a bank or the outsider). */
  spare: HardhatEthersSigner[];
}

async function setup(): Promise<Setup> {
  const fixture = await loadFixture(deployCorridorFixture);
  const used = new Set([fixture.admin, ...fixture.banks, fixture.outsider].map((s) => s.address));
  const spare = (await ethers.getSigners()).filter((s) => !used.has(s.address));
  return { ...fixture, operatorRole: await fixture.registry.OPERATOR_ROLE(), spare };
}

async function deployUnregisteredToken(f: CorridorFixture, currency: string, decimals = 2): Promise<DepositToken> {
  const token = await new DepositToken__factory(f.admin).deploy(
    `Corridor ${currency} Deposit`,
    `c${currency}`,
    currency,
    decimals,
    f.registry,
    f.admin.address,
  );
  await token.waitForDeployment();
  return token;
}

async function expectRecord(
  f: CorridorFixture,
  account: string,
  expected: { bic: string; status: bigint; isSettlementContract: boolean },
): Promise<void> {
  const record = await f.registry.participant(account);
  expect(record.bic).to.equal(expected.bic);
  expect(record.status).to.equal(expected.status);
  expect(record.isSettlementContract).to.equal(expected.isSettlementContract);
}

async function expectUnregistered(f: CorridorFixture, account: string): Promise<void> {
  await expectRecord(f, account, { bic: ZERO_BIC, status: Status.Unregistered, isSettlementContract: false });
}

async function expectLimits(f: CorridorFixture, account: string, token: string, single: bigint, net: bigint) {
  const limits = await f.registry.limitsOf(account, token);
  expect(limits.singlePaymentCap).to.equal(single);
  expect(limits.netDebitCap).to.equal(net);
}

describe("ParticipantRegistry", function () {
  describe("constructor", function () {
    it("gives the admin parameter (not the deployer) the admin and operator roles", async function () {
      const f = await setup();
      const [holder] = f.spare;
      const registry = await new ParticipantRegistry__factory(f.admin).deploy(holder.address);
      const adminRole = await registry.DEFAULT_ADMIN_ROLE();
      expect(await registry.hasRole(adminRole, holder.address)).to.equal(true);
      expect(await registry.hasRole(f.operatorRole, holder.address)).to.equal(true);
      expect(await registry.hasRole(adminRole, f.admin.address)).to.equal(false);
      expect(await registry.hasRole(f.operatorRole, f.admin.address)).to.equal(false);
    });

    it("rejects a zero admin with ZeroAddress", async function () {
      const f = await setup();
      const factory = new ParticipantRegistry__factory(f.admin);
      await expect(factory.deploy(ZeroAddress)).to.be.revertedWithCustomError(factory, "ZeroAddress");
    });
  });

  describe("roles", function () {
    it("OPERATOR_ROLE is keccak256('OPERATOR_ROLE'), administered by DEFAULT_ADMIN_ROLE", async function () {
      const f = await setup();
      expect(f.operatorRole).to.equal(id("OPERATOR_ROLE"));
      expect(await f.registry.DEFAULT_ADMIN_ROLE()).to.equal(ZeroHash);
      expect(await f.registry.getRoleAdmin(f.operatorRole)).to.equal(await f.registry.DEFAULT_ADMIN_ROLE());
    });

    it("an operator granted by the admin can register; once revoked it cannot", async function () {
      const f = await setup();
      const [operator] = f.spare;
      await expect(f.registry.grantRole(f.operatorRole, operator.address))
        .to.emit(f.registry, "RoleGranted")
        .withArgs(f.operatorRole, operator.address, f.admin.address);
      const account = randomAddress();
      await expect(f.registry.connect(operator).registerParticipant(account, "NEWCGB2L"))
        .to.emit(f.registry, "ParticipantRegistered")
        .withArgs(account, storedBic("NEWCGB2L"));

      await f.registry.revokeRole(f.operatorRole, operator.address);
      await expect(f.registry.connect(operator).registerSettlementContract(randomAddress()))
        .to.be.revertedWithCustomError(f.registry, "AccessControlUnauthorizedAccount")
        .withArgs(operator.address, f.operatorRole);
    });

    it("an operator without the admin role cannot grant roles", async function () {
      const f = await setup();
      const [operator, other] = f.spare;
      await f.registry.grantRole(f.operatorRole, operator.address);
      const adminRole = await f.registry.DEFAULT_ADMIN_ROLE();
      await expect(f.registry.connect(operator).grantRole(f.operatorRole, other.address))
        .to.be.revertedWithCustomError(f.registry, "AccessControlUnauthorizedAccount")
        .withArgs(operator.address, adminRole);
      expect(await f.registry.hasRole(f.operatorRole, other.address)).to.equal(false);
    });

    describe("every operator function rejects callers without OPERATOR_ROLE", function () {
      type Call = (f: Setup, caller: HardhatEthersSigner) => Promise<unknown>;
      const calls: Record<string, Call> = {
        registerParticipant: (f, c) => f.registry.connect(c).registerParticipant(randomAddress(), "NEWCGB2L"),
        registerSettlementContract: (f, c) => f.registry.connect(c).registerSettlementContract(randomAddress()),
        suspend: (f, c) => f.registry.connect(c).suspend(f.banks[0].address),
        reactivate: (f, c) => f.registry.connect(c).reactivate(f.banks[0].address),
        registerToken: async (f, c) => f.registry.connect(c).registerToken(await deployUnregisteredToken(f, "EUR")),
        setLimits: (f, c) => f.registry.connect(c).setLimits(f.banks[0].address, f.tokens.GBP, 1n, 1n),
      };
      for (const [name, call] of Object.entries(calls)) {
        for (const who of ["outsider", "bank"] as const) {
          it(`${name} from a${who === "outsider" ? "n" : ""} ${who}`, async function () {
            const f = await setup();
            const caller = who === "outsider" ? f.outsider : f.banks[0];
            await expect(call(f, caller))
              .to.be.revertedWithCustomError(f.registry, "AccessControlUnauthorizedAccount")
              .withArgs(caller.address, f.operatorRole);
          });
        }
      }
    });
  });

  describe("registerParticipant", function () {
    it("registers an 11-character BIC as an active bank", async function () {
      const f = await setup();
      const account = randomAddress();
      await expect(f.registry.registerParticipant(account, "NEWCGB2L001"))
        .to.emit(f.registry, "ParticipantRegistered")
        .withArgs(account, storedBic("NEWCGB2L001"));
      await expectRecord(f, account, { bic: storedBic("NEWCGB2L001"), status: Status.Active, isSettlementContract: false });
      expect(await f.registry.accountOf("NEWCGB2L001")).to.equal(account);
    });

    it("normalises an 8-character BIC to its XXX branch; both spellings resolve to the account", async function () {
      const f = await setup();
      const account = randomAddress();
      await expect(f.registry.registerParticipant(account, "NEWCGB2L"))
        .to.emit(f.registry, "ParticipantRegistered")
        .withArgs(account, storedBic("NEWCGB2LXXX"));
      await expectRecord(f, account, { bic: storedBic("NEWCGB2LXXX"), status: Status.Active, isSettlementContract: false });
      expect(await f.registry.accountOf("NEWCGB2L")).to.equal(account);
      expect(await f.registry.accountOf("NEWCGB2LXXX")).to.equal(account);
    });

    it("keeps the fixture banks under their BICs", async function () {
      const f = await setup();
      for (const [i, bank] of TEST_BANKS.entries()) {
        expect(await f.registry.accountOf(bank.bic)).to.equal(f.banks[i].address);
        expect(await f.registry.accountOf(bank.bic.slice(0, 8))).to.equal(f.banks[i].address);
        await expectRecord(f, f.banks[i].address, { bic: storedBic(bank.bic), status: Status.Active, isSettlementContract: false });
      }
    });

    describe("accepts valid BICs", function () {
      const valid = {
        "digits in the location code": "NEWCGB22",
        "digits in the branch code": "NEWCGB2L001",
        "letters and digits mixed in the branch code": "NEWCGB2LA1B",
        "all-digit location and branch": "NEWCGB00999",
        "boundary letters A and Z": "AZAZAZAZ",
        "boundary digits 0 and 9 after position 6": "ZZZZZZ09",
        "a digit in the party prefix (ISO 9362:2014)": "NEW1GB2L",
        "a digit first (ISO 9362:2014)": "1EWCGB2L",
      };
      for (const [what, bic] of Object.entries(valid)) {
        it(`${what}: ${bic}`, async function () {
          const f = await setup();
          const account = randomAddress();
          await expect(f.registry.registerParticipant(account, bic))
            .to.emit(f.registry, "ParticipantRegistered")
            .withArgs(account, storedBic(bic));
          expect(await f.registry.accountOf(bic)).to.equal(account);
        });
      }
    });

    describe("rejects invalid BICs with InvalidBic(bic) and registers nothing", function () {
      const invalid = {
        "empty": "",
        "7 characters": "NEWCGB2",
        "9 characters": "NEWCGB2LX",
        "10 characters": "NEWCGB2LXX",
        "12 characters": "NEWCGB2LXXXX",
        "lower case (8)": "newcgb2l",
        "lower case (11)": "newcgb2lxxx",
        "lower-case country": "NEWCgb2L",
        "lower-case location": "NEWCGB2l",
        "lower-case branch": "NEWCGB2Lxxx",
        "a digit in the country code": "NEWCG12L",
        "a digit at position 5 (country)": "NEWCG92L",
        "'@' (just below A)": "NEWCGB@L",
        "'[' (just above Z)": "NEWCGB2[",
        "'/' (just below 0) in the branch": "NEWCGB2LXX/",
        "':' (just above 9) in the location": "NEWCGB:L",
        "a space": "NEWC GB2",
        "a hyphen": "NEWC-B2L",
        "a non-ASCII letter": "NEWCGBÄ",
      };
      for (const [what, bic] of Object.entries(invalid)) {
        it(`${what}: ${JSON.stringify(bic)}`, async function () {
          const f = await setup();
          const account = randomAddress();
          await expect(f.registry.registerParticipant(account, bic))
            .to.be.revertedWithCustomError(f.registry, "InvalidBic")
            .withArgs(bic);
          await expectUnregistered(f, account);
        });
      }
    });

    it("rejects a BIC already registered with BicAlreadyRegistered", async function () {
      const f = await setup();
      const account = randomAddress();
      await expect(f.registry.registerParticipant(account, TEST_BANKS[0].bic))
        .to.be.revertedWithCustomError(f.registry, "BicAlreadyRegistered")
        .withArgs(storedBic(TEST_BANKS[0].bic));
      await expectUnregistered(f, account);
      expect(await f.registry.accountOf(TEST_BANKS[0].bic)).to.equal(f.banks[0].address);
    });

    it("treats the 8-character spelling of a registered XXX BIC as the same BIC", async function () {
      const f = await setup();
      const short = TEST_BANKS[0].bic.slice(0, 8);
      await expect(f.registry.registerParticipant(randomAddress(), short))
        .to.be.revertedWithCustomError(f.registry, "BicAlreadyRegistered")
        .withArgs(storedBic(TEST_BANKS[0].bic));
    });

    it("treats the XXX spelling of a registered 8-character BIC as the same BIC", async function () {
      const f = await setup();
      await f.registry.registerParticipant(randomAddress(), "NEWCGB2L");
      await expect(f.registry.registerParticipant(randomAddress(), "NEWCGB2LXXX"))
        .to.be.revertedWithCustomError(f.registry, "BicAlreadyRegistered")
        .withArgs(storedBic("NEWCGB2LXXX"));
    });

    it("treats another branch of a registered institution as a different BIC", async function () {
      const f = await setup();
      const branch = TEST_BANKS[0].bic.slice(0, 8) + "001";
      const account = randomAddress();
      await f.registry.registerParticipant(account, branch);
      expect(await f.registry.accountOf(branch)).to.equal(account);
      expect(await f.registry.accountOf(TEST_BANKS[0].bic)).to.equal(f.banks[0].address);
    });

    it("keeps a suspended bank's BIC taken", async function () {
      const f = await setup();
      await f.registry.suspend(f.banks[0].address);
      await expect(f.registry.registerParticipant(randomAddress(), TEST_BANKS[0].bic))
        .to.be.revertedWithCustomError(f.registry, "BicAlreadyRegistered")
        .withArgs(storedBic(TEST_BANKS[0].bic));
    });

    it("rejects an account already registered as a bank, leaving its record and BIC", async function () {
      const f = await setup();
      const bank = f.banks[0].address;
      await expect(f.registry.registerParticipant(bank, "NEWCGB2L"))
        .to.be.revertedWithCustomError(f.registry, "AccountAlreadyRegistered")
        .withArgs(bank);
      await expectRecord(f, bank, { bic: storedBic(TEST_BANKS[0].bic), status: Status.Active, isSettlementContract: false });
      expect(await f.registry.accountOf("NEWCGB2L")).to.equal(ZeroAddress);
    });

    it("rejects a suspended bank's account", async function () {
      const f = await setup();
      const bank = f.banks[0].address;
      await f.registry.suspend(bank);
      await expect(f.registry.registerParticipant(bank, "NEWCGB2L"))
        .to.be.revertedWithCustomError(f.registry, "AccountAlreadyRegistered")
        .withArgs(bank);
      await expectRecord(f, bank, { bic: storedBic(TEST_BANKS[0].bic), status: Status.Suspended, isSettlementContract: false });
    });

    it("rejects a settlement contract's account", async function () {
      const f = await setup();
      const escrow = await f.escrow.getAddress();
      await expect(f.registry.registerParticipant(escrow, "NEWCGB2L"))
        .to.be.revertedWithCustomError(f.registry, "AccountAlreadyRegistered")
        .withArgs(escrow);
      await expectRecord(f, escrow, { bic: ZERO_BIC, status: Status.Active, isSettlementContract: true });
      expect(await f.registry.accountOf("NEWCGB2L")).to.equal(ZeroAddress);
    });

    it("rejects the zero address with ZeroAddress", async function () {
      const f = await setup();
      await expect(f.registry.registerParticipant(ZeroAddress, "NEWCGB2L")).to.be.revertedWithCustomError(
        f.registry,
        "ZeroAddress",
      );
      expect(await f.registry.accountOf("NEWCGB2L")).to.equal(ZeroAddress);
    });
  });

  describe("registerSettlementContract", function () {
    it("registers an active settlement contract without a BIC", async function () {
      const f = await setup();
      const account = randomAddress();
      await expect(f.registry.registerSettlementContract(account))
        .to.emit(f.registry, "SettlementContractRegistered")
        .withArgs(account);
      await expectRecord(f, account, { bic: ZERO_BIC, status: Status.Active, isSettlementContract: true });
    });

    it("the fixture's escrow and netting contracts are registered settlement contracts", async function () {
      const f = await setup();
      for (const contract of [f.escrow, f.netting]) {
        await expectRecord(f, await contract.getAddress(), { bic: ZERO_BIC, status: Status.Active, isSettlementContract: true });
      }
    });

    it("rejects a settlement contract registered twice", async function () {
      const f = await setup();
      const netting = await f.netting.getAddress();
      await expect(f.registry.registerSettlementContract(netting))
        .to.be.revertedWithCustomError(f.registry, "AccountAlreadyRegistered")
        .withArgs(netting);
    });

    it("rejects a bank's account, leaving it a bank", async function () {
      const f = await setup();
      const bank = f.banks[1].address;
      await expect(f.registry.registerSettlementContract(bank))
        .to.be.revertedWithCustomError(f.registry, "AccountAlreadyRegistered")
        .withArgs(bank);
      await expectRecord(f, bank, { bic: storedBic(TEST_BANKS[1].bic), status: Status.Active, isSettlementContract: false });
    });

    it("rejects a suspended settlement contract", async function () {
      const f = await setup();
      const escrow = await f.escrow.getAddress();
      await f.registry.suspend(escrow);
      await expect(f.registry.registerSettlementContract(escrow))
        .to.be.revertedWithCustomError(f.registry, "AccountAlreadyRegistered")
        .withArgs(escrow);
      await expectRecord(f, escrow, { bic: ZERO_BIC, status: Status.Suspended, isSettlementContract: true });
    });

    it("rejects the zero address with ZeroAddress", async function () {
      const f = await setup();
      await expect(f.registry.registerSettlementContract(ZeroAddress)).to.be.revertedWithCustomError(
        f.registry,
        "ZeroAddress",
      );
      await expectUnregistered(f, ZeroAddress);
    });
  });

  describe("suspend", function () {
    it("suspends an active bank, keeping its BIC and limits", async function () {
      const f = await setup();
      const bank = f.banks[0].address;
      const before = await f.registry.limitsOf(bank, f.tokens.GBP);
      await expect(f.registry.suspend(bank))
        .to.emit(f.registry, "ParticipantStatusChanged")
        .withArgs(bank, Status.Suspended);
      await expectRecord(f, bank, { bic: storedBic(TEST_BANKS[0].bic), status: Status.Suspended, isSettlementContract: false });
      expect(await f.registry.accountOf(TEST_BANKS[0].bic)).to.equal(bank);
      await expectLimits(f, bank, await f.tokens.GBP.getAddress(), before.singlePaymentCap, before.netDebitCap);
    });

    it("suspends an active settlement contract", async function () {
      const f = await setup();
      const escrow = await f.escrow.getAddress();
      await expect(f.registry.suspend(escrow))
        .to.emit(f.registry, "ParticipantStatusChanged")
        .withArgs(escrow, Status.Suspended);
      await expectRecord(f, escrow, { bic: ZERO_BIC, status: Status.Suspended, isSettlementContract: true });
    });

    it("rejects an already suspended account with StatusUnchanged", async function () {
      const f = await setup();
      const bank = f.banks[0].address;
      await f.registry.suspend(bank);
      await expect(f.registry.suspend(bank))
        .to.be.revertedWithCustomError(f.registry, "StatusUnchanged")
        .withArgs(bank, Status.Suspended);
    });

    it("rejects an unregistered account with ParticipantUnknown", async function () {
      const f = await setup();
      await expect(f.registry.suspend(f.outsider.address))
        .to.be.revertedWithCustomError(f.registry, "ParticipantUnknown")
        .withArgs(f.outsider.address);
      await expectUnregistered(f, f.outsider.address);
    });
  });

  describe("reactivate", function () {
    it("reactivates a suspended bank", async function () {
      const f = await setup();
      const bank = f.banks[2].address;
      await f.registry.suspend(bank);
      await expect(f.registry.reactivate(bank))
        .to.emit(f.registry, "ParticipantStatusChanged")
        .withArgs(bank, Status.Active);
      await expectRecord(f, bank, { bic: storedBic(TEST_BANKS[2].bic), status: Status.Active, isSettlementContract: false });
    });

    it("reactivates a suspended settlement contract", async function () {
      const f = await setup();
      const netting = await f.netting.getAddress();
      await f.registry.suspend(netting);
      await expect(f.registry.reactivate(netting))
        .to.emit(f.registry, "ParticipantStatusChanged")
        .withArgs(netting, Status.Active);
      await expectRecord(f, netting, { bic: ZERO_BIC, status: Status.Active, isSettlementContract: true });
    });

    it("rejects an active account with StatusUnchanged", async function () {
      const f = await setup();
      const bank = f.banks[0].address;
      await expect(f.registry.reactivate(bank))
        .to.be.revertedWithCustomError(f.registry, "StatusUnchanged")
        .withArgs(bank, Status.Active);
    });

    it("rejects an unregistered account with ParticipantUnknown", async function () {
      const f = await setup();
      await expect(f.registry.reactivate(f.outsider.address))
        .to.be.revertedWithCustomError(f.registry, "ParticipantUnknown")
        .withArgs(f.outsider.address);
      await expectUnregistered(f, f.outsider.address);
    });
  });

  describe("registerToken", function () {
    it("registers a token under its currency", async function () {
      const f = await setup();
      const eur = await deployUnregisteredToken(f, "EUR");
      await expect(f.registry.registerToken(eur))
        .to.emit(f.registry, "TokenRegistered")
        .withArgs(await eur.getAddress(), currencyCode("EUR"));
      expect(await f.registry.tokenOf(currencyCode("EUR"))).to.equal(await eur.getAddress());
    });

    it("rejects a second token of a registered currency, keeping the first", async function () {
      const f = await setup();
      const gbp2 = await deployUnregisteredToken(f, "GBP");
      await expect(f.registry.registerToken(gbp2))
        .to.be.revertedWithCustomError(f.registry, "CurrencyAlreadyRegistered")
        .withArgs(currencyCode("GBP"));
      expect(await f.registry.tokenOf(currencyCode("GBP"))).to.equal(await f.tokens.GBP.getAddress());
      await expect(f.registry.setLimits(f.banks[0].address, gbp2, 1n, 1n))
        .to.be.revertedWithCustomError(f.registry, "TokenNotRegistered")
        .withArgs(await gbp2.getAddress());
    });

    it("rejects a token registered twice", async function () {
      const f = await setup();
      await expect(f.registry.registerToken(f.tokens.JPY))
        .to.be.revertedWithCustomError(f.registry, "CurrencyAlreadyRegistered")
        .withArgs(currencyCode("JPY"));
    });

    it("rejects the zero address with ZeroAddress", async function () {
      const f = await setup();
      await expect(f.registry.registerToken(ZeroAddress)).to.be.revertedWithCustomError(f.registry, "ZeroAddress");
    });

    it("rejects an address that is not a token", async function () {
      const f = await setup();
      await expect(f.registry.registerToken(f.outsider.address)).to.be.revertedWithoutReason();
      expect(await f.registry.tokenOf(currencyCode("GBP"))).to.equal(await f.tokens.GBP.getAddress());
    });
  });

  describe("tokenOf", function () {
    it("returns the fixture's token of each currency", async function () {
      const f = await setup();
      for (const [currency, token] of Object.entries(f.tokens)) {
        expect(await f.registry.tokenOf(currencyCode(currency))).to.equal(await token.getAddress());
      }
    });

    it("returns zero for a currency without a token", async function () {
      const f = await setup();
      expect(await f.registry.tokenOf(currencyCode("EUR"))).to.equal(ZeroAddress);
      expect(await f.registry.tokenOf("0x000000")).to.equal(ZeroAddress);
    });
  });

  describe("setLimits", function () {
    it("sets a bank's caps for a token", async function () {
      const f = await setup();
      const bank = f.banks[0].address;
      const gbp = await f.tokens.GBP.getAddress();
      await expect(f.registry.setLimits(bank, gbp, 500n, 2_000n))
        .to.emit(f.registry, "LimitsSet")
        .withArgs(bank, gbp, 500n, 2_000n);
      await expectLimits(f, bank, gbp, 500n, 2_000n);
    });

    it("sets caps per token, leaving the bank's other tokens and other banks alone", async function () {
      const f = await setup();
      const [bank, other] = f.banks.map((b) => b.address);
      const [gbp, jpy] = await Promise.all([f.tokens.GBP.getAddress(), f.tokens.JPY.getAddress()]);
      const jpyBefore = await f.registry.limitsOf(bank, jpy);
      const otherBefore = await f.registry.limitsOf(other, gbp);
      await f.registry.setLimits(bank, gbp, 7n, 9n);
      await expectLimits(f, bank, jpy, jpyBefore.singlePaymentCap, jpyBefore.netDebitCap);
      await expectLimits(f, other, gbp, otherBefore.singlePaymentCap, otherBefore.netDebitCap);
    });

    it("stores the full uint128 range and zero (disabling the currency)", async function () {
      const f = await setup();
      const bank = f.banks[0].address;
      const gbp = await f.tokens.GBP.getAddress();
      await f.registry.setLimits(bank, gbp, MAX_UINT128, MAX_UINT128);
      await expectLimits(f, bank, gbp, MAX_UINT128, MAX_UINT128);
      await expect(f.registry.setLimits(bank, gbp, 0n, 0n)).to.emit(f.registry, "LimitsSet").withArgs(bank, gbp, 0n, 0n);
      await expectLimits(f, bank, gbp, 0n, 0n);
    });

    it("sets caps of a suspended bank", async function () {
      const f = await setup();
      const bank = f.banks[0].address;
      const gbp = await f.tokens.GBP.getAddress();
      await f.registry.suspend(bank);
      await f.registry.setLimits(bank, gbp, 3n, 4n);
      await expectLimits(f, bank, gbp, 3n, 4n);
    });

    it("rejects an unregistered account with ParticipantUnknown", async function () {
      const f = await setup();
      const gbp = await f.tokens.GBP.getAddress();
      await expect(f.registry.setLimits(f.outsider.address, gbp, 1n, 1n))
        .to.be.revertedWithCustomError(f.registry, "ParticipantUnknown")
        .withArgs(f.outsider.address);
      await expectLimits(f, f.outsider.address, gbp, 0n, 0n);
    });

    it("rejects a settlement contract with NotABank", async function () {
      const f = await setup();
      const escrow = await f.escrow.getAddress();
      const gbp = await f.tokens.GBP.getAddress();
      await expect(f.registry.setLimits(escrow, gbp, 1n, 1n))
        .to.be.revertedWithCustomError(f.registry, "NotABank")
        .withArgs(escrow);
      await expectLimits(f, escrow, gbp, 0n, 0n);
    });

    it("rejects an unregistered token with TokenNotRegistered", async function () {
      const f = await setup();
      const bank = f.banks[0].address;
      const eur = await (await deployUnregisteredToken(f, "EUR")).getAddress();
      for (const token of [eur, randomAddress(), ZeroAddress]) {
        await expect(f.registry.setLimits(bank, token, 1n, 1n))
          .to.be.revertedWithCustomError(f.registry, "TokenNotRegistered")
          .withArgs(token);
        await expectLimits(f, bank, token, 0n, 0n);
      }
    });
  });

  describe("limitsOf", function () {
    it("returns zero caps for an unknown account or token", async function () {
      const f = await setup();
      await expectLimits(f, f.outsider.address, await f.tokens.GBP.getAddress(), 0n, 0n);
      await expectLimits(f, f.banks[0].address, randomAddress(), 0n, 0n);
    });
  });

  describe("checkLock", function () {
    async function withCaps(single: bigint, net: bigint) {
      const f = await setup();
      const [payer, payee] = f.banks.map((b) => b.address);
      const token = await f.tokens.GBP.getAddress();
      await f.registry.setLimits(payer, token, single, net);
      return { f, payer, payee, token };
    }

    it("passes up to and including the payer's single-payment cap", async function () {
      const { f, payer, payee, token } = await withCaps(1_000n, 1n);
      await expect(f.registry.checkLock(payer, payee, token, 1n)).not.to.be.reverted;
      await expect(f.registry.checkLock(payer, payee, token, 1_000n)).not.to.be.reverted;
    });

    it("rejects an amount above the cap with SinglePaymentCapExceeded", async function () {
      const { f, payer, payee, token } = await withCaps(1_000n, 1n);
      await expect(f.registry.checkLock(payer, payee, token, 1_001n))
        .to.be.revertedWithCustomError(f.registry, "SinglePaymentCapExceeded")
        .withArgs(payer, token, 1_001n, 1_000n);
    });

    it("uses the payer's cap, not the payee's", async function () {
      const { f, payer, payee, token } = await withCaps(1_000n, 1n);
      await f.registry.setLimits(payee, token, 1n, 1n);
      await expect(f.registry.checkLock(payer, payee, token, 1_000n)).not.to.be.reverted;
      await expect(f.registry.checkLock(payee, payer, token, 2n))
        .to.be.revertedWithCustomError(f.registry, "SinglePaymentCapExceeded")
        .withArgs(payee, token, 2n, 1n);
    });

    it("rejects a currency with a zero single-payment cap with CurrencyNotEnabled", async function () {
      const { f, payer, payee, token } = await withCaps(0n, 1_000n);
      await expect(f.registry.checkLock(payer, payee, token, 1n))
        .to.be.revertedWithCustomError(f.registry, "CurrencyNotEnabled")
        .withArgs(payer, token);
    });

    it("rejects a token without caps with CurrencyNotEnabled", async function () {
      const { f, payer, payee } = await withCaps(1n, 1n);
      const token = randomAddress();
      await expect(f.registry.checkLock(payer, payee, token, 1n))
        .to.be.revertedWithCustomError(f.registry, "CurrencyNotEnabled")
        .withArgs(payer, token);
    });

    it("rejects a suspended payer with ParticipantSuspended, before checking caps", async function () {
      const { f, payer, payee, token } = await withCaps(1_000n, 1n);
      await f.registry.suspend(payer);
      await expect(f.registry.checkLock(payer, payee, token, 5_000n))
        .to.be.revertedWithCustomError(f.registry, "ParticipantSuspended")
        .withArgs(payer);
    });

    it("rejects an unregistered payer with ParticipantUnknown", async function () {
      const { f, payee, token } = await withCaps(1_000n, 1n);
      await expect(f.registry.checkLock(f.outsider.address, payee, token, 1n))
        .to.be.revertedWithCustomError(f.registry, "ParticipantUnknown")
        .withArgs(f.outsider.address);
    });

    it("rejects a suspended payee with ParticipantSuspended", async function () {
      const { f, payer, payee, token } = await withCaps(1_000n, 1n);
      await f.registry.suspend(payee);
      await expect(f.registry.checkLock(payer, payee, token, 1n))
        .to.be.revertedWithCustomError(f.registry, "ParticipantSuspended")
        .withArgs(payee);
    });

    it("rejects an unregistered payee with ParticipantUnknown", async function () {
      const { f, payer, token } = await withCaps(1_000n, 1n);
      await expect(f.registry.checkLock(payer, f.outsider.address, token, 1n))
        .to.be.revertedWithCustomError(f.registry, "ParticipantUnknown")
        .withArgs(f.outsider.address);
    });

    it("checks the payer before the payee", async function () {
      const { f, payer, payee, token } = await withCaps(1_000n, 1n);
      await f.registry.suspend(payer);
      await f.registry.suspend(payee);
      await expect(f.registry.checkLock(payer, payee, token, 1n))
        .to.be.revertedWithCustomError(f.registry, "ParticipantSuspended")
        .withArgs(payer);
    });

    it("passes again once a suspended payer is reactivated", async function () {
      const { f, payer, payee, token } = await withCaps(1_000n, 1n);
      await f.registry.suspend(payer);
      await f.registry.reactivate(payer);
      await expect(f.registry.checkLock(payer, payee, token, 1_000n)).not.to.be.reverted;
    });
  });

  describe("checkNetDebit", function () {
    async function withCaps(single: bigint, net: bigint) {
      const f = await setup();
      const account = f.banks[0].address;
      const token = await f.tokens.JPY.getAddress();
      await f.registry.setLimits(account, token, single, net);
      return { f, account, token };
    }

    it("passes up to and including the net debit cap (independent of the single-payment cap)", async function () {
      const { f, account, token } = await withCaps(10n, 5_000n);
      await expect(f.registry.checkNetDebit(account, token, 0n)).not.to.be.reverted;
      await expect(f.registry.checkNetDebit(account, token, 5_000n)).not.to.be.reverted;
    });

    it("rejects a debit above the cap with NetDebitCapExceeded", async function () {
      const { f, account, token } = await withCaps(10n, 5_000n);
      await expect(f.registry.checkNetDebit(account, token, 5_001n))
        .to.be.revertedWithCustomError(f.registry, "NetDebitCapExceeded")
        .withArgs(account, token, 5_001n, 5_000n);
    });

    it("a zero net debit cap allows no debit at all", async function () {
      const { f, account, token } = await withCaps(10n, 0n);
      await expect(f.registry.checkNetDebit(account, token, 0n)).not.to.be.reverted;
      await expect(f.registry.checkNetDebit(account, token, 1n))
        .to.be.revertedWithCustomError(f.registry, "NetDebitCapExceeded")
        .withArgs(account, token, 1n, 0n);
    });

    it("rejects a currency with a zero single-payment cap with CurrencyNotEnabled", async function () {
      const { f, account, token } = await withCaps(0n, 5_000n);
      await expect(f.registry.checkNetDebit(account, token, 1n))
        .to.be.revertedWithCustomError(f.registry, "CurrencyNotEnabled")
        .withArgs(account, token);
    });

    it("rejects a suspended account with ParticipantSuspended", async function () {
      const { f, account, token } = await withCaps(10n, 5_000n);
      await f.registry.suspend(account);
      await expect(f.registry.checkNetDebit(account, token, 1n))
        .to.be.revertedWithCustomError(f.registry, "ParticipantSuspended")
        .withArgs(account);
    });

    it("rejects an unregistered account with ParticipantUnknown", async function () {
      const { f, token } = await withCaps(10n, 5_000n);
      await expect(f.registry.checkNetDebit(f.outsider.address, token, 1n))
        .to.be.revertedWithCustomError(f.registry, "ParticipantUnknown")
        .withArgs(f.outsider.address);
    });
  });

  describe("checkActiveBank", function () {
    it("passes for an active bank", async function () {
      const f = await setup();
      await expect(f.registry.checkActiveBank(f.banks[0].address)).not.to.be.reverted;
    });

    it("rejects a settlement contract, active or suspended, with NotABank", async function () {
      const f = await setup();
      const escrow = await f.escrow.getAddress();
      await expect(f.registry.checkActiveBank(escrow)).to.be.revertedWithCustomError(f.registry, "NotABank").withArgs(escrow);
      await f.registry.suspend(escrow);
      await expect(f.registry.checkActiveBank(escrow)).to.be.revertedWithCustomError(f.registry, "NotABank").withArgs(escrow);
    });

    it("rejects a suspended bank with ParticipantSuspended until it is reactivated", async function () {
      const f = await setup();
      const account = f.banks[0].address;
      await f.registry.suspend(account);
      await expect(f.registry.checkActiveBank(account))
        .to.be.revertedWithCustomError(f.registry, "ParticipantSuspended")
        .withArgs(account);
      await f.registry.reactivate(account);
      await expect(f.registry.checkActiveBank(account)).not.to.be.reverted;
    });

    it("rejects an unregistered account (including zero) with ParticipantUnknown", async function () {
      const f = await setup();
      for (const account of [f.outsider.address, ZeroAddress]) {
        await expect(f.registry.checkActiveBank(account))
          .to.be.revertedWithCustomError(f.registry, "ParticipantUnknown")
          .withArgs(account);
      }
    });
  });

  describe("canReceive", function () {
    type Role = "activeBank" | "suspendedBank" | "unregistered" | "activeSettlement" | "suspendedSettlement" | "zero";

    /** One account in each role: banks[0]/[1], the outsider, the escrow and a suspended netting contract. */
    async function actors(): Promise<{ f: Setup; of: Record<Role, string> }> {
      const f = await setup();
      const netting = await f.netting.getAddress();
      await f.registry.suspend(f.banks[1].address);
      await f.registry.suspend(netting);
      const of: Record<Role, string> = {
        activeBank: f.banks[0].address,
        suspendedBank: f.banks[1].address,
        unregistered: f.outsider.address,
        activeSettlement: await f.escrow.getAddress(),
        suspendedSettlement: netting,
        zero: ZeroAddress,
      };
      return { f, of };
    }

    const operators: Role[] = ["activeSettlement", "suspendedSettlement", "activeBank", "suspendedBank", "unregistered", "zero"];
    /** Recipient role -> the operators through which it may receive (a settlement contract only through itself). */
    const table: Record<Exclude<Role, "zero">, Role[]> = {
      activeBank: operators,
      activeSettlement: ["activeSettlement"],
      suspendedBank: ["activeSettlement"],
      suspendedSettlement: [],
      unregistered: [],
    };

    for (const [recipient, allowedVia] of Object.entries(table) as [Exclude<Role, "zero">, Role[]][]) {
      for (const operator of operators) {
        const expected = allowedVia.includes(operator);
        it(`${recipient} via ${operator} operator: ${expected}`, async function () {
          const { f, of } = await actors();
          expect(await f.registry.canReceive(of[recipient], of[operator])).to.equal(expected);
        });
      }
    }

    it("a suspended bank receiving itself as operator: false", async function () {
      const { f, of } = await actors();
      expect(await f.registry.canReceive(of.suspendedBank, of.suspendedBank)).to.equal(false);
    });

    it("follows suspension and reactivation of the settlement contract operator", async function () {
      const { f, of } = await actors();
      expect(await f.registry.canReceive(of.suspendedBank, of.suspendedSettlement)).to.equal(false);
      await f.registry.reactivate(of.suspendedSettlement);
      expect(await f.registry.canReceive(of.suspendedBank, of.suspendedSettlement)).to.equal(true);
      await f.registry.suspend(of.activeSettlement);
      expect(await f.registry.canReceive(of.suspendedBank, of.activeSettlement)).to.equal(false);
    });

    it("zero can never receive", async function () {
      const { f, of } = await actors();
      expect(await f.registry.canReceive(ZeroAddress, of.activeSettlement)).to.equal(false);
    });
  });

  describe("participant", function () {
    it("returns an empty record for an unregistered account", async function () {
      const f = await setup();
      await expectUnregistered(f, f.outsider.address);
      await expectUnregistered(f, randomAddress());
    });
  });

  describe("accountOf", function () {
    it("returns zero for a valid BIC nobody registered", async function () {
      const f = await setup();
      expect(await f.registry.accountOf("NEWCGB2L")).to.equal(ZeroAddress);
      expect(await f.registry.accountOf("NEWCGB2L001")).to.equal(ZeroAddress);
    });

    it("does not resolve the 8-character spelling to a non-XXX branch", async function () {
      const f = await setup();
      const account = randomAddress();
      await f.registry.registerParticipant(account, "NEWCGB2L001");
      expect(await f.registry.accountOf("NEWCGB2L001")).to.equal(account);
      expect(await f.registry.accountOf("NEWCGB2L")).to.equal(ZeroAddress);
    });

    it("rejects an invalid BIC with InvalidBic", async function () {
      const f = await setup();
      for (const bic of [TEST_BANKS[0].bic.toLowerCase(), "ALPHGB2LXX", ""]) {
        await expect(f.registry.accountOf(bic)).to.be.revertedWithCustomError(f.registry, "InvalidBic").withArgs(bic);
      }
    });
  });

  describe("supportsInterface", function () {
    it("reports ERC-165 and IAccessControl, not an unknown interface", async function () {
      const f = await setup();
      expect(await f.registry.supportsInterface("0x01ffc9a7")).to.equal(true);
      expect(await f.registry.supportsInterface("0x7965db0b")).to.equal(true);
      expect(await f.registry.supportsInterface("0xffffffff")).to.equal(false);
    });
  });
});
