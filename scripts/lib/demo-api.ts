import { randomUUID } from "node:crypto";

/**
 * The demo's client of the relay's HTTP API: it drives the relay as a bank's or treasury's
 * systems would (bearer key, an Idempotency-Key on every write), so the demo shows the API as
 * documented rather than the relay's internals.
 */

export type DemoApi = <T>(method: "GET" | "POST" | "PUT", path: string, key: string, body?: unknown, options?: { xml?: boolean }) => Promise<T>;

export class DemoApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export function demoApi(relayUrl: string): DemoApi {
  return async <T>(method: "GET" | "POST" | "PUT", path: string, key: string, body?: unknown, options: { xml?: boolean } = {}): Promise<T> => {
    const headers: Record<string, string> = { authorization: `Bearer ${key}` };
    if (method !== "GET") {
      headers["content-type"] = options.xml ? "application/xml" : "application/json";
      headers["idempotency-key"] = randomUUID();
    }
    const payload = body === undefined ? undefined : options.xml ? String(body) : JSON.stringify(body);
    const res = await fetch(`${relayUrl}${path}`, { method, headers, body: payload });
    const json = (await res.json().catch(() => ({}))) as T & { error?: { code?: string; message?: string } };
    if (!res.ok) {
      const code = json.error?.code;
      throw new DemoApiError(`${method} ${path}: ${res.status} ${code ?? ""} ${json.error?.message ?? ""}`.trim(), res.status, code);
    }
    return json;
  };
}
