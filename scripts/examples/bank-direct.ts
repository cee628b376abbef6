/**
 * A partner bank settling one payment through the contracts with its own key, without the relay.
 *
 * The debtor bank locks GBP 123.45 in SettlementEscrow under a hashlock (the sha256 of a secret it
 * chose), the lock's `Locked` event is read from the receipt, and the creditor bank releases the
 * payment with the secret once the debtor has handed it over (off chain: in practice once the
 * debtor's conditions are met). A wrong secret is refused first, to show how a custom error reads.
 * Every step prints its transaction hash; balances are checked to move by exactly the amount.
 *
 * Against the node that `npm start` runs (from the repository root):
 *
 *   npx ts-node scripts/examples/bank-direct.ts
 *
 * Environment (all optional):
 *   RPC_URL          JSON-RPC endpoint (default http://127.0.0.1:8545)
 *   DEPLOYMENT_FILE  contract addresses (default deployments/<chainId>.json, written by npm start)
 *   BANK_KEY         the debtor bank's private key (default: Hardhat dev account #1, THMSGB2LXXX)
 *   CREDITOR_KEY     the creditor bank's private key (default: Hardhat dev account #2, RHNLDEFFXXX)
 *   CURRENCY         ISO 4217 code of a deployed deposit token (default GBP)
 *   AMOUNT           minor units as a digit string (default 12345, i.e. 123.45 GBP)
 *
 * The default keys are Hardhat's public development keys: never use them on any other network.
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  formatUnits,
  hexlify,
  JsonRpcProvider,
  randomBytes,
  sha256,
  Wallet,
  type ContractTransactionReceipt,
  type ContractTransactionResponse,
  type Provider,
} from "ethers";
import { DepositToken__factory, ParticipantRegistry__factory, SettlementEscrow__factory, type SettlementEscrow } from "../../typechain-types";
import type { ISettlementEscrow } from "../../typechain-types/contracts/settlement/SettlementEscrow";
import type { DeploymentRecord } from "../lib/deploy";

/** Hardhat's well-known development keys of accounts #1 and #2: the first two demo banks. */
export const DEMO_DEBTOR_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
export const DEMO_CREDITOR_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

/** `SettlementEscrow.paymentState`, as the contract's enum numbers it. */
export const PaymentState = { None: 0n, Locked: 1n, Released: 2n, Refunded: 3n } as const;

/** What the example needs of `deployments/<chainId>.json`. */
export type Deployment = Pick<DeploymentRecord, "chainId" | "contracts">;

export interface BankDirectOptions {
  provider: Provider;
  deployment: Deployment;
  debtorKey: string;
  creditorKey: string;
  currency?: string;
  /** Minor units (GBP 12345 = £123.45). */
  amount?: bigint;
  /** Seconds until the payer may take the lock back with `refund`. */
  expiresInSeconds?: number;
  log?: (line: string) => void;
}

export interface BankDirectResult {
  uetr: string;
  /** The UETR as the contract keys the payment: its 16 bytes. */
  paymentId: string;
  amount: bigint;
  token: string;
  /** The secret whose sha256 was the hashlock, revealed on chain by the release. */
  preimage: string;
  terms: ISettlementEscrow.LockTermsStruct;
  lockTx: string;
  releaseTx: string;
  /** The revert a wrong preimage got, decoded from the escrow's ABI (expected: InvalidPreimage). */
  wrongPreimageError: string;
  stateAfterLock: bigint;
  stateAfterRelease: bigint;
  /** Token balances just before and just after each transaction's block. */
  debtor: { beforeLock: bigint; afterLock: bigint };
  creditor: { beforeRelease: bigint; afterRelease: bigint };
  escrow: { beforeLock: bigint; afterLock: bigint; afterRelease: bigint };
}

/** A UETR (UUID) as the escrow's bytes16 payment id. */
export const uetrAsBytes16 = (uetr: string) => `0x${uetr.replace(/-/g, "")}`;

export async function runBankDirect(options: BankDirectOptions): Promise<BankDirectResult> {
  const { provider, deployment } = options;
  const log = options.log ?? (() => undefined);
  const currency = options.currency ?? "GBP";
  const amount = options.amount ?? 12_345n;
  const debtor = new Wallet(options.debtorKey, provider);
  const creditor = new Wallet(options.creditorKey, provider);

  const network = await provider.getNetwork();
  if (network.chainId.toString() !== deployment.chainId) {
    throw new Error(`the deployment is for chain ${deployment.chainId}, the node is chain ${network.chainId}`);
  }
  const tokenAddress = deployment.contracts.tokens[currency];
  if (!tokenAddress) throw new Error(`no ${currency} deposit token in the deployment (have ${Object.keys(deployment.contracts.tokens).join(", ")})`);
  const registry = ParticipantRegistry__factory.connect(deployment.contracts.ParticipantRegistry, provider);
  const escrow = SettlementEscrow__factory.connect(deployment.contracts.SettlementEscrow, provider);
  const token = DepositToken__factory.connect(tokenAddress, provider);
  const escrowAddress = await escrow.getAddress();
  const decimals = await token.decimals();
  const show = (units: bigint) => `${formatUnits(units, decimals)} ${currency}`;

  // Both banks must be registered and active, or the escrow refuses the lock (the registry's
  // ParticipantUnknown / ParticipantSuspended); reading it first gives a clearer message.
  const [debtorBank, creditorBank] = await Promise.all([registry.participant(debtor.address), registry.participant(creditor.address)]);
  for (const [who, bank, address] of [["debtor", debtorBank, debtor.address], ["creditor", creditorBank, creditor.address]] as const) {
    if (bank.status !== 1n) throw new Error(`the ${who} ${address} is not an active participant in the registry`);
  }
  log(`debtor   ${bicText(debtorBank.bic)} ${debtor.address}`);
  log(`creditor ${bicText(creditorBank.bic)} ${creditor.address}`);

  // The escrow pulls the lock with transferFrom: the payer approves it once (npm start's demo banks
  // approved it without limit already, so this step is skipped there).
  if ((await token.allowance(debtor.address, escrowAddress)) < amount) {
    const approval = await sent(token.connect(debtor).approve(escrowAddress, amount));
    log(`approve  escrow for ${show(amount)}  tx ${approval.hash}`);
  }

  const uetr = randomUUID();
  const paymentId = uetrAsBytes16(uetr);
  // The secret stays with the debtor until it decides the creditor may be paid; only its sha256
  // goes on chain. Anyone holding it can release (the tokens go to the payee regardless).
  const preimage = hexlify(randomBytes(32));
  const latest = await provider.getBlock("latest");
  if (!latest) throw new Error("the node returned no latest block");
  const request: ISettlementEscrow.LockRequestStruct = {
    uetr: paymentId,
    payee: creditor.address,
    token: tokenAddress,
    amount,
    expiry: BigInt(latest.timestamp + (options.expiresInSeconds ?? 3_600)),
    hashlock: sha256(preimage),
    linkedUetr: "0x" + "00".repeat(16), // not a PvP leg
  };

  const lock = await sent(escrow.connect(debtor).lock(request));
  const locked = lockedEvent(escrow, lock, paymentId);
  log(`lock     ${uetr}  ${show(amount)}  tx ${lock.hash}  block ${lock.blockNumber}`);
  const stateAfterLock = await escrow.paymentState(paymentId);

  // The terms are not stored on chain (only their hash): the Locked event carries all of them, and
  // every later call passes them back exactly.
  const terms: ISettlementEscrow.LockTermsStruct = {
    uetr: locked.uetr,
    payer: locked.payer,
    payee: locked.payee,
    token: locked.token,
    amount: locked.amount,
    expiry: locked.expiry,
    hashlock: locked.hashlock,
    linkedUetr: locked.linkedUetr,
  };

  const wrongPreimageError = await refusal(escrow, () => escrow.connect(creditor).release.staticCall(terms, hexlify(randomBytes(32))));
  log(`refused  a wrong preimage: ${wrongPreimageError}`);

  const release = await sent(escrow.connect(creditor).release(terms, preimage));
  log(`release  by the creditor with the preimage  tx ${release.hash}  block ${release.blockNumber}`);
  const stateAfterRelease = await escrow.paymentState(paymentId);

  // Balances read at the blocks around each transaction, so that other payments of the same banks
  // in between (the relay's, say) cannot blur the check.
  const at = (address: string, block: number) => token.balanceOf(address, { blockTag: block });
  const result: BankDirectResult = {
    uetr,
    paymentId,
    amount,
    token: tokenAddress,
    preimage,
    terms,
    lockTx: lock.hash,
    releaseTx: release.hash,
    wrongPreimageError,
    stateAfterLock,
    stateAfterRelease,
    debtor: { beforeLock: await at(debtor.address, lock.blockNumber - 1), afterLock: await at(debtor.address, lock.blockNumber) },
    creditor: { beforeRelease: await at(creditor.address, release.blockNumber - 1), afterRelease: await at(creditor.address, release.blockNumber) },
    escrow: {
      beforeLock: await at(escrowAddress, lock.blockNumber - 1),
      afterLock: await at(escrowAddress, lock.blockNumber),
      afterRelease: await at(escrowAddress, release.blockNumber),
    },
  };
  const moved = {
    debtor: result.debtor.beforeLock - result.debtor.afterLock,
    creditor: result.creditor.afterRelease - result.creditor.beforeRelease,
    escrowIn: result.escrow.afterLock - result.escrow.beforeLock,
    escrowOut: result.escrow.afterLock - result.escrow.afterRelease,
  };
  for (const [what, delta] of Object.entries(moved)) {
    if (delta !== amount) throw new Error(`${what} moved ${delta}, not ${amount} minor units`);
  }
  if (stateAfterLock !== PaymentState.Locked || stateAfterRelease !== PaymentState.Released) {
    throw new Error(`escrow states ${stateAfterLock} then ${stateAfterRelease}, expected Locked (1) then Released (2)`);
  }
  log(`balances debtor -${show(moved.debtor)}, creditor +${show(moved.creditor)}, escrow +${show(moved.escrowIn)} then -${show(moved.escrowOut)}`);
  log(`state    ${uetr}: Released`);
  return result;
}

async function sent(pending: Promise<ContractTransactionResponse>): Promise<ContractTransactionReceipt> {
  const receipt = await (await pending).wait();
  if (!receipt || receipt.status !== 1) throw new Error(`transaction ${receipt?.hash ?? "?"} failed`);
  return receipt;
}

/** The lock's `Locked` event, read from its own receipt (no log polling: the receipt is final). */
function lockedEvent(escrow: SettlementEscrow, receipt: ContractTransactionReceipt, paymentId: string) {
  for (const entry of receipt.logs) {
    const parsed = escrow.interface.parseLog(entry);
    if (parsed?.name === "Locked" && parsed.args.uetr === paymentId) return parsed.args as unknown as ISettlementEscrow.LockTermsStructOutput;
  }
  throw new Error(`no Locked event for ${paymentId} in ${receipt.hash}`);
}

/** Runs a call expected to revert and returns its custom error as `Name(args)`. */
async function refusal(escrow: SettlementEscrow, call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
  } catch (error) {
    // ethers' CALL_EXCEPTION (and Hardhat's in-process provider error) carry the revert data.
    const data = (error as { data?: unknown }).data;
    const decoded = typeof data === "string" && data.length >= 10 ? escrow.interface.parseError(data) : null;
    if (decoded) return `${decoded.name}(${decoded.args.join(", ")})`;
    throw error;
  }
  throw new Error("the call was expected to revert, and did not");
}

/** The registry stores a BIC as 11 bytes. */
const bicText = (bic: string) => Buffer.from(bic.slice(2), "hex").toString("latin1");

/** Reads `DEPLOYMENT_FILE`, or `deployments/<chainId>.json` of the node's chain. */
export async function loadDeployment(provider: Provider, file = process.env.DEPLOYMENT_FILE): Promise<Deployment> {
  const chainId = (await provider.getNetwork()).chainId;
  const location = file ?? path.join("deployments", `${chainId}.json`);
  return JSON.parse(await readFile(location, "utf8")) as Deployment;
}

async function main(): Promise<void> {
  const amountText = process.env.AMOUNT ?? "12345";
  if (!/^[0-9]+$/.test(amountText) || BigInt(amountText) === 0n) throw new Error(`AMOUNT must be whole minor units as digits, got ${amountText}`);
  const provider = new JsonRpcProvider(process.env.RPC_URL ?? "http://127.0.0.1:8545");
  try {
    await runBankDirect({
      provider,
      deployment: await loadDeployment(provider),
      debtorKey: process.env.BANK_KEY ?? DEMO_DEBTOR_KEY,
      creditorKey: process.env.CREDITOR_KEY ?? DEMO_CREDITOR_KEY,
      currency: process.env.CURRENCY ?? "GBP",
      amount: BigInt(amountText),
      log: (line) => console.log(line),
    });
  } finally {
    provider.destroy();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
