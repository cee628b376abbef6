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
