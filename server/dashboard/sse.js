// EventSource cannot send an Authorization header, so the stream is read with fetch() and its
// Server-Sent Events frames are parsed here, reconnecting with Last-Event-ID as EventSource would.

import { authHeaders } from "./api.js";

/** Feeds text chunks in; calls onEvent({ type, data, id }) per complete event. */
export function createSseParser(onEvent) {
  let buffer = "";
  let data = [];
  let type = "";
  let lastId = null;
  let skipLineFeed = false;

  function field(line) {
    if (line.startsWith(":")) return; // a comment: the server's keep-alive
    const colon = line.indexOf(":");
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "data") data.push(value);
    else if (name === "event") type = value;
    else if (name === "id" && !value.includes("\0")) lastId = value;
  }

  function dispatch() {
    if (data.length > 0) onEvent({ type: type || "message", data: data.join("\n"), id: lastId });
    data = [];
    type = "";
  }

  return function push(chunk) {
    // A chunk that ended in "\r" ended a line; a "\n" opening the next one is the rest of that "\r\n".
    const text = skipLineFeed && chunk.startsWith("\n") ? chunk.slice(1) : chunk;
    skipLineFeed = text.endsWith("\r");
    buffer += text;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop();
    for (const line of lines) {
      if (line === "") dispatch();
      else field(line);
    }
  };
}

/**
 * Follows `url` until `signal` aborts. Calls onEvent per event, onState("connecting" | "live" |
 * "retrying", detail) as the connection changes, onUnauthorized when the key is refused, and
 * onResync when events were lost and the caller should reload what it shows.
 */
export function followEvents({ url, key, signal, onEvent, onState, onUnauthorized, onResync, idleMs = 45_000 }) {
  let lastEventId = null;
  let delayMs = 1_000;

  async function connectOnce() {
    // The server sends a comment at least every 15 s: silence for longer means a dead connection.
    const connection = new AbortController();
    const abort = () => connection.abort();
    signal.addEventListener("abort", abort, { once: true });
    let idle;
    const resetIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(abort, idleMs);
    };
    try {
      const headers = { ...authHeaders(key), accept: "text/event-stream" };
      if (lastEventId) headers["last-event-id"] = lastEventId;
      resetIdle();
      const response = await fetch(url, { headers, signal: connection.signal, cache: "no-store" });
      if (response.status === 401) {
        onUnauthorized();
        return "stop";
      }
      if (response.status === 400 && lastEventId) {
        // The server no longer knows our position (say, a new database): start from now, and resync.
        lastEventId = null;
        onResync?.();
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      onState("live");
      delayMs = 1_000;
      const parse = createSseParser((event) => {
        lastEventId = event.id ?? lastEventId;
        onEvent(event);
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        resetIdle();
        parse(value);
      }
      return "dropped";
    } catch (error) {
      return signal.aborted ? "stop" : error.message;
    } finally {
      clearTimeout(idle);
      signal.removeEventListener("abort", abort);
    }
  }

  (async () => {
    onState("connecting");
    while (!signal.aborted) {
      const outcome = await connectOnce();
      if (outcome === "stop" || signal.aborted) return;
      onState("retrying", outcome);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
      });
      delayMs = Math.min(delayMs * 2, 15_000);
    }
  })();
}
