import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CheckResult, checks, runConformance, summary } from "../src/index.js";
import { type Reference, startReference } from "./reference.js";

describe("the whole suite against the reference server", () => {
  let reference: Reference;
  beforeAll(async () => {
    reference = await startReference();
  });
  afterAll(async () => {
    await reference?.close();
  });

  it("passes every check, destructive ones included, and skips none", async () => {
    const progress: CheckResult[] = [];
    const report = await runConformance({
      baseUrl: reference.baseUrl,
      token: reference.token,
      jobToken: reference.jobToken,
      project: reference.project,
      destructive: true,
      onResult: (r) => progress.push(r),
    });
    // Printed so that the run's duration against the local server is on record in the test output.
    console.log(summary(report));
    const notPassed = report.results
      .filter((r) => r.status !== "passed")
      .map((r) => `${r.id}: ${r.status} ${r.reason ?? JSON.stringify(r.failure)}`);
    expect(notPassed).toEqual([]);
    expect(report.results.map((r) => r.id)).toEqual(checks.map((c) => c.id));
    expect(progress).toEqual(report.results);
  });

  it("finds the project by its path, and by the job token alone", async () => {
    for (const project of [reference.projectPath, undefined]) {
      const report = await runConformance({
        baseUrl: reference.baseUrl,
        token: reference.token,
        jobToken: reference.jobToken,
        project,
        only: ["listProjectJobs.pathIdSameAnswer", "getJobTokenJob.withJobToken"],
      });
      expect(report.results.map((r) => [r.id, r.status])).toEqual([
        ["listProjectJobs.pathIdSameAnswer", "passed"],
        ["getJobTokenJob.withJobToken", "passed"],
      ]);
    }
  });

  it("reads a public project's pipeline lists without a token", async () => {
    const report = await runConformance({
      baseUrl: reference.baseUrl,
      token: reference.token,
      project: reference.publicProject,
      only: ["listPipelineJobs.anonymous"],
    });
    expect(report.results.map((r) => [r.id, r.status, r.failure])).toEqual([
      ["listPipelineJobs.anonymous", "passed", undefined],
    ]);
  });

  it("skips what it has no material for, saying why, and never passes it", async () => {
    const report = await runConformance({
      baseUrl: reference.baseUrl,
      token: reference.token,
      project: reference.project,
      only: ["getJobTokenJob.withJobToken", "cancelJob.cancelsActive"],
    });
    expect(report.results.map((r) => [r.id, r.status, r.reason])).toEqual([
      ["getJobTokenJob.withJobToken", "skipped", "needs a job token of a running job (--job-token)"],
      ["cancelJob.cancelsActive", "skipped", "changes data: runs only with --destructive"],
    ]);
  });
});
