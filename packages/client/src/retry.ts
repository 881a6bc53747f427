import { JobsApiError, JobsApiNetworkError, type JobsClientError, networkErrorCode } from "./errors.js";

/** How the client repeats a call that failed for a reason that may pass. See the README's "Retries". */
export interface RetryOptions {
  /**
   * How many times one call may be repeated, rate-limit waits and transient errors counted together:
   * 10 by default, as python-gitlab's `max_retries`. 0 never repeats a call.
   */
  maxRetries?: number;
  /**
   * On `429 Too Many Requests`, wait as long as the server says (`Retry-After`, GitLab's `RateLimit-Reset`)
   * and repeat a read; after `RateLimit-Remaining: 0`, hold the next request until `RateLimit-Reset`.
   * True by default, as python-gitlab's `obey_rate_limit`.
   */
  obeyRateLimit?: boolean;
  /** Repeat a read (GET) after `502`, `503`, `504` or a network error. True by default. */
  retryTransientErrors?: boolean;
  /**
   * Also repeat an action (POST: cancel, retry, erase, play), but only after a network error that proves the
   * request never reached the server: connection refused (`ECONNREFUSED`), a temporary DNS failure
   * (`EAI_AGAIN`) or a connect timeout (`UND_ERR_CONNECT_TIMEOUT`). False by default: an action whose answer
   * was lost (a reset, a 502 from a proxy, a 429) may have been carried out, and repeating it could, say,
   * start a second retry of a job.
   */
  retryActions?: boolean;
  /** The backoff's first step: a repeat waits a random time below `baseDelayMs × 2^n`. 500 by default. */
  baseDelayMs?: number;
  /** The backoff's cap: no repeat waits longer than this unless the server says so. 60,000 by default. */
  maxDelayMs?: number;
  /**
   * The longest wait the server may ask for (`Retry-After`, `RateLimit-Reset`); one asking for more is not
   * waited for: the call fails at once with an error saying when to retry (`JobsApiError.retryAt`). One hour
   * by default: GitLab's default throttle period, so the longest wait a default GitLab asks for.
   */
  maxRetryAfterMs?: number;
  /** Called before each wait: for logging, or to give up by throwing (the call then rejects with that). */
  onRetry?: (event: RetryEvent) => void;
  /** The jitter's random source, returning [0, 1): `Math.random` by default; replaceable for tests. */
  random?: () => number;
}

/** What `onRetry` is told: why the call is repeated and after how long. */
export interface RetryEvent {
  /** The failure that is retried; its `operationId`, `method` and `url` name the call. */
  error: JobsClientError;
  /** 1 for the first repeat of the call, 2 for the second, … */
  retry: number;
  /** How long the client waits before repeating the call. */
  delayMs: number;
  reason: "rate limit" | "transient error";
}

export type RetryPolicy = Required<Omit<RetryOptions, "onRetry">> & Pick<RetryOptions, "onRetry">;

export const defaultRetryOptions = {
  maxRetries: 10,
  obeyRateLimit: true,
  retryTransientErrors: true,
  retryActions: false,
  baseDelayMs: 500,
  maxDelayMs: 60_000,
  maxRetryAfterMs: 3_600_000,
} as const satisfies RetryOptions;

export function retryPolicy(options: RetryOptions | false | undefined): RetryPolicy {
  const policy = {
    ...defaultRetryOptions,
    random: Math.random,
    ...(options === false ? { maxRetries: 0, obeyRateLimit: false } : options),
  };
  for (const name of ["maxRetries", "baseDelayMs", "maxDelayMs", "maxRetryAfterMs"] as const) {
    const value = policy[name];
    if (!(Number.isInteger(value) && value >= 0)) {
      throw new RangeError(`createJobsClient: retry.${name} must be a whole number ≥ 0, got ${value}`);
    }
  }
  return policy;
}

/** Statuses of a gateway or server that is restarting or overloaded: the same read may well succeed later. */
const TRANSIENT_STATUSES = new Set([502, 503, 504]);

/** Codes of failures before a single byte of the request was sent: repeating even an action is safe. */
const NOT_SENT_CODES = new Set(["ECONNREFUSED", "EAI_AGAIN", "UND_ERR_CONNECT_TIMEOUT"]);

/** Failures that a repeat will not cure: an unknown host, a certificate that does not verify. */
function isPermanent(code: string | undefined): boolean {
  return code !== undefined && (code === "ENOTFOUND" || /CERT|SELF_SIGNED|TLS/.test(code));
}

/**
 * Whether `error`, the failure of a call already repeated `retries` times, is worth repeating, and after how
 * long (ms); `undefined` when the call should fail with it. Only reads are repeated after an answer: GitLab
 * may have carried out an action before a proxy's 502, and a 429 of an action is the caller's to schedule.
 */
export function retryDelay(
  policy: RetryPolicy,
  error: unknown,
  retries: number,
  now: number,
): Omit<RetryEvent, "retry"> | undefined {
  if (retries >= policy.maxRetries) return undefined;
  const backoff = policy.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retries);
  if (error instanceof JobsApiError) {
    if (error.method !== "GET") return undefined;
    const reason =
      error.status === 429 && policy.obeyRateLimit
        ? "rate limit"
        : TRANSIENT_STATUSES.has(error.status) && policy.retryTransientErrors
          ? "transient error"
          : undefined;
    if (reason === undefined) return undefined;
    // The server's word beats the backoff; one asking for more than maxRetryAfterMs is not waited for.
    if (error.retryAt === null) return { error, delayMs: backoff, reason };
    const delayMs = Math.max(0, error.retryAt.getTime() - now);
    return delayMs <= policy.maxRetryAfterMs ? { error, delayMs, reason } : undefined;
  }
  if (error instanceof JobsApiNetworkError) {
    const code = networkErrorCode(error.cause);
    const retried =
      error.method === "GET"
        ? policy.retryTransientErrors && !isPermanent(code)
        : policy.retryActions && code !== undefined && NOT_SENT_CODES.has(code);
    return retried ? { error, delayMs: backoff, reason: "transient error" } : undefined;
  }
  return undefined;
}

/** Waits `ms` on a timer (so fake timers control it); an abort of `signal` ends the wait with its reason. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
