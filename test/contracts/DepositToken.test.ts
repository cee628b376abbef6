import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { MaxUint256, Signature, TypedDataEncoder, ZeroAddress, ZeroHash, id } from "ethers";
import { DepositToken__factory, type DepositToken } from "../../typechain-types";
import { deployCorridorFixture, TEST_BANKS, TEST_CURRENCIES, type CorridorFixture } from "./fixtures";
import { DEFAULT_DEMO_LIMITS } from "../../scripts/lib/demo";
import { majorToMinorUnits } from "../../server/config/currencies";

const EXPECTED_DECIMALS: Record<(typeof TEST_CURRENCIES)[number], bigint> = { GBP: 2n, JPY: 0n, BHD: 3n };

/** Each fixture bank starts with this many GBP minor units. */
const GBP_BALANCE = majorToMinorUnits(DEFAULT_DEMO_LIMITS.balanceMajor, "GBP");

const PERMIT_TYPES = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

let evidenceCounter = 0;
/** A fresh, unused evidence reference. */
function evidence(label = "test"): string {
  evidenceCounter += 1;
  return id(`evidence:${label}:${evidenceCounter}`);
}

interface Setup extends CorridorFixture {
  gbp: DepositToken;
  issuerRole: string;
  pauserRole: string;
  adminRole: string;
  /** Signers the fixture left unused (not admin, a bank or the outsider). */
  spare: HardhatEthersSigner[];
}

async function setup(): Promise<Setup> {
  const fixture = await loadFixture(deployCorridorFixture);
  const used = new Set([fixture.admin, ...fixture.banks, fixture.outsider].map((s) => s.address));
  const spare = (await ethers.getSigners()).filter((s) => !used.has(s.address));
  const gbp = fixture.tokens.GBP;
  return {
    ...fixture,
    gbp,
    spare,
    issuerRole: await gbp.ISSUER_ROLE(),
    pauserRole: await gbp.PAUSER_ROLE(),
    adminRole: await gbp.DEFAULT_ADMIN_ROLE(),
  };
}

/** An EOA registered as a settlement contract, so that it can act as one (operator of a transfer). */
async function settlementSigner(f: Setup, index = 0): Promise<HardhatEthersSigner> {
  const signer = f.spare[index];
  await f.registry.registerSettlementContract(signer.address);
  return signer;
}

/** A settlement contract receives only what it pulls itself, as the escrow does at lock. */
async function pullIntoSettlement(f: Setup, settlement: HardhatEthersSigner, from: HardhatEthersSigner, amount: bigint) {
  await f.gbp.connect(from).approve(settlement.address, amount);
  await f.gbp.connect(settlement).transferFrom(from.address, settlement.address, amount);
}

function deployToken(f: CorridorFixture, currency: string, decimals: number, admin = f.admin.address) {
  return new DepositToken__factory(f.admin).deploy(
    `Corridor ${currency} Deposit`,
    `c${currency}`,
    currency,
    decimals,
    f.registry,
    admin,
  );
}

async function balancesOf(token: DepositToken, accounts: readonly { address: string }[]): Promise<bigint[]> {
  return Promise.all(accounts.map((a) => token.balanceOf(a.address)));
}

/** Asserts that the balances and the total supply are what `before` recorded. */
async function expectUnchanged(
  token: DepositToken,
  accounts: readonly { address: string }[],
  before: { balances: bigint[]; supply: bigint },
): Promise<void> {
  expect(await balancesOf(token, accounts)).to.deep.equal(before.balances);
  expect(await token.totalSupply()).to.equal(before.supply);
}

async function snapshot(token: DepositToken, accounts: readonly { address: string }[]) {
  return { balances: await balancesOf(token, accounts), supply: await token.totalSupply() };
}

async function signPermit(
  token: DepositToken,
  signer: HardhatEthersSigner,
  message: { owner: string; spender: string; value: bigint; nonce: bigint; deadline: bigint },
): Promise<Signature> {
  const domain = {
    name: await token.name(),
    version: "1",
    chainId: (await ethers.provider.getNetwork()).chainId,
    verifyingContract: await token.getAddress(),
  };
  return Signature.from(await signer.signTypedData(domain, PERMIT_TYPES, message));
}

describe("DepositToken", function () {
  describe("constructor and metadata", function () {
    for (const currency of TEST_CURRENCIES) {
      it(`${currency}: decimals are the ISO 4217 exponent (${EXPECTED_DECIMALS[currency]}), currency and names are set`, async function () {
        const f = await setup();
        const token = f.tokens[currency];
        expect(await token.decimals()).to.equal(EXPECTED_DECIMALS[currency]);
        expect(await token.currency()).to.equal(currency);
        expect(await token.name()).to.equal(`Corridor ${currency} Deposit`);
        expect(await token.symbol()).to.equal(`c${currency}`);
        expect(await token.registry()).to.equal(await f.registry.getAddress());
      });
    }

    it("gives the admin parameter (not the deployer) the admin, issuer and pauser roles", async function () {
      const f = await setup();
      const [holder] = f.spare;
      const token = await deployToken(f, "EUR", 2, holder.address);
      for (const role of [f.adminRole, f.issuerRole, f.pauserRole]) {
        expect(await token.hasRole(role, holder.address)).to.equal(true);
        expect(await token.hasRole(role, f.admin.address)).to.equal(false);
      }
    });

    it("starts unpaused with no supply", async function () {
      const f = await setup();
      const token = await deployToken(f, "EUR", 2);
      expect(await token.paused()).to.equal(false);
      expect(await token.totalSupply()).to.equal(0n);
    });

    it("accepts decimals from 0 up to 6", async function () {
      const f = await setup();
      for (const decimals of [0, 4, 6]) {
        const token = await deployToken(f, "XAU", decimals);
        expect(await token.decimals()).to.equal(BigInt(decimals));
      }
    });

    for (const decimals of [7, 18, 255]) {
      it(`rejects ${decimals} decimals with InvalidDecimals`, async function () {
        const f = await setup();
        const factory = new DepositToken__factory(f.admin);
        await expect(deployToken(f, "EUR", decimals))
          .to.be.revertedWithCustomError(factory, "InvalidDecimals")
          .withArgs(decimals);
      });
    }

    const invalidCodes = {
      "empty": "",
      "2 letters": "GB",
      "4 letters": "GBPX",
      "lower case": "gbp",
      "mixed case": "Gbp",
      "a digit": "G8P",
      "'@' (just below A)": "GB@",
      "'[' (just above Z)": "[BP",
      "a space": "GB ",
      "a 3-byte non-ASCII character": "€",
    };
    for (const [what, code] of Object.entries(invalidCodes)) {
      it(`rejects a currency code with ${what} (${JSON.stringify(code)}) with InvalidCurrencyCode`, async function () {
        const f = await setup();
        const factory = new DepositToken__factory(f.admin);
        await expect(deployToken(f, code, 2))
          .to.be.revertedWithCustomError(factory, "InvalidCurrencyCode")
          .withArgs(code);
      });
    }

    it("checks the currency code before the decimals", async function () {
      const f = await setup();
      const factory = new DepositToken__factory(f.admin);
      await expect(deployToken(f, "gbp", 9)).to.be.revertedWithCustomError(factory, "InvalidCurrencyCode").withArgs("gbp");
    });
  });

  describe("mint", function () {
    it("mints to an active bank against fresh evidence", async function () {
      const f = await setup();
      const bank = f.banks[0];
      const ev = evidence();
      const supply = await f.gbp.totalSupply();
      const tx = f.gbp.mint(bank.address, 12_345n, ev);
      await expect(tx).to.emit(f.gbp, "Minted").withArgs(bank.address, 12_345n, ev);
      await expect(tx).to.emit(f.gbp, "Transfer").withArgs(ZeroAddress, bank.address, 12_345n);
      await expect(tx).to.changeTokenBalance(f.gbp, bank, 12_345n);
      expect(await f.gbp.totalSupply()).to.equal(supply + 12_345n);
      expect(await f.gbp.isEvidenceUsed(ev)).to.equal(true);
    });

    it("rejects minting to a settlement contract with HolderNotAllowed (it receives only what it pulls)", async function () {
      const f = await setup();
      const ev = evidence();
      await expect(f.gbp.mint(f.escrow, 1n, ev))
        .to.be.revertedWithCustomError(f.gbp, "HolderNotAllowed")
        .withArgs(await f.escrow.getAddress());
      expect(await f.gbp.balanceOf(f.escrow)).to.equal(0n);
      expect(await f.gbp.isEvidenceUsed(ev)).to.equal(false);
    });

    it("rejects a zero amount with ZeroAmount", async function () {
      const f = await setup();
      const ev = evidence();
      const before = await snapshot(f.gbp, f.banks);
      await expect(f.gbp.mint(f.banks[0].address, 0n, ev)).to.be.revertedWithCustomError(f.gbp, "ZeroAmount");
      await expect(f.gbp.mint(f.banks[0].address, 0n, ZeroHash)).to.be.revertedWithCustomError(f.gbp, "ZeroAmount");
      await expectUnchanged(f.gbp, f.banks, before);
      expect(await f.gbp.isEvidenceUsed(ev)).to.equal(false);
    });

    it("rejects zero evidence with MissingEvidence", async function () {
      const f = await setup();
      const before = await snapshot(f.gbp, f.banks);
      await expect(f.gbp.mint(f.banks[0].address, 1n, ZeroHash)).to.be.revertedWithCustomError(f.gbp, "MissingEvidence");
      await expectUnchanged(f.gbp, f.banks, before);
      expect(await f.gbp.isEvidenceUsed(ZeroHash)).to.equal(false);
    });

    it("rejects evidence already used by a mint with EvidenceAlreadyUsed (a retried mint mints once)", async function () {
      const f = await setup();
      const ev = evidence();
      await f.gbp.mint(f.banks[0].address, 100n, ev);
      const before = await snapshot(f.gbp, f.banks);
      for (const to of [f.banks[0], f.banks[1]]) {
        await expect(f.gbp.mint(to.address, 100n, ev))
          .to.be.revertedWithCustomError(f.gbp, "EvidenceAlreadyUsed")
          .withArgs(ev);
      }
      await expectUnchanged(f.gbp, f.banks, before);
    });

    it("rejects the fixture's demo-mint evidence with EvidenceAlreadyUsed", async function () {
      const f = await setup();
      const ev = id(`demo-mint:${TEST_BANKS[0].bic}:GBP`);
      await expect(f.gbp.mint(f.banks[0].address, 1n, ev))
        .to.be.revertedWithCustomError(f.gbp, "EvidenceAlreadyUsed")
        .withArgs(ev);
    });

    it("rejects evidence already used by a burn with EvidenceAlreadyUsed", async function () {
      const f = await setup();
      const ev = evidence();
      await f.gbp.connect(f.banks[0]).approve(f.admin.address, 10n);
      await f.gbp.burn(f.banks[0].address, 10n, ev);
      const before = await snapshot(f.gbp, f.banks);
      await expect(f.gbp.mint(f.banks[0].address, 10n, ev))
        .to.be.revertedWithCustomError(f.gbp, "EvidenceAlreadyUsed")
        .withArgs(ev);
      await expectUnchanged(f.gbp, f.banks, before);
    });

    it("rejects an unregistered recipient with HolderNotAllowed, without using the evidence", async function () {
      const f = await setup();
      const ev = evidence();
      await expect(f.gbp.mint(f.outsider.address, 100n, ev))
        .to.be.revertedWithCustomError(f.gbp, "HolderNotAllowed")
        .withArgs(f.outsider.address);
      expect(await f.gbp.balanceOf(f.outsider.address)).to.equal(0n);
      expect(await f.gbp.isEvidenceUsed(ev)).to.equal(false);
      await expect(f.gbp.mint(f.banks[0].address, 100n, ev)).to.changeTokenBalance(f.gbp, f.banks[0], 100n);
    });

    it("rejects a suspended bank with HolderNotAllowed", async function () {
      const f = await setup();
      const bank = f.banks[1];
      await f.registry.suspend(bank.address);
      const before = await snapshot(f.gbp, f.banks);
      await expect(f.gbp.mint(bank.address, 100n, evidence()))
        .to.be.revertedWithCustomError(f.gbp, "HolderNotAllowed")
        .withArgs(bank.address);
      await expectUnchanged(f.gbp, f.banks, before);
    });

    it("rejects a suspended settlement contract with HolderNotAllowed", async function () {
      const f = await setup();
      const escrow = await f.escrow.getAddress();
      await f.registry.suspend(escrow);
      await expect(f.gbp.mint(escrow, 100n, evidence()))
        .to.be.revertedWithCustomError(f.gbp, "HolderNotAllowed")
        .withArgs(escrow);
      expect(await f.gbp.balanceOf(escrow)).to.equal(0n);
    });

    it("rejects the zero address with ERC20InvalidReceiver", async function () {
      const f = await setup();
      await expect(f.gbp.mint(ZeroAddress, 1n, evidence()))
        .to.be.revertedWithCustomError(f.gbp, "ERC20InvalidReceiver")
        .withArgs(ZeroAddress);
    });

    it("rejects callers without ISSUER_ROLE, even the pauser", async function () {
      const f = await setup();
      const [pauser] = f.spare;
      await f.gbp.grantRole(f.pauserRole, pauser.address);
      const ev = evidence();
      for (const caller of [f.outsider, f.banks[0], pauser]) {
        await expect(f.gbp.connect(caller).mint(f.banks[0].address, 1n, ev))
          .to.be.revertedWithCustomError(f.gbp, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, f.issuerRole);
      }
      expect(await f.gbp.isEvidenceUsed(ev)).to.equal(false);
    });
  });

  describe("burn", function () {
    it("burns a holder's tokens within the issuer's allowance", async function () {
      const f = await setup();
      const bank = f.banks[0];
      const ev = evidence();
      await f.gbp.connect(bank).approve(f.admin.address, 1_000n);
      const supply = await f.gbp.totalSupply();
      const tx = f.gbp.burn(bank.address, 600n, ev);
      await expect(tx).to.emit(f.gbp, "Burned").withArgs(bank.address, 600n, ev);
      await expect(tx).to.emit(f.gbp, "Transfer").withArgs(bank.address, ZeroAddress, 600n);
      await expect(tx).to.changeTokenBalance(f.gbp, bank, -600n);
      expect(await f.gbp.totalSupply()).to.equal(supply - 600n);
      expect(await f.gbp.allowance(bank.address, f.admin.address)).to.equal(400n);
      expect(await f.gbp.isEvidenceUsed(ev)).to.equal(true);
    });

    it("lets an issuer burn its own tokens without an allowance", async function () {
      const f = await setup();
      const issuerBank = f.banks[2];
      await f.gbp.grantRole(f.issuerRole, issuerBank.address);
      expect(await f.gbp.allowance(issuerBank.address, issuerBank.address)).to.equal(0n);
      const ev = evidence();
      await expect(f.gbp.connect(issuerBank).burn(issuerBank.address, 250n, ev))
        .to.emit(f.gbp, "Burned")
        .withArgs(issuerBank.address, 250n, ev);
      expect(await f.gbp.balanceOf(issuerBank.address)).to.equal(GBP_BALANCE - 250n);
    });

    it("burns within an allowance the holder gave by permit", async function () {
      const f = await setup();
      const bank = f.banks[3];
      const deadline = BigInt(await time.latest()) + 600n;
      const message = { owner: bank.address, spender: f.admin.address, value: 75n, nonce: 0n, deadline };
      const sig = await signPermit(f.gbp, bank, message);
      await f.gbp.permit(bank.address, f.admin.address, 75n, deadline, sig.v, sig.r, sig.s);
      await expect(f.gbp.burn(bank.address, 75n, evidence())).to.changeTokenBalance(f.gbp, bank, -75n);
      expect(await f.gbp.allowance(bank.address, f.admin.address)).to.equal(0n);
    });

    it("rejects a burn without allowance with ERC20InsufficientAllowance, without using the evidence", async function () {
      const f = await setup();
      const ev = evidence();
      const before = await snapshot(f.gbp, f.banks);
      await expect(f.gbp.burn(f.banks[0].address, 1n, ev))
        .to.be.revertedWithCustomError(f.gbp, "ERC20InsufficientAllowance")
        .withArgs(f.admin.address, 0n, 1n);
      await expectUnchanged(f.gbp, f.banks, before);
      expect(await f.gbp.isEvidenceUsed(ev)).to.equal(false);
    });

    it("rejects a burn above the allowance with ERC20InsufficientAllowance", async function () {
      const f = await setup();
      const bank = f.banks[0];
      await f.gbp.connect(bank).approve(f.admin.address, 50n);
      const before = await snapshot(f.gbp, f.banks);
      await expect(f.gbp.burn(bank.address, 51n, evidence()))
        .to.be.revertedWithCustomError(f.gbp, "ERC20InsufficientAllowance")
        .withArgs(f.admin.address, 50n, 51n);
      await expectUnchanged(f.gbp, f.banks, before);
      expect(await f.gbp.allowance(bank.address, f.admin.address)).to.equal(50n);
    });

    it("another spender's allowance does not count", async function () {
      const f = await setup();
      // The fixture banks approved the escrow and netting contracts for MaxUint256.
      expect(await f.gbp.allowance(f.banks[0].address, f.escrow)).to.equal(MaxUint256);
      await expect(f.gbp.burn(f.banks[0].address, 1n, evidence()))
        .to.be.revertedWithCustomError(f.gbp, "ERC20InsufficientAllowance")
        .withArgs(f.admin.address, 0n, 1n);
    });

    it("rejects a burn above the balance with ERC20InsufficientBalance", async function () {
      const f = await setup();
      const bank = f.banks[0];
      await f.gbp.connect(bank).approve(f.admin.address, MaxUint256);
      await expect(f.gbp.burn(bank.address, GBP_BALANCE + 1n, evidence()))
        .to.be.revertedWithCustomError(f.gbp, "ERC20InsufficientBalance")
        .withArgs(bank.address, GBP_BALANCE, GBP_BALANCE + 1n);
      expect(await f.gbp.balanceOf(bank.address)).to.equal(GBP_BALANCE);
    });

    it("rejects a zero amount with ZeroAmount", async function () {
      const f = await setup();
      await f.gbp.connect(f.banks[0]).approve(f.admin.address, MaxUint256);
      await expect(f.gbp.burn(f.banks[0].address, 0n, evidence())).to.be.revertedWithCustomError(f.gbp, "ZeroAmount");
    });

    it("rejects zero evidence with MissingEvidence", async function () {
      const f = await setup();
      await f.gbp.connect(f.banks[0]).approve(f.admin.address, MaxUint256);
      await expect(f.gbp.burn(f.banks[0].address, 1n, ZeroHash)).to.be.revertedWithCustomError(f.gbp, "MissingEvidence");
      expect(await f.gbp.balanceOf(f.banks[0].address)).to.equal(GBP_BALANCE);
    });

    it("rejects evidence already used by a mint with EvidenceAlreadyUsed", async function () {
      const f = await setup();
      const ev = evidence();
      await f.gbp.mint(f.banks[0].address, 10n, ev);
      await f.gbp.connect(f.banks[0]).approve(f.admin.address, MaxUint256);
      const before = await snapshot(f.gbp, f.banks);
      await expect(f.gbp.burn(f.banks[0].address, 10n, ev))
        .to.be.revertedWithCustomError(f.gbp, "EvidenceAlreadyUsed")
        .withArgs(ev);
      await expectUnchanged(f.gbp, f.banks, before);
    });

    it("rejects evidence already used by a burn with EvidenceAlreadyUsed (a retried burn burns once)", async function () {
      const f = await setup();
      const ev = evidence();
      await f.gbp.connect(f.banks[0]).approve(f.admin.address, MaxUint256);
      await f.gbp.burn(f.banks[0].address, 10n, ev);
      const before = await snapshot(f.gbp, f.banks);
      await expect(f.gbp.burn(f.banks[0].address, 10n, ev))
        .to.be.revertedWithCustomError(f.gbp, "EvidenceAlreadyUsed")
        .withArgs(ev);
      await expectUnchanged(f.gbp, f.banks, before);
    });

    it("burns a suspended bank's tokens (redemption is not blocked by suspension)", async function () {
      const f = await setup();
      const bank = f.banks[1];
      await f.gbp.connect(bank).approve(f.admin.address, 100n);
      await f.registry.suspend(bank.address);
      await expect(f.gbp.burn(bank.address, 100n, evidence())).to.changeTokenBalance(f.gbp, bank, -100n);
    });

    it("rejects callers without ISSUER_ROLE, even with an allowance", async function () {
      const f = await setup();
      const bank = f.banks[0];
      const caller = f.banks[1];
      await f.gbp.connect(bank).approve(caller.address, MaxUint256);
      for (const [from, who] of [
        [bank, caller],
        [caller, caller],
        [bank, f.outsider],
      ] as const) {
        await expect(f.gbp.connect(who).burn(from.address, 1n, evidence()))
          .to.be.revertedWithCustomError(f.gbp, "AccessControlUnauthorizedAccount")
          .withArgs(who.address, f.issuerRole);
      }
      expect(await f.gbp.balanceOf(bank.address)).to.equal(GBP_BALANCE);
    });
  });

  describe("isEvidenceUsed", function () {
    it("is false for fresh evidence and true after a mint or a burn", async function () {
      const f = await setup();
      const [forMint, forBurn] = [evidence(), evidence()];
      expect(await f.gbp.isEvidenceUsed(forMint)).to.equal(false);
      expect(await f.gbp.isEvidenceUsed(forBurn)).to.equal(false);
      await f.gbp.mint(f.banks[0].address, 1n, forMint);
      expect(await f.gbp.isEvidenceUsed(forMint)).to.equal(true);
      expect(await f.gbp.isEvidenceUsed(forBurn)).to.equal(false);
      await f.gbp.connect(f.banks[0]).approve(f.admin.address, 1n);
      await f.gbp.burn(f.banks[0].address, 1n, forBurn);
      expect(await f.gbp.isEvidenceUsed(forBurn)).to.equal(true);
    });

    it("reports the fixture's demo mints as used", async function () {
      const f = await setup();
      for (const currency of TEST_CURRENCIES) {
        for (const bank of TEST_BANKS) {
          expect(await f.tokens[currency].isEvidenceUsed(id(`demo-mint:${bank.bic}:${currency}`))).to.equal(true);
        }
      }
    });

    it("is kept per token", async function () {
      const f = await setup();
      const ev = evidence();
      await f.gbp.mint(f.banks[0].address, 1n, ev);
      expect(await f.tokens.JPY.isEvidenceUsed(ev)).to.equal(false);
    });
  });

  describe("transfers and the holder restriction", function () {
    it("moves tokens between active banks", async function () {
      const f = await setup();
      const [from, to] = f.banks;
      await expect(f.gbp.connect(from).transfer(to.address, 700n)).to.changeTokenBalances(f.gbp, [from, to], [-700n, 700n]);
    });

    it("credits an active settlement contract only in a transfer it makes itself", async function () {
      const f = await setup();
      const settlement = await settlementSigner(f);
      const bank = f.banks[0];
      for (const recipient of [settlement.address, await f.escrow.getAddress()]) {
        await expect(f.gbp.connect(bank).transfer(recipient, 5n))
          .to.be.revertedWithCustomError(f.gbp, "HolderNotAllowed")
          .withArgs(recipient);
      }
      await f.gbp.connect(bank).approve(settlement.address, 5n);
      await expect(f.gbp.connect(settlement).transferFrom(bank.address, settlement.address, 5n)).to.changeTokenBalances(
        f.gbp,
        [bank, settlement],
        [-5n, 5n],
      );
    });

    it("rejects an unregistered recipient with HolderNotAllowed", async function () {
      const f = await setup();
      const holders = [...f.banks, f.outsider];
      const before = await snapshot(f.gbp, holders);
      await expect(f.gbp.connect(f.banks[0]).transfer(f.outsider.address, 1n))
        .to.be.revertedWithCustomError(f.gbp, "HolderNotAllowed")
        .withArgs(f.outsider.address);
      await expectUnchanged(f.gbp, holders, before);
    });

    it("rejects a suspended bank as recipient with HolderNotAllowed", async function () {
      const f = await setup();
      const [from, to] = f.banks;
      await f.registry.suspend(to.address);
      const before = await snapshot(f.gbp, f.banks);
      await expect(f.gbp.connect(from).transfer(to.address, 1n))
        .to.be.revertedWithCustomError(f.gbp, "HolderNotAllowed")
        .withArgs(to.address);
      await expectUnchanged(f.gbp, f.banks, before);
    });

    it("lets a suspended bank still send", async function () {
      const f = await setup();
      const [suspended, to] = f.banks;
      await f.registry.suspend(suspended.address);
      await expect(f.gbp.connect(suspended).transfer(to.address, 300n)).to.changeTokenBalances(
        f.gbp,
        [suspended, to],
        [-300n, 300n],
      );
    });

    it("credits a bank again once it is reactivated", async function () {
      const f = await setup();
      const [from, to] = f.banks;
      await f.registry.suspend(to.address);
      await f.registry.reactivate(to.address);
      await expect(f.gbp.connect(from).transfer(to.address, 1n)).to.changeTokenBalance(f.gbp, to, 1n);
    });

    it("applies the restriction to transferFrom by a bank spender", async function () {
      const f = await setup();
      const [owner, spender, to] = f.banks;
      await f.gbp.connect(owner).approve(spender.address, 100n);
      await f.registry.suspend(to.address);
      await expect(f.gbp.connect(spender).transferFrom(owner.address, to.address, 100n))
        .to.be.revertedWithCustomError(f.gbp, "HolderNotAllowed")
        .withArgs(to.address);
      expect(await f.gbp.allowance(owner.address, spender.address)).to.equal(100n);
      await expect(f.gbp.connect(spender).transferFrom(owner.address, spender.address, 100n)).to.changeTokenBalances(
        f.gbp,
        [owner, spender],
        [-100n, 100n],
      );
    });

    it("lets an active settlement contract return funds to a suspended bank (transfer)", async function () {
      const f = await setup();
      const settlement = await settlementSigner(f);
      const bank = f.banks[1];
      await pullIntoSettlement(f, settlement, bank, 500n);
      await f.registry.suspend(bank.address);
      await expect(f.gbp.connect(settlement).transfer(bank.address, 500n)).to.changeTokenBalances(
        f.gbp,
        [settlement, bank],
        [-500n, 500n],
      );
    });

    it("lets an active settlement contract credit a suspended bank via transferFrom", async function () {
      const f = await setup();
      const settlement = await settlementSigner(f);
      const [owner, suspended] = f.banks;
      await f.gbp.connect(owner).approve(settlement.address, 40n);
      await f.registry.suspend(suspended.address);
      await expect(f.gbp.connect(settlement).transferFrom(owner.address, suspended.address, 40n)).to.changeTokenBalances(
        f.gbp,
        [owner, suspended],
        [-40n, 40n],
      );
    });

    it("rejects a suspended settlement contract returning funds to a suspended bank", async function () {
      const f = await setup();
      const settlement = await settlementSigner(f);
      const bank = f.banks[1];
      await pullIntoSettlement(f, settlement, bank, 500n);
      await f.registry.suspend(bank.address);
      await f.registry.suspend(settlement.address);
      const before = await snapshot(f.gbp, [settlement, bank]);
      await expect(f.gbp.connect(settlement).transfer(bank.address, 500n))
        .to.be.revertedWithCustomError(f.gbp, "HolderNotAllowed")
        .withArgs(bank.address);
      await expectUnchanged(f.gbp, [settlement, bank], before);
    });

    it("lets a suspended settlement contract still pay an active bank", async function () {
      const f = await setup();
      const settlement = await settlementSigner(f);
      const [from, to] = f.banks;
      await pullIntoSettlement(f, settlement, from, 10n);
      await f.registry.suspend(settlement.address);
      await expect(f.gbp.connect(settlement).transfer(to.address, 10n)).to.changeTokenBalance(f.gbp, to, 10n);
    });

    it("rejects a suspended settlement contract as recipient, even from an active settlement contract", async function () {
      const f = await setup();
      const settlement = await settlementSigner(f);
      await pullIntoSettlement(f, settlement, f.banks[0], 10n);
      const escrow = await f.escrow.getAddress();
      await f.registry.suspend(escrow);
      for (const sender of [settlement, f.banks[0]]) {
        await expect(f.gbp.connect(sender).transfer(escrow, 1n))
          .to.be.revertedWithCustomError(f.gbp, "HolderNotAllowed")
          .withArgs(escrow);
      }
      expect(await f.gbp.balanceOf(escrow)).to.equal(0n);
    });

    it("rejects an unregistered recipient even from an active settlement contract", async function () {
      const f = await setup();
      const settlement = await settlementSigner(f);
      await pullIntoSettlement(f, settlement, f.banks[0], 10n);
      await expect(f.gbp.connect(settlement).transfer(f.outsider.address, 10n))
        .to.be.revertedWithCustomError(f.gbp, "HolderNotAllowed")
        .withArgs(f.outsider.address);
      expect(await f.gbp.balanceOf(settlement.address)).to.equal(10n);
    });

    it("rejects the zero address with ERC20InvalidReceiver", async function () {
      const f = await setup();
      await expect(f.gbp.connect(f.banks[0]).transfer(ZeroAddress, 1n))
        .to.be.revertedWithCustomError(f.gbp, "ERC20InvalidReceiver")
        .withArgs(ZeroAddress);
    });

    it("rejects a transfer above the balance with ERC20InsufficientBalance", async function () {
      const f = await setup();
      const [from, to] = f.banks;
      await expect(f.gbp.connect(from).transfer(to.address, GBP_BALANCE + 1n))
        .to.be.revertedWithCustomError(f.gbp, "ERC20InsufficientBalance")
        .withArgs(from.address, GBP_BALANCE, GBP_BALANCE + 1n);
    });
  });

  describe("pause and unpause", function () {
    async function paused() {
      const f = await setup();
      await f.gbp.connect(f.banks[0]).approve(f.banks[1].address, MaxUint256);
      await f.gbp.connect(f.banks[0]).approve(f.admin.address, MaxUint256);
      await f.gbp.pause();
      return f;
    }

    it("pause emits Paused and sets paused()", async function () {
      const f = await setup();
      await expect(f.gbp.pause()).to.emit(f.gbp, "Paused").withArgs(f.admin.address);
      expect(await f.gbp.paused()).to.equal(true);
    });

    it("blocks transfer with EnforcedPause", async function () {
      const f = await paused();
      const before = await snapshot(f.gbp, f.banks);
      await expect(f.gbp.connect(f.banks[0]).transfer(f.banks[1].address, 1n)).to.be.revertedWithCustomError(
        f.gbp,
        "EnforcedPause",
      );
      await expectUnchanged(f.gbp, f.banks, before);
    });

    it("blocks transferFrom with EnforcedPause", async function () {
      const f = await paused();
      await expect(
        f.gbp.connect(f.banks[1]).transferFrom(f.banks[0].address, f.banks[1].address, 1n),
      ).to.be.revertedWithCustomError(f.gbp, "EnforcedPause");
      expect(await f.gbp.allowance(f.banks[0].address, f.banks[1].address)).to.equal(MaxUint256);
    });

    it("blocks mint with EnforcedPause, without using the evidence", async function () {
      const f = await paused();
      const ev = evidence();
      const before = await snapshot(f.gbp, f.banks);
      await expect(f.gbp.mint(f.banks[0].address, 1n, ev)).to.be.revertedWithCustomError(f.gbp, "EnforcedPause");
      await expectUnchanged(f.gbp, f.banks, before);
      expect(await f.gbp.isEvidenceUsed(ev)).to.equal(false);
    });

    it("blocks burn with EnforcedPause, without using the evidence", async function () {
      const f = await paused();
      const ev = evidence();
      const before = await snapshot(f.gbp, f.banks);
      await expect(f.gbp.burn(f.banks[0].address, 1n, ev)).to.be.revertedWithCustomError(f.gbp, "EnforcedPause");
      await expectUnchanged(f.gbp, f.banks, before);
      expect(await f.gbp.isEvidenceUsed(ev)).to.equal(false);
    });

    it("pausing one token leaves the others running", async function () {
      const f = await paused();
      await expect(f.tokens.JPY.connect(f.banks[0]).transfer(f.banks[1].address, 1n)).to.changeTokenBalance(
        f.tokens.JPY,
        f.banks[1],
        1n,
      );
    });

    it("rejects pausing twice with EnforcedPause", async function () {
      const f = await paused();
      await expect(f.gbp.pause()).to.be.revertedWithCustomError(f.gbp, "EnforcedPause");
      expect(await f.gbp.paused()).to.equal(true);
    });

    it("unpause emits Unpaused and lets transfers, mints and burns through again", async function () {
      const f = await paused();
      await expect(f.gbp.unpause()).to.emit(f.gbp, "Unpaused").withArgs(f.admin.address);
      expect(await f.gbp.paused()).to.equal(false);
      const [from, to] = f.banks;
      await expect(f.gbp.connect(from).transfer(to.address, 1n)).to.changeTokenBalance(f.gbp, to, 1n);
      await expect(f.gbp.connect(to).transferFrom(from.address, to.address, 1n)).to.changeTokenBalance(f.gbp, to, 1n);
      await expect(f.gbp.mint(from.address, 1n, evidence())).to.changeTokenBalance(f.gbp, from, 1n);
      await expect(f.gbp.burn(from.address, 1n, evidence())).to.changeTokenBalance(f.gbp, from, -1n);
    });

    it("rejects unpausing when not paused with ExpectedPause", async function () {
      const f = await setup();
      await expect(f.gbp.unpause()).to.be.revertedWithCustomError(f.gbp, "ExpectedPause");
      expect(await f.gbp.paused()).to.equal(false);
    });

    it("rejects pause by callers without PAUSER_ROLE, even an issuer", async function () {
      const f = await setup();
      const [issuer] = f.spare;
      await f.gbp.grantRole(f.issuerRole, issuer.address);
      for (const caller of [f.outsider, f.banks[0], issuer]) {
        await expect(f.gbp.connect(caller).pause())
          .to.be.revertedWithCustomError(f.gbp, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, f.pauserRole);
      }
      expect(await f.gbp.paused()).to.equal(false);
    });

    it("rejects unpause by callers without PAUSER_ROLE", async function () {
      const f = await paused();
      for (const caller of [f.outsider, f.banks[0]]) {
        await expect(f.gbp.connect(caller).unpause())
          .to.be.revertedWithCustomError(f.gbp, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, f.pauserRole);
      }
      expect(await f.gbp.paused()).to.equal(true);
    });

    it("a granted pauser can pause and unpause", async function () {
      const f = await setup();
      const [pauser] = f.spare;
      await f.gbp.grantRole(f.pauserRole, pauser.address);
      await expect(f.gbp.connect(pauser).pause()).to.emit(f.gbp, "Paused").withArgs(pauser.address);
      await expect(f.gbp.connect(pauser).unpause()).to.emit(f.gbp, "Unpaused").withArgs(pauser.address);
    });
  });

  describe("permit (ERC-2612)", function () {
    async function permitSetup() {
      const f = await setup();
      const [owner, spender] = f.banks;
      const deadline = BigInt(await time.latest()) + 3_600n;
      const nonce = await f.gbp.nonces(owner.address);
      const message = { owner: owner.address, spender: spender.address, value: 1_000n, nonce, deadline };
      return { f, owner, spender, message };
    }

    it("exposes the EIP-712 domain: token name, version 1, chain id, token address", async function () {
      const f = await setup();
      const domain = await f.gbp.eip712Domain();
      const tokenAddress = await f.gbp.getAddress();
      expect(domain.name).to.equal("Corridor GBP Deposit");
      expect(domain.version).to.equal("1");
      expect(domain.chainId).to.equal(f.chainId);
      expect(domain.verifyingContract).to.equal(tokenAddress);
      expect(await f.gbp.DOMAIN_SEPARATOR()).to.equal(
        TypedDataEncoder.hashDomain({ name: domain.name, version: "1", chainId: f.chainId, verifyingContract: tokenAddress }),
      );
    });

    it("a signed permit, submitted by anyone, sets the allowance and bumps the nonce", async function () {
      const { f, owner, spender, message } = await permitSetup();
      expect(message.nonce).to.equal(0n);
      const sig = await signPermit(f.gbp, owner, message);
      await expect(f.gbp.connect(f.outsider).permit(owner.address, spender.address, message.value, message.deadline, sig.v, sig.r, sig.s))
        .to.emit(f.gbp, "Approval")
        .withArgs(owner.address, spender.address, message.value);
      expect(await f.gbp.allowance(owner.address, spender.address)).to.equal(message.value);
      expect(await f.gbp.nonces(owner.address)).to.equal(1n);
      expect(await f.gbp.nonces(spender.address)).to.equal(0n);
      await expect(f.gbp.connect(spender).transferFrom(owner.address, spender.address, message.value)).to.changeTokenBalances(
        f.gbp,
        [owner, spender],
        [-message.value, message.value],
      );
    });

    it("accepts a permit with the next nonce after one was used", async function () {
      const { f, owner, spender, message } = await permitSetup();
      const first = await signPermit(f.gbp, owner, message);
      await f.gbp.permit(owner.address, spender.address, message.value, message.deadline, first.v, first.r, first.s);
      const next = { ...message, value: 5n, nonce: 1n };
      const sig = await signPermit(f.gbp, owner, next);
      await f.gbp.permit(owner.address, spender.address, next.value, next.deadline, sig.v, sig.r, sig.s);
      expect(await f.gbp.allowance(owner.address, spender.address)).to.equal(5n);
      expect(await f.gbp.nonces(owner.address)).to.equal(2n);
    });

    it("rejects a replayed permit with ERC2612InvalidSigner", async function () {
      const { f, owner, spender, message } = await permitSetup();
      const sig = await signPermit(f.gbp, owner, message);
      await f.gbp.permit(owner.address, spender.address, message.value, message.deadline, sig.v, sig.r, sig.s);
      await f.gbp.connect(spender).transferFrom(owner.address, spender.address, message.value);
      await expect(f.gbp.permit(owner.address, spender.address, message.value, message.deadline, sig.v, sig.r, sig.s))
        .to.be.revertedWithCustomError(f.gbp, "ERC2612InvalidSigner")
        .withArgs(anyValue, owner.address);
      expect(await f.gbp.allowance(owner.address, spender.address)).to.equal(0n);
      expect(await f.gbp.nonces(owner.address)).to.equal(1n);
    });

    it("rejects a permit signed by someone else with ERC2612InvalidSigner", async function () {
      const { f, owner, spender, message } = await permitSetup();
      const sig = await signPermit(f.gbp, f.outsider, message);
      await expect(f.gbp.permit(owner.address, spender.address, message.value, message.deadline, sig.v, sig.r, sig.s))
        .to.be.revertedWithCustomError(f.gbp, "ERC2612InvalidSigner")
        .withArgs(f.outsider.address, owner.address);
      expect(await f.gbp.allowance(owner.address, spender.address)).to.equal(0n);
      expect(await f.gbp.nonces(owner.address)).to.equal(0n);
    });

    it("rejects a permit submitted with a different value", async function () {
      const { f, owner, spender, message } = await permitSetup();
      const sig = await signPermit(f.gbp, owner, message);
      await expect(f.gbp.permit(owner.address, spender.address, message.value + 1n, message.deadline, sig.v, sig.r, sig.s))
        .to.be.revertedWithCustomError(f.gbp, "ERC2612InvalidSigner")
        .withArgs(anyValue, owner.address);
    });

    it("rejects a permit signed for another token's domain", async function () {
      const { f, owner, spender, message } = await permitSetup();
      const sig = await signPermit(f.tokens.JPY, owner, message);
      await expect(f.gbp.permit(owner.address, spender.address, message.value, message.deadline, sig.v, sig.r, sig.s))
        .to.be.revertedWithCustomError(f.gbp, "ERC2612InvalidSigner")
        .withArgs(anyValue, owner.address);
    });

    it("rejects an expired permit with ERC2612ExpiredSignature", async function () {
      const { f, owner, spender, message } = await permitSetup();
      const expired = { ...message, deadline: BigInt(await time.latest()) - 1n };
      const sig = await signPermit(f.gbp, owner, expired);
      await expect(f.gbp.permit(owner.address, spender.address, expired.value, expired.deadline, sig.v, sig.r, sig.s))
        .to.be.revertedWithCustomError(f.gbp, "ERC2612ExpiredSignature")
        .withArgs(expired.deadline);
      expect(await f.gbp.nonces(owner.address)).to.equal(0n);
    });
  });

  describe("roles", function () {
    it("role ids are the keccak256 of their names; DEFAULT_ADMIN_ROLE administers them", async function () {
      const f = await setup();
      expect(f.issuerRole).to.equal(id("ISSUER_ROLE"));
      expect(f.pauserRole).to.equal(id("PAUSER_ROLE"));
      expect(f.adminRole).to.equal(ZeroHash);
      for (const role of [f.issuerRole, f.pauserRole, f.adminRole]) {
        expect(await f.gbp.getRoleAdmin(role)).to.equal(f.adminRole);
      }
    });

    it("a granted issuer can mint; once revoked it cannot", async function () {
      const f = await setup();
      const [issuer] = f.spare;
      await expect(f.gbp.grantRole(f.issuerRole, issuer.address))
        .to.emit(f.gbp, "RoleGranted")
        .withArgs(f.issuerRole, issuer.address, f.admin.address);
      await expect(f.gbp.connect(issuer).mint(f.banks[0].address, 1n, evidence())).to.changeTokenBalance(
        f.gbp,
        f.banks[0],
        1n,
      );
      await expect(f.gbp.revokeRole(f.issuerRole, issuer.address))
        .to.emit(f.gbp, "RoleRevoked")
        .withArgs(f.issuerRole, issuer.address, f.admin.address);
      await expect(f.gbp.connect(issuer).mint(f.banks[0].address, 1n, evidence()))
        .to.be.revertedWithCustomError(f.gbp, "AccessControlUnauthorizedAccount")
        .withArgs(issuer.address, f.issuerRole);
    });

    it("an issuer can renounce its own role", async function () {
      const f = await setup();
      await f.gbp.renounceRole(f.issuerRole, f.admin.address);
      expect(await f.gbp.hasRole(f.issuerRole, f.admin.address)).to.equal(false);
      await expect(f.gbp.mint(f.banks[0].address, 1n, evidence()))
        .to.be.revertedWithCustomError(f.gbp, "AccessControlUnauthorizedAccount")
        .withArgs(f.admin.address, f.issuerRole);
    });

    it("only the admin can grant roles", async function () {
      const f = await setup();
      const [issuer] = f.spare;
      await f.gbp.grantRole(f.issuerRole, issuer.address);
      for (const caller of [issuer, f.banks[0]]) {
        await expect(f.gbp.connect(caller).grantRole(f.issuerRole, f.outsider.address))
          .to.be.revertedWithCustomError(f.gbp, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, f.adminRole);
      }
      expect(await f.gbp.hasRole(f.issuerRole, f.outsider.address)).to.equal(false);
    });

    it("reports ERC-165 and IAccessControl support", async function () {
      const f = await setup();
      expect(await f.gbp.supportsInterface("0x01ffc9a7")).to.equal(true);
      expect(await f.gbp.supportsInterface("0x7965db0b")).to.equal(true);
      expect(await f.gbp.supportsInterface("0xffffffff")).to.equal(false);
    });
  });
});
