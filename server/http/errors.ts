import type { ErrorRequestHandler, RequestHandler, Response } from "express";
import type { ZodError } from "zod";
import type { Failure } from "../shared/result";

/**
 * Every error leaves as `{error: {code, message, details}}` with a 4xx or 5xx status. Domain
 * failure codes map to HTTP statuses here, and only here.
 */
const STATUS_BY_CODE: Record<string, number> = {
  // 400: the request itself is malformed
  malformed_json: 400,
  invalid_request: 400,
  missing_field: 400,
  unknown_field: 400,
  invalid_field: 400,
  invalid_amount: 400,
  missing_idempotency_key: 400,
  invalid_uetr: 400,
  invalid_expiry: 400,
  invalid_cursor: 400,
  invalid_date_range: 400,
  invalid_rate: 400,
  invalid_validity: 400,
  invalid_pair: 400,
  // ISO 20022 messages that cannot be read
  malformed_xml: 400,
  doctype_forbidden: 400,
  unsupported_message: 400,
  wrong_namespace: 400,
  missing_element: 400,
  invalid_element: 400,
  // 401 / 403 / 404
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  payment_not_found: 404,
  key_not_found: 404,
  webhook_not_found: 404,
  statement_not_found: 404,
  movement_not_found: 404,
  run_not_found: 404,
  break_not_found: 404,
  window_not_found: 404,
  // 409: conflicts with the current state
  idempotency_conflict: 409,
  participant_exists: 409,
  address_in_use: 409,
  duplicate_uetr: 409,
  payment_not_cancellable: 409,
  payment_not_confirmable: 409,
  webhook_pending: 409,
  statement_conflict: 409,
  movement_not_awaiting_approval: 409,
  payment_not_settled: 409,
  payment_already_returned: 409,
  break_already_resolved: 409,
  quote_used: 409,
  window_not_open: 409,
  window_not_awaiting_approval: 409,
  proof_not_available: 409,
  // 413 / 415 / 429
  payload_too_large: 413,
  too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  // 422: well-formed but refused by the rules
  unknown_participant: 422,
  participant_suspended: 422,
  currency_not_supported: 422,
  limit_exceeded: 422,
  sanctioned_party: 422,
  same_agent: 422,
  forbidden_agent: 422,
  insufficient_funds: 422,
  bic_required: 422,
  invalid_address: 422,
  // FX: a GET of a missing quote answers 404 itself; a payment naming one is refused with 422
  no_rate: 422,
  amount_too_small: 422,
  amount_too_large: 422,
  quote_not_found: 422,
  quote_expired: 422,
  quote_mismatch: 422,
  // Settlement windows
  not_a_window_participant: 422,
  invalid_signature: 422,
  net_settlement_unavailable: 422,
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function statusOf(code: string): number {
  return STATUS_BY_CODE[code] ?? 422;
}

export function fromFailure(f: Failure<string>): ApiError {
  return new ApiError(statusOf(f.code), f.code, f.message, f.details);
}

/** A refusal as an idempotent handler returns it (so that its transaction rolls back). */
export function refusal(f: Failure<string>): { status: number; body: { error: { code: string; message: string; details: Record<string, unknown> } } } {
  const error = fromFailure(f);
  return { status: error.status, body: { error: { code: error.code, message: error.message, details: error.details ?? {} } } };
}

export function sendError(res: Response, error: ApiError): void {
  res.status(error.status).json({ error: { code: error.code, message: error.message, details: error.details ?? {} } });
}

/** Zod issues become one error whose code names the first problem; `details.issues` lists them all. */
export function fromZodError(error: ZodError, where: string, input: unknown): ApiError {
  const issues = error.issues.map((issue) => {
    const path = issue.path.join(".");
    if (issue.code === "unrecognized_keys") {
      return { code: "unknown_field", path, message: `unknown field(s): ${issue.keys.join(", ")}`, fields: issue.keys };
    }
    const missing = issue.code === "invalid_type" && valueAt(input, issue.path) === undefined;
    const amount = /(^|\.)(value|amount)$/.test(path);
    const code = missing ? "missing_field" : amount ? "invalid_amount" : "invalid_field";
    return { code, path, message: missing ? `${path} is required` : `${path}: ${issue.message}` };
  });
  const first = issues[0];
  return new ApiError(400, first.code, `invalid ${where}: ${first.message}`, { issues });
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, "not_found", `no route ${req.method} ${req.path}`));
};

/** Body-parser and express errors carry a `type` or `status`; anything else is a 500. */
export function errorHandler(logError: (error: unknown) => void): ErrorRequestHandler {
  return (error, _req, res, next) => {
    if (res.headersSent) return next(error);
    if (error instanceof ApiError) return sendError(res, error);
    const type = (error as { type?: string }).type;
    if (type === "entity.parse.failed") return sendError(res, new ApiError(400, "malformed_json", "the body is not valid JSON"));
    if (type === "entity.too.large") return sendError(res, new ApiError(413, "payload_too_large", "the body is larger than the limit"));
    if (type === "charset.unsupported" || type === "encoding.unsupported") {
      return sendError(res, new ApiError(415, "unsupported_media_type", "unsupported body encoding"));
    }
    logError(error);
    sendError(res, new ApiError(500, "internal_error", "internal error"));
  };
}
