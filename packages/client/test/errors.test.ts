import { createServer } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  createJobsClient,
  JobsApiError,
  JobsApiNetworkError,
  JobsApiTimeoutError,
  JobsClientError,
} from "../src/index.js";
import { fakeFetch, json } from "./fake-fetch.js";

const baseUrl = "https://gitlab.example.com/api/v4";

/** Runs `promise` and hands back what it rejected with, failing the test if it resolved. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => expect.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (error: unknown) => error,
  );
}

describe("API errors", () => {
  it.each([
    {
      status: 401,
      body: { message: "401 Unauthorized" },
      apiMessage: "401 Unauthorized",
      text: "401 Unauthorized",
    },
    {
      status: 403,
      body: { message: "403 Forbidden - Job is not retryable" },
      apiMessage: "403 Forbidden - Job is not retryable",
      text: "403 Forbidden - Job is not retryable",
    },
    {
      status: 404,
      body: { message: "404 Project Not Found" },
      apiMessage: "404 Project Not Found",
      text: "404 Project Not Found",
    },
    { status: 404, body: { error: "404 Not Found" }, apiMessage: "404 Not Found", text: "404 Not Found" },
    {
      status: 400,
      body: { error: "scope does not have a valid value" },
      apiMessage: "scope does not have a valid value",
      text: "400 scope does not have a valid value",
    },
    {
      status: 400,
      body: { message: { base: ["is invalid"] } },
      apiMessage: '{"base":["is invalid"]}',
      text: '400 {"base":["is invalid"]}',
    },
  ])("maps $status $body to JobsApiError", async ({ status, body, apiMessage, text }) => {
    const client = createJobsClient({
      baseUrl,
      token: "t",
      fetch: fakeFetch(() => json(body, { status })).fetch,
    });
    const error = await rejection(client.retryJob({ id: "g/p", job_id: 7 }));
    expect(error).toBeInstanceOf(JobsApiError);
    expect(error).toBeInstanceOf(JobsClientError);
    expect(error).toMatchObject({
      name: "JobsApiError",
      status,
      apiMessage,
      body,
      retryAt: null,
      operationId: "retryJob",
      method: "POST",
      url: `${baseUrl}/projects/g%2Fp/jobs/7/retry`,
    });
    // GitLab's messages carry the status already: `401 Unauthorized`, not `401 401 Unauthorized`.
    expect((error as Error).message).toBe(`retryJob (POST ${baseUrl}/projects/g%2Fp/jobs/7/retry): ${text}`);
  });

  it("keeps a non-JSON error body (a proxy's page) as text", async () => {
    const fetch = fakeFetch(
      () => new Response("<html>Bad Gateway</html>", { status: 502, statusText: "Bad Gateway" }),
    );
    const error = await rejection(
      createJobsClient({ baseUrl, fetch: fetch.fetch, retry: false }).getJob({ id: 1, job_id: 2 }),
    );
    expect(error).toMatchObject({
      status: 502,
      apiMessage: "<html>Bad Gateway</html>",
      operationId: "getJob",
    });
    expect((error as JobsApiError).headers).toBeInstanceOf(Headers);
  });

  it("falls back to the status text for an empty error body", async () => {
    const fetch = fakeFetch(() => new Response(null, { status: 503, statusText: "Service Unavailable" }));
    const error = await rejection(
      createJobsClient({ baseUrl, fetch: fetch.fetch, retry: false }).getJob({ id: 1, job_id: 2 }),
    );
    expect(error).toMatchObject({ status: 503, apiMessage: "" });
    expect((error as Error).message).toMatch(/503 Service Unavailable$/);
  });

  it("never resolves to undefined: an empty or unparsable success body is an error", async () => {
    const empty = createJobsClient({
      baseUrl,
      fetch: fakeFetch(() => new Response(null, { status: 201 })).fetch,
    });
    await expect(empty.cancelJob({ id: 1, job_id: 2 })).rejects.toMatchObject({
      status: 201,
      apiMessage: "empty response body",
    });
    const garbled = createJobsClient({ baseUrl, fetch: fakeFetch(() => new Response("{not json")).fetch });
    const error = await rejection(garbled.getJob({ id: 1, job_id: 2 }));
    expect(error).toBeInstanceOf(JobsApiError);
    expect(error).toMatchObject({
      status: 200,
      apiMessage: expect.stringMatching(/^unreadable response body/),
    });
  });
});

describe("network failures and timeouts", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("wraps a failed fetch in JobsApiNetworkError with its cause, named by code and address", async () => {
    // What Node's fetch rejects with for a refused connection.
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), {
      code: "ECONNREFUSED",
      address: "127.0.0.1",
      port: 9,
    });
    const cause = new TypeError("fetch failed", { cause: refused });
    const client = createJobsClient({ baseUrl, fetch: () => Promise.reject(cause), retry: false });
    const error = await rejection(client.listProjectJobs({ id: 1, scope: ["failed"] }));
    expect(error).toBeInstanceOf(JobsApiNetworkError);
    expect(error).not.toBeInstanceOf(JobsApiError);
    expect(error).toMatchObject({
      operationId: "listProjectJobs",
      method: "GET",
      url: `${baseUrl}/projects/1/jobs?scope[]=failed`,
      code: "ECONNREFUSED",
      cause,
    });
    expect((error as Error).message).toBe(
      `listProjectJobs (GET ${baseUrl}/projects/1/jobs?scope[]=failed): network error: ECONNREFUSED 127.0.0.1:9`,
    );
  });

  it("names the code of a real refused connection and of an unknown host", async () => {
    const port = await closedPort();
    const client = createJobsClient({ baseUrl: `http://127.0.0.1:${port}/api/v4`, retry: false });
    const error = await rejection(client.getJob({ id: 1, job_id: 2 }));
    expect(error).toMatchObject({ code: "ECONNREFUSED" });
    expect((error as Error).message).toMatch(
      new RegExp(`: network error: ECONNREFUSED 127\\.0\\.0\\.1:${port}$`),
    );

    const unknownHost = Object.assign(new Error("getaddrinfo ENOTFOUND gitlab.invalid"), {
      code: "ENOTFOUND",
    });
    const dns = createJobsClient({
      baseUrl,
      fetch: () => Promise.reject(new TypeError("fetch failed", { cause: unknownHost })),
    });
    // An unknown host is not retried, even by default: the message names it at once.
    expect(await rejection(dns.getJob({ id: 1, job_id: 2 }))).toMatchObject({
      code: "ENOTFOUND",
      message: expect.stringMatching(/network error: getaddrinfo ENOTFOUND gitlab\.invalid$/),
    });
  });

  it("reports a connection lost while the body downloads as a network error", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('[{"id":'));
        controller.error(new TypeError("terminated"));
      },
    });
    const client = createJobsClient({ baseUrl, fetch: async () => new Response(body), retry: false });
    const error = await rejection(client.listProjectJobs({ id: 1 }));
    expect(error).toBeInstanceOf(JobsApiNetworkError);
    expect(error).toMatchObject({ code: null });
    expect((error as Error).message).toMatch(/network error: terminated$/);
  });

  /** A server that never answers, but lets go when the request is aborted, as real fetch does. */
  const hangingFetch = (request: Request) =>
    new Promise<Response>((_, reject) => {
      request.signal.addEventListener("abort", () => reject(request.signal.reason), { once: true });
    });

  it("fails with JobsApiTimeoutError after timeoutMs", async () => {
    vi.useFakeTimers();
    const client = createJobsClient({ baseUrl, fetch: hangingFetch, timeoutMs: 5000 });
    const pending = rejection(client.getJobTrace({ id: 1, job_id: 2 }));
    await vi.advanceTimersByTimeAsync(4999);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    const error = await pending;
    expect(error).toBeInstanceOf(JobsApiTimeoutError);
    expect(error).toMatchObject({ timeoutMs: 5000, operationId: "getJobTrace", method: "GET" });
  });

  it("clears its timer when the answer comes in time", async () => {
    vi.useFakeTimers();
    const client = createJobsClient({ baseUrl, fetch: fakeFetch(() => json([])).fetch, timeoutMs: 5000 });
    await client.listProjectJobs({ id: 1 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("passes the caller's abort through unchanged, timeout or not", async () => {
    for (const timeoutMs of [undefined, 60_000]) {
      const controller = new AbortController();
      const client = createJobsClient({ baseUrl, fetch: hangingFetch, timeoutMs });
      const pending = rejection(client.getJob({ id: 1, job_id: 2 }, { signal: controller.signal }));
      const reason = new DOMException("user gave up", "AbortError");
      controller.abort(reason);
      expect(await pending).toBe(reason);
    }
  });

  it("does not disguise usage errors as network errors", async () => {
    const client = createJobsClient({
      baseUrl: "https://gitlab.example.com/api/v4",
      fetch: fakeFetch().fetch,
    });
    // A JavaScript caller forgetting params entirely.
    const error = await rejection((client.getJob as (p?: unknown) => Promise<unknown>)());
    expect(error).toBeInstanceOf(TypeError);
    expect(() => createJobsClient({ baseUrl: "/api/v4" })).toThrow(TypeError);
  });
});

/** A port on 127.0.0.1 that nothing listens on: taken from the system, then let go. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}
