import { Router } from "express";
import type { Registry } from "prom-client";

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

/** Liveness, readiness (each dependency checked with a deadline), metrics, API description. */
export function systemRoutes(deps: { readiness: ReadinessCheck[]; metrics: Registry; openApi: () => unknown }): Router {
  const router = Router();

  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  router.get("/readyz", async (_req, res) => {
    const results = await Promise.all(
      deps.readiness.map(async ({ name, check }) => {
        try {
          await withDeadline(check(), 3_000);
          return [name, { ok: true }] as const;
        } catch (error) {
          return [name, { ok: false, error: error instanceof Error ? error.message : String(error) }] as const;
        }
      }),
    );
    const ready = results.every(([, result]) => result.ok);
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "not_ready", checks: Object.fromEntries(results) });
  });

  router.get("/metrics", async (_req, res) => {
    res.type(deps.metrics.contentType).send(await deps.metrics.metrics());
  });

  router.get("/openapi.json", (_req, res) => {
    res.json(deps.openApi());
  });

  router.get("/docs", (_req, res) => {
    res.type("html").send(DOCS_PAGE);
  });

  return router;
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Human API docs rendered from /openapi.json in the browser; nothing is loaded from elsewhere. */
const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Corridor payment API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
h2{margin-top:2rem;border-bottom:1px solid #ddd}.op{margin:1rem 0;padding:.75rem 1rem;border:1px solid #ddd;border-radius:6px}
.m{font-weight:700;text-transform:uppercase;margin-right:.5rem}pre{background:#f6f8fa;padding:.75rem;overflow:auto;font-size:13px}
</style></head><body>
<h1>Corridor payment API</h1>
<p>Machine-readable description: <a href="/openapi.json">/openapi.json</a>. Authenticate with <code>Authorization: Bearer &lt;API key&gt;</code>;
send an <code>Idempotency-Key</code> header with every write. Amounts are integer minor units as strings.</p>
<main id="ops">Loading…</main>
<script>
fetch('/openapi.json').then(r => r.json()).then(doc => {
  const main = document.getElementById('ops'); main.textContent = '';
  const h = (tag, text) => { const e = document.createElement(tag); if (text) e.textContent = text; return e; };
  for (const [path, ops] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(ops)) {
    const box = h('section'); box.className = 'op';
    const title = h('div'); const m = h('span', method); m.className = 'm'; title.append(m, h('code', path)); box.append(title, h('p', op.summary || ''));
    const body = op.requestBody && op.requestBody.content['application/json'];
    if (body) { box.append(h('strong', 'Request body')); box.append(h('pre', JSON.stringify(body.schema, null, 2))); }
    box.append(h('strong', 'Responses')); box.append(h('pre', Object.entries(op.responses).map(([c, r]) => c + ' ' + r.description).join('\\n')));
    main.append(box);
  }
  const schemas = h('h2', 'Schemas'); main.append(schemas);
  for (const [name, schema] of Object.entries((doc.components || {}).schemas || {})) { main.append(h('h3', name)); main.append(h('pre', JSON.stringify(schema, null, 2))); }
});
</script></body></html>`;
