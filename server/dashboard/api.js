// The treasury key lives in sessionStorage only: it goes when the tab closes, and is never put
// in a URL (the live stream sends it as a header too).

const STORAGE_KEY = "corridor.treasuryKey";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  key: () => sessionStorage.getItem(STORAGE_KEY),
  save: (key) => sessionStorage.setItem(STORAGE_KEY, key),
  clear: () => sessionStorage.removeItem(STORAGE_KEY),
};

/** crypto.randomUUID needs a secure context; getRandomValues does not (a relay on a LAN address). */
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function authHeaders(key) {
  return { authorization: `Bearer ${key}`, accept: "application/json" };
}

/**
 * Calls the relay's API with `key` (the session's by default). Rejects with an ApiError carrying
 * the API's own message; `onUnauthorized` lets the app end a session whose key stopped working.
 */
export function createApi({ onUnauthorized }) {
  return async function api(path, { method = "GET", body, key = session.key(), signal } = {}) {
    const headers = authHeaders(key ?? "");
    if (body !== undefined) headers["content-type"] = "application/json";
    if (method !== "GET") headers["idempotency-key"] = newIdempotencyKey();
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, cache: "no-store" });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, "network_error", "the relay cannot be reached");
    }
    const payload = await response.json().catch(() => null);
    if (response.ok) return payload;
    const error = new ApiError(response.status, payload?.error?.code ?? "http_error", payload?.error?.message ?? `HTTP ${response.status}`);
    if (response.status === 401 && key === session.key()) onUnauthorized?.(error);
    throw error;
  };
}
