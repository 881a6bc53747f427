import type { JobStatus } from "./generated/schema.js";

/**
 * GitLab's sets of job statuses, under the names of `Ci::HasStatus` (`app/models/concerns/ci/has_status.rb`)
 * and in its order, so that the server's transitions, the client and the conformance suite read one list.
 */

/** `BLOCKED_STATUS`: jobs waiting for a person (manual) or a time (scheduled); the statuses play acts on. */
export const BLOCKED_STATUS: readonly JobStatus[] = ["manual", "scheduled"];

/** `COMPLETED_STATUSES`: a job's log and artifacts no longer change; the statuses erase acts on. */
export const COMPLETED_STATUSES: readonly JobStatus[] = ["success", "failed", "canceled", "skipped"];

/** `ALIVE_STATUSES`: `ORDERED_STATUSES` less the completed and the blocked ones. */
export const ALIVE_STATUSES: readonly JobStatus[] = [
  "preparing",
  "pending",
  "running",
  "waiting_for_callback",
  "waiting_for_resource",
  "canceling",
  "created",
];

/** `CANCELABLE_STATUSES`: the alive ones and scheduled, less canceling (already on its way). */
export const CANCELABLE_STATUSES: readonly JobStatus[] = [
  "preparing",
  "pending",
  "running",
  "waiting_for_callback",
  "waiting_for_resource",
  "created",
  "scheduled",
];

/**
 * The statuses cancel moves to `canceled`: `CANCELABLE_STATUSES + [:manual]`, the `cancel` event of
 * `CommitStatus`'s state machine (a canceling job only with `force`, GitLab's `force_cancel`).
 */
export const CANCEL_EVENT_STATUSES: readonly JobStatus[] = [...CANCELABLE_STATUSES, "manual"];

/**
 * The statuses a job may be retried from: `Ci::Processable#retryable?` (`success? || failed? ||
 * canceled? || canceling?`), a method rather than a constant in GitLab; it also requires the job not
 * retried already and its project not archived.
 */
export const RETRYABLE_STATUSES: readonly JobStatus[] = ["success", "failed", "canceled", "canceling"];
