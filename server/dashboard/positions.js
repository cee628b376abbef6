import { badge, byId, el, fillRows, refresher, renderer, timeEl } from "./dom.js";
import { formatBps, formatMoney } from "./format.js";

/** GET /v1/{name} answers { asOf, [name]: rows }; the section's ids are {name}-error and {name}-asof. */
function snapshotSection(api, name, render) {
  return {
    refresh: refresher(`${name}-error`, async () => {
      const body = await api(`/v1/${name}`);
      render(body[name]);
      byId(`${name}-asof`).replaceChildren("As of ", timeEl(body.asOf), ".");
    }),
  };
}

/** <meter> reads as a gauge to assistive technology; the text beside it gives the number. */
function capUsage(bps) {
  if (bps === null || bps === undefined) return el("span", { className: "muted" }, "no cap");
  const percent = Math.min(bps, 10_000) / 100;
  return el("span", { className: "usage" },
    el("meter", { min: 0, max: 100, low: 50, high: 80, optimum: 0, value: percent, "aria-label": `Cap usage ${formatBps(bps)}` }),
    el("span", { className: bps > 10_000 ? "bad" : "" }, formatBps(bps)));
}

export function positionsSection({ api }) {
  const tbody = byId("positions-table").tBodies[0];
  const render = renderer((positions) => {
    fillRows(tbody, positions, (p) => [
      el("span", {}, el("strong", {}, p.bic), p.name ? el("span", { className: "muted block" }, p.name) : null),
      p.currency,
      { value: formatMoney(p.onChain, p.currency), className: "num" },
      { value: formatMoney(p.posted, p.currency), className: "num" },
      { value: formatMoney(p.pendingDebits, p.currency), className: "num" },
      { value: formatMoney(p.pendingCredits, p.currency), className: "num" },
      { value: formatMoney(p.projectedNet, p.currency), className: `num ${String(p.projectedNet).startsWith("-") ? "negative" : ""}` },
      { value: formatMoney(p.netDebitCap, p.currency), className: "num" },
      capUsage(p.capUsageBps),
    ], "No positions yet.");
  });
  return snapshotSection(api, "positions", render);
}

export function reservesSection({ api }) {
  const tbody = byId("reserves-table").tBodies[0];
  const render = renderer((reserves) => {
    fillRows(tbody, reserves, (r) => [
      el("strong", {}, r.currency),
      { value: formatMoney(r.tokenSupply, r.currency), className: "num" },
      { value: r.reserveBalance === null ? "no statement" : formatMoney(r.reserveBalance, r.currency), className: "num" },
      r.statementDate ?? "—",
      { value: formatMoney(r.ledgerBalance, r.currency), className: "num" },
      r.matched ? badge("matched", "ok", "✓") : badge("mismatch", "bad", "✗"),
    ], "No reserves reported.");
  });
  return snapshotSection(api, "reserves", render);
}
