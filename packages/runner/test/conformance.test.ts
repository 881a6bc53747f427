import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checks, runConformance, summary } from "@jobs-api/conformance";
import { type Double, demoFixturesUrl, startDouble } from "@jobs-api/server";
import type { RunnerJob } from "@jobs-api/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { type Runner, startRunner } from "../src/index.js";

/**
 * The whole conformance suite against a fresh double loaded from a fixture file: the demo data, except that
 * no job token is given in the file. The running job and its token come from the simulated runner, which
 * takes pending job 17 (its script made to wait) as GitLab Runner would: the suite's job-token checks then
 * run against a job token that the runner protocol handed out.
 */
interface DemoFixtures {
  users: { tokens?: { kind?: string }[] }[];
  runners: { token?: string; tags?: string[]; runUntagged?: boolean }[];
  projects: { pipelines?: { jobs?: { id?: number; script?: string[]; tags?: string[] }[] }[] }[];
}

describe("the conformance suite against a double from a fixture file, with the runner's job", () => {
  let dir: string;
  let double: Double;
  let runner: Runner;
  let job: RunnerJob;

  beforeAll(async () => {
    const demo = parse(readFileSync(demoFixturesUrl, "utf8")) as DemoFixtures;
    for (const user of demo.users) user.tokens = user.tokens?.filter((token) => token.kind !== "job");
    // Only job 17 has the runner's tag: the runner takes it and no other.
    for (const runner of demo.runners)
      if (runner.token === "glrt-demo-runner-token")
        Object.assign(runner, { tags: ["conformance"], runUntagged: false });
    for (const project of demo.projects)
      for (const pipeline of project.pipelines ?? [])
        for (const each of pipeline.jobs ?? [])
          if (each.id === 17)
            Object.assign(each, { tags: ["conformance"], script: ["echo building", "sleep 3600"] });
    dir = mkdtempSync(join(tmpdir(), "jobs-api-runner-"));
    const file = join(dir, "gitlab.yaml");
    writeFileSync(file, stringify(demo));
    double = await startDouble({ fixtures: file });
    runner = await startRunner({
      url: double.baseUrl,
      token: "glrt-demo-runner-token",
      // The job's `sleep 3600` lasts until the runner stops; polls too (one job at a time anyway).
      sleep: (_ms, signal) =>
        new Promise((done) => {
          if (signal.aborted) done();
          signal.addEventListener("abort", () => done(), { once: true });
        }),
    });
    const picked = new Promise<RunnerJob>((resolve) => runner.on("job", resolve));
    job = await picked;
  });
  afterAll(async () => {
    await runner?.stop();
    await double?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("passes every check, destructive ones included, and skips none", async () => {
    expect(job.id).toBe(17);
    expect(double.tokens["demo-job"]).toBeUndefined();
    const report = await runConformance({
      baseUrl: double.baseUrl,
      token: double.tokens["demo-maintainer"] ?? "",
      jobToken: job.token,
      project: "1",
      destructive: true,
    });
    console.log(summary(report));
    const notPassed = report.results
      .filter((r) => r.status !== "passed")
      .map((r) => `${r.id}: ${r.status} ${r.reason ?? JSON.stringify(r.failure)}`);
    expect(notPassed).toEqual([]);
    expect(report.results.map((r) => r.id)).toEqual(checks.map((c) => c.id));
  });
});
