import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { z } from "zod";
import type { AuthService } from "../auth/service";
import type { Caller } from "../payments/types";
import { ApiError, fromZodError } from "./errors";

/** The authenticated caller of a request (set by `authenticate`). */
export function callerOf(res: Response): Caller {
  const caller = res.locals.caller as Caller | undefined;
  if (!caller) throw new ApiError(401, "unauthorized", "an API key is required");
  return caller;
}

export function authenticate(auth: AuthService): RequestHandler {
  return async (req, res, next) => {
    const header = req.get("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new ApiError(401, "unauthorized", "send an API key as `Authorization: Bearer <key>`");
    const caller = await auth.authenticate(match[1]);
    if (!caller) throw new ApiError(401, "unauthorized", "unknown or revoked API key");
    res.locals.caller = caller;
    next();
  };
}

export function requireRole(...roles: Caller["role"][]): RequestHandler {
  return (_req, res, next) => {
    const caller = callerOf(res);
    if (!roles.includes(caller.role)) {
      throw new ApiError(403, "forbidden", `this needs the ${roles.join(" or ")} role`, { role: caller.role });
    }
    next();
  };
}

export const XML_MEDIA_TYPES = ["application/xml", "text/xml", "application/*+xml"];

/**
 * Writes must carry JSON (or nothing), or XML on the routes that take ISO 20022 messages: anything
 * else is refused before it is parsed.
 */
export function requireBodyType(options: { xmlPaths: RegExp[] }): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const hasBody = Number(req.get("content-length") ?? 0) > 0 || req.get("transfer-encoding") !== undefined;
    const xml = options.xmlPaths.some((path) => path.test(req.path));
    if (hasBody && !req.is("application/json") && !(xml && req.is(XML_MEDIA_TYPES))) {
      const expected = xml ? "application/xml (an ISO 20022 message)" : "application/json";
      throw new ApiError(415, "unsupported_media_type", `send the body as ${expected}`, { contentType: req.get("content-type") ?? null });
    }
    next();
  };
}

export function parse<S extends z.ZodType>(schema: S, input: unknown, where: string): z.infer<S> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) throw fromZodError(result.error, where, input);
  return result.data;
}
