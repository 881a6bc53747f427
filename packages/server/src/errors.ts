import type { ErrorRequestHandler, Request, RequestHandler, Response } from "express";
import type { Logger } from "pino";
import { DatabaseUnavailableError } from "./db/unavailable.js";
import { integerProblems } from "./http/integers.js";
import { grapeValidationMessage, type ParamProblem } from "./http/invalid-params.js";
import { runnerParamProblems } from "./http/runner-params.js";

/** A failure with the status and body GitLab answers for it. Handlers throw these; nothing else. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: { message: string } | { error: string; error_description?: string; scope?: string },
    readonly headers: Record<string, string> = {},
  ) {
    super("message" in body ? body.message : body.error);
  }
}

export const unauthorized = () => new HttpError(401, { message: "401 Unauthorized" });
/**
 * GitLab's APIGuard answers a token that exists but may no longer be used as an OAuth 2.0 bearer error
 * (Rack::OAuth2, with its default realm), whatever kind of access token it is.
 */
export const invalidToken = (description: string) =>
  new HttpError(
    401,
    { error: "invalid_token", error_description: description },
    {
      "WWW-Authenticate": `Bearer realm="Protected by OAuth 2.0", error="invalid_token", error_description="${description}"`,
    },
  );
/**
 * APIGuard's answer to `Gitlab::Auth::InsufficientScopeError` (api_guard.rb `oauth2_bearer_token_error_handler`):
 * rack-oauth2's `Bearer::Forbidden`, whose body names every scope the route registers and which sends no
 * `WWW-Authenticate` header.
 */
export const insufficientScope = (scopes: readonly string[]) =>
  new HttpError(403, {
    error: "insufficient_scope",
    error_description: "The request requires higher privileges than provided by the access token.",
    scope: scopes.join(" "),
  });
export const forbidden = (reason?: string) =>
  new HttpError(403, { message: reason ? `403 Forbidden - ${reason}` : "403 Forbidden" });
/** `notFound("Project")` → `404 Project Not Found`; `notFound()` → `404 Not found`, GitLab's casing. */
export const notFound = (what?: string) =>
  new HttpError(404, { message: what ? `404 ${what} Not Found` : "404 Not found" });
export const badRequest = (reason: string) => new HttpError(400, { message: `400 Bad request - ${reason}` });
/** A path no route matches: Grape's `{"error": …}`, not the `{"message": …}` of an unknown resource. */
export const routeNotFound = () => new HttpError(404, { error: "404 Not Found" });

/**
 * What GitLab answers when the request makes its code fail (`handle_api_exception`, `rescue_from :all` in
 * lib/api/api.rb). The double answers it where GitLab's does, rather than a refusal GitLab lacks.
 */
export const internalServerError = () => new HttpError(500, { message: "500 Internal Server Error" });

export const tooLarge = (headers: Record<string, string> = {}) =>
  new HttpError(413, { message: "413 Request Entity Too Large" }, headers);

/**
 * Seconds a client is asked to wait when the database is unavailable: about the time PostgreSQL takes to
 * restart or fail over, and the pool's connect timeout (5 s), so that a retry finds out afresh.
 */
export const RETRY_AFTER_SECONDS = 5;

/** GitLab's `service_unavailable!` body, with the `Retry-After` a client needs to back off. */
export const serviceUnavailable = () =>
  new HttpError(503, { message: "503 Service Unavailable" }, { "Retry-After": String(RETRY_AFTER_SECONDS) });

/** Grape's wording: `does not have a valid value` for a value out of range, `is invalid` for a wrong type. */
export const invalidParam = (name: string, problem = "does not have a valid value") =>
  new HttpError(400, { error: `${name} ${problem}` });

/** Every invalid parameter of a request in one answer, as Grape reports them (`grapeValidationMessage`). */
export const invalidParams = (req: Pick<Request, "openapi">, problems: readonly ParamProblem[]) =>
  new HttpError(400, { error: grapeValidationMessage(req, problems) });

interface ValidatorError {
  status: number;
  errors?: { path: string; message: string; errorCode?: string }[];
  headers?: Record<string, string>;
}

interface BodyParserError {
  status: number;
  type: string;
}

function hasStatus(error: unknown): error is { status: number } {
  return (
    typeof error === "object" && error !== null && typeof (error as { status?: unknown }).status === "number"
  );
}

/**
 * `/query/per_page` → `per_page`, `/body/job_variables_attributes/0/key` → `job_variables_attributes[0][key]`:
 * the names GitLab (Grape) puts in its parameter errors. Null when the error is not about one parameter.
 */
function paramName(path: string): string | null {
  const match = /^[./](query|params|path|headers|body)(?:[./](.*))?$/.exec(path);
  if (!match) return null;
  const [first = "body", ...rest] = (match[2] ?? "").split(/[./]|\[(\d+)\]/).filter(Boolean);
  // A repeated query parameter (scope) is reported per item; GitLab names the parameter itself.
  if (match[1] === "query") return first;
  return first + rest.map((part) => `[${part}]`).join("");
}

/** Grape's words for what the validator found wrong with parameter `name`. */
function problemOf(code: string): string {
  if (code.startsWith("required")) return "is missing";
  if (code.startsWith("type") || code.startsWith("anyOf")) return "is invalid";
  // Grape's `except_values` (`per_page=0`), which the spec writes as `not: {const: 0}`.
  if (code.startsWith("not")) return "has a value not allowed";
  return "does not have a valid value";
}

/**
 * Every parameter problem the validator found (it collects them all: `allErrors`), and those of the integer
 * texts it read as JavaScript does (`integerProblems`). An integer whose text Grape refuses is only `is
 * invalid`: Grape's coercion fails, and its later checks see the text, never the number the validator
 * judged (`per_page=0e0` is not `0` to `except_values`). With them, the runner routes' hand-checked ones
 * (`runnerParamProblems`). Null when no error names a parameter (a path
 * segment that is not valid percent-encoding).
 */
function validatorProblems(error: ValidatorError, req: Request): ParamProblem[] | null {
  const items = error.errors ?? [];
  // A failed `anyOf` (a Grape Boolean) comes with its branches' errors at the same place; Grape's coercion
  // of the value fails once: `is invalid`.
  const unions = items.filter((i) => (i.errorCode ?? "").startsWith("anyOf")).map((i) => i.path);
  const inUnion = (path: string) => unions.some((u) => path === u || path.startsWith(`${u}/`));
  const found = items.flatMap((item) => {
    const code = item.errorCode ?? "";
    const name = paramName(item.path);
    if (name === null || (!code.startsWith("anyOf") && inUnion(item.path))) return [];
    return [{ name, problem: problemOf(code) }];
  });
  if (found.length === 0) return null;
  const integers = integerProblems(req);
  const refused = new Set(integers.flatMap((p) => (p.problem === "is invalid" ? [p.name] : [])));
  // The runner routes' parameters the validator cannot judge (a `token` that may come in the query) fail with
  // the rest, as in Grape: a missing `token` beside a bad `job_age` is two problems, not one.
  return [...found.filter((p) => !refused.has(p.name)), ...integers, ...runnerParamProblems(req)];
}

/** Maps whatever went wrong to GitLab's status and body. */
function toHttpError(error: unknown, req: Request): HttpError | null {
  if (error instanceof HttpError) return error;
  if (error instanceof DatabaseUnavailableError) return serviceUnavailable();
  if (!hasStatus(error)) return null;
  const { status } = error;
  if ((error as Partial<BodyParserError>).type === "entity.parse.failed") {
    return new HttpError(400, { error: "body is invalid" });
  }
  const validator = error as ValidatorError;
  switch (status) {
    case 400: {
      const problems = validatorProblems(validator, req);
      return problems
        ? invalidParams(req, problems)
        : new HttpError(400, { error: "400 Bad Request - invalid URL encoding" });
    }
    case 404:
      return routeNotFound();
    case 405:
      return new HttpError(
        405,
        { error: "405 Not Allowed" },
        validator.headers?.Allow ? { Allow: validator.headers.Allow } : {},
      );
    case 406:
      return new HttpError(406, { error: "406 Not Acceptable" });
    case 413: // also body-parser's `entity.too.large`
      return tooLarge();
    case 415:
      return new HttpError(415, { error: "415 Unsupported Media Type" });
    default:
      return null;
  }
}

/** Whether the operation the request matched declares `status` (then its body is validated). */
function declares(req: Request, status: number): boolean {
  const responses = req.openapi?.schema.responses;
  if (responses === undefined) return false;
  const code = String(status);
  return code in responses || `${code[0]}XX` in responses || "default" in responses;
}

function sendJson(res: Response, status: number, body: unknown) {
  res.status(status).type("application/json").send(JSON.stringify(body));
}

function send(req: Request, res: Response, error: HttpError) {
  res.set(error.headers);
  if (declares(req, error.status)) {
    res.status(error.status).json(error.body);
  } else {
    // A status the operation does not declare (405, 413 and 415 on most, anything outside an operation)
    // skips the response validator: it would refuse it by handing the error on to Express's HTML page.
    sendJson(res, error.status, error.body);
  }
}

/** Routes nothing matched (outside the spec's base path, or `/api/v4/...` unknown to the spec). */
export const unmatchedRoute: RequestHandler = () => {
  throw routeNotFound();
};

/** The one error handler: GitLab's JSON shapes, never HTML, never a stack; 500s are logged. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const known = toHttpError(error, req);
    // Not the request's fault, but the operator's business: one line each, without a stack.
    if (error instanceof DatabaseUnavailableError)
      (req.log ?? logger).warn({ reason: error.message }, "answered 503");
    if (known) {
      send(req, res, known);
      return;
    }
    (req.log ?? logger).error({ err: error }, "request failed");
    sendJson(res, 500, internalServerError().body);
  };
}
