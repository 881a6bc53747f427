import {
  BLOCKED_STATUS,
  CANCEL_EVENT_STATUSES,
  COMPLETED_STATUSES,
  type JobStatus,
  type JobVariableAttributes,
  RETRYABLE_STATUSES,
} from "@jobs-api/types";
import type { Database, Queryable } from "../db/database.js";
import { internalServerError } from "../errors.js";
import { compositeStatus, type JobState } from "../status/pipeline-status.js";
import { assignVariables, invalidVariable, type StoredJobVariable } from "./job-variables.js";
import { getJobById } from "./jobs.js";
import type { JobRow, JobType } from "./rows.js";

/**
 * GitLab's state machine for the four actions. Each runs in one transaction holding the job's row lock
 * (`SELECT … FOR UPDATE`), so concurrent actions on one job serialise and see each other's outcome:
 * of many concurrent retries exactly one creates a new job, the others find the job already retried.
 */

interface LockedJob {
  id: number;
  type: JobType;
  status: JobStatus;
  when: string;
  retried: boolean;
}

async function lockJob(tx: Queryable, jobId: number): Promise<LockedJob> {
  const [row] = await tx.query<LockedJob>(
    `SELECT id, type, status, "when", retried FROM jobs WHERE id = $1 FOR UPDATE`,
    [jobId],
  );
  // Jobs are never deleted while the server runs; the caller found this one just before.
  if (!row) throw new Error(`job ${jobId} vanished`);
  return row;
}

// `Ci::Processable#retryable?`: completed or canceling (a canceling job may be retried at once). Its
// `archived?` (the job's age against the instance's `archive_builds_in_seconds`) and an archived project
// both refuse the action before this, in `authorize!` (jobs.ts).
const isRetryable = (job: LockedJob) => RETRYABLE_STATUSES.includes(job.status) && !job.retried;

/** The job's own variables, which a play's `id` may name. */
async function ownVariables(tx: Queryable, jobId: number): Promise<StoredJobVariable[]> {
  return tx.query<StoredJobVariable>(
    "SELECT id::int AS id, key, value, variable_type, raw, source FROM job_variables WHERE job_id = $1 ORDER BY id",
    [jobId],
  );
}

/**
 * Stores a played job's assigned variables, or throws GitLab's 500 (rolling the play back) where the database
 * refuses them: two with one key break `ci_job_variables`'s unique index (`ActiveRecord::RecordNotUnique`; the
 * model's uniqueness check reads only stored rows), and a blank `variable_type` or `source` its `NOT NULL`
 * (`ActiveRecord::NotNullViolation`); lib/api/api.rb leaves both to `rescue_from :all`.
 */
async function saveVariables(
  tx: Queryable,
  jobId: number,
  own: readonly StoredJobVariable[],
  { created, updated }: ReturnType<typeof assignVariables>,
) {
  const final = [...own.map((v) => updated.find((u) => u.id === v.id) ?? v), ...created];
  if (new Set(final.map((v) => v.key)).size < final.length) throw internalServerError();
  if ([...created, ...updated].some((v) => v.variable_type === null || v.source === null)) {
    throw internalServerError();
  }
  for (const v of updated) {
    await tx.query(
      "UPDATE job_variables SET key = $2, value = $3, variable_type = $4, raw = $5, source = $6 WHERE id = $1",
      [v.id, v.key, v.value, v.variable_type, v.raw, v.source],
    );
  }
  await tx.query(
    `INSERT INTO job_variables (job_id, key, value, variable_type, raw, source)
     SELECT $1, k, v, t, r, s FROM unnest($2::text[], $3::text[], $4::smallint[], $5::boolean[], $6::smallint[])
       AS x(k, v, t, r, s)`,
    [
      jobId,
      created.map((v) => v.key),
      created.map((v) => v.value),
      created.map((v) => v.variable_type),
      created.map((v) => v.raw),
      created.map((v) => v.source),
    ],
  );
}

/** Creates the new attempt of a locked, retryable job and returns its id. */
async function retryLocked(tx: Queryable, jobId: number, userId: number): Promise<number> {
  const [created] = await tx.query<{ id: number }>(
    `INSERT INTO jobs (project_id, pipeline_id, type, name, stage, ref, tag, status, "when", allow_failure,
       user_id, tag_list, environment_id, created_at, queued_at, retry_of_id)
     SELECT project_id, pipeline_id, type, name, stage, ref, tag, 'pending', "when", allow_failure,
       $2, tag_list, environment_id, now(), now(), id
     FROM jobs WHERE id = $1
     RETURNING id`,
    [jobId, userId],
  );
  if (!created) throw new Error(`job ${jobId} vanished`);
  await tx.query("UPDATE jobs SET retried = true WHERE id = $1", [jobId]);
  // `clone_accessors` carry `job_variables_attributes` over (build.rb, clone_job_service.rb:36-38): the
  // `internal_source` variables, with their type and `raw` (build.rb `job_variables_attributes`).
  await tx.query(
    `INSERT INTO job_variables (job_id, key, value, variable_type, raw, source)
     SELECT $2, key, value, variable_type, raw, source FROM job_variables WHERE job_id = $1 AND source = 0 ORDER BY id`,
    [jobId, created.id],
  );
  await updatePipeline(tx, created.id);
  return created.id;
}

/**
 * Recomputes the status of the job's pipeline from its latest jobs, as GitLab does after every job
 * transition. The pipeline row is locked before the jobs are read, so two actions on different jobs of
 * one pipeline cannot both write a status computed from a view without the other's change. The lock is
 * NO KEY UPDATE: a retry's INSERT already holds KEY SHARE on the pipeline through the foreign key, and
 * FOR UPDATE would deadlock two concurrent retries in one pipeline.
 */
export async function updatePipeline(tx: Queryable, jobId: number) {
  const [pipeline] = await tx.query<{ id: number }>(
    "SELECT id FROM pipelines WHERE id = (SELECT pipeline_id FROM jobs WHERE id = $1) FOR NO KEY UPDATE",
    [jobId],
  );
  if (!pipeline) return;
  const jobs = await tx.query<JobState>(
    "SELECT status, allow_failure FROM jobs WHERE pipeline_id = $1 AND NOT retried",
    [pipeline.id],
  );
  await tx.query("UPDATE pipelines SET status = coalesce($2, status), updated_at = now() WHERE id = $1", [
    pipeline.id,
    compositeStatus(jobs),
  ]);
}

/**
 * The job as the action leaves it, read inside the action's transaction: the answer shows this action's
 * outcome, not the state after some later concurrent action.
 */
async function resulting(tx: Queryable, jobId: number, viewerId: number | null): Promise<{ job: JobRow }> {
  const job = await getJobById(tx, jobId, viewerId);
  if (!job) throw new Error(`job ${jobId} vanished`);
  return { job };
}

export type RetryOutcome = { job: JobRow } | { refused: "not_retryable" };
export type EraseOutcome = { job: JobRow } | { refused: "not_erasable" };
export type PlayOutcome = { job: JobRow } | { refused: "unplayable" | "variables_not_allowed" };

/**
 * Cancels the job if it has not finished; a finished job is left as it is. A job already `canceling`
 * (waiting for its runner to stop) is only canceled at once with `force`, which is GitLab's other event
 * (`force_cancel`, `canceling → canceled` and nothing else): with it, a job in any other state is left as it is.
 */
export function cancelJob(
  db: Database,
  jobId: number,
  options: { force?: boolean; viewerId?: number } = {},
): Promise<{ job: JobRow }> {
  const viewerId = options.viewerId ?? null;
  return db.transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    const transitions =
      options.force === true ? job.status === "canceling" : CANCEL_EVENT_STATUSES.includes(job.status);
    if (!transitions) return resulting(tx, jobId, viewerId);
    await tx.query("UPDATE jobs SET status = 'canceled', finished_at = now() WHERE id = $1", [jobId]);
    await updatePipeline(tx, jobId);
    return resulting(tx, jobId, viewerId);
  });
}

export function retryJob(db: Database, jobId: number, userId: number): Promise<RetryOutcome> {
  return db.transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    if (!isRetryable(job)) return { refused: "not_retryable" };
    return resulting(tx, await retryLocked(tx, jobId, userId), userId);
  });
}

/**
 * A manual or scheduled job becomes pending for the caller with the given variables; a finished manual
 * job is retried instead, keeping its own variables: PlayBuildService's `retry_build` hands
 * `RetryJobService#execute` none (play_build_service.rb:24-26), and the clone takes the given ones only when
 * there are some (clone_job_service.rb:47-52). Answers the job that was played, as GitLab's route presents the job it
 * was asked to play (not the new attempt a retry creates).
 *
 * A trigger job is played only while it waits as a manual job (`Ci::Bridge#playable?`: `manual?`, never
 * scheduled or retried), and without the variables: `Ci::Bridge#play` takes them only to match
 * `Ci::Build#play` and hands `PlayBridgeService` none (bridge.rb).
 *
 * Variables on a build the caller may not set (`mayUseVariables` false) refuse the play once the job is known
 * to be playable, before anything changes: jobs.rb answers 400 for an unplayable job first, then
 * play_build_service.rb `check_access!` raises for `variables.present?` without `set_pipeline_variables`,
 * ahead of both the play and the retry. An empty list is not `present?`; a trigger job never gets that far.
 */
export function playJob(
  db: Database,
  jobId: number,
  userId: number,
  variables: readonly JobVariableAttributes[] | undefined,
  mayUseVariables: boolean,
): Promise<PlayOutcome> {
  return db.transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    const bridge = job.type === "bridge";
    const action = job.when === "manual" || (!bridge && job.when === "delayed");
    if (!action) return { refused: "unplayable" };
    // `Ci::Build#playable?`: a blocked job is played; a finished one is retried instead.
    const blocked = bridge ? job.status === "manual" : BLOCKED_STATUS.includes(job.status);
    if (!blocked && (bridge || !isRetryable(job))) return { refused: "unplayable" };
    if (!bridge && variables !== undefined && variables.length > 0 && !mayUseVariables) {
      return { refused: "variables_not_allowed" };
    }
    // The fields are assigned before `enqueue!` is tried, so their errors (404, 500) come for a finished job
    // too, whose play then retries it with its own variables (enqueue_job_service.rb, play_build_service.rb).
    const own = bridge || !variables ? [] : await ownVariables(tx, jobId);
    const assigned = bridge || !variables ? undefined : assignVariables(own, variables);
    if (blocked) {
      // A variable the model refuses fails the save of `enqueue!`; PlayBuildService rescues the
      // `InvalidTransition` by retrying the reloaded job, which a manual or scheduled job is not, and the route
      // presents it: 200, the job as it was (play_build_service.rb, retry_job_service.rb, jobs.rb).
      if (assigned && invalidVariable(own, assigned)) return resulting(tx, jobId, userId);
      await tx.query(
        "UPDATE jobs SET status = 'pending', user_id = $2, queued_at = now(), scheduled_at = NULL WHERE id = $1",
        [jobId, userId],
      );
      if (assigned) await saveVariables(tx, jobId, own, assigned);
      await updatePipeline(tx, jobId);
      return resulting(tx, jobId, userId);
    }
    await retryLocked(tx, jobId, userId);
    return resulting(tx, jobId, userId);
  });
}

/** Removes a finished job's artifacts and log and records who erased it. */
export function eraseJob(db: Database, jobId: number, userId: number): Promise<EraseOutcome> {
  return db.transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    // `Ci::Build#erasable?`: a completed job with artifacts or a log left.
    if (!COMPLETED_STATUSES.includes(job.status)) return { refused: "not_erasable" };
    const [leftovers] = await tx.query<{ any: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM job_artifacts WHERE job_id = $1)
           OR EXISTS (SELECT 1 FROM job_traces WHERE job_id = $1) AS any`,
      [jobId],
    );
    if (!leftovers?.any) return { refused: "not_erasable" };
    await tx.query("DELETE FROM job_artifacts WHERE job_id = $1", [jobId]);
    await tx.query("DELETE FROM job_traces WHERE job_id = $1", [jobId]);
    await tx.query(
      "UPDATE jobs SET erased_at = now(), erased_by_id = $2, artifacts_expire_at = NULL WHERE id = $1",
      [jobId, userId],
    );
    return resulting(tx, jobId, userId);
  });
}
