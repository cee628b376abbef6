import { badge, byId, el, fillRows, refresher, renderer, timeEl } from "./dom.js";
import { formatBps, formatMoney, liquiditySavingBps, shorten } from "./format.js";

function table(label, headers, rows, cells, emptyText) {
  const tbody = el("tbody");
  const tableEl = el("table", {},
    el("caption", {}, label),
    el("thead", {}, el("tr", {}, headers.map(([text, className]) => el("th", { scope: "col", className }, text)))),
    tbody);
  fillRows(tbody, rows, cells, emptyText);
  return el("div", { className: "table-scroll", tabindex: 0, role: "region", "aria-label": label }, tableEl);
}

function openWindowCard(w) {
  const projected = w.projected ?? { paymentCount: w.paymentCount, grossTotal: w.grossTotal, positions: [], obligations: [] };
  const money = (value) => formatMoney(value, w.currency);
  const title = `${w.currency} window #${w.sequence}`;
  return el("article", { className: "window-card", "aria-label": title },
    el("h4", {}, title, " ", badge(w.state)),
    el("dl", { className: "fields" },
      el("dt", {}, "Closes"), el("dd", {}, timeEl(w.closesAt)),
      el("dt", {}, "Queued payments"), el("dd", {}, String(projected.paymentCount)),
      el("dt", {}, "Gross value"), el("dd", {}, money(projected.grossTotal))),
    table(`Obligations in ${title}`, [["Debtor"], ["Creditor"], ["Payments", "num"], ["Amount", "num"]], projected.obligations,
      (o) => [o.debtor, o.creditor, { value: String(o.count), className: "num" }, { value: money(o.amount), className: "num" }], "No obligations yet."),
    table(`Projected net positions in ${title}`, [["Bank"], ["Net position", "num"]], projected.positions,
      (p) => [p.bic, { value: money(p.amount), className: `num ${String(p.amount).startsWith("-") ? "negative" : ""}` }], "No positions yet."),
  );
}

function transaction(w) {
  if (!w.txHash) return w.failureReason ?? "—";
  return el("span", {}, el("code", { className: "hash", title: w.txHash }, shorten(w.txHash)), w.blockNumber !== null ? ` block ${w.blockNumber}` : "");
}

/** Open windows with what they would settle now, and the history with each window's liquidity saving. */
export function windowsSection({ api }) {
  const renderOpen = renderer((windows) => {
    const container = byId("open-windows");
    container.replaceChildren(...(windows.length ? windows.map(openWindowCard) : [el("p", { className: "empty" }, "No open window.")]));
  });
  const history = byId("windows-table").tBodies[0];
  const renderHistory = renderer((windows) => {
    fillRows(history, windows, (w) => {
      const money = (value) => ({ value: formatMoney(value, w.currency), className: "num" });
      return [
        el("span", {}, el("strong", {}, `${w.currency} #${w.sequence}`), w.round > 1 ? ` round ${w.round}` : ""),
        badge(w.state),
        timeEl(w.closedAt),
        timeEl(w.settledAt),
        { value: String(w.paymentCount), className: "num" },
        money(w.grossTotal),
        money(w.netTotal),
        { value: formatBps(liquiditySavingBps(w.netToGrossBps)), className: "num saving" },
        transaction(w),
      ];
    }, "No closed window yet.");
  });

  return {
    refresh: refresher("windows-error", async () => {
      const { windows } = await api("/v1/windows?limit=50");
      const open = windows.filter((w) => w.state === "OPEN");
      const details = await Promise.all(open.map((w) => api(`/v1/windows/${encodeURIComponent(w.id)}`)));
      renderOpen(details.map(({ approvalRequest, includedPayments, ...w }) => w));
      renderHistory(windows.filter((w) => w.state !== "OPEN"));
    }),
  };
}
