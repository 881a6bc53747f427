import type { OperationId } from "@jobs-api/types";

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

  constructor(request: SentRequest, message: string, options?: ErrorOptions) {
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

  constructor(request: SentRequest, response: Response, body: unknown, apiMessage: string = messageOf(body)) {
    super(request, `${response.status} ${apiMessage || response.statusText}`.trim());
    this.status = response.status;
    this.apiMessage = apiMessage;
    this.body = body;
    this.headers = response.headers;
  }
}

/** The request never got an answer: DNS, refused connection, reset, TLS, CORS in a browser. */
export class JobsApiNetworkError extends JobsClientError {
  override readonly name = "JobsApiNetworkError";

  constructor(request: SentRequest, cause: unknown) {
    super(request, `network error: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
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
