import { Router } from "express";
import { z } from "zod";
import type { TreasuryService } from "../../treasury/service";
import { parse, requireRole } from "../middleware";

export const PaymentStatsQuery = z.strictObject({ minutes: z.coerce.number().int().min(1).max(1440).default(60) });

const iso = (ms: number) => new Date(ms).toISOString();
const digits = (value: bigint | null) => (value === null ? null : value.toString());

/** Treasury's views across all banks: positions, proof of reserves, payment statistics. */
export function treasuryRoutes(deps: { treasury: TreasuryService; now?: () => number }): Router {
  const { treasury } = deps;
  const now = deps.now ?? Date.now;
  const router = Router();
  // Mounted beside other routers at /v1: the role check goes on each route, not on the router.
  const treasuryOnly = requireRole("treasury", "admin");

  router.get("/positions", treasuryOnly, async (_req, res) => {
    const positions = await treasury.positions();
    res.json({
      asOf: iso(now()),
      positions: positions.map((p) => ({
        ...p,
        onChain: digits(p.onChain),
        posted: p.posted.toString(),
        pendingDebits: p.pendingDebits.toString(),
        pendingCredits: p.pendingCredits.toString(),
        netDebitCap: digits(p.netDebitCap),
        projectedNet: p.projectedNet.toString(),
      })),
    });
  });

  router.get("/reserves", treasuryOnly, async (_req, res) => {
    const reserves = await treasury.reserves();
    res.json({
      asOf: iso(now()),
      reserves: reserves.map((r) => ({
        ...r,
        tokenSupply: r.tokenSupply.toString(),
        reserveBalance: digits(r.reserveBalance),
        ledgerBalance: r.ledgerBalance.toString(),
      })),
    });
  });

  router.get("/stats/payments", treasuryOnly, async (req, res) => {
    const { minutes } = parse(PaymentStatsQuery, req.query, "query");
    const stats = await treasury.paymentStats({ minutes });
    res.json({
      from: iso(stats.from),
      to: iso(stats.to),
      perMinute: stats.perMinute.map((m) => ({ minute: iso(m.minute), counts: m.counts })),
      timeToSettle: stats.timeToSettle,
      corridors: stats.corridors.map((c) => ({ from: c.from, to: c.to, count: c.count, amount: { value: c.amount.toString(), currency: c.from } })),
    });
  });

  return router;
}
