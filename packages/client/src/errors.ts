import type { OperationId } from "@jobs-api/types";
import { rateLimitReset, retryAfter } from "./rate-limit.js";

/** What every error of a call carries: which operation, and the request that was sent. */
export interface SentRequest {
  operationId: OperationId;
  method: string;
  url: string;
}

/** Base class of the client's errors, so that callers can catch them all with one `instanceof`. */
export abstract class JobsClientError extends Error {
  readonly operationId: OperationId;
  readonly method: string;
  readonly url: string;

  // `{ cause }` spelled out rather than `ErrorOptions`, which would make the declarations need lib ES2022.
  constructor(request: SentRequest, message: string, options?: { cause?: unknown }) {
    super(`${request.operationId} (${request.method} ${request.url}): ${message}`, options);
    this.operationId = request.operationId;
    this.method = request.method;
    this.url = request.url;
  }
}

/**
 * The server answered, but not with success: a 4xx/5xx status, or a 2xx whose body is not what the spec
 * promises (empty, or not JSON), which would otherwise surface later as an `undefined` result.
 */
export class JobsApiError extends JobsClientError {
  override readonly name = "JobsApiError";
  readonly status: number;
  /** GitLab's own words: the `message` (auth, permission, lookup, state) or `error` (invalid parameter) of the body. */
  readonly apiMessage: string;
  /** The body as received: the parsed JSON (`{message}` or `{error}` from GitLab), else its text. */
  readonly body: unknown;
  readonly headers: Headers;
  /**
   * When the server allows the request again: its `Retry-After`, or for a 429 GitLab's `RateLimit-ResetTime`
   * or `RateLimit-Reset`; `null` when it did not say.
   */
  readonly retryAt: Date | null;

  constructor(
    request: SentRequest,
    response: Response,
    body: unknown,
    apiMessage: string = messageOf(body),
    /** How many times the call was repeated before it gave up with this answer. */
    retries = 0,
  ) {
    const now = Date.now();
    const at = response.ok
      ? undefined
      : (retryAfter(response.headers, now) ??
        (response.status === 429 ? rateLimitReset(response.headers, now) : undefined));
    super(request, describeAnswer(response, apiMessage, at, now, retries));
    this.status = response.status;
    this.apiMessage = apiMessage;
    this.body = body;
    this.headers = response.headers;
    this.retryAt = at === undefined ? null : new Date(at);
  }
}

/** The request never got an answer: DNS, refused connection, reset, TLS, CORS in a browser. */
export class JobsApiNetworkError extends JobsClientError {
  override readonly name = "JobsApiNetworkError";
  /** What went wrong, as fetch reported it (declared here: `Error.cause` is lib ES2022). */
  override readonly cause: unknown;
  /** The system's error code (`ECONNREFUSED`, `ECONNRESET`, `ENOTFOUND`, …), `null` where fetch gives none (browsers). */
  readonly code: string | null;

  constructor(request: SentRequest, cause: unknown, retries = 0) {
    super(request, `network error: ${describeNetworkFailure(cause)}${attempts(retries)}`, { cause });
    this.cause = cause;
    this.code = networkErrorCode(cause) ?? null;
  }
}

/** No complete answer within the client's `timeoutMs` (the body's download included). */
export class JobsApiTimeoutError extends JobsClientError {
  override readonly name = "JobsApiTimeoutError";
  readonly timeoutMs: number;

  constructor(request: SentRequest, timeoutMs: number) {
    super(request, `no answer within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * `401 Unauthorized`: GitLab's messages mostly start with the status already (`{"message":"401 Unauthorized"}`),
 * so it is not repeated. A refusal says when to try again.
 */
function describeAnswer(
  response: Response,
  apiMessage: string,
  retryAt: number | undefined,
  now: number,
  retries: number,
): string {
  const status = String(response.status);
  const text = (apiMessage || response.statusText).trim();
  let message = text === status || text.startsWith(`${status} `) ? text : `${status} ${text}`.trim();
  if (retryAt !== undefined) {
    const seconds = Math.max(0, Math.ceil((retryAt - now) / 1000));
    message += `; retry after ${seconds} s (${new Date(retryAt).toISOString()})`;
  }
  return message + attempts(retries);
}

/** How often the request was sent, once it was repeated: the error is that of the last time. */
function attempts(retries: number): string {
  return retries > 0 ? `; tried ${retries + 1} times` : "";
}

/** The first error code found along the `cause` chain (Node's fetch: `TypeError("fetch failed", { cause })`). */
export function networkErrorCode(error: unknown): string | undefined {
  return systemError(error)?.code;
}

interface SystemError {
  code: string;
  message?: unknown;
  address?: unknown;
  port?: unknown;
}

function systemError(error: unknown): SystemError | undefined {
  for (let at = error, depth = 0; typeof at === "object" && at !== null && depth < 10; depth++) {
    if (typeof (at as { code?: unknown }).code === "string") return at as SystemError;
    // Node's happy-eyeballs connect gives an AggregateError of one error per address tried.
    const errors = (at as { errors?: unknown }).errors;
    at = (at as { cause?: unknown }).cause ?? (Array.isArray(errors) ? errors[0] : undefined);
  }
  return undefined;
}

/**
 * `ECONNREFUSED 127.0.0.1:1234` rather than fetch's own `fetch failed`: the system error's code and address,
 * else its message, else the messages along the cause chain.
 */
function describeNetworkFailure(cause: unknown): string {
  const system = systemError(cause);
  if (system) {
    if (typeof system.address === "string" && system.port !== undefined) {
      return `${system.code} ${system.address}:${String(system.port)}`;
    }
    const text = typeof system.message === "string" ? system.message : "";
    return text.includes(system.code) ? text : `${system.code} ${text}`.trim();
  }
  const messages: string[] = [];
  for (let at = cause, depth = 0; at !== undefined && at !== null && depth < 10; depth++) {
    const text = at instanceof Error ? at.message : String(at);
    if (text && !messages.includes(text)) messages.push(text);
    at = at instanceof Error ? at.cause : undefined;
  }
  return messages.join(": ") || "unknown failure";
}

/**
 * GitLab's error text: `message`, the `error_description` of an OAuth bearer error (an expired or revoked
 * token) or `error` of a JSON body, else the text body itself (e.g. from a proxy).
 */
function messageOf(body: unknown): string {
  if (typeof body === "string") return body.trim().slice(0, 500);
  if (typeof body === "object" && body !== null) {
    for (const key of ["message", "error_description", "error"] as const) {
      if (key in body) {
        const value: unknown = (body as Record<typeof key, unknown>)[key];
        // GitLab sends some validation messages as objects, e.g. {"message":{"base":["..."]}}.
        return typeof value === "string" ? value : JSON.stringify(value);
      }
    }
  }
  return "";
}
