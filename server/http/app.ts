import { createHash } from "node:crypto";
import express, { type Express } from "express";
import helmet from "helmet";
import { ipKeyGenerator, rateLimit } from "express-rate-limit";
import type { Kysely } from "kysely";
import { Counter, Histogram, type Registry } from "prom-client";
import type { AuthService } from "../auth/service";
import type { Database } from "../db/schema";
import type { Transact } from "../db/batcher";
import type { LedgerService } from "../ledger/service";
import type { ParticipantService } from "../participants/service";
import type { PaymentService } from "../payments/types";
import type { FundsService } from "../funds/service";
import type { FxService } from "../fx/service";
import type { InterchangeService } from "../interchange/service";
import type { StatementService } from "../statements/service";
import type { WindowService } from "../settlement/types";
import type { TreasuryService } from "../treasury/service";
import type { PaymentFeed } from "../payments/feed";
import { ApiError, errorHandler, notFoundHandler, sendError } from "./errors";
import { authenticate, requireBodyType, XML_MEDIA_TYPES } from "./middleware";
import { buildOpenApiDocument } from "./openapi";
import { accountRoutes, type ChainBalanceReader } from "./routes/accounts";
import { keyRoutes, participantRoutes } from "./routes/admin";
import { fundsRoutes } from "./routes/funds";
import { fxRoutes } from "./routes/fx";
import { iso20022Routes, paymentInterchangeRoutes } from "./routes/iso20022";
import { paymentRoutes } from "./routes/payments";
import { statementRoutes } from "./routes/statements";
import { paymentProofRoutes, windowRoutes } from "./routes/windows";
import { systemRoutes, type ReadinessCheck } from "./routes/system";
import { eventRoutes } from "./routes/events";
import { treasuryRoutes } from "./routes/treasury";
import { dashboardRoutes } from "./routes/dashboard";

export interface AppDeps {
  db: Kysely<Database>;
  /** Write transactions of the payment intake (grouped into shared commits on SQLite). */
  transact: Transact;
  auth: AuthService;
  payments: PaymentService;
  participants: ParticipantService;
  ledger: LedgerService;
  chainBalance: ChainBalanceReader;
  interchange: InterchangeService;
  statements: StatementService;
  funds: FundsService;
  fx: FxService;
  windows: WindowService;
  treasury: TreasuryService;
  paymentFeed: PaymentFeed;
  readiness: ReadinessCheck[];
  metrics: Registry;
  /** Extra authenticated routers mounted under /v1 (e.g. webhooks administration). */
  extraRoutes?: { path: string; router: express.Router }[];
  bodyLimit?: string;
  /** The largest ISO 20022 message accepted (pacs.008 batches and statements are larger than JSON requests). */
  xmlBodyLimit?: string;
  rateLimitPerMinute?: number;
  logError?: (error: unknown) => void;
  /** The relay's clock (tests run it ahead with the chain's). */
  now?: () => number;
}

/** The HTTP layer only validates, authenticates, authorizes and calls services. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", false);
  app.set("query parser", "simple");
  // No upgrade-insecure-requests: a relay reached over plain HTTP (a private address, a TLS proxy
  // in front) would have the dashboard's own requests rewritten to an HTTPS it does not serve.
  app.use(helmet({ contentSecurityPolicy: { directives: { "script-src": ["'self'", "'unsafe-inline'"], "upgrade-insecure-requests": null } } }));
  app.use(requestMetrics(deps.metrics));

  app.use(systemRoutes({ readiness: deps.readiness, metrics: deps.metrics, openApi: memoize(() => buildOpenApiDocument()) }));
  app.use("/dashboard", dashboardRoutes());

  const v1 = express.Router();
  v1.use(
    rateLimit({
      windowMs: 60_000,
      limit: deps.rateLimitPerMinute ?? 120_000,
      standardHeaders: "draft-7",
      legacyHeaders: false,
      // Per API key; callers without one share their address's budget.
      keyGenerator: (req) => {
        const authorization = req.get("authorization");
        return authorization ? createHash("sha256").update(authorization).digest("hex") : ipKeyGenerator(req.ip ?? "");
      },
      handler: (_req, res) => sendError(res, new ApiError(429, "too_many_requests", "rate limit reached; retry later")),
    }),
  );
  // ISO 20022 messages arrive as XML, on these routes only; everything else speaks JSON.
  v1.use(requireBodyType({ xmlPaths: [/^\/iso20022\//, /^\/statements\/?$/] }));
  v1.use(express.json({ limit: deps.bodyLimit ?? "64kb", strict: true }));
  v1.use(express.text({ type: XML_MEDIA_TYPES, limit: deps.xmlBodyLimit ?? "1mb" }));
  v1.use(authenticate(deps.auth));
  const interchange = { db: deps.db, transact: deps.transact, interchange: deps.interchange };
  v1.use("/iso20022", iso20022Routes(interchange));
  v1.use("/payments", paymentInterchangeRoutes(interchange));
  v1.use("/payments", paymentRoutes({ db: deps.db, transact: deps.transact, payments: deps.payments }));
  v1.use("/payments", paymentProofRoutes({ windows: deps.windows }));
  v1.use("/windows", windowRoutes({ db: deps.db, windows: deps.windows }));
  v1.use("/statements", statementRoutes({ db: deps.db, transact: deps.transact, statements: deps.statements }));
  v1.use("/funds", fundsRoutes({ db: deps.db, transact: deps.transact, funds: deps.funds }));
  v1.use(fxRoutes({ db: deps.db, fx: deps.fx }));
  v1.use("/accounts", accountRoutes({ db: deps.db, ledger: deps.ledger, participants: deps.participants, chainBalance: deps.chainBalance }));
  v1.use("/participants", participantRoutes({ db: deps.db, participants: deps.participants }));
  v1.use("/keys", keyRoutes({ db: deps.db, auth: deps.auth }));
  v1.use("/events", eventRoutes({ feed: deps.paymentFeed, logError: deps.logError }));
  v1.use(treasuryRoutes({ treasury: deps.treasury, now: deps.now }));
  for (const { path, router } of deps.extraRoutes ?? []) v1.use(path, router);
  app.use("/v1", v1);

  app.use(notFoundHandler);
  app.use(errorHandler(deps.logError ?? ((error) => console.error(error))));
  return app;
}

function requestMetrics(registry: Registry): express.RequestHandler {
  const requests = new Counter({
    name: "corridor_http_requests_total",
    help: "HTTP requests by method, route and status",
    labelNames: ["method", "route", "status"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "corridor_http_request_duration_seconds",
    help: "HTTP request duration",
    labelNames: ["method", "route"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return (req, res, next) => {
    const end = duration.startTimer();
    res.on("finish", () => {
      const route = `${req.baseUrl}${(req.route?.path as string | undefined) ?? ""}` || "unmatched";
      requests.inc({ method: req.method, route, status: String(res.statusCode) });
      end({ method: req.method, route });
    });
    next();
  };
}

function memoize<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= build());
}
