import type { JobStatus } from "@jobs-api/types";
import { describe, expect, it } from "vitest";
import { compositeStatus } from "../src/status/pipeline-status.js";

const jobs = (...statuses: (JobStatus | `${JobStatus}?`)[]) =>
  statuses.map((s) => ({ status: s.replace("?", "") as JobStatus, allow_failure: s.endsWith("?") }));

describe("a pipeline's composite status", () => {
  it.each([
    [jobs("success", "success"), "success"],
    [jobs("success", "skipped"), "success"],
    [jobs("skipped", "skipped"), "skipped"],
    [jobs("success", "failed?"), "success"],
    [jobs("success", "manual?"), "success"],
    [jobs("success", "failed"), "failed"],
    [jobs("created", "created"), "created"],
    [jobs("pending", "created"), "pending"],
    [jobs("success", "pending"), "running"],
    [jobs("failed", "running"), "running"],
    [jobs("success", "canceled"), "canceled"],
    [jobs("failed", "canceled"), "failed"],
    [jobs("success", "manual"), "manual"],
    [jobs("success", "scheduled"), "scheduled"],
    [jobs("success", "waiting_for_resource"), "waiting_for_resource"],
    [jobs("success", "created"), "running"],
    [jobs("running", "canceling"), "canceling"],
  ] as const)("%j → %s", (states, status) => {
    expect(compositeStatus(states)).toBe(status);
  });

  it("leaves a pipeline without jobs as it is", () => {
    expect(compositeStatus([])).toBeNull();
  });
});
