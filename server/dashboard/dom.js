// Every piece of data reaches the page through textContent or attributes, never as HTML, so a
// hostile name or reason in the API's answers cannot become markup.

import { formatTime, isoOf } from "./format.js";

/** el("td", { className: "num", title: "…" }, "text", childNode, …) */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "on") for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
}

export function timeEl(value) {
  const iso = value === null || value === undefined ? "" : isoOf(value);
  return iso ? el("time", { datetime: iso }, formatTime(value)) : "—";
}

/** A status as a badge that says it in words too, never by colour alone. */
export function badge(text, tone = text.toLowerCase(), icon = "") {
  return el("span", { className: `badge badge-${tone}` }, icon ? el("span", { "aria-hidden": "true" }, `${icon} `) : null, text);
}

/**
 * Replaces a tbody's rows. `cells(row)` gives each row's cells: a node or text per cell, or
 * { value, className } for a styled cell. An empty list shows `emptyText` across the table.
 */
export function fillRows(tbody, rows, cells, emptyText) {
  const columns = tbody.closest("table")?.querySelectorAll("thead th").length || 1;
  const trs = rows.length === 0
    ? [el("tr", {}, el("td", { colspan: columns, className: "empty" }, emptyText))]
    : rows.map((row) => el("tr", {}, cells(row).map(cellOf)));
  tbody.replaceChildren(...trs);
}

function cellOf(cell) {
  if (cell && typeof cell === "object" && !(cell instanceof Node) && "value" in cell) {
    return el("td", { className: cell.className }, cell.value);
  }
  return el("td", {}, cell);
}

/**
 * Renders only when the data changed since the last render, so that a periodic refresh does not
 * rebuild a table under the user's focus or scroll position for nothing.
 */
export function renderer(render) {
  let last;
  return (data) => {
    const snapshot = JSON.stringify(data);
    if (snapshot === last) return;
    last = snapshot;
    render(data);
  };
}

/** Shows a section's error (or clears it); the element is a role="status" region. */
export function showError(node, error) {
  node.textContent = error ? `Could not load: ${error.message ?? String(error)}` : "";
  node.hidden = !error;
}

/** A section's refresh: runs `load`, and shows its failure in the section instead of throwing. */
export function refresher(errorId, load) {
  return async () => {
    try {
      await load();
      showError(byId(errorId), null);
    } catch (error) {
      showError(byId(errorId), error);
    }
  };
}
