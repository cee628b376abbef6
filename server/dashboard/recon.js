import { badge, byId, el, fillRows, refresher, renderer, timeEl } from "./dom.js";
import { formatMoney } from "./format.js";

const label = (breakClass) => breakClass.replace(/_/g, " ");

const MONEY_KEY = /amount|balance|supply/i;

/** Details are flat key → value; digit strings under money-like keys are minor units of the break's currency. */
function detailsText(b) {
  return Object.entries(b.details ?? {}).map(([key, value]) => {
    const shown = b.currency && MONEY_KEY.test(key) && /^-?\d+$/.test(String(value)) ? formatMoney(value, b.currency) : value ?? "—";
    return `${key}: ${shown}`;
  }).join("; ");
}

function totalBreaks(counts) {
  return counts ? Object.values(counts.breaks ?? {}).reduce((sum, n) => sum + n, 0) : null;
}

function duration(run) {
  if (run.counts?.durationMs !== undefined) return `${run.counts.durationMs} ms`;
  return run.finishedAt ? `${run.finishedAt - run.startedAt} ms` : "running";
}

/** Latest runs, open breaks by class, and resolving a break with a note. */
export function reconSection({ api, announce }) {
  const form = byId("resolve-form");
  const note = byId("resolve-note");
  const formError = byId("resolve-error");
  const filter = byId("break-class-filter");
  let resolving = null; // { id, focusBack }
  let openBreaks = [];

  const renderRuns = renderer((runs) => fillRows(byId("runs-table").tBodies[0], runs, (run) => [
    timeEl(run.startedAt),
    run.from === run.to ? run.from : `${run.from} to ${run.to}`,
    run.currencies.length ? run.currencies.join(", ") : "all",
    badge(run.status),
    { value: String(run.counts?.items ?? "—"), className: "num" },
    { value: String(run.counts?.matchedItems ?? "—"), className: "num" },
    { value: String(totalBreaks(run.counts) ?? "—"), className: "num" },
    { value: duration(run), className: "num" },
  ], "No reconciliation run yet."));

  const renderClasses = renderer((breaks) => {
    const counts = new Map();
    for (const b of breaks) counts.set(b.class, (counts.get(b.class) ?? 0) + 1);
    const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1]);
    byId("break-classes").replaceChildren(...(sorted.length
      ? sorted.map(([cls, n]) => el("li", { className: "chip" }, el("strong", {}, String(n)), ` ${label(cls)}`))
      : [el("li", { className: "chip ok" }, "No open breaks")]));
    const selected = filter.value;
    filter.replaceChildren(el("option", { value: "" }, "All classes"), ...sorted.map(([cls, n]) => el("option", { value: cls }, `${label(cls)} (${n})`)));
    filter.value = counts.has(selected) ? selected : "";
  });

  const renderBreaks = renderer(({ breaks }) => fillRows(byId("breaks-table").tBodies[0], breaks, (b) => [
    badge(label(b.class), "bad"),
    b.currency ?? "—",
    el("span", { className: "details" }, detailsText(b)),
    timeEl(b.firstSeenAt),
    timeEl(b.lastSeenAt),
    el("button", { type: "button", dataset: { breakId: b.id }, "aria-label": `Resolve ${label(b.class)} break ${b.id.slice(0, 8)}`, on: { click: (e) => startResolving(b, e.currentTarget) } }, "Resolve"),
  ], "No open breaks."));

  const renderResolved = renderer((breaks) => fillRows(byId("resolved-table").tBodies[0], breaks, (b) => [
    label(b.class), b.currency ?? "—", timeEl(b.resolvedAt), el("span", { className: "details" }, b.resolutionNote ?? ""),
  ], "Nothing resolved yet."));

  function showBreaks() {
    renderBreaks({ breaks: openBreaks.filter((b) => !filter.value || b.class === filter.value) });
  }

  function startResolving(b, button) {
    // The periodic refresh may have rebuilt the row: find its button again, by the break's id.
    const focusBack = () => (byId("breaks-table").querySelector(`button[data-break-id="${b.id}"]`) ?? button).focus();
    resolving = { id: b.id, focusBack };
    byId("resolve-title").textContent = `Resolve ${label(b.class)} break ${b.id.slice(0, 8)}`;
    formError.hidden = true;
    form.hidden = false;
    note.focus();
  }

  function stopResolving() {
    const back = resolving?.focusBack;
    resolving = null;
    form.hidden = true;
    note.value = "";
    back?.();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!resolving) return;
    const text = note.value.trim();
    if (!text) {
      formError.textContent = "Write a note: why is this break resolved?";
      formError.hidden = false;
      note.focus();
      return;
    }
    try {
      const resolved = await api(`/v1/reconciliation/breaks/${encodeURIComponent(resolving.id)}`, { method: "PATCH", body: { status: "resolved", note: text } });
      resolving = null;
      form.hidden = true;
      note.value = "";
      announce(`Break ${resolved.id.slice(0, 8)} resolved.`);
      await refresh();
      (byId("breaks-table").querySelector("button[data-break-id]") ?? byId("panel-reconciliation")).focus();
    } catch (error) {
      formError.textContent = error.message;
      formError.hidden = false;
    }
  });
  byId("resolve-cancel").addEventListener("click", stopResolving);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") stopResolving();
  });
  filter.addEventListener("change", showBreaks);

  const refresh = refresher("recon-error", async () => {
    const [runs, open, resolved] = await Promise.all([
      api("/v1/reconciliation/runs?limit=10"),
      api("/v1/reconciliation/breaks?status=open&limit=500"),
      api("/v1/reconciliation/breaks?status=resolved&limit=10"),
    ]);
    renderRuns(runs.runs);
    openBreaks = open.breaks;
    renderClasses(openBreaks);
    showBreaks();
    renderResolved(resolved.breaks);
  });
  return { refresh };
}
