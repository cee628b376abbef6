import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { hexlify, randomBytes } from "ethers";
import { deployCorridor, type CorridorContracts } from "../../scripts/lib/deploy";
import { setUpDemoBanks, DEFAULT_DEMO_LIMITS, type DemoBank } from "../../scripts/lib/demo";
import {
  ZERO_BYTES16,
  ZERO_BYTES32,
  RELEASE_TYPES,
  PVP_RELEASE_TYPES,
  SETTLEMENT_WINDOW_TYPES,
  escrowDomain,
  nettingDomain,
  hashLockTerms,
  type LockTerms,
  type NetPosition,
} from "../../server/chain/typed-data";

/** GBP has 2 decimals, JPY 0 and BHD 3: the three exponent cases. */
export const TEST_CURRENCIES = ["GBP", "JPY", "BHD"] as const;

export const TEST_BANKS: readonly DemoBank[] = [
  { name: "Alpha Bank", bic: "ALPHGB2LXXX", country: "GB" },
  { name: "Bravo Bank", bic: "BRAVDEFFXXX", country: "DE" },
  { name: "Charlie Bank", bic: "CHRLJPJTXXX", country: "JP" },
  { name: "Delta Bank", bic: "DELTBHBMXXX", country: "BH" },
];

export interface CorridorFixture extends CorridorContracts {
  admin: HardhatEthersSigner;
  banks: HardhatEthersSigner[];
  outsider: HardhatEthersSigner;
  chainId: bigint;
}

/** A full deployment with four registered, funded banks that approved the escrow and netting contracts. */
export async function deployCorridorFixture(): Promise<CorridorFixture> {
  const signers = await ethers.getSigners();
  const [admin, ...rest] = signers;
  const banks = rest.slice(0, TEST_BANKS.length);
  const outsider = rest[TEST_BANKS.length];
  const { contracts } = await deployCorridor(admin, { currencies: TEST_CURRENCIES });
  await setUpDemoBanks(
    contracts,
    banks.map((signer, i) => ({ signer, bank: TEST_BANKS[i] })),
    DEFAULT_DEMO_LIMITS,
  );
  const chainId = (await ethers.provider.getNetwork()).chainId;
  return { ...contracts, admin, banks, outsider, chainId };
}

export function randomUetr(): string {
  return hexlify(randomBytes(16));
}

export interface LockRequestInput {
  uetr: string;
  payee: string;
  token: string;
  amount: bigint;
  expiry: bigint;
  hashlock: string;
  linkedUetr: string;
}

/** A lock request of 100.00 (minor units 10000) expiring in one hour, attested unless overridden. */
export async function lockRequest(
  payee: { address: string },
  token: { target: unknown },
  overrides: Partial<LockRequestInput> = {},
): Promise<LockRequestInput> {
  return {
    uetr: randomUetr(),
    payee: payee.address,
    token: token.target as string,
    amount: 10_000n,
    expiry: BigInt((await time.latest()) + 3600),
    hashlock: ZERO_BYTES32,
    linkedUetr: ZERO_BYTES16,
    ...overrides,
  };
}

export function termsOf(request: LockRequestInput, payer: { address: string }): LockTerms {
  return { ...request, payer: payer.address };
}

export async function signRelease(fixture: CorridorFixture, signer: HardhatEthersSigner, terms: LockTerms): Promise<string> {
  const domain = escrowDomain(fixture.chainId, fixture.escrow.target as string);
  return signer.signTypedData(domain, RELEASE_TYPES, { uetr: terms.uetr, termsHash: hashLockTerms(terms) });
}

export async function signPvP(
  fixture: CorridorFixture,
  signer: HardhatEthersSigner,
  legA: LockTerms,
  legB: LockTerms,
): Promise<string> {
  const domain = escrowDomain(fixture.chainId, fixture.escrow.target as string);
  return signer.signTypedData(domain, PVP_RELEASE_TYPES, {
    uetrA: legA.uetr,
    termsHashA: hashLockTerms(legA),
    uetrB: legB.uetr,
    termsHashB: hashLockTerms(legB),
  });
}

export async function signWindow(
  fixture: CorridorFixture,
  signer: HardhatEthersSigner,
  windowId: string,
  paymentsRoot: string,
  positions: readonly NetPosition[],
): Promise<string> {
  const domain = nettingDomain(fixture.chainId, fixture.netting.target as string);
  return signer.signTypedData(domain, SETTLEMENT_WINDOW_TYPES, { windowId, paymentsRoot, positions });
}

/** Approvals for `settleWindow`: each debtor position signed by its bank, "0x" for creditors. */
export async function approveWindow(
  fixture: CorridorFixture,
  windowId: string,
  paymentsRoot: string,
  positions: readonly NetPosition[],
): Promise<string[]> {
  const byAddress = new Map(fixture.banks.map((bank) => [bank.address.toLowerCase(), bank]));
  return Promise.all(
    positions.map((position) => {
      if (position.amount > 0n) return "0x";
      const signer = byAddress.get(position.bank.toLowerCase());
      if (!signer) throw new Error(`no test signer for ${position.bank}`);
      return signWindow(fixture, signer, windowId, paymentsRoot, positions);
    }),
  );
}
