import type { OpenAPIRegistry } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import type { Shared } from "./openapi-interchange";
import { EventsQuery } from "./routes/events";
import { PaymentStatsQuery } from "./routes/treasury";
import * as s from "./schemas";

const at = z.string().openapi({ format: "date-time" });
const minor = (description: string) => z.string().openapi({ description: `${description}, minor units` });

const Position = z
  .object({
    bic: s.Bic,
    name: z.string(),
    currency: s.Currency,
    onChain: minor("Token balance on chain").nullable(),
    posted: minor("Ledger: posted balance of the bank account"),
    pendingDebits: minor("Ledger: pending debits (locked in escrow, not yet released)"),
    pendingCredits: minor("Ledger: pending credits"),
    netDebitCap: minor("The registry's net debit cap for net settlement").nullable(),
    projectedNet: minor("Net position of the bank's queued net payments; negative: it owes"),
    capUsageBps: z.number().int().nullable().openapi({ description: "Projected net debit over the cap, basis points" }),
  })
  .openapi("Position");

const Reserve = z
  .object({
    currency: s.Currency,
    tokenSupply: minor("Deposit token total supply on chain"),
    reserveAccount: z.string().nullable().openapi({ description: "The operator's reserve account at its bank (RESERVE_ACCOUNTS)" }),
    reserveBalance: minor("Closing balance on the reserve account's latest statement").nullable(),
    statementDate: z.string().nullable(),
    ledgerBalance: minor("The ledger's reserve account (minted less burned)"),
    matched: z.boolean().openapi({ description: "All three figures agree" }),
  })
  .openapi("ReserveStatus");

const PaymentStats = z
  .object({
    from: at,
    to: at,
    perMinute: z.array(z.object({ minute: at, counts: z.record(z.string(), z.number().int()) })).openapi({ description: "Status changes per minute, oldest first" }),
    timeToSettle: z.object({
      count: z.number().int(),
      p50Ms: z.number().int().nullable(),
      p95Ms: z.number().int().nullable(),
      buckets: z.array(z.object({ leSeconds: z.number().nullable().openapi({ description: "Upper bound; null: no bound" }), count: z.number().int() })),
    }),
    corridors: z.array(z.object({ from: s.Currency, to: s.Currency, count: z.number().int(), amount: s.Money })),
  })
  .openapi("PaymentStats");

const json = (schema: z.ZodType, description: string) => ({ description, content: { "application/json": { schema } } });

/** Treasury's views and the live event stream in the OpenAPI document. */
export function registerTreasuryPaths(registry: OpenAPIRegistry, { security, errors }: Shared): void {
  registry.registerPath({
    method: "get",
    path: "/v1/positions",
    summary: "Every bank's position per currency: on chain, in the ledger, against its net debit cap (treasury)",
    security,
    responses: { 200: json(z.object({ asOf: at, positions: z.array(Position) }), "Positions"), 403: errors[403] },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/reserves",
    summary: "Proof of reserves per currency: token supply, reserve statement balance, ledger (treasury)",
    security,
    responses: { 200: json(z.object({ asOf: at, reserves: z.array(Reserve) }), "Reserves"), 403: errors[403] },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/stats/payments",
    summary: "Payments per minute by status, time to settle, volume by currency corridor (treasury)",
    security,
    request: { query: PaymentStatsQuery },
    responses: { 200: json(PaymentStats, "Statistics of the last `minutes`"), 400: errors[400], 403: errors[403] },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/events",
    summary: "Server-Sent Events: each payment status change (`event: payment`, data `{change, payment}`); a bank sees its own",
    security,
    request: { query: EventsQuery, headers: z.object({ "Last-Event-ID": z.string().optional() }) },
    responses: { 200: { description: "text/event-stream", content: { "text/event-stream": { schema: z.string() } } }, 400: errors[400] },
  });
}
