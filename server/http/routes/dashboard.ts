import { existsSync } from "node:fs";
import path from "node:path";
import express, { Router } from "express";

/**
 * The treasury dashboard: static files, no build step. Its libraries come from node_modules, so
 * the page loads nothing from the internet. The files sit in server/dashboard, found from the
 * sources (ts-node) and from the compiled relay in dist/ alike.
 */
export function dashboardRoutes(): Router {
  const router = Router();
  // The page's relative links need the trailing slash.
  router.use((req, res, next) => (req.originalUrl.split("?")[0] === req.baseUrl ? res.redirect(301, `${req.baseUrl}/`) : next()));
  const chartJs = path.join(path.dirname(require.resolve("chart.js")), "chart.umd.js");
  router.get("/vendor/chart.umd.js", (_req, res) => res.sendFile(chartJs));
  router.use(express.static(dashboardDirectory(), { index: "index.html", fallthrough: true, maxAge: 0 }));
  return router;
}

function dashboardDirectory(): string {
  const candidates = [path.join(__dirname, "../../dashboard"), path.join(__dirname, "../../../../server/dashboard")];
  const found = candidates.find((dir) => existsSync(path.join(dir, "index.html")));
  return found ?? candidates[0];
}
