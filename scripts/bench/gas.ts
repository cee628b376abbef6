/**
 * Gas benchmark of the settlement contracts on the in-process Hardhat network.
 * Prints a table and writes bench-results/gas.json; exits non-zero when a target is missed.
 * Baselines measured in the same run: plain ERC-20 transfers of the same token, and a textbook
 * HTLC (scripts/bench/NaiveHtlc.sol) that stores the whole swap per lock.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { ContractFactory, MaxUint256, id, randomBytes, hexlify, sha256, type ContractTransactionResponse } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { deployCorridor } from "../lib/deploy";
import { setUpDemoBanks } from "../lib/demo";
import { compileStandalone } from "./solc";
import {
  ZERO_BYTES16,
  ZERO_BYTES32,
  RELEASE_TYPES,
  PVP_RELEASE_TYPES,
  SETTLEMENT_WINDOW_TYPES,
  escrowDomain,
  nettingDomain,
  hashLockTerms,
  paymentLeafHash,
  type LockTerms,
} from "../../server/chain/typed-data";
import { computeNetPositions, type Obligation } from "../../server/settlement/net-positions";
import { buildMerkleTree } from "../../server/settlement/merkle";
import { seededRandom } from "../lib/seeded-random";

const NETTING_BANKS = 10;
const NETTING_SIZES = [10, 100, 1000];
const RELEASE_BATCH_SIZE = 100;
const TARGET_LOCK_PLUS_RELEASE = 125_000;
const TARGET_NETTING_PER_PAYMENT_AT_1000 = 1_000;

async function gasOf(pending: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await pending).wait();
  if (!receipt) throw new Error("no receipt");
  return Number(receipt.gasUsed);
}

function randomUetr(): string {
  return hexlify(randomBytes(16));
}


async function main(): Promise<void> {
  const { ethers } = hre;
  const signers = await ethers.getSigners();
  const [admin] = signers;
  const banks = signers.slice(1, 1 + NETTING_BANKS);
  const newHolder = signers[1 + NETTING_BANKS];
  const { contracts } = await deployCorridor(admin, { currencies: ["GBP", "EUR"] });
  const { registry, escrow, netting, tokens } = contracts;
  await setUpDemoBanks(
    contracts,
    banks.map((signer, i) => ({ signer, bank: { name: `Bench Bank ${i}`, bic: `BNCH${"GB"}${String(i).padStart(2, "0")}XXX`, country: "GB" } })),
  );
  await (await registry.registerParticipant(newHolder, "NEWHGB2LXXX")).wait();
  const gbp = tokens.GBP;
  const eur = tokens.EUR;
  const [payer, payee, third] = banks;
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const escrowTypedDomain = escrowDomain(chainId, await escrow.getAddress());

  const erc20TransferNewHolder = await gasOf(gbp.connect(payer).transfer(newHolder, 100n));
  const erc20TransferExistingHolder = await gasOf(gbp.connect(payer).transfer(payee, 100n));

  const lockOf = async (from: HardhatEthersSigner, to: HardhatEthersSigner, token = gbp, hashlock = ZERO_BYTES32, linkedUetr = ZERO_BYTES16, uetr = randomUetr()) => {
    const expiry = BigInt((await time.latest()) + 3600);
    const request = { uetr, payee: to.address, token: await token.getAddress(), amount: 245_000n, expiry, hashlock, linkedUetr };
    const gas = await gasOf(escrow.connect(from).lock(request));
    const terms: LockTerms = { ...request, payer: from.address };
    return { gas, terms };
  };

  // Steady state: the escrow already holds open locks of each token.
  await lockOf(payer, payee);
  await lockOf(payer, payee, eur);

  const preimage = hexlify(randomBytes(32));
  const hashlocked = await lockOf(payer, payee, gbp, sha256(preimage));
  const releaseHashlock = await gasOf(escrow.connect(payee).release(hashlocked.terms, preimage));

  const attested = await lockOf(payer, payee);
  const attestation = await admin.signTypedData(escrowTypedDomain, RELEASE_TYPES, {
    uetr: attested.terms.uetr,
    termsHash: hashLockTerms(attested.terms),
  });
  const releaseAttested = await gasOf(escrow.connect(admin).release(attested.terms, attestation));
  const sentByAttester = await lockOf(payer, payee);
  const releaseByAttesterSending = await gasOf(escrow.connect(admin).release(sentByAttester.terms, "0x"));

  const expiring = await lockOf(payer, payee);
  await time.increaseTo(expiring.terms.expiry);
  const refund = await gasOf(escrow.connect(third).refund(expiring.terms));

  const uetrA = randomUetr();
  const uetrB = randomUetr();
  const legA = await lockOf(payer, payee, gbp, ZERO_BYTES32, uetrB, uetrA);
  const legB = await lockOf(payee, third, eur, ZERO_BYTES32, uetrA, uetrB);
  const pvpSignature = await admin.signTypedData(escrowTypedDomain, PVP_RELEASE_TYPES, {
    uetrA,
    termsHashA: hashLockTerms(legA.terms),
    uetrB,
    termsHashB: hashLockTerms(legB.terms),
  });
  const settlePvP = await gasOf(escrow.connect(admin).settlePvP(legA.terms, legB.terms, pvpSignature));

  const batchExpiry = BigInt((await time.latest()) + 3600);
  const batch = Array.from({ length: 10 }, () => ({
    uetr: randomUetr(),
    payee: payee.address,
    token: gbp.target as string,
    amount: 1_000n,
    expiry: batchExpiry,
    hashlock: ZERO_BYTES32,
    linkedUetr: ZERO_BYTES16,
  }));
  const lockBatch10PerPayment = Math.round((await gasOf(escrow.connect(payer).lockBatch(batch))) / batch.length);

  // Attested releases, as many as one batch carries: signed, and sent by the attester itself (the relay).
  const releaseBatchExpiry = BigInt((await time.latest()) + 3600);
  async function lockedForBatch(): Promise<LockTerms[]> {
    const terms: LockTerms[] = Array.from({ length: RELEASE_BATCH_SIZE }, () => ({
      uetr: randomUetr(),
      payer: payer.address,
      payee: payee.address,
      token: gbp.target as string,
      amount: 1_000n,
      expiry: releaseBatchExpiry,
      hashlock: ZERO_BYTES32,
      linkedUetr: ZERO_BYTES16,
    }));
    await (await escrow.connect(payer).lockBatch(terms.map(({ payer: _, ...request }) => request))).wait();
    return terms;
  }
  const signedBatch = await lockedForBatch();
  const releaseAttestations = await Promise.all(
    signedBatch.map((terms) => admin.signTypedData(escrowTypedDomain, RELEASE_TYPES, { uetr: terms.uetr, termsHash: hashLockTerms(terms) })),
  );
  const releaseBatch100PerPayment = Math.round((await gasOf(escrow.connect(admin).releaseBatch(signedBatch, releaseAttestations))) / RELEASE_BATCH_SIZE);
  const sentBatch = await lockedForBatch();
  const releaseBatch100ByAttesterSendingPerPayment = Math.round(
    (await gasOf(escrow.connect(admin).releaseBatch(sentBatch, sentBatch.map(() => "0x")))) / RELEASE_BATCH_SIZE,
  );

  const naiveArtifact = compileStandalone(path.join(__dirname, "NaiveHtlc.sol"), "NaiveHtlc");
  const naive = await new ContractFactory(naiveArtifact.abi as never, naiveArtifact.bytecode, admin).deploy();
  await naive.waitForDeployment();
  await (await registry.registerSettlementContract(naive)).wait();
  await (await gbp.connect(payer).approve(naive, MaxUint256)).wait();
  const naiveSecret = hexlify(randomBytes(32));
  const naiveTimelock = (await time.latest()) + 3600;
  const naiveHtlc = naive.connect(payer) as unknown as {
    open(...args: unknown[]): Promise<ContractTransactionResponse>;
    claim(...args: unknown[]): Promise<ContractTransactionResponse>;
  };
  const openTx = await naiveHtlc.open(payee.address, await gbp.getAddress(), 245_000n, sha256(naiveSecret), naiveTimelock);
  const openReceipt = await openTx.wait();
  const swapId = openReceipt!.logs.map((log) => naive.interface.parseLog(log)).find((parsed) => parsed?.name === "SwapOpened")!.args.swapId as string;
  const naiveClaim = await gasOf((naive.connect(payee) as unknown as typeof naiveHtlc).claim(swapId, naiveSecret));
  const naiveHtlcLockPlusClaim = Number(openReceipt!.gasUsed) + naiveClaim;

  const nettingDomainData = nettingDomain(chainId, await netting.getAddress());
  const signerOf = new Map(banks.map((bank) => [bank.address.toLowerCase(), bank]));
  const nettingResults: { payments: number; banks: number; positions: number; gasTotal: number; gasPerPayment: number }[] = [];
  for (const size of NETTING_SIZES) {
    const random = seededRandom(size);
    const obligations: (Obligation & { uetr: string })[] = Array.from({ length: size }, () => {
      const debtor = Math.floor(random() * banks.length);
      const creditor = (debtor + 1 + Math.floor(random() * (banks.length - 1))) % banks.length;
      return {
        uetr: randomUetr(),
        debtor: banks[debtor].address,
        creditor: banks[creditor].address,
        token: gbp.target as string,
        amount: BigInt(1 + Math.floor(random() * 1_000_000)),
      };
    });
    const positions = computeNetPositions(obligations);
    const root = buildMerkleTree(obligations.map(paymentLeafHash)).root;
    const windowId = id(`bench-window-${size}`);
    const approvals = await Promise.all(
      positions.map((p) =>
        p.amount < 0n
          ? signerOf.get(p.bank.toLowerCase())!.signTypedData(nettingDomainData, SETTLEMENT_WINDOW_TYPES, { windowId, paymentsRoot: root, positions })
          : "0x",
      ),
    );
    const gasTotal = await gasOf(netting.connect(admin).settleWindow(windowId, root, positions, approvals));
    nettingResults.push({ payments: size, banks: NETTING_BANKS, positions: positions.length, gasTotal, gasPerPayment: Math.round(gasTotal / size) });
  }

  const lock = hashlocked.gas;
  const results = {
    erc20TransferNewHolder,
    erc20TransferExistingHolder,
    lock,
    releaseHashlock,
    releaseAttested,
    releaseByAttesterSending,
    refund,
    settlePvP,
    lockBatch10PerPayment,
    releaseBatch100PerPayment,
    releaseBatch100ByAttesterSendingPerPayment,
    naiveHtlcLockPlusClaim,
    netting: nettingResults,
  };
  const lockPlusRelease = lock + releaseHashlock;
  const nettingAt1000 = nettingResults.find((r) => r.payments === 1000)!.gasPerPayment;
  const targets = {
    lockPlusReleaseHashlock: { value: lockPlusRelease, max: TARGET_LOCK_PLUS_RELEASE, met: lockPlusRelease <= TARGET_LOCK_PLUS_RELEASE },
    nettingGasPerPaymentAt1000: { value: nettingAt1000, max: TARGET_NETTING_PER_PAYMENT_AT_1000, met: nettingAt1000 <= TARGET_NETTING_PER_PAYMENT_AT_1000 },
  };

  console.log("\nGas per transaction (receipt gasUsed, 21,000 base included), same run, same token:");
  console.table({
    erc20TransferNewHolder: { gas: erc20TransferNewHolder },
    erc20TransferExistingHolder: { gas: erc20TransferExistingHolder },
    lock: { gas: lock },
    releaseHashlock: { gas: releaseHashlock },
    releaseAttested: { gas: releaseAttested },
    releaseByAttesterSending: { gas: releaseByAttesterSending },
    refund: { gas: refund },
    settlePvP: { gas: settlePvP },
    lockBatch10PerPayment: { gas: lockBatch10PerPayment },
    releaseBatch100PerPayment: { gas: releaseBatch100PerPayment },
    releaseBatch100ByAttesterSendingPerPayment: { gas: releaseBatch100ByAttesterSendingPerPayment },
    "lock + releaseHashlock": { gas: lockPlusRelease },
    naiveHtlcLockPlusClaim: { gas: naiveHtlcLockPlusClaim },
  });
  console.log(`lock + releaseHashlock vs naive HTLC lock + claim: ${(lockPlusRelease / naiveHtlcLockPlusClaim).toFixed(3)}x`);
  console.log(`lock + releaseHashlock vs two ERC-20 transfers to existing holders: ${(lockPlusRelease / (2 * erc20TransferExistingHolder)).toFixed(3)}x`);
  console.log(`lockBatch (10) per payment vs single lock: ${(lockBatch10PerPayment / lock).toFixed(3)}x`);
  console.log(`releaseBatch (${RELEASE_BATCH_SIZE}, attested) per payment vs single attested release: ${(releaseBatch100PerPayment / releaseAttested).toFixed(3)}x`);
  console.log(
    `releaseBatch (${RELEASE_BATCH_SIZE}) sent by the attester, per payment vs signed: ${(releaseBatch100ByAttesterSendingPerPayment / releaseBatch100PerPayment).toFixed(3)}x`,
  );
  console.log(`\nNetted settlement among ${NETTING_BANKS} banks, one currency:`);
  console.table(nettingResults);
  for (const [name, target] of Object.entries(targets)) {
    console.log(`${target.met ? "MET   " : "MISSED"} ${name}: ${target.value} (target <= ${target.max})`);
  }

  const file = path.join("bench-results", "gas.json");
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify({ ...results, targets, measuredAt: new Date().toISOString() }, null, 2) + "\n");
  console.log(`\nwrote ${file}`);
  if (!Object.values(targets).every((t) => t.met)) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
