import { badge, byId, el, timeEl } from "./dom.js";
import { formatMoney } from "./format.js";

function field(term, ...description) {
  return [el("dt", {}, term), el("dd", {}, ...description)];
}

function money(m) {
  return m ? formatMoney(m.value, m.currency) : "—";
}

function fieldsOf(p) {
  const party = (agent, party) => [el("strong", {}, agent.bic), party?.name ? ` (${party.name})` : ""];
  return [
    field("UETR", el("code", {}, p.uetr)),
    field("EndToEndId", p.endToEndId),
    field("Status", badge(p.status), p.statusReason ? ` ${p.statusReason}` : ""),
    field("Amount", money(p.amount)),
    p.fx ? field("Converted", `${money(p.fx.source)} → ${money(p.fx.target)} (leg ${p.fx.leg}, via ${p.fx.provider.bic})`) : [],
    field("Debtor agent", ...party(p.debtorAgent, p.debtor)),
    field("Creditor agent", ...party(p.creditorAgent, p.creditor)),
    field("Settlement", `${p.settlement}, ${p.priority} priority`),
    p.windowId ? field("Window", el("code", {}, p.windowId)) : [],
    field("Created", timeEl(p.createdAt)),
    field("Expires", timeEl(p.expiresAt)),
  ].flat();
}

function stepOf(change) {
  return el("li", { className: `step step-${change.status.toLowerCase()}` },
    el("div", { className: "step-head" }, badge(change.status), " ", timeEl(change.at)),
    change.reason ? el("p", { className: "step-reason" }, change.reason) : null,
    change.txHash ? el("p", { className: "step-chain" },
      el("span", { className: "label" }, "Transaction "), el("code", { className: "hash" }, change.txHash),
      change.blockNumber !== null && change.blockNumber !== undefined ? [el("span", { className: "label" }, " in block "), el("strong", {}, String(change.blockNumber))] : null,
    ) : null,
  );
}

/** The detail view of one payment: its fields and its lifecycle, each status with time, tx and block. */
export function paymentDetail({ api }) {
  const section = byId("payment-detail");
  const title = byId("payment-detail-title");
  let shown = null;
  let returnFocusTo = null;

  async function load(uetr) {
    const payment = await api(`/v1/payments/${encodeURIComponent(uetr)}`);
    if (shown !== uetr) return;
    title.textContent = `Payment ${payment.endToEndId}`;
    byId("payment-detail-fields").replaceChildren(...fieldsOf(payment));
    byId("payment-timeline").replaceChildren(...(payment.history ?? []).map(stepOf));
  }

  function close() {
    section.hidden = true;
    shown = null;
    returnFocusTo?.();
  }
  byId("payment-detail-close").addEventListener("click", close);
  section.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });

  return {
    shownUetr: () => shown,
    async open(uetr, focusBack) {
      shown = uetr;
      returnFocusTo = focusBack ?? null;
      section.hidden = false;
      title.textContent = "Payment (loading…)";
      try {
        await load(uetr);
      } catch (error) {
        title.textContent = `Payment ${uetr}: ${error.message}`;
      }
      title.focus();
    },
    async reload() {
      if (shown) await load(shown).catch(() => undefined);
    },
  };
}
