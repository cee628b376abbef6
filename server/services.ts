import type { Provider, Signer } from "ethers";
import type { DeploymentRecord } from "../scripts/lib/deploy";
import { createAuthService, type AuthService } from "./auth/service";
import { connectCorridor } from "./chain/contracts";
import type { RelayConfig } from "./config/env";
import type { DatabaseHandle } from "./db/database";
import { createFundsService, type FundsService } from "./funds/service";
import { createFxService, type FxService } from "./fx/service";
import { createInterchangeService, type InterchangeService } from "./interchange/service";
import { createLedgerService, type LedgerService } from "./ledger/service";
import { createParticipantService, type ParticipantService } from "./participants/service";
import { createPaymentService } from "./payments/service";
import type { PaymentService } from "./payments/types";
import { createReconciliationService, type ReconciliationService } from "./reconciliation/service";
import { createRiskService, currencyLimits } from "./risk/service";
import { createSanctionsList, loadSanctionsList } from "./risk/sanctions";
import { createStatementService, type StatementService } from "./statements/service";
import { createWindowService } from "./settlement/service";
import type { ChainRoom } from "./settlement/context";
import type { WindowService } from "./settlement/types";
import type { ChainLogger } from "./chain/contracts";
import { createPaymentFeed, type PaymentFeed } from "./payments/feed";
import { createTreasuryService, type TreasuryService } from "./treasury/service";

/** The domain services over one database and chain: what the relay serves and the CLI administers. */
export interface DomainServices {
  ledger: LedgerService;
  auth: AuthService;
  participants: ParticipantService;
  payments: PaymentService;
  funds: FundsService;
  statements: StatementService;
  interchange: InterchangeService;
  reconciliation: ReconciliationService;
  fx: FxService;
  windows: WindowService;
  treasury: TreasuryService;
  paymentFeed: PaymentFeed;
}

/** IParticipantRegistry.Status.Active. */
const ACTIVE = 1n;

/** A bank key the relay approves settlement windows with (the demo's banks only). */
export type WindowApprover = Signer & { address: string };

export function createDomainServices(deps: {
  config: RelayConfig;
  deployment: DeploymentRecord;
  database: DatabaseHandle;
  provider: Provider;
  now?: () => number;
  approvers?: readonly WindowApprover[];
  logger?: ChainLogger;
}): DomainServices {
  const { config, deployment, now } = deps;
  const { db, dialect } = deps.database;
  const tokens = deployment.contracts.tokens;
  const tokenAddress = (currency: string): string | undefined => tokens[currency];
  const contracts = connectCorridor(deployment, deps.provider);
  const tokenContract = (currency: string) => {
    const token = contracts.tokens[currency];
    if (!token) throw new Error(`no deposit token for ${currency}`);
    return token;
  };

  const ledger = createLedgerService({ dialect, now });
  const risk = createRiskService({
    db,
    dialect,
    now,
    sanctions: config.SANCTIONS_FILE ? loadSanctionsList(config.SANCTIONS_FILE) : createSanctionsList([]),
    limits: currencyLimits({ singlePayment: config.RISK_SINGLE_PAYMENT_CAP, dailyVolume: config.RISK_DAILY_VOLUME_CAP }),
  });
  const fx = createFxService({ db, hasToken: (currency) => tokenAddress(currency) !== undefined, quoteTtlMs: config.QUOTE_TTL_SECONDS * 1_000, now });
  const nettingAddress = deployment.contracts.NettingSettlement;
  // Windows and payments need each other: windows settle payments, net payments join windows.
  let payments: PaymentService | undefined;
  const paymentsOf = () => payments!;
  const windows = createWindowService({
    db,
    dialect,
    chain: {
      chainId: BigInt(deployment.chainId),
      nettingAddress,
      tokenAddress,
      async roomOf(token, banks) {
        const contract = Object.values(contracts.tokens).find((t) => String(t.target).toLowerCase() === token.toLowerCase());
        if (!contract) throw new Error(`no deposit token at ${token}`);
        const rooms = await Promise.all(
          banks.map(async (bank): Promise<[string, ChainRoom]> => {
            const [participant, limits, balance, allowance] = await Promise.all([
              contracts.registry.participant(bank),
              contracts.registry.limitsOf(bank, token),
              contract.balanceOf(bank),
              contract.allowance(bank, nettingAddress),
            ]);
            const active = participant.status === ACTIVE && !participant.isSettlementContract;
            return [bank.toLowerCase(), { active, netDebitCap: limits.singlePaymentCap === 0n ? 0n : limits.netDebitCap, balance, allowance }];
          }),
        );
        return new Map(rooms);
      },
    },
    payments: {
      requeueNet: (...args) => paymentsOf().requeueNet(...args),
      settleNet: (...args) => paymentsOf().settleNet(...args),
      unsettleNet: (...args) => paymentsOf().unsettleNet(...args),
    },
    config: { intervalMs: config.WINDOW_INTERVAL_SECONDS * 1_000, approvalMs: config.WINDOW_APPROVAL_SECONDS * 1_000 },
    approvers: new Map((deps.approvers ?? []).map((signer) => [signer.address.toLowerCase(), signer])),
    now: now ?? Date.now,
    logger: deps.logger,
  });
  payments = createPaymentService({
    db,
    dialect,
    ledger,
    risk,
    chain: { tokenAddress },
    config: { defaultExpirySeconds: 3600, maxExpirySeconds: 30 * 24 * 3600, autoRelease: config.AUTO_RELEASE },
    fx,
    windows,
    now,
  });
  const funds = createFundsService({
    db,
    dialect,
    ledger,
    chain: { tokenAddress },
    reserveAccounts: config.RESERVE_ACCOUNTS,
    autoApprove: config.FUNDS_IN_AUTO_APPROVE,
    now,
  });
  const currencyByToken = new Map(Object.entries(tokens).map(([currency, address]) => [address.toLowerCase(), currency]));
  const reconciliation = createReconciliationService({
    db,
    dialect,
    currencyOfToken: (address) => currencyByToken.get(address.toLowerCase()),
    tokenSupply: (currency) => tokenContract(currency).totalSupply(),
    config: { graceSeconds: config.RECON_GRACE_SECONDS, reserveAccounts: config.RESERVE_ACCOUNTS },
  });
  const participants = createParticipantService({ db, ledger, currencies: Object.keys(tokens) });
  const treasury = createTreasuryService({
    db,
    ledger,
    participants,
    chain: {
      currencies: Object.keys(tokens),
      balanceOf: (address, currency) => tokenContract(currency).balanceOf(address),
      netDebitCap: async (address, currency) => (await contracts.registry.limitsOf(address, tokens[currency])).netDebitCap,
      tokenSupply: (currency) => tokenContract(currency).totalSupply(),
    },
    reserveAccounts: config.RESERVE_ACCOUNTS,
    now,
  });
  return {
    ledger,
    auth: createAuthService({ db }),
    participants,
    payments,
    funds,
    statements: createStatementService({ db, onNewEntry: funds.recordReserveEntry, now }),
    interchange: createInterchangeService({ db, payments, now }),
    reconciliation,
    fx,
    windows,
    treasury,
    paymentFeed: createPaymentFeed({ db, now }),
  };
}
