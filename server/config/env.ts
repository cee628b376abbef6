import { z } from "zod";
import type { CurrencyCaps } from "../risk/service";

/** Relay configuration, read from the environment (and `.env` through dotenv in main). */
const hexKey = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "a 32-byte hex private key (0x + 64 hex digits)");
const flag = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

/**
 * A risk cap in minor units: one amount for every currency ("5000000"), amounts per currency
 * ("GBP=5000000,JPY=800000000"), or both, the bare amount then covering the currencies not named.
 * Minor units differ by currency (a JPY unit is a yen, a GBP unit a penny), so per currency is the
 * useful form.
 */
const capSetting = z.string().transform((text, ctx): CurrencyCaps => {
  const setting: CurrencyCaps = { byCurrency: {} };
  for (const part of text.split(",").map((p) => p.trim())) {
    const match = /^(?:([A-Z]{3})=)?(\d{1,39})$/.exec(part);
    const currency = match?.[1];
    if (!match || (currency ? currency in setting.byCurrency : setting.all !== undefined)) {
      ctx.addIssue({ code: "custom", message: `"${part}" is not a cap: use whole minor units, as 5000000 or GBP=5000000,JPY=800000000, each currency once` });
      return z.NEVER;
    }
    if (currency) setting.byCurrency[currency] = BigInt(match[2]);
    else setting.all = BigInt(match[2]);
  }
  return setting;
});

/** Per currency, the operator's reserve account at its bank: "GBP=GB29NWBK60161331926819,EUR=...". */
const reserveAccountsSetting = z.string().transform((text, ctx): Record<string, string> => {
  const accounts: Record<string, string> = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const match = /^([A-Z]{3})=([A-Za-z0-9/\-]{1,34})$/.exec(part);
    if (!match || match[1] in accounts) {
      ctx.addIssue({ code: "custom", message: `"${part}" is not CURRENCY=ACCOUNT (an IBAN or the account id the statements use), each currency once` });
      return z.NEVER;
    }
    accounts[match[1]] = match[2];
  }
  return accounts;
});

const EnvSchema = z.object({
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  DATABASE_URL: z.string().min(1).default("./data/corridor.db"),
  RPC_URL: z.url({ protocol: /^(https?|wss?)$/ }).default("http://127.0.0.1:8545"),
  DEPLOYMENT_FILE: z.string().min(1).optional(),
  CONFIRMATIONS: z.coerce.number().int().min(0).max(1000).default(2),
  OPERATOR_PRIVATE_KEY: hexKey.optional(),
  AUTO_RELEASE: flag.default(false),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(8),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  RISK_SINGLE_PAYMENT_CAP: capSetting.optional(),
  RISK_DAILY_VOLUME_CAP: capSetting.optional(),
  SANCTIONS_FILE: z.string().min(1).optional(),
  RESERVE_ACCOUNTS: reserveAccountsSetting.default({}),
  /** Mint against a reserve credit without waiting for treasury's approval. */
  FUNDS_IN_AUTO_APPROVE: flag.default(false),
  /** How long a settled payment may wait for its statement entry before it is a break. */
  RECON_GRACE_SECONDS: z.coerce.number().int().min(0).max(30 * 24 * 3600).default(86_400),
  /** How long an FX quote holds its rate. */
  /** How long a settlement window stays open before it closes on schedule (treasury may close it sooner). */
  WINDOW_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(7 * 24 * 3600).default(300),
  /** How long debtor banks have to approve a closed window before the missing ones are excluded. */
  WINDOW_APPROVAL_SECONDS: z.coerce.number().int().min(1).max(24 * 3600).default(120),
  QUOTE_TTL_SECONDS: z.coerce.number().int().min(1).max(3_600).default(60),
  ISO_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type RelayConfig = z.infer<typeof EnvSchema>;

/** Every environment variable the relay reads. */
export const RELAY_VARIABLES = Object.keys(EnvSchema.shape) as readonly (keyof RelayConfig)[];

export class ConfigError extends Error {
  readonly code = "invalid_config";
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(`invalid configuration: ${problems.map((p) => `${p.variable}: ${p.message}`).join("; ")}`);
  }
}

/** Parses the relay's configuration, naming every bad variable at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const relevant = Object.fromEntries(
    RELAY_VARIABLES
      .filter((name) => env[name] !== undefined && env[name] !== "")
      .map((name) => [name, env[name]]),
  );
  const parsed = EnvSchema.safeParse(relevant);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => ({ variable: String(issue.path[0] ?? "?"), message: issue.message })),
  );
}
