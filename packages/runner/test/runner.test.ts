import { fileURLToPath } from "node:url";
import { createJobsClient, type JobsClient } from "@jobs-api/client";
import { type Double, startDouble } from "@jobs-api/server";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type JobResult, RunnerError, type Sleep, startRunner } from "../src/index.js";

const fixtures = fileURLToPath(new URL("fixtures/double.yaml", import.meta.url));

/** A value that can be waited for until a condition on it holds; every change wakes the waiters. */
function watched<T>(initial: T) {
  let value = initial;
  const waiters = new Set<() => void>();
  return {
    get: () => value,
    set(next: T) {
      value = next;
      for (const wake of [...waiters]) wake();
    },
    until(holds: (value: T) => boolean): Promise<void> {
      return new Promise((resolve) => {
        const check = () => {
          if (!holds(value)) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** Never resolves on its own: the pause between polls, ended by the runner when it has a reason to ask. */
const untilAborted: Sleep = (_ms, signal) =>
  new Promise((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });

/** Scripts' sleeps end at once; the pause between polls lasts until the runner has a reason to ask. */
const instantScripts: Sleep = (ms, signal, reason) =>
  reason.kind === "script" ? Promise.resolve() : untilAborted(ms, signal, reason);

describe("the simulated runner against the reference server", () => {
  let double: Double;
  let gitlab: JobsClient;
  let ids: Record<string, number>;

  beforeAll(async () => {
    double = await startDouble({ fixtures });
    gitlab = createJobsClient({ baseUrl: double.baseUrl, token: double.tokens.alice ?? "" });
  });
  afterAll(async () => {
    await double?.close();
  });
  beforeEach(async () => {
    await double.reset();
    ids = {};
    for await (const job of gitlab.paginate("listProjectJobs", { id: "acme/app" })) ids[job.name] = job.id;
  });

  it("runs a pending job while followJobTrace reads its log piece by piece, then success with durations", async () => {
    const jobId = ids.build ?? 0;
    expect((await gitlab.getJob({ id: "acme/app", job_id: jobId })).status).toBe("pending");
    // Lockstep without clocks: the script's `sleep` waits until the follower has read all that was sent,
    // and the follower's pause waits until more was sent or the job finished.
    const sent = watched(0);
    const read = watched(0);
    const finished = watched<JobResult | undefined>(undefined);
    const runner = await startRunner({
      url: double.baseUrl,
      token: "glrt-runner-tests-echo",
      sleep: (ms, signal, reason) =>
        reason.kind === "script" ? read.until((n) => n >= sent.get()) : untilAborted(ms, signal, reason),
    });
    runner.on("trace", ({ size }) => sent.set(size));
    runner.on("finished", (result) => finished.set(result));

    const pieces: string[] = [];
    for await (const piece of gitlab.followJobTrace(
      { id: "acme/app", job_id: jobId },
      {
        sleep: async () => {
          await Promise.race([sent.until((n) => n > read.get()), finished.until((r) => r !== undefined)]);
        },
      },
    )) {
      pieces.push(piece);
      read.set(read.get() + Buffer.byteLength(piece));
    }
    await runner.stop();

    expect(pieces).toEqual([
      `Running with jobs-api-runner 0.1.0\n  on jobs-api-runner ${runner.systemId}\n` +
        `Executing "step_script" stage of the job script\n$ echo "compiling 1/3"\ncompiling 1/3\n$ sleep 2\n`,
      `$ echo "compiling 2/3"\ncompiling 2/3\n$ sleep 2\n`,
      '$ echo "compiling 3/3"\ncompiling 3/3\nJob succeeded\n',
    ]);
    expect(finished.get()).toMatchObject({ state: "success", jobStatus: "success" });
    const job = await gitlab.getJob({ id: "acme/app", job_id: jobId });
    expect(job.status).toBe("success");
    expect(job.failure_reason).toBeUndefined();
    expect(job.started_at).toEqual(expect.any(String));
    expect(job.finished_at).toEqual(expect.any(String));
    expect(job.duration).toEqual(expect.any(Number));
    expect(job.queued_duration).toEqual(expect.any(Number));
    expect(job.runner?.description).toBe("the echo runner");
    expect(await gitlab.getJobTrace({ id: "acme/app", job_id: jobId })).toBe(pieces.join(""));
  });

  it("fails a job whose script exits non-zero with script_failure, and one with the fail directive with its reason", async () => {
    const results: JobResult[] = [];
    const runner = await startRunner({
      url: double.baseUrl,
      token: "glrt-runner-tests-fail",
      sleep: untilAborted,
    });
    runner.on("finished", (result) => results.push(result));
    await runner.idle();
    await runner.stop();

    expect(results.map((r) => [r.job.job_info.name, r.state, r.failureReason, r.exitCode]).sort()).toEqual([
      ["flaky", "failed", "runner_system_failure", undefined],
      ["rspec", "failed", "script_failure", 3],
    ]);
    const rspec = await gitlab.getJob({ id: "acme/app", job_id: ids.rspec ?? 0 });
    expect(rspec).toMatchObject({ status: "failed", failure_reason: "script_failure" });
    expect(await gitlab.getJobTrace({ id: "acme/app", job_id: ids.rspec ?? 0 })).toContain(
      "$ exit 3\nERROR: Job failed: exit code 3\n",
    );
    const flaky = await gitlab.getJob({ id: "acme/app", job_id: ids.flaky ?? 0 });
    expect(flaky).toMatchObject({ status: "failed", failure_reason: "runner_system_failure" });
    const flakyLog = await gitlab.getJobTrace({ id: "acme/app", job_id: ids.flaky ?? 0 });
    expect(flakyLog).toContain("ERROR: Job failed: runner_system_failure\n");
    expect(flakyLog).not.toContain("never shown");
  });

  it("stops a job canceled on GitLab's side at its next report", async () => {
    const results: JobResult[] = [];
    const picked = watched(0);
    const runner = await startRunner({
      url: double.baseUrl,
      token: "glrt-runner-tests-echo",
      // The first `sleep 2` of the build job: cancel it from the API, then let the script go on.
      sleep: async (ms, signal, reason) => {
        if (reason.kind !== "script") return untilAborted(ms, signal, reason);
        await gitlab.cancelJob({ id: "acme/app", job_id: reason.jobId });
      },
    });
    runner.on("job", (job) => picked.set(job.id));
    runner.on("finished", (result) => results.push(result));
    await runner.idle();
    await runner.stop();
    expect(results).toEqual([expect.objectContaining({ state: "aborted" })]);
    const job = await gitlab.getJob({ id: "acme/app", job_id: picked.get() });
    expect(job.status).toMatch(/^cancel/);
    const log = await gitlab.getJobTrace({ id: "acme/app", job_id: picked.get() });
    expect(log).not.toContain("compiling 3/3");
  });

  it("sends the log again from the server's Range after a 416", async () => {
    // The first piece is lost on the way (the runner is told 202 as if it had arrived): the next piece
    // starts past the server's end, the server answers 416 with its Range, and the runner resends from there.
    const ranges: string[] = [];
    let lost = false;
    const runner = await startRunner({
      url: double.baseUrl,
      token: "glrt-runner-tests-echo",
      sleep: instantScripts,
      fetch: async (request) => {
        if (request.method !== "PATCH") return fetch(request);
        const range = request.headers.get("Content-Range") ?? "";
        if (!lost) {
          lost = true;
          ranges.push(`${range} lost`);
          const end = Number(range.split("-")[1]) + 1;
          return new Response(null, { status: 202, headers: { Range: `0-${end}`, "Job-Status": "running" } });
        }
        const response = await fetch(request);
        ranges.push(`${range} ${response.status} ${response.headers.get("Range")}`);
        return response;
      },
    });
    const results: JobResult[] = [];
    runner.on("finished", (result) => results.push(result));
    await runner.idle();
    await runner.stop();
    expect(results.map((r) => r.state)).toEqual(["success"]);
    const [lostRange, refused, resent] = ranges;
    expect(lostRange).toMatch(/^0-\d+ lost$/);
    expect(refused).toMatch(/^\d+-\d+ 416 0-0$/);
    expect(resent).toMatch(/^0-\d+ 202 0-\d+$/);
    const log = await gitlab.getJobTrace({ id: "acme/app", job_id: ids.build ?? 0 });
    expect(log).toMatch(
      /^Running with jobs-api-runner[\s\S]*compiling 1\/3[\s\S]*compiling 3\/3\nJob succeeded\n$/,
    );
  });

  it("fails a job that sleeps past its timeout with job_execution_timeout, keeping it alive meanwhile", async () => {
    const updates: string[] = [];
    const waited: number[] = [];
    const runner = await startRunner({
      url: double.baseUrl,
      token: "glrt-runner-tests-slow",
      sleep: (ms, signal, reason) => {
        if (reason.kind !== "script") return untilAborted(ms, signal, reason);
        waited.push(ms);
        return Promise.resolve();
      },
      fetch: async (request) => {
        if (request.method === "PUT") updates.push((await request.clone().json()).state);
        return fetch(request);
      },
    });
    const results: JobResult[] = [];
    runner.on("finished", (result) => results.push(result));
    await runner.idle();
    await runner.stop();
    expect(results.map((r) => [r.state, r.failureReason])).toEqual([["failed", "job_execution_timeout"]]);
    // 3600 s in steps of the server's X-GitLab-Trace-Update-Interval (60 s), a keep-alive between two.
    expect(waited).toEqual(Array(60).fill(60_000));
    expect(updates).toEqual([...Array(59).fill("running"), "failed"]);
    const job = await gitlab.getJob({ id: "acme/app", job_id: ids.deploy ?? 0 });
    expect([job.status, job.failure_reason]).toEqual(["failed", "job_execution_timeout"]);
    const log = await gitlab.getJobTrace({ id: "acme/app", job_id: ids.deploy ?? 0 });
    expect(log).toMatch(/\$ sleep 7200\nERROR: Job failed: execution took longer than 3600 seconds\n$/);
  });

  it("on stop(), fails the job it runs with runner_system_failure", async () => {
    let stopping: Promise<void> | undefined;
    const runner = await startRunner({
      url: double.baseUrl,
      token: "glrt-runner-tests-echo",
      sleep: (ms, signal, reason) => {
        if (reason.kind === "script") stopping ??= runner.stop();
        return untilAborted(ms, signal, reason);
      },
    });
    const results: JobResult[] = [];
    runner.on("finished", (result) => results.push(result));
    await new Promise<void>((resolve) => runner.on("stopped", () => resolve()));
    await stopping;
    expect(results.map((r) => [r.state, r.failureReason])).toEqual([["failed", "runner_system_failure"]]);
    const job = await gitlab.getJob({ id: "acme/app", job_id: ids.build ?? 0 });
    expect([job.status, job.failure_reason]).toEqual(["failed", "runner_system_failure"]);
    const log = await gitlab.getJobTrace({ id: "acme/app", job_id: ids.build ?? 0 });
    expect(log).toMatch(/compiling 1\/3\n\$ sleep 2\nERROR: Job failed: the runner was stopped\n$/);
  });

  it("on Job-Status canceling, stops the script and still reports, so that GitLab can end the job", async () => {
    // The reference server cancels a running job at once (canceled); GitLab with graceful cancel first
    // answers canceling. Played here by rewriting the first log answer's Job-Status.
    let rewritten = false;
    const runner = await startRunner({
      url: double.baseUrl,
      token: "glrt-runner-tests-echo",
      sleep: instantScripts,
      fetch: async (request) => {
        const response = await fetch(request);
        if (request.method !== "PATCH" || rewritten) return response;
        rewritten = true;
        const headers = new Headers(response.headers);
        headers.set("Job-Status", "canceling");
        return new Response(null, { status: response.status, headers });
      },
    });
    const results: JobResult[] = [];
    runner.on("finished", (result) => results.push(result));
    await runner.idle();
    await runner.stop();
    expect(results.map((r) => [r.state, r.failureReason])).toEqual([["failed", "job_canceled"]]);
    const log = await gitlab.getJobTrace({ id: "acme/app", job_id: ids.build ?? 0 });
    expect(log).toMatch(/compiling 1\/3\n\$ sleep 2\nERROR: Job failed: canceled\n$/);
  });

  it("rejects a wrong runner token at start, saying so", async () => {
    await expect(startRunner({ url: double.baseUrl, token: "glrt-nobody" })).rejects.toEqual(
      new RunnerError(`${double.baseUrl}/jobs/request refused the runner token (403 Forbidden)`),
    );
  });

  it("asks with the last X-GitLab-Last-Update, and picks nothing it has no tag for", async () => {
    const bodies: unknown[] = [];
    const runner = await startRunner({
      url: double.baseUrl.replace(/\/api\/v4$/, ""),
      token: "glrt-runner-tests-busy",
      sleep: untilAborted,
      fetch: async (request) => {
        bodies.push(await request.clone().json());
        return fetch(request);
      },
    });
    await runner.idle();
    await runner.stop();
    expect(bodies.length).toBe(2);
    const [first, second] = bodies as { last_update?: string; system_id: string; token: string }[];
    expect(first).toMatchObject({ token: "glrt-runner-tests-busy", system_id: runner.systemId });
    expect(first?.last_update).toBeUndefined();
    expect(second?.last_update).toEqual(expect.any(String));
  });
});
