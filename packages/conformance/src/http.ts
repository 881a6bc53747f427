/**
 * The conformance suite's own HTTP layer: a thin wrapper over `fetch` that keeps everything a check needs to
 * judge a server (exact status, headers, content type and body text) and never interprets or retries
 * anything, unlike a client library would.
 */
import { type Answer, answerOf } from "@jobs-api/types/validate";

/** How a request authenticates; each kind is one of GitLab's token spellings. */
export type Auth =
  | { kind: "none" }
  | {
      kind:
        | "privateTokenHeader"
        | "privateTokenQuery"
        | "bearer"
        | "accessTokenQuery"
        | "bearerTokenQuery"
        | "jobTokenHeader"
        | "jobTokenQuery";
      token: string;
    };

/** Query parameters as ordered pairs, so that spellings such as `scope[]=a&scope[]=b` are sent exactly. */
export type Query = ReadonlyArray<readonly [string, string]>;

/** An answer (status, headers, media type, body) with the request it answers. */
export interface Exchange extends Answer {
  method: string;
  /** The URL as sent, tokens included: for following up, never for printing. */
  url: string;
  /** The URL with every token replaced, safe to print and store in reports. */
  shownUrl: string;
  durationMs: number;
  /** What was sent besides method and URL, tokens included: for `curl` commands, never printed as is. */
  request: { headers: Array<[string, string]>; body: string | undefined };
}

/** What a request may carry besides its token and JSON body. */
/**
 * GitLab's answer to a token whose scopes do not allow the request (api_guard.rb, `InsufficientScopeError`):
 * 403 `{"error":"insufficient_scope",…}`. A `read_api` token gets it on every POST, a token with neither
 * `api` nor `read_api` on every route.
 */
export function insufficientScope(exchange: Exchange): boolean {
  const json = exchange.json;
  return (
    exchange.status === 403 &&
    typeof json === "object" &&
    json !== null &&
    (json as { error?: unknown }).error === "insufficient_scope"
  );
}

export interface SendExtra {
  /** Further request headers (`Origin`, `Access-Control-Request-Method`, …). */
  headers?: Record<string, string>;
  /** A body sent exactly as given, with its own Content-Type (replaces the JSON body). */
  rawBody?: { contentType: string; text: string };
}

/** Nothing answered at the HTTP level: refused connection, DNS failure, TLS error, timeout. */
export class NetworkError extends Error {
  override name = "NetworkError";
}

const tokenQueryNames = ["private_token", "access_token", "bearer_token", "job_token"];

/** A token and the environment variable a person would hold it in, which printed commands name instead. */
export interface Secret {
  value: string;
  env: string;
}

export interface HttpOptions {
  baseUrl: string;
  fetch?: typeof fetch;
  /** Tokens to hide in printed URLs and commands, besides the values of the token query parameters. */
  secrets: Secret[];
  timeoutMs?: number;
  /** Headers sent with every request (`--header`), e.g. for a proxy in front of the server. */
  headers?: ReadonlyArray<readonly [string, string]>;
}

export class Http {
  readonly baseUrl: string;
  readonly #fetch: typeof fetch;
  readonly secrets: readonly Secret[];
  readonly #timeoutMs: number;
  readonly #headers: ReadonlyArray<readonly [string, string]>;

  constructor(options: HttpOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.secrets = options.secrets.filter((s) => s.value.length > 0);
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#headers = options.headers ?? [];
  }

  /** Builds an absolute URL from a path below the base URL (already encoded) and query pairs. */
  url(path: string, query: Query = []): string {
    // Keys are written as given (brackets stay literal, as `curl --globoff` sends them); values are encoded.
    const search = query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
    return `${this.baseUrl}${path}${search ? `?${search}` : ""}`;
  }

  redact(url: string): string {
    let shown = url;
    for (const { value: secret } of this.secrets) {
      shown = shown.replaceAll(secret, "[REDACTED]").replaceAll(encodeURIComponent(secret), "[REDACTED]");
    }
    for (const name of tokenQueryNames) {
      shown = shown.replace(new RegExp(`([?&]${name}=)[^&#]*`, "g"), "$1[REDACTED]");
    }
    return shown;
  }

  async send(
    method: string,
    url: string,
    auth: Auth,
    body?: unknown,
    extra: SendExtra = {},
  ): Promise<Exchange> {
    const target = withQueryAuth(url, auth);
    const headers = new Headers({ accept: "application/json, text/plain, */*" });
    // The user's headers first: the token and content type a check sends are what the check is about.
    for (const [name, value] of this.#headers) headers.set(name, value);
    if (auth.kind === "privateTokenHeader") headers.set("private-token", auth.token);
    if (auth.kind === "bearer") headers.set("authorization", `Bearer ${auth.token}`);
    if (auth.kind === "jobTokenHeader") headers.set("job-token", auth.token);
    if (body !== undefined) headers.set("content-type", "application/json");
    if (extra.rawBody) headers.set("content-type", extra.rawBody.contentType);
    for (const [name, value] of Object.entries(extra.headers ?? {})) headers.set(name, value);
    const started = performance.now();
    const sentBody = extra.rawBody
      ? extra.rawBody.text
      : body === undefined
        ? undefined
        : JSON.stringify(body);
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(target, {
        method,
        headers,
        body: sentBody ?? null,
        redirect: "manual",
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw new NetworkError(`${method} ${this.redact(target)}: ${describeNetworkError(error)}`, {
        cause: error,
      });
    }
    return {
      ...answerOf(response.status, response.headers, text),
      method,
      url: target,
      shownUrl: this.redact(target),
      durationMs: performance.now() - started,
      request: { headers: [...headers], body: sentBody },
    };
  }
}

/** The query parameter each query spelling of a token goes in (Doorkeeper reads `bearer_token` too). */
const QUERY_AUTH: Partial<Record<Auth["kind"], string>> = {
  privateTokenQuery: "private_token",
  accessTokenQuery: "access_token",
  bearerTokenQuery: "bearer_token",
  jobTokenQuery: "job_token",
};

function withQueryAuth(url: string, auth: Auth): string {
  const name = QUERY_AUTH[auth.kind];
  if (!name || auth.kind === "none") return url;
  return `${url}${url.includes("?") ? "&" : "?"}${name}=${encodeURIComponent(auth.token)}`;
}

/** Turns undici's generic "fetch failed" into the reason a person can act on. */
function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === "TimeoutError") return "no answer before the timeout";
  const cause = error.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === "ECONNREFUSED") return "connection refused (nothing is listening at this address)";
    if (code === "ENOTFOUND") return "host not found";
    return code ? `${code}: ${cause.message}` : cause.message;
  }
  return error.message;
}
