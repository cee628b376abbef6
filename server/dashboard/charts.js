import { byId, el, refresher, renderer } from "./dom.js";
import { formatMoney } from "./format.js";

const STATUS_ORDER = ["RECEIVED", "QUEUED", "SUBMITTED", "LOCKED", "SETTLED", "CANCELLED", "REFUNDED", "REJECTED"];
// The Okabe–Ito palette: told apart with the common colour-vision deficiencies.
const STATUS_COLOURS = {
  RECEIVED: "#999999", QUEUED: "#56B4E9", SUBMITTED: "#E69F00", LOCKED: "#0072B2",
  SETTLED: "#009E73", CANCELLED: "#CC79A7", REFUNDED: "#F0E442", REJECTED: "#D55E00",
};
const minuteFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hour12: false });

const integerAxis = { beginAtZero: true, ticks: { precision: 0 } };

/** Creates the chart on first use and updates it in place after, without animation. */
function chartOn(canvasId, type, options) {
  let chart = null;
  return (labels, datasets) => {
    if (!window.Chart) throw new Error("Chart.js did not load");
    if (!chart) {
      chart = new window.Chart(byId(canvasId), {
        type,
        data: { labels, datasets },
        options: { responsive: true, maintainAspectRatio: false, animation: false, ...options },
      });
      return;
    }
    chart.data.labels = labels;
    chart.data.datasets = datasets;
    chart.update("none");
  };
}

function seconds(ms) {
  return ms === null || ms === undefined ? "—" : `${(ms / 1000).toFixed(1)} s`;
}

export function chartsSection({ api }) {
  const statusChart = chartOn("chart-status", "bar", { scales: { x: { stacked: true }, y: { stacked: true, ...integerAxis } } });
  const settleChart = chartOn("chart-settle", "bar", { scales: { y: integerAxis }, plugins: { legend: { display: false } } });
  let corridorRows = [];
  const corridorChart = chartOn("chart-corridors", "bar", {
    indexAxis: "y",
    scales: { x: integerAxis },
    plugins: {
      legend: { display: false },
      // Amounts in several currencies share no axis: the bars count payments, the tooltip gives the value.
      tooltip: { callbacks: { afterLabel: (item) => formatMoney(corridorRows[item.dataIndex]?.amount.value, corridorRows[item.dataIndex]?.amount.currency) } },
    },
  });

  const renderStatus = renderer((perMinute) => {
    const present = STATUS_ORDER.filter((s) => perMinute.some((m) => m.counts[s]));
    statusChart(perMinute.map((m) => minuteFormat.format(new Date(m.minute))), present.map((status) => ({
      label: status, data: perMinute.map((m) => m.counts[status] ?? 0), backgroundColor: STATUS_COLOURS[status] ?? "#555555",
    })));
    const totals = present.map((s) => `${s} ${perMinute.reduce((sum, m) => sum + (m.counts[s] ?? 0), 0)}`);
    byId("chart-status-summary").textContent = totals.length ? `Status changes: ${totals.join(", ")}.` : "No status changes in this period.";
  });

  const renderSettle = renderer((t) => {
    const last = t.buckets.filter((b) => b.leSeconds !== null).at(-1)?.leSeconds;
    settleChart(t.buckets.map((b) => (b.leSeconds === null ? `> ${last} s` : `≤ ${b.leSeconds} s`)), [{
      label: "Payments settled", data: t.buckets.map((b) => b.count), backgroundColor: STATUS_COLOURS.SETTLED,
    }]);
    byId("chart-settle-summary").textContent = `${t.count} payment${t.count === 1 ? "" : "s"} settled; median ${seconds(t.p50Ms)}, 95th percentile ${seconds(t.p95Ms)}.`;
  });

  const renderCorridors = renderer((corridors) => {
    corridorRows = corridors;
    const name = (c) => `${c.from} → ${c.to}`;
    corridorChart(corridors.map(name), [{ label: "Payments", data: corridors.map((c) => c.count), backgroundColor: STATUS_COLOURS.LOCKED }]);
    byId("chart-corridors-summary").replaceChildren(...(corridors.length
      ? corridors.map((c) => el("li", {}, `${name(c)}: ${c.count} payment${c.count === 1 ? "" : "s"}, ${formatMoney(c.amount.value, c.amount.currency)}`))
      : [el("li", {}, "No payments in this period.")]));
  });

  return {
    refresh: refresher("charts-error", async () => {
      const stats = await api("/v1/stats/payments?minutes=60");
      renderStatus(stats.perMinute);
      renderSettle(stats.timeToSettle);
      renderCorridors(stats.corridors);
    }),
  };
}
