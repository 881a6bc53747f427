import { COMPLETED_STATUSES, type JobStatus } from "@jobs-api/types";
import { describe, expect, it } from "vitest";
import { createJobsClient, finishedJobStatuses, JobsApiError } from "../src/index.js";
import { example, fakeFetch, json } from "./fake-fetch.js";

const baseUrl = "https://gitlab.example.com/api/v4";

/**
 * A job that moves one step each time the client sleeps: `steps[i]` is its status and log after `i` sleeps.
 * The injected `sleep` advances the step instead of waiting, so no test depends on the wall clock.
 */
function runningJob(steps: [JobStatus, string][]) {
  let step = 0;
  const slept: number[] = [];
  const current = () => steps[Math.min(step, steps.length - 1)] ?? ["created", ""];
  const { fetch, sent } = fakeFetch((s) => {
    const [status, log] = current();
    return s.url.endsWith("/trace")
      ? new Response(log, { headers: { "Content-Type": "text/plain" } })
      : json({ ...(example("FailedJob") as object), status });
  });
  const sleep = async (ms: number) => {
    slept.push(ms);
    step++;
  };
  return { client: createJobsClient({ baseUrl, token: "t", fetch }), sent, slept, sleep };
}

async function collect(chunks: AsyncIterable<string>): Promise<string[]> {
  const all: string[] = [];
  for await (const chunk of chunks) all.push(chunk);
  return all;
}

describe("finishedJobStatuses", () => {
  it("are GitLab's COMPLETED_STATUSES as @jobs-api/types lists them", () => {
    expect([...finishedJobStatuses]).toEqual(COMPLETED_STATUSES);
  });
});

describe("followJobTrace", () => {
  it("yields only the new text of each poll until the job finishes", async () => {
    const job = runningJob([
      ["pending", ""],
      ["running", "Running with gitlab-runner\n"],
      ["running", "Running with gitlab-runner\n"],
      ["running", "Running with gitlab-runner\n$ make test\n"],
      ["success", "Running with gitlab-runner\n$ make test\nok\nJob succeeded\n"],
    ]);
    const chunks = await collect(
      job.client.followJobTrace({ id: "g/p", job_id: 8 }, { intervalMs: 250, sleep: job.sleep }),
    );
    expect(chunks).toEqual(["Running with gitlab-runner\n", "$ make test\n", "ok\nJob succeeded\n"]);
    expect(job.slept).toEqual([250, 250, 250, 250]);
    // Each poll reads the status, then the log.
    expect(job.sent.map((s) => s.url.replace(baseUrl, ""))).toEqual(
      Array.from({ length: 5 }, () => ["/projects/g%2Fp/jobs/8", "/projects/g%2Fp/jobs/8/trace"]).flat(),
    );
  });

  it("returns the whole log at once for a job that has already finished, without sleeping", async () => {
    const job = runningJob([["failed", "boom\n"]]);
    expect(await collect(job.client.followJobTrace({ id: 1, job_id: 8 }, { sleep: job.sleep }))).toEqual([
      "boom\n",
    ]);
    expect(job.slept).toEqual([]);
  });

  it("ends for every finished status, and waits 3 s between polls by default", async () => {
    for (const status of ["success", "failed", "canceled", "skipped"] as const) {
      const job = runningJob([
        ["running", "a"],
        [status, "ab"],
      ]);
      expect(await collect(job.client.followJobTrace({ id: 1, job_id: 8 }, { sleep: job.sleep }))).toEqual([
        "a",
        "b",
      ]);
      expect(job.slept).toEqual([3000]);
    }
  });

  it("does not repeat text when the log shrinks (erased) and grows again", async () => {
    const job = runningJob([
      ["running", "abc"],
      ["running", ""],
      ["success", "xy"],
    ]);
    expect(await collect(job.client.followJobTrace({ id: 1, job_id: 8 }, { sleep: job.sleep }))).toEqual([
      "abc",
      "xy",
    ]);
  });

  it("stops with the signal's reason when aborted between polls", async () => {
    const job = runningJob([["running", "a"]]);
    const controller = new AbortController();
    const reason = new DOMException("stop", "AbortError");
    const chunks: string[] = [];
    const follow = async () => {
      for await (const chunk of job.client.followJobTrace(
        { id: 1, job_id: 8 },
        { signal: controller.signal, sleep: job.sleep },
      )) {
        chunks.push(chunk);
        controller.abort(reason);
      }
    };
    await expect(follow()).rejects.toBe(reason);
    expect(chunks).toEqual(["a"]);
    expect(job.sent).toHaveLength(2);
  });

  it("aborts a pending sleep of the default timer", async () => {
    const job = runningJob([["running", "a"]]);
    const controller = new AbortController();
    const follow = job.client.followJobTrace(
      { id: 1, job_id: 8 },
      { signal: controller.signal, intervalMs: 3_600_000 },
    );
    expect(await follow.next()).toEqual({ done: false, value: "a" });
    const sleeping = follow.next();
    controller.abort();
    await expect(sleeping).rejects.toMatchObject({ name: "AbortError" });
  });

  it("surfaces API errors, e.g. a job that does not exist", async () => {
    const client = createJobsClient({
      baseUrl,
      fetch: fakeFetch(() => json({ message: "404 Not found" }, { status: 404 })).fetch,
    });
    await expect(collect(client.followJobTrace({ id: 1, job_id: 999 }))).rejects.toBeInstanceOf(JobsApiError);
  });
});
