import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Signer } from "ethers";
import {
  DepositToken__factory,
  NettingSettlement__factory,
  ParticipantRegistry__factory,
  SettlementEscrow__factory,
  type DepositToken,
  type NettingSettlement,
  type ParticipantRegistry,
  type SettlementEscrow,
} from "../../typechain-types";
import { currencyExponent } from "../../server/config/currencies";

export interface CorridorContracts {
  registry: ParticipantRegistry;
  escrow: SettlementEscrow;
  netting: NettingSettlement;
  tokens: Record<string, DepositToken>;
}

export interface DeploymentRecord {
  chainId: string;
  deployBlock: number;
  deployedAt: string;
  contracts: {
    ParticipantRegistry: string;
    SettlementEscrow: string;
    NettingSettlement: string;
    tokens: Record<string, string>;
  };
  roles: Record<string, string[]>;
}

export interface DeployOptions {
  currencies: readonly string[];
  /** The relay's operator address: issuer, attester, settler and registry operator. */
  operator?: string;
  log?: (line: string) => void;
}

/**
 * Deploys the registry, the escrow, the netting contract and one deposit token per currency, wires
 * them together (settlement contracts and tokens registered) and grants the operator its roles.
 * The admin signer keeps every admin role.
 */
export async function deployCorridor(
  admin: Signer,
  options: DeployOptions,
): Promise<{ contracts: CorridorContracts; record: DeploymentRecord }> {
  const log = options.log ?? (() => undefined);
  const adminAddress = await admin.getAddress();
  const provider = admin.provider;
  if (!provider) throw new Error("the admin signer needs a provider");
  const deployBlock = await provider.getBlockNumber();

  const registry = await deployed(new ParticipantRegistry__factory(admin).deploy(adminAddress));
  log(`ParticipantRegistry  ${await registry.getAddress()}`);
  const escrow = await deployed(new SettlementEscrow__factory(admin).deploy(registry, adminAddress));
  log(`SettlementEscrow     ${await escrow.getAddress()}`);
  const netting = await deployed(new NettingSettlement__factory(admin).deploy(registry, adminAddress));
  log(`NettingSettlement    ${await netting.getAddress()}`);
  await confirm(registry.registerSettlementContract(escrow));
  await confirm(registry.registerSettlementContract(netting));

  const tokens: Record<string, DepositToken> = {};
  for (const currency of options.currencies) {
    const token = await deployed(
      new DepositToken__factory(admin).deploy(
        `Corridor ${currency} Deposit`,
        `c${currency}`,
        currency,
        currencyExponent(currency),
        registry,
        adminAddress,
      ),
    );
    await confirm(registry.registerToken(token));
    tokens[currency] = token;
    log(`DepositToken ${currency}     ${await token.getAddress()}`);
  }

  const operator = options.operator ?? adminAddress;
  if (operator.toLowerCase() !== adminAddress.toLowerCase()) {
    await confirm(registry.grantRole(await registry.OPERATOR_ROLE(), operator));
    await confirm(escrow.grantRole(await escrow.ATTESTER_ROLE(), operator));
    await confirm(netting.grantRole(await netting.SETTLER_ROLE(), operator));
    for (const token of Object.values(tokens)) await confirm(token.grantRole(await token.ISSUER_ROLE(), operator));
  }

  const holders = [...new Set([adminAddress, operator])];
  const record: DeploymentRecord = {
    chainId: (await provider.getNetwork()).chainId.toString(),
    deployBlock,
    deployedAt: new Date().toISOString(),
    contracts: {
      ParticipantRegistry: await registry.getAddress(),
      SettlementEscrow: await escrow.getAddress(),
      NettingSettlement: await netting.getAddress(),
      tokens: Object.fromEntries(
        await Promise.all(Object.entries(tokens).map(async ([c, t]) => [c, await t.getAddress()] as const)),
      ),
    },
    roles: {
      "admin (DEFAULT_ADMIN_ROLE everywhere, pausers)": [adminAddress],
      "ParticipantRegistry.OPERATOR_ROLE": holders,
      "SettlementEscrow.ATTESTER_ROLE": holders,
      "NettingSettlement.SETTLER_ROLE": holders,
      "DepositToken.ISSUER_ROLE": holders,
    },
  };
  return { contracts: { registry, escrow, netting, tokens }, record };
}

/** Writes `deployments/<chainId>.json` and returns its path. */
export async function writeDeploymentRecord(record: DeploymentRecord, directory = "deployments"): Promise<string> {
  await mkdir(directory, { recursive: true });
  const file = path.join(directory, `${record.chainId}.json`);
  await writeFile(file, JSON.stringify(record, null, 2) + "\n");
  return file;
}

async function deployed<T extends { waitForDeployment(): Promise<unknown> }>(pending: Promise<T>): Promise<T> {
  const contract = await pending;
  await contract.waitForDeployment();
  return contract;
}

async function confirm(pending: Promise<{ wait(): Promise<unknown> }>): Promise<void> {
  await (await pending).wait();
}
