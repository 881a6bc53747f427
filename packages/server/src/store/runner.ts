import { randomBytes } from "node:crypto";
import type { JobStatus } from "@jobs-api/types";
import type { Database, Queryable } from "../db/database.js";
import { digestToken, sameDigest } from "./auth.js";
import { updatePipeline } from "./transitions.js";

/**
 * The runner side of jobs (GitLab's `lib/api/ci/runner.rb`): a runner picks a pending job (`Ci::RegisterJobService`),
 * reports its state (`Ci::UpdateBuildStateService`) and appends to its log (`Ci::AppendBuildTraceService`).
 * Each runs in one transaction holding the job's row lock, like the actions of `transitions.ts`.
 */

/** `Enums::Ci::CommitStatus.failure_reasons`: what `updateJob` records; any other reason is `unknown_failure`. */
export const FAILURE_REASONS = [
  "unknown_failure",
  "script_failure",
  "api_failure",
  "stuck_or_timeout_failure",
  "runner_system_failure",
  "missing_dependency_failure",
  "runner_unsupported",
  "stale_schedule",
  "job_execution_timeout",
  "archived_failure",
  "unmet_prerequisites",
  "scheduler_failure",
  "data_integrity_failure",
  "forward_deployment_failure",
  "user_blocked",
  "project_deleted",
  "ci_quota_exceeded",
  "pipeline_loop_detected",
  "no_matching_runner",
  "trace_size_exceeded",
  "builds_disabled",
  "insufficient_bridge_permissions",
  "downstream_bridge_project_not_found",
  "invalid_bridge_trigger",
  "bridge_pipeline_is_child_pipeline",
  "downstream_pipeline_creation_failed",
  "secrets_provider_not_found",
  "reached_max_descendant_pipelines_depth",
] as const;

const KNOWN_FAILURE_REASONS: ReadonlySet<string> = new Set(FAILURE_REASONS);

/** A runner found by its authentication token. */
export interface RunnerAuth {
  id: number;
  paused: boolean;
  tagList: string[];
  runUntagged: boolean;
}

/** The runner whose authentication token this is, or null. */
export async function authenticateRunner(db: Queryable, token: string): Promise<RunnerAuth | null> {
  const digest = digestToken(token);
  const [row] = await db.query<{
    id: number;
    token_digest: Uint8Array;
    paused: boolean;
    tag_list: string[];
    run_untagged: boolean;
  }>("SELECT id, token_digest, paused, tag_list, run_untagged FROM runners WHERE token_digest = $1", [
    digest,
  ]);
  if (!row || !sameDigest(row.token_digest, digest)) return null;
  return { id: row.id, paused: row.paused, tagList: row.tag_list, runUntagged: row.run_untagged };
}

/** What a runner tells about itself when it asks for a job (`info`, `system_id`), and where it asks from. */
export interface RunnerContact {
  systemId?: string | undefined;
  ipAddress?: string | undefined;
  version?: string | undefined;
  revision?: string | undefined;
  platform?: string | undefined;
  architecture?: string | undefined;
}

/**
 * The runner's heartbeat (`Ci::Runner#heartbeat`, `ensure_manager`): its contact time and address, and with a
 * `system_id` the runner manager of that id, created on first contact, with the `info` the runner sent.
 * Returns the runner manager's id (null without `system_id`).
 */
async function heartbeat(tx: Queryable, runnerId: number, contact: RunnerContact): Promise<number | null> {
  await tx.query(
    "UPDATE runners SET contacted_at = now(), ip_address = coalesce($2, ip_address) WHERE id = $1",
    [runnerId, contact.ipAddress ?? null],
  );
  if (contact.systemId === undefined) return null;
  const [manager] = await tx.query<{ id: number }>(
    `INSERT INTO runner_managers (runner_id, system_id, version, revision, platform, architecture, ip_address, contacted_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, now())
     ON CONFLICT (runner_id, system_id) DO UPDATE SET
       version = coalesce(EXCLUDED.version, runner_managers.version),
       revision = coalesce(EXCLUDED.revision, runner_managers.revision),
       platform = coalesce(EXCLUDED.platform, runner_managers.platform),
       architecture = coalesce(EXCLUDED.architecture, runner_managers.architecture),
       ip_address = coalesce(EXCLUDED.ip_address, runner_managers.ip_address),
       contacted_at = now()
     RETURNING id`,
    [
      runnerId,
      contact.systemId,
      contact.version ?? null,
      contact.revision ?? null,
      contact.platform ?? null,
      contact.architecture ?? null,
      contact.ipAddress ?? null,
    ],
  );
  return manager?.id ?? null;
}

/**
 * The pending builds a runner may pick (`Ci::Queue::BuildQueueService`): in a project that is not archived,
 * with all their tags among the runner's, untagged ones only if the runner runs untagged jobs. The data
 * model has no runner-to-project assignment: every runner serves every project.
 */
const CANDIDATES = `FROM jobs j JOIN projects p ON p.id = j.project_id
  WHERE j.status = 'pending' AND j.type = 'build' AND NOT p.archived
    AND j.tag_list <@ $1::text[] AND ($2 OR cardinality(j.tag_list) > 0)`;

/**
 * The runner's queue value (`X-GitLab-Last-Update`): GitLab ticks a random value whenever a job the runner
 * could pick is queued; here it is the digest of the ids of those jobs, which changes exactly then (and when
 * one of them leaves the queue). A runner that sends it back while it is current gets no job without a search.
 */
async function queueValue(tx: Queryable, runner: RunnerAuth): Promise<string> {
  const [row] = await tx.query<{ value: string }>(
    `SELECT md5(coalesce(string_agg(j.id::text, ',' ORDER BY j.id), '')) AS value ${CANDIDATES}`,
    [runner.tagList, runner.runUntagged],
  );
  return row?.value ?? "";
}

/** A new CI job token, in GitLab's format (`glcbt-` and random text). */
function newJobToken(): string {
  return `glcbt-${randomBytes(20).toString("base64url")}`;
}

export interface RequestJobParams extends RunnerContact {
  /** The `X-GitLab-Last-Update` the runner got last. */
  lastUpdate?: string | undefined;
  /** Only jobs queued at least this many seconds ago. */
  jobAge?: number | undefined;
}

/** What a runner gets: a job it now runs and its token, or nothing with the queue value to send back. */
export type RequestJobOutcome = { jobId: number; token: string } | { none: true; lastUpdate: string };

/**
 * `POST /jobs/request`: records the runner's heartbeat, then hands it the oldest pending build it can run,
 * which becomes `running` on it (runner, runner manager, `started_at`; `queued_at` if the job had none) with a
 * new job token. Concurrent runners never get the same job: the candidate is locked, and a locked one skipped.
 * A paused runner gets nothing.
 */
export function requestJob(
  db: Database,
  runner: RunnerAuth,
  params: RequestJobParams,
): Promise<RequestJobOutcome> {
  return db.transaction(async (tx) => {
    const managerId = await heartbeat(tx, runner.id, params);
    const lastUpdate = await queueValue(tx, runner);
    if (runner.paused || params.lastUpdate === lastUpdate) return { none: true, lastUpdate };
    const [candidate] = await tx.query<{ id: number }>(
      `SELECT j.id ${CANDIDATES}
         AND ($3::integer IS NULL OR coalesce(j.queued_at, j.created_at) <= now() - make_interval(secs => $3))
       ORDER BY j.id LIMIT 1 FOR UPDATE OF j SKIP LOCKED`,
      [runner.tagList, runner.runUntagged, params.jobAge ?? null],
    );
    if (!candidate) return { none: true, lastUpdate };
    await tx.query(
      `UPDATE jobs SET status = 'running', runner_id = $2, runner_manager_id = $3, started_at = now(),
         queued_at = coalesce(queued_at, created_at)
       WHERE id = $1`,
      [candidate.id, runner.id, managerId],
    );
    const token = newJobToken();
    await tx.query(
      `INSERT INTO job_tokens (token_digest, job_id) VALUES ($1, $2)
       ON CONFLICT (job_id) DO UPDATE SET token_digest = EXCLUDED.token_digest`,
      [digestToken(token), candidate.id],
    );
    await updatePipeline(tx, candidate.id);
    return { jobId: candidate.id, token };
  });
}

/** Everything the job payload of `requestJob` is built from. */
export interface RunnerJobRow {
  id: number;
  name: string;
  stage: string;
  ref: string;
  tag: boolean;
  script: string[];
  project_id: number;
  project_name: string;
  /** Null for a project without a description. */
  project_description: string | null;
  project_full_path: string;
  project_web_url: string;
  namespace_id: number | null;
  pipeline_id: number;
  pipeline_source: string;
  sha: string;
  before_sha: string | null;
  user_id: number | null;
  queued_at: Date | null;
  started_at: Date | null;
  /** The job's own variables: `variable_type` 2 is a file variable (has_variable.rb). */
  variables: { key: string; value: string; variable_type: number; raw: boolean }[];
}

export async function getRunnerJob(db: Queryable, jobId: number): Promise<RunnerJobRow | null> {
  const [row] = await db.query<RunnerJobRow>(
    `SELECT j.id, j.name, j.stage, j.ref, j.tag, j.script, j.project_id, p.name AS project_name,
       p.description AS project_description, p.full_path AS project_full_path, p.web_url AS project_web_url, p.group_id AS namespace_id,
       j.pipeline_id, pl.source AS pipeline_source, pl.sha, c.parent_ids[1] AS before_sha, j.user_id,
       j.queued_at, j.started_at,
       (SELECT coalesce(json_agg(json_build_object('key', v.key, 'value', v.value, 'variable_type', v.variable_type, 'raw', v.raw) ORDER BY v.id), '[]')
          FROM job_variables v WHERE v.job_id = j.id) AS variables
     FROM jobs j JOIN projects p ON p.id = j.project_id JOIN pipelines pl ON pl.id = j.pipeline_id
       LEFT JOIN commits c ON c.project_id = pl.project_id AND c.sha = pl.sha
     WHERE j.id = $1`,
    [jobId],
  );
  return row ?? null;
}

/**
 * Why a runner's request about a job is refused (`authenticate_job!`): an unknown job or a token that is not
 * the job's (`forbidden`), an erased job, or one that is not running any more (with its status).
 */
export type JobRefusal =
  | { refused: "forbidden" }
  | { refused: "erased" }
  | { refused: "not_running"; status: JobStatus };

interface LockedRunnerJob {
  id: number;
  status: JobStatus;
  erased: boolean;
  token_digest: Uint8Array | null;
}

/**
 * The job `jobId` locked for an update by its runner, if `token` is its job token (which stays the job's
 * after it finished: a finished job is refused as not running, with its status, not as unknown). A job being
 * canceled (`canceling`) still takes its runner's updates and log, so that the runner can wind it down.
 */
async function runnerJob(
  tx: Queryable,
  jobId: number,
  token: string,
  lock: boolean,
): Promise<LockedRunnerJob | JobRefusal> {
  const [job] = await tx.query<LockedRunnerJob>(
    `SELECT j.id, j.status, j.erased_at IS NOT NULL AS erased, t.token_digest
     FROM jobs j LEFT JOIN job_tokens t ON t.job_id = j.id
     WHERE j.id = $1 AND j.type = 'build'${lock ? " FOR UPDATE OF j" : ""}`,
    [jobId],
  );
  const digest = digestToken(token);
  if (!job?.token_digest || !sameDigest(job.token_digest, digest)) return { refused: "forbidden" };
  if (job.erased) return { refused: "erased" };
  if (job.status !== "running" && job.status !== "canceling")
    return { refused: "not_running", status: job.status };
  return job;
}

/**
 * The job locked for its runner's update, which is also the runner's heartbeat (`heartbeat_runner: true`):
 * its runner's contact time and that of the runner manager running it.
 */
async function lockRunnerJob(
  tx: Queryable,
  jobId: number,
  token: string,
): Promise<LockedRunnerJob | JobRefusal> {
  const job = await runnerJob(tx, jobId, token, true);
  if ("refused" in job) return job;
  await tx.query(
    `WITH j AS (SELECT runner_id, runner_manager_id FROM jobs WHERE id = $1),
       r AS (UPDATE runners SET contacted_at = now() WHERE id = (SELECT runner_id FROM j))
     UPDATE runner_managers SET contacted_at = now() WHERE id = (SELECT runner_manager_id FROM j)`,
    [jobId],
  );
  return job;
}

/** `authenticate_job!` alone: the job, if `token` is its token and it still runs (or is being canceled). */
export function authenticateRunnerJob(
  db: Queryable,
  jobId: number,
  token: string,
): Promise<{ id: number; status: JobStatus } | JobRefusal> {
  return runnerJob(db, jobId, token, false);
}

export interface JobStateUpdate {
  state: string;
  failureReason?: string | undefined;
}

/** The outcome of `updateJob`: the status code GitLab answers and the job's status after the update. */
export type UpdateJobOutcome = { code: 200 | 400; status: JobStatus } | JobRefusal;

/**
 * `PUT /jobs/:id` (`Ci::UpdateBuildStateService#update_build_state!`): `running` changes nothing; `success`
 * and `failed` finish the job (`finished_at`; a failed job's reason, `unknown_failure` when it is none of
 * GitLab's), and a `canceling` job ends `canceled` whichever the runner reports. Any other state: 400.
 * The pipeline's status follows, as after every transition.
 */
export function updateJobState(
  db: Database,
  jobId: number,
  token: string,
  update: JobStateUpdate,
): Promise<UpdateJobOutcome> {
  return db.transaction(async (tx) => {
    const job = await lockRunnerJob(tx, jobId, token);
    if ("refused" in job) return job;
    if (update.state === "running") return { code: 200, status: job.status };
    if (update.state !== "success" && update.state !== "failed") return { code: 400, status: job.status };
    let status: JobStatus = update.state;
    if (job.status === "canceling") status = "canceled";
    const reason =
      status !== "failed"
        ? null
        : update.failureReason !== undefined && KNOWN_FAILURE_REASONS.has(update.failureReason)
          ? update.failureReason
          : "unknown_failure";
    await tx.query("UPDATE jobs SET status = $2, failure_reason = $3, finished_at = now() WHERE id = $1", [
      jobId,
      status,
      reason,
    ]);
    await updatePipeline(tx, jobId);
    return { code: 200, status };
  });
}

/** The outcome of `appendJobTrace`: the log's size in bytes after the request, and the job's status. */
export type AppendTraceOutcome = { appended: boolean; size: number; status: JobStatus } | JobRefusal;

/**
 * `PATCH /jobs/:id/trace` (`Ci::AppendBuildTraceService`, `Gitlab::Ci::Trace#append`): `text` is written
 * only when it starts where the log ends (`offset` is the log's size in bytes); otherwise nothing changes.
 * Logs are stored as UTF-8 text: a patch with bytes that are not UTF-8 is stored with replacement characters,
 * and the size the caller compares then differs from what it sent.
 */
export function appendTrace(
  db: Database,
  jobId: number,
  token: string,
  offset: number,
  text: string,
): Promise<AppendTraceOutcome> {
  return db.transaction(async (tx) => {
    const job = await lockRunnerJob(tx, jobId, token);
    if ("refused" in job) return job;
    const [current] = await tx.query<{ size: number }>(
      "SELECT octet_length(content)::integer AS size FROM job_traces WHERE job_id = $1",
      [jobId],
    );
    const size = current?.size ?? 0;
    if (offset !== size || text.length === 0) return { appended: false, size, status: job.status };
    const [after] = await tx.query<{ size: number }>(
      `INSERT INTO job_traces (job_id, content) VALUES ($1, $2)
       ON CONFLICT (job_id) DO UPDATE SET content = job_traces.content || EXCLUDED.content
       RETURNING octet_length(content)::integer AS size`,
      [jobId, text],
    );
    return { appended: true, size: after?.size ?? size, status: job.status };
  });
}
