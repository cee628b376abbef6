import { badge, byId, el, refresher, timeEl } from "./dom.js";
import { formatMoney } from "./format.js";
import { paymentDetail } from "./payment-detail.js";

const UETR = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BIC = /^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$/i;
const MAX_ROWS = 200;

/** What a search term can be; an EndToEndId is at most 35 characters, so a UETR (36) is never one. */
export function parseSearch(text) {
  const term = text.trim();
  if (!term) return null;
  if (UETR.test(term)) return { term, uetr: term.toLowerCase() };
  return { term, endToEndId: term.length <= 35 ? term : null, bic: BIC.test(term) ? term.toUpperCase() : null };
}

function matches(search, p) {
  if (!search) return true;
  if (search.uetr) return p.uetr === search.uetr;
  return p.endToEndId === search.endToEndId || (search.bic !== null && (p.debtorAgent.bic === search.bic || p.creditorAgent.bic === search.bic));
}

/** The payments table: latest payments or a search's results, kept current by live events. */
export function paymentsSection({ api, announce }) {
  const tbody = byId("payments-table").tBodies[0];
  const summary = byId("payments-summary");
  const detail = paymentDetail({ api });
  const rows = new Map(); // uetr → { payment, tr }
  let search = null;

  const focusRow = (uetr) => () => tbody.querySelector(`tr[data-uetr="${CSS.escape(uetr)}"] button`)?.focus();

  function rowOf(p) {
    const open = el("button", { type: "button", className: "link mono", "aria-label": `Details of payment ${p.endToEndId} (${p.uetr})`, on: { click: () => detail.open(p.uetr, focusRow(p.uetr)) } }, p.uetr);
    return el("tr", { dataset: { uetr: p.uetr, status: p.status } },
      el("td", {}, timeEl(p.createdAt)),
      el("td", {}, open),
      el("td", {}, p.endToEndId),
      el("td", {}, p.debtorAgent.bic),
      el("td", {}, p.creditorAgent.bic),
      el("td", { className: "num" }, formatMoney(p.amount.value, p.amount.currency)),
      el("td", {}, p.settlement),
      el("td", { className: "status-cell" }, badge(p.status), p.statusReason ? el("span", { className: "muted block" }, p.statusReason) : null),
    );
  }

  function describe() {
    const n = rows.size;
    summary.textContent = search
      ? `${n} payment${n === 1 ? "" : "s"} matching “${search.term}”.`
      : `The ${n} latest payment${n === 1 ? "" : "s"}, updated live.`;
  }

  function renderAll(payments) {
    rows.clear();
    const sorted = [...payments].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, MAX_ROWS);
    for (const p of sorted) rows.set(p.uetr, { payment: p, tr: rowOf(p) });
    const trs = [...rows.values()].map((r) => r.tr);
    tbody.replaceChildren(...(trs.length ? trs : [el("tr", {}, el("td", { colspan: 8, className: "empty" }, search ? "No payment matches." : "No payments yet."))]));
    describe();
  }

  /** Newer states win: events can arrive while a list request is in flight. */
  function upsert(p) {
    const existing = rows.get(p.uetr);
    if (existing && existing.payment.updatedAt > p.updatedAt) return false;
    const tr = rowOf(p);
    const hadFocus = existing?.tr.contains(document.activeElement);
    if (existing) existing.tr.replaceWith(tr);
    else {
      tbody.querySelector("td.empty")?.parentElement.remove();
      tbody.prepend(tr);
      if (rows.size >= MAX_ROWS) {
        const oldest = tbody.lastElementChild;
        rows.delete(oldest.dataset.uetr);
        oldest.remove();
      }
    }
    rows.set(p.uetr, { payment: p, tr });
    if (hadFocus) tr.querySelector("button").focus();
    return true;
  }

  async function fetchPayments() {
    if (!search) return (await api("/v1/payments?limit=50")).payments;
    if (search.uetr) {
      try {
        return [await api(`/v1/payments/${search.uetr}`)];
      } catch (error) {
        if (error.status === 404) return [];
        throw error;
      }
    }
    const queries = [];
    if (search.endToEndId) queries.push(`endToEndId=${encodeURIComponent(search.endToEndId)}`);
    if (search.bic) queries.push(`bic=${encodeURIComponent(search.bic)}`);
    const pages = await Promise.all(queries.map((q) => api(`/v1/payments?limit=200&${q}`)));
    return [...new Map(pages.flatMap((page) => page.payments).map((p) => [p.uetr, p])).values()];
  }

  const load = refresher("payments-error", async () => renderAll(await fetchPayments()));

  byId("payment-search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    search = parseSearch(byId("payment-search").value);
    load();
  });
  byId("payment-search-clear").addEventListener("click", () => {
    byId("payment-search").value = "";
    search = null;
    load();
  });

  return {
    load,
    /** A payment event from the live stream: { change, payment }. */
    onEvent({ change, payment }) {
      if (!payment || !matches(search, payment)) return;
      if (upsert(payment)) {
        describe();
        announce(`Payment ${payment.endToEndId}: ${change?.status ?? payment.status}`);
      }
      if (detail.shownUetr() === payment.uetr) detail.reload();
    },
  };
}
