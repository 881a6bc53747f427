import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createJobsClient,
  JobsApiError,
  JobsApiNetworkError,
  type JobsClientOptions,
  type RetryEvent,
} from "../src/index.js";
import { fakeFetch, json, type Sent } from "./fake-fetch.js";

const baseUrl = "https://gitlab.example.com/api/v4";
const job = { id: 2, status: "failed" };
const NOW = Date.parse("2026-12-01T10:00:00.000Z");

beforeEach(() => {
  vi.useFakeTimers({ now: NOW });
});

afterEach(() => {
  vi.useRealTimers();
});

/** A fetch answering with each of `answers` in turn (the last one repeats), recording what was sent. */
function sequence(...answers: (() => Response | Promise<Response>)[]) {
  let calls = 0;
  return fakeFetch(() => {
    const answer = answers[Math.min(calls++, answers.length - 1)];
    if (answer === undefined) throw new Error("no answer given");
    return answer();
  });
}

/** GitLab's Rack::Attack refusal: text body, `Retry-After` and the `RateLimit-*` headers. */
const throttled = (seconds: number) => () => {
  const now = Date.now();
  return new Response("Retry later\n", {
    status: 429,
    headers: {
      "Content-Type": "text/plain",
      "Retry-After": String(seconds),
      "RateLimit-Name": "throttle_authenticated_api",
      "RateLimit-Limit": "60",
      "RateLimit-Observed": "61",
      "RateLimit-Remaining": "0",
      "RateLimit-Reset": String(Math.floor(now / 1000) + seconds),
      "RateLimit-ResetTime": new Date(now + seconds * 1000).toUTCString(),
    },
  });
};

/** What a failed fetch rejects with in Node: a TypeError whose cause is the system error. */
const networkError = (code: string) => () =>
  Promise.reject(
    new TypeError("fetch failed", {
      cause: Object.assign(new Error(`connect ${code} 10.0.0.1:443`), {
        code,
        address: "10.0.0.1",
        port: 443,
      }),
    }),
  );

const ok = () => json(job);

function client(fetch: (request: Request) => Promise<Response>, retry: JobsClientOptions["retry"] = {}) {
  const events: RetryEvent[] = [];
  const gitlab = createJobsClient({
    baseUrl,
    fetch,
    retry: retry && {
      random: () => 0.5,
      onRetry: (event) => {
        events.push(event);
      },
      ...retry,
    },
  });
  return { gitlab, events };
}

/** Settles `promise` while the fake clock runs; hands back its value or what it rejected with. */
async function settle<T>(promise: Promise<T>, ms = 10 * 60_000): Promise<T | unknown> {
  const outcome = promise.then(
    (value) => value,
    (error: unknown) => error,
  );
  await vi.advanceTimersByTimeAsync(ms);
  return outcome;
}

describe("rate limits", () => {
  it("waits out a 429 for its Retry-After seconds, then repeats the read", async () => {
    const { fetch, sent } = sequence(throttled(30), ok);
    const { gitlab, events } = client(fetch);
    const pending = gitlab.getJob({ id: 1, job_id: 2 });
    await vi.advanceTimersByTimeAsync(29_999);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await pending).toEqual(job);
    expect(sent).toHaveLength(2);
    expect(events).toEqual([
      expect.objectContaining({
        retry: 1,
        delayMs: 30_000,
        reason: "rate limit",
        error: expect.any(JobsApiError),
      }),
    ]);
  });

  it("reads Retry-After as an HTTP date", async () => {
    const until = new Date(NOW + 12_000).toUTCString();
    const { fetch, sent } = sequence(
      () => new Response(null, { status: 429, headers: { "Retry-After": until } }),
      ok,
    );
    const pending = client(fetch).gitlab.getJob({ id: 1, job_id: 2 });
    await vi.advanceTimersByTimeAsync(11_999);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await pending).toEqual(job);
  });

  it.each([
    { header: "RateLimit-Reset", value: String(NOW / 1000 + 20), form: "Unix time (GitLab)" },
    { header: "RateLimit-Reset", value: "20", form: "delta-seconds (IETF drafts)" },
    {
      header: "RateLimit-ResetTime",
      value: new Date(NOW + 20_000).toUTCString(),
      form: "HTTP date (GitLab)",
    },
  ])("without Retry-After, waits for $header as $form", async ({ header, value }) => {
    const { fetch, sent } = sequence(
      () => json({ message: "429 Too Many Requests" }, { status: 429, headers: { [header]: value } }),
      ok,
    );
    const pending = client(fetch).gitlab.getJob({ id: 1, job_id: 2 });
    await vi.advanceTimersByTimeAsync(19_999);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await pending).toEqual(job);
  });

  it("holds the next request after RateLimit-Remaining: 0 until RateLimit-Reset, so no 429 is needed", async () => {
    const last = () =>
      json(job, { headers: { "RateLimit-Remaining": "0", "RateLimit-Reset": String(NOW / 1000 + 15) } });
    const { fetch, sent } = sequence(last, ok);
    const { gitlab } = client(fetch);
    await gitlab.getJob({ id: 1, job_id: 2 });
    const pending = gitlab.cancelJob({ id: 1, job_id: 2 });
    await vi.advanceTimersByTimeAsync(14_999);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await pending).toEqual(job);
    expect(sent.map((s) => s.method)).toEqual(["GET", "POST"]);
  });

  it("paginates across a 429: the walk waits instead of throwing", async () => {
    let throttledOnce = false;
    const { fetch, sent } = fakeFetch((s: Sent) => {
      const page = Number(new URL(s.url).searchParams.get("page") ?? 1);
      if (page === 2 && !throttledOnce) {
        throttledOnce = true;
        return throttled(45)();
      }
      const next = page < 3 ? `<${baseUrl}/projects/1/jobs?per_page=1&page=${page + 1}>; rel="next"` : "";
      return json([{ id: 10 - page, status: "failed" }], { headers: next ? { Link: next } : {} });
    });
    const ids: number[] = [];
    const walk = (async () => {
      for await (const j of client(fetch).gitlab.paginate("listProjectJobs", { id: 1, per_page: 1 }))
        ids.push(j.id);
    })();
    await settle(walk);
    await walk;
    expect(ids).toEqual([9, 8, 7]);
    expect(sent.map((s) => new URL(s.url).searchParams.get("page"))).toEqual([null, "2", "2", "3"]);
  });

  it("says when to retry after giving up: maxRetries exhausted", async () => {
    const { fetch, sent } = sequence(throttled(10));
    const error = await settle(client(fetch, { maxRetries: 3 }).gitlab.getJob({ id: 1, job_id: 2 }));
    expect(sent).toHaveLength(4);
    expect(error).toBeInstanceOf(JobsApiError);
    // The last refusal came 30 s after the start; it asks for 10 s more.
    const at = new Date(NOW + 40_000);
    expect(error).toMatchObject({ status: 429, apiMessage: "Retry later", retryAt: at });
    expect((error as Error).message).toBe(
      `getJob (GET ${baseUrl}/projects/1/jobs/2): 429 Retry later; retry after 10 s (${at.toISOString()}); tried 4 times`,
    );
  });

  it("waits as long as a default GitLab asks (up to an hour), not longer than maxRetryAfterMs", async () => {
    const hourly = sequence(throttled(3600), ok);
    const pending = client(hourly.fetch).gitlab.getJob({ id: 1, job_id: 2 });
    await vi.advanceTimersByTimeAsync(3_599_999);
    expect(hourly.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await pending).toEqual(job);

    // The clock is an hour on now.
    const later = Date.now();
    const { fetch, sent } = sequence(throttled(3601), ok);
    const error = await settle(client(fetch).gitlab.getJob({ id: 1, job_id: 2 }), 0);
    expect(sent).toHaveLength(1);
    expect(error).toMatchObject({ status: 429, retryAt: new Date(later + 3_601_000) });
    expect((error as Error).message).toMatch(
      `: 429 Retry later; retry after 3601 s (${new Date(later + 3_601_000).toISOString()})`,
    );
    const short = sequence(throttled(11), ok);
    const refused = await settle(
      client(short.fetch, { maxRetryAfterMs: 10_000 }).gitlab.getJob({ id: 1, job_id: 2 }),
      0,
    );
    expect(refused).toMatchObject({ status: 429, retryAt: new Date(later + 11_000) });
    expect(short.sent).toHaveLength(1);
  });

  it("with retry: false or obeyRateLimit: false, a 429 fails at once", async () => {
    for (const retry of [false, { obeyRateLimit: false }] as const) {
      const { fetch, sent } = sequence(throttled(5), ok);
      const error = await settle(client(fetch, retry).gitlab.getJob({ id: 1, job_id: 2 }), 0);
      expect(sent).toHaveLength(1);
      expect(error).toMatchObject({ status: 429, retryAt: new Date(NOW + 5000) });
      expect((error as Error).message).toMatch(
        /: 429 Retry later; retry after 5 s \(2026-12-01T10:00:05\.000Z\)$/,
      );

      // Nor is the request after a RateLimit-Remaining: 0 held.
      const last = () =>
        json(job, { headers: { "RateLimit-Remaining": "0", "RateLimit-Reset": String(NOW / 1000 + 15) } });
      const unheld = sequence(last, ok);
      const { gitlab } = client(unheld.fetch, retry);
      await gitlab.getJob({ id: 1, job_id: 2 });
      await gitlab.getJob({ id: 1, job_id: 2 });
      expect(unheld.sent).toHaveLength(2);
    }
  });
});

describe("transient errors", () => {
  it("repeats a read after 503, waiting a jittered backoff", async () => {
    const { fetch, sent } = sequence(
      () => json({ message: "503 Service Unavailable" }, { status: 503 }),
      () => new Response("<html>Bad Gateway</html>", { status: 502 }),
      ok,
    );
    const { gitlab, events } = client(fetch, { baseDelayMs: 1000 });
    const pending = gitlab.getJob({ id: 1, job_id: 2 });
    // random() = 0.5: half of 1000 ms, then half of 2000 ms.
    await vi.advanceTimersByTimeAsync(499);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await pending).toEqual(job);
    expect(events.map((e) => [e.retry, e.delayMs, e.reason, (e.error as JobsApiError).status])).toEqual([
      [1, 500, "transient error", 503],
      [2, 1000, "transient error", 502],
    ]);
  });

  it("obeys Retry-After on a 503", async () => {
    const { fetch, sent } = sequence(
      () => new Response(null, { status: 503, headers: { "Retry-After": "7" } }),
      ok,
    );
    const pending = client(fetch).gitlab.getJob({ id: 1, job_id: 2 });
    await vi.advanceTimersByTimeAsync(6999);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await pending).toEqual(job);
  });

  it("repeats a read after a network error", async () => {
    const { fetch, sent } = sequence(networkError("ECONNRESET"), ok);
    const { gitlab, events } = client(fetch);
    expect(await settle(gitlab.getJob({ id: 1, job_id: 2 }))).toEqual(job);
    expect(sent).toHaveLength(2);
    expect(events).toEqual([
      expect.objectContaining({ retry: 1, delayMs: 250, error: expect.any(JobsApiNetworkError) }),
    ]);
  });

  it("does not repeat a 500 (a GitLab bug, not a passing state) nor a 4xx", async () => {
    for (const status of [500, 404, 403]) {
      const { fetch, sent } = sequence(() => json({ message: `${status}` }, { status }), ok);
      const error = await settle(client(fetch).gitlab.getJob({ id: 1, job_id: 2 }), 0);
      expect(error).toMatchObject({ status });
      expect(sent).toHaveLength(1);
    }
  });

  it("fails with the last error once maxRetries is exhausted", async () => {
    const { fetch, sent } = sequence(networkError("ECONNRESET"));
    const error = await settle(client(fetch, { maxRetries: 2 }).gitlab.getJob({ id: 1, job_id: 2 }));
    expect(sent).toHaveLength(3);
    expect(error).toBeInstanceOf(JobsApiNetworkError);
    expect((error as Error).message).toMatch(/: network error: ECONNRESET 10\.0\.0\.1:443; tried 3 times$/);
  });

  it("keeps the backoff's jitter between 0 and min(maxDelayMs, baseDelayMs × 2^n)", async () => {
    for (const value of [0, 0.999_999]) {
      const { fetch } = sequence(() => new Response(null, { status: 503 }));
      const { gitlab, events } = client(fetch, {
        maxRetries: 8,
        baseDelayMs: 100,
        maxDelayMs: 1000,
        random: () => value,
      });
      await settle(gitlab.getJob({ id: 1, job_id: 2 }));
      const caps = [100, 200, 400, 800, 1000, 1000, 1000, 1000];
      expect(events.map((e) => e.delayMs)).toEqual(caps.map((cap) => value * cap));
      for (const [i, e] of events.entries()) {
        expect(e.delayMs).toBeGreaterThanOrEqual(0);
        expect(e.delayMs).toBeLessThan(caps[i] ?? 0);
      }
    }
  });
});

describe("actions (POST)", () => {
  it("are never repeated by default: a 503, a 429 or a lost connection may hide a job already retried", async () => {
    for (const answer of [
      () => new Response(null, { status: 503 }),
      throttled(1),
      networkError("ECONNRESET"),
      networkError("ECONNREFUSED"),
    ]) {
      const { fetch, sent } = sequence(answer, ok);
      const error = await settle(client(fetch).gitlab.retryJob({ id: 1, job_id: 2 }));
      expect(error).toBeInstanceOf(Error);
      expect(sent).toHaveLength(1);
    }
  });

  it("with retryActions, are repeated only after a connection that was refused, never after a reset", async () => {
    const refused = sequence(networkError("ECONNREFUSED"), ok);
    const { gitlab } = client(refused.fetch, { retryActions: true });
    expect(await settle(gitlab.playJob({ id: 1, job_id: 2 }))).toEqual(job);
    expect(refused.sent.map((s) => s.method)).toEqual(["POST", "POST"]);

    for (const answer of [networkError("ECONNRESET"), () => new Response(null, { status: 502 })]) {
      const { fetch, sent } = sequence(answer, ok);
      const error = await settle(client(fetch, { retryActions: true }).gitlab.eraseJob({ id: 1, job_id: 2 }));
      expect(error).toBeInstanceOf(Error);
      expect(sent).toHaveLength(1);
    }
  });
});

describe("aborting and hooks", () => {
  it("an abort during the wait ends the call with the signal's reason, and nothing more is sent", async () => {
    const { fetch, sent } = sequence(throttled(30), ok);
    const controller = new AbortController();
    const pending = client(fetch).gitlab.getJob({ id: 1, job_id: 2 }, { signal: controller.signal });
    const outcome = pending.catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(10_000);
    const reason = new DOMException("user gave up", "AbortError");
    controller.abort(reason);
    expect(await outcome).toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent).toHaveLength(1);
  });

  it("an onRetry that throws ends the call with what it threw", async () => {
    const { fetch, sent } = sequence(() => new Response(null, { status: 503 }), ok);
    const stop = new Error("no retries in this script");
    const { gitlab } = client(fetch, {
      onRetry: () => {
        throw stop;
      },
    });
    expect(await settle(gitlab.getJob({ id: 1, job_id: 2 }))).toBe(stop);
    expect(sent).toHaveLength(1);
  });

  it("rejects nonsensical settings when the client is created", () => {
    for (const retry of [
      { maxRetries: -1 },
      { baseDelayMs: Number.NaN },
      { maxDelayMs: 1.5 },
      { maxRetryAfterMs: Number.POSITIVE_INFINITY },
    ]) {
      expect(() => createJobsClient({ baseUrl, retry })).toThrow(RangeError);
    }
  });
});
