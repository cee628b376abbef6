import { AbiCoder, keccak256, type TypedDataDomain } from "ethers";

/**
 * EIP-712 domains and types of the settlement contracts, and the hashes both sides compute.
 * These mirror the typehashes in SettlementEscrow.sol and NettingSettlement.sol.
 */

export interface LockTerms {
  uetr: string; // bytes16 hex
  payer: string;
  payee: string;
  token: string;
  amount: bigint;
  expiry: bigint;
  hashlock: string; // bytes32 hex; zero hash = attested
  linkedUetr: string; // bytes16 hex; zero = gross payment
}

export interface NetPosition {
  bank: string;
  token: string;
  amount: bigint;
}

export interface PaymentLeaf {
  uetr: string;
  debtor: string;
  creditor: string;
  token: string;
  amount: bigint;
}

export const ZERO_BYTES16 = "0x" + "00".repeat(16);
export const ZERO_BYTES32 = "0x" + "00".repeat(32);

export const RELEASE_TYPES = {
  Release: [
    { name: "uetr", type: "bytes16" },
    { name: "termsHash", type: "bytes32" },
  ],
};

export const PVP_RELEASE_TYPES = {
  PvPRelease: [
    { name: "uetrA", type: "bytes16" },
    { name: "termsHashA", type: "bytes32" },
    { name: "uetrB", type: "bytes16" },
    { name: "termsHashB", type: "bytes32" },
  ],
};

export const SETTLEMENT_WINDOW_TYPES = {
  SettlementWindow: [
    { name: "windowId", type: "bytes32" },
    { name: "paymentsRoot", type: "bytes32" },
    { name: "positions", type: "NetPosition[]" },
  ],
  NetPosition: [
    { name: "bank", type: "address" },
    { name: "token", type: "address" },
    { name: "amount", type: "int256" },
  ],
};

export function escrowDomain(chainId: bigint, escrowAddress: string): TypedDataDomain {
  return { name: "Corridor SettlementEscrow", version: "1", chainId, verifyingContract: escrowAddress };
}

export function nettingDomain(chainId: bigint, nettingAddress: string): TypedDataDomain {
  return { name: "Corridor NettingSettlement", version: "1", chainId, verifyingContract: nettingAddress };
}

const abi = AbiCoder.defaultAbiCoder();

/** The hash the escrow stores for a locked payment (keccak256 of the ABI-encoded terms). */
export function hashLockTerms(terms: LockTerms): string {
  return keccak256(
    abi.encode(
      ["bytes16", "address", "address", "address", "uint256", "uint64", "bytes32", "bytes16"],
      [terms.uetr, terms.payer, terms.payee, terms.token, terms.amount, terms.expiry, terms.hashlock, terms.linkedUetr],
    ),
  );
}

/**
 * A payment's Merkle leaf, as NettingSettlement.paymentLeaf computes it: keccak256 of keccak256 of
 * abi.encode(uetr, debtor, creditor, token, amount). Every field is static, so the encoding is five
 * 32-byte words written out directly (a window hashes thousands of leaves; the ABI coder's
 * checksum checks cost ten times the hashing).
 */
export function paymentLeafHash(payment: PaymentLeaf): string {
  const word = (hex: string, left: boolean) => {
    const digits = hex.toLowerCase().replace(/^0x/, "");
    return left ? digits.padEnd(64, "0") : digits.padStart(64, "0");
  };
  if (payment.amount < 0n || payment.amount >= 2n ** 256n) throw new RangeError(`leaf amount out of range: ${payment.amount}`);
  const encoded = `0x${word(payment.uetr, true)}${word(payment.debtor, false)}${word(payment.creditor, false)}${word(payment.token, false)}${payment.amount.toString(16).padStart(64, "0")}`;
  return keccak256(keccak256(encoded));
}

/** A UETR (UUID) as the bytes16 payment id used on chain. */
export function uetrToBytes16(uetr: string): string {
  const hex = uetr.replace(/-/g, "").toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new Error(`not a UUID: ${uetr}`);
  return "0x" + hex;
}

/** The escrow's bytes16 payment id as the payment's UETR (lower-case UUID), the relay's key. */
export function bytes16ToUetr(bytes16: string): string {
  const hex = bytes16.toLowerCase().replace(/^0x/, "");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
