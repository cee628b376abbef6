/** Expected failures are values, not exceptions: a code the HTTP layer maps to a status in one place. */
export interface Failure<E extends string> {
  ok: false;
  code: E;
  message: string;
  details?: Record<string, unknown>;
}

export interface Success<T> {
  ok: true;
  value: T;
}

export type Result<T, E extends string> = Success<T> | Failure<E>;

export function success<T>(value: T): Success<T> {
  return { ok: true, value };
}

export function failure<E extends string>(code: E, message: string, details?: Record<string, unknown>): Failure<E> {
  return details === undefined ? { ok: false, code, message } : { ok: false, code, message, details };
}
