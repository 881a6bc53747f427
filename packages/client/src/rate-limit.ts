/**
 * When the server allows the next request, from the headers of its answer, as epoch milliseconds. Parsing
 * only: what to do with it is `retry.ts`'s business.
 *
 * GitLab (`Gitlab::RackAttack::RequestThrottleData`) sends on every answer of a throttled client
 * `RateLimit-Name`, `RateLimit-Limit`, `RateLimit-Observed`, `RateLimit-Remaining` and `RateLimit-Reset`
 * (Unix time, in seconds), and on its 429 also `Retry-After` (seconds) and `RateLimit-ResetTime` (HTTP date).
 * Its application rate limiter (`too_many_requests!` of the API helpers) sends `Retry-After` only.
 */

/** `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date. */
export function retryAfter(headers: Headers, now: number): number | undefined {
  const value = headers.get("Retry-After")?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return now + Number(value) * 1000;
  return httpDate(value);
}

/**
 * The end of the current rate-limit window: GitLab's `RateLimit-ResetTime` (HTTP date), else `RateLimit-Reset`.
 * GitLab's `RateLimit-Reset` is Unix time; the IETF drafts that other servers follow make it delta-seconds. No
 * window lasts 30 years, so a number that large is Unix time.
 */
export function rateLimitReset(headers: Headers, now: number): number | undefined {
  const resetTime = headers.get("RateLimit-ResetTime")?.trim();
  if (resetTime) return httpDate(resetTime);
  const reset = headers.get("RateLimit-Reset")?.trim();
  if (!reset || !/^\d+$/.test(reset)) return undefined;
  const seconds = Number(reset);
  return seconds >= UNIX_TIME_FROM ? seconds * 1000 : now + seconds * 1000;
}

/** `RateLimit-Remaining: 0`: the request just answered was the window's last; the next one would be refused. */
export function rateLimitExhausted(headers: Headers): boolean {
  return headers.get("RateLimit-Remaining")?.trim() === "0";
}

/** 30 years in seconds: a `RateLimit-Reset` from this value on is a point in time, not a delay. */
const UNIX_TIME_FROM = 30 * 365 * 24 * 3600;

function httpDate(value: string): number | undefined {
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : time;
}
