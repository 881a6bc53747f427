import { readFileSync } from "node:fs";
import { ALIVE_STATUSES, COMPLETED_STATUSES } from "@jobs-api/types";
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

    // What the run used up is said once per job, by the destructive check that took it.
    const destructiveIds = new Set(checks.filter((c) => c.destructive).map((c) => c.id));
    expect(report.used.length).toBeGreaterThan(0);
    expect(new Set(report.used.map((j) => j.id)).size).toBe(report.used.length);
    for (const job of report.used) expect(destructiveIds.has(job.check), job.check).toBe(true);
    // The README tells what to prepare on a real GitLab from these numbers.
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8").replace(/\s+/g, " ");
    const said =
      /uses \*\*(\d+) jobs\*\*: (\d+) that have not finished \(one of them running\), (\d+) manual ones and (\d+) finished ones \(without a job token, (\d+) fewer\)/.exec(
        readme,
      );
    const count = (statuses: readonly string[]) =>
      report.used.filter((j) => statuses.includes(j.status)).length;
    expect(said?.slice(1, 5).map(Number)).toEqual([
      report.used.length,
      count(ALIVE_STATUSES),
      count(["manual"]),
      count(COMPLETED_STATUSES),
    ]);
    expect(count(["running"])).toBe(1);
    expect(Number(said?.[5])).toBe(report.used.filter((j) => j.check.endsWith(".jobTokenRefused")).length);
    expect(summary(report)).toContain(`Used up by --destructive: ${report.used.length} jobs (as found: `);
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
