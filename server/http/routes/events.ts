import { Router, type Response } from "express";
import { z } from "zod";
import type { PaymentEvent, PaymentFeed } from "../../payments/feed";
import { paymentToJson } from "../../payments/store";
import { ApiError } from "../errors";
import { callerOf, parse } from "../middleware";

export const EventsQuery = z.strictObject({ since: z.string().min(1).max(140).optional() });

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Server-Sent Events: every payment status change the caller may see, as it happens (a bank sees
 * its own payments only). Resumes after `since` or the Last-Event-ID header that EventSource
 * sends on reconnect; without either it starts from now.
 */
export function eventRoutes(deps: { feed: PaymentFeed; pollMs?: number; keepAliveMs?: number; logError?: (error: unknown) => void }): Router {
  const { feed } = deps;
  const pollMs = deps.pollMs ?? 500;
  const keepAliveMs = deps.keepAliveMs ?? 15_000;
  const logError = deps.logError ?? (() => undefined);
  const router = Router();

  router.get("/", (req, res) => {
    const caller = callerOf(res);
    const { since } = parse(EventsQuery, req.query, "query");
    const resumeFrom = since ?? req.get("last-event-id");
    if (resumeFrom !== undefined && !feed.isCursor(resumeFrom)) {
      throw new ApiError(400, "invalid_cursor", "since / Last-Event-ID is not an event id this stream gave out", { since: resumeFrom });
    }
    let cursor = resumeFrom ?? feed.start();
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no", // proxies must pass each event on at once
    });
    res.write(`retry: 2000\n\n`);

    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    let lastWrite = Date.now();
    req.on("close", () => {
      closed = true;
      clearTimeout(timer);
    });
    const pump = async () => {
      try {
        // Drain what is there, a page at a time, before waiting again.
        for (;;) {
          const page = await feed.read(caller, cursor, 200);
          if (closed) return;
          cursor = page.cursor;
          for (const event of page.events) writeEvent(res, event);
          if (page.events.length > 0) lastWrite = Date.now();
          if (page.events.length < 200) break;
        }
        if (Date.now() - lastWrite >= keepAliveMs) {
          res.write(": keep-alive\n\n");
          lastWrite = Date.now();
        }
      } catch (error) {
        // The stream cannot carry an error response any more: end it; the client reconnects.
        res.end();
        closed = true;
        throw error;
      }
      if (!closed) timer = setTimeout(() => void pump().catch(logError), pollMs);
    };
    void pump().catch(logError);
  });

  return router;
}

function writeEvent(res: Response, event: PaymentEvent): void {
  const { change, payment } = event;
  const data = {
    change: { status: change.status, at: iso(change.at), reason: change.reason, txHash: change.txHash, blockNumber: change.blockNumber },
    payment: paymentToJson(payment),
  };
  res.write(`event: payment\nid: ${event.cursor}\ndata: ${JSON.stringify(data)}\n\n`);
}
