import type { JobStatus, PipelineStatus } from "@jobs-api/types";

export interface JobState {
  status: JobStatus;
  allow_failure: boolean;
}

type Key = JobStatus | "success_with_warnings" | "ignored";

/** A job that may fail counts as a warning; a manual job that may be skipped does not hold the pipeline. */
function keyOf(job: JobState): Key {
  if (job.allow_failure && (job.status === "failed" || job.status === "canceled"))
    return "success_with_warnings";
  if (job.allow_failure && job.status === "manual") return "ignored";
  return job.status;
}

/**
 * The status of a pipeline from its latest (not retried) jobs, in the order of GitLab's
 * `Gitlab::Ci::Status::Composite`. Null for a pipeline without jobs: its status is left as it is.
 */
export function compositeStatus(jobs: readonly JobState[]): PipelineStatus | null {
  if (jobs.length === 0) return null;
  const keys = new Set(jobs.map(keyOf));
  const onlyOf = (...allowed: Key[]) => [...keys].every((k) => allowed.includes(k));
  const anyOf = (...wanted: Key[]) => wanted.some((k) => keys.has(k));
  if (onlyOf("skipped", "ignored")) return "skipped";
  if (onlyOf("success", "skipped", "success_with_warnings", "ignored")) return "success";
  if (onlyOf("created", "success_with_warnings", "ignored")) return "created";
  if (onlyOf("preparing", "success_with_warnings", "ignored")) return "preparing";
  if (onlyOf("canceled", "success", "skipped", "success_with_warnings", "ignored")) return "canceled";
  if (onlyOf("pending", "created", "skipped", "success_with_warnings", "ignored")) return "pending";
  if (anyOf("canceling")) return "canceling";
  if (anyOf("running", "pending", "waiting_for_callback")) return "running";
  if (anyOf("waiting_for_resource")) return "waiting_for_resource";
  if (anyOf("manual")) return "manual";
  if (anyOf("scheduled")) return "scheduled";
  if (anyOf("preparing")) return "preparing";
  if (anyOf("created")) return "running";
  return "failed";
}
