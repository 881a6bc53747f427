import type { JobStatus } from "@jobs-api/types";
import type { Queryable, QueryOptions } from "../db/database.js";
import type { JobRow, JobType, RunnerManagerRow, RunnerRow, UserRow } from "./rows.js";
import { textPerShape } from "./texts.js";

/** GitLab stops counting big lists: above this many rows the counts (X-Total…) are not sent. */
const COUNT_LIMIT = 10_000;

/**
 * The reads of the request paths are prepared (parsed once, plans cached): their texts vary only with
 * which filters are set (`where`), a few dozen at most. Their answers depend only on the data and their
 * parameters (durations are computed when a job is sent), so they may come from the read cache.
 */
const READ: QueryOptions = { prepare: true, cache: true };

const pipelineJson = (alias: string, projectAlias: string) => `json_build_object(
  'id', ${alias}.id, 'iid', ${alias}.iid, 'project_id', ${alias}.project_id, 'sha', ${alias}.sha,
  'ref', ${alias}.ref, 'status', ${alias}.status, 'source', ${alias}.source,
  'created_at', ${alias}.created_at, 'updated_at', ${alias}.updated_at,
  'web_url', ${projectAlias}.web_url || '/-/pipelines/' || ${alias}.id)`;

/**
 * Everything a job's JSON needs in one round trip. `{from}` is the relation that picks and orders the
 * jobs (a page of ids), so the lookups run only for the rows answered. Only the relations every job has
 * are joined; the one-to-one lookups (user, commit, runner, downstream pipeline, artifacts) are scalar
 * subqueries: as joins they made PostgreSQL search the orders of 8 relations on every call, which cost
 * more than running the query (about 2 ms of planning a call on PGlite, BENCHMARKS.md). Each row comes
 * back as one JSON value (a `JobRow`): decoding thirty typed columns a row cost more than parsing it.
 * `json`, not `jsonb`: the value only travels as text, and building the binary form to print it again
 * was a third of the query's time.
 */
const buildJobSelect = (from: string, orderBy: string, viewer: string) => `
SELECT to_json(job_row) AS job FROM (
SELECT j.id, j.type, j.project_id, j.pipeline_id, j.name, j.stage, j.ref, j.tag, j.status, j."when",
  j.allow_failure, j.retried, j.user_id, j.coverage, j.tag_list, j.failure_reason, j.created_at, j.queued_at,
  j.started_at, j.finished_at, j.artifacts_expire_at, j.erased_at,
  pr.web_url AS project_web_url, pr.ci_job_token_scope_enabled,
  (SELECT s.archive_builds_in_seconds FROM application_settings s) AS archive_builds_in_seconds,
  (SELECT json_build_object('row', u,
      'followers', (SELECT count(*) FROM user_follows f WHERE f.followee_id = u.id),
      'following', (SELECT count(*) FROM user_follows f WHERE f.follower_id = u.id),
      'followed_by_viewer', EXISTS (SELECT 1 FROM user_follows f WHERE f.followee_id = u.id AND f.follower_id = ${viewer}))
    FROM users u WHERE u.id = j.user_id) AS "user",
  ${pipelineJson("p", "pr")} AS pipeline,
  (SELECT to_json(c) FROM commits c WHERE c.project_id = p.project_id AND c.sha = p.sha AND c.in_repository) AS commit,
  (SELECT json_build_object('row', r, 'creator', (SELECT to_json(cu) FROM users cu WHERE cu.id = r.creator_id),
      'running', EXISTS (SELECT 1 FROM jobs rj WHERE rj.runner_id = r.id AND rj.status = 'running'))
    FROM runners r WHERE r.id = j.runner_id) AS runner,
  (SELECT json_build_object('row', m,
      'running', EXISTS (SELECT 1 FROM jobs mj WHERE mj.runner_manager_id = m.id AND mj.status = 'running'))
    FROM runner_managers m WHERE m.id = j.runner_manager_id) AS runner_manager,
  (SELECT json_build_object('name', e.name, 'slug', e.slug, 'tier', e.tier)
    FROM environments e WHERE e.id = j.environment_id) AS environment,
  (SELECT ${pipelineJson("dp", "dpr")} FROM pipelines dp JOIN projects dpr ON dpr.id = dp.project_id
    WHERE dp.id = j.downstream_pipeline_id) AS downstream_pipeline,
  (SELECT coalesce(json_agg(json_build_object('file_type', a.file_type, 'size', a.size,
      'filename', a.filename, 'file_format', a.file_format) ORDER BY a.id), '[]'::json)
    FROM job_artifacts a WHERE a.job_id = j.id) AS artifacts
FROM ${from}
JOIN jobs j ON j.id = picked.id
JOIN projects pr ON pr.id = j.project_id
JOIN pipelines p ON p.id = j.pipeline_id) job_row
ORDER BY job_row.${orderBy}`;

/** Each `jobSelect` text built once: its arguments hold placeholders, never values. */
const jobSelect = textPerShape(buildJobSelect);

/** A row as `to_json` nests it with its computed attributes: `{row: {...}, extra...}`. */
type Nested<T, Extra> = { row: T } & Extra;
type RawJobRow = Omit<JobRow, "user" | "runner" | "runner_manager"> & {
  user: Nested<UserRow, { followers: number; following: number; followed_by_viewer: boolean }> | null;
  runner: Nested<
    Omit<RunnerRow, "running" | "creator">,
    { running: boolean; creator: UserRow | null }
  > | null;
  runner_manager: Nested<Omit<RunnerManagerRow, "running">, { running: boolean }> | null;
};

/**
 * Flattened rows by the row as read: a cached read answers the same (frozen) row objects until the data
 * changes, so each is flattened once, not on every request (2.4% of a 20-job page's samples).
 */
const flattened = new WeakMap<RawJobRow, JobRow>();

/** A job row with its nested rows merged into one object each; the row as read is left as it is. */
function flatten(raw: RawJobRow): JobRow {
  let row = flattened.get(raw);
  if (!row) {
    row = freezeFlat(flattenRow(raw));
    flattened.set(raw, row);
  }
  return row;
}

/** Shared between requests, like the cached row it comes from: nobody may change it. */
function freezeFlat(row: JobRow): JobRow {
  for (const nested of [row.user, row.runner, row.runner_manager]) if (nested) Object.freeze(nested);
  return Object.freeze(row);
}

function flattenRow(raw: RawJobRow): JobRow {
  const { user, runner, runner_manager } = raw;
  return {
    ...raw,
    user: user && {
      ...user.row,
      followers: user.followers,
      following: user.following,
      followed_by_viewer: user.followed_by_viewer,
    },
    runner: runner && { ...runner.row, running: runner.running, creator: runner.creator },
    runner_manager: runner_manager && { ...runner_manager.row, running: runner_manager.running },
  };
}

/** The jobs of a `jobSelect`, in its order. */
async function selectJobs(db: Queryable, sql: string, params: unknown[]): Promise<JobRow[]> {
  return (await db.query<{ job: RawJobRow }>(sql, params, READ)).map((r) => flatten(r.job));
}

export interface JobFilter {
  projectId?: number;
  pipelineId?: number;
  type: JobType;
  scope?: readonly JobStatus[] | undefined;
  includeRetried: boolean;
  /** The caller, for `is_followed`; null for none. */
  viewerId: number | null;
}

function where(filter: JobFilter, params: unknown[]): string {
  const clauses = ["type = $1"];
  params.push(filter.type);
  if (filter.projectId !== undefined) {
    params.push(filter.projectId);
    clauses.push(`project_id = $${params.length}`);
  }
  if (filter.pipelineId !== undefined) {
    params.push(filter.pipelineId);
    clauses.push(`pipeline_id = $${params.length}`);
  }
  if (filter.scope) {
    params.push([...filter.scope]);
    clauses.push(`status = ANY($${params.length}::text[])`);
  }
  if (!filter.includeRetried) clauses.push("NOT retried");
  return clauses.join(" AND ");
}

/** One page, newest first; `limit` may exceed the page size by one to learn whether a next page exists. */
export function listJobs(db: Queryable, filter: JobFilter, limit: number, offset: number): Promise<JobRow[]> {
  const params: unknown[] = [];
  const condition = where(filter, params);
  params.push(limit, offset, filter.viewerId);
  const page = `(SELECT id FROM jobs WHERE ${condition} ORDER BY id DESC LIMIT $${params.length - 2} OFFSET $${params.length - 1}) picked`;
  return selectJobs(db, jobSelect(page, "id DESC", `$${params.length}::bigint`), params);
}

/** Keyset page: the jobs after `afterId` in the given direction (from the start when null). */
export function listJobsKeyset(
  db: Queryable,
  filter: JobFilter,
  sort: "asc" | "desc",
  afterId: number | null,
  limit: number,
): Promise<JobRow[]> {
  const params: unknown[] = [];
  let condition = where(filter, params);
  if (afterId !== null) {
    params.push(afterId);
    condition += ` AND id ${sort === "asc" ? ">" : "<"} $${params.length}`;
  }
  params.push(limit, filter.viewerId);
  const page = `(SELECT id FROM jobs WHERE ${condition} ORDER BY id ${sort} LIMIT $${params.length - 1}) picked`;
  return selectJobs(db, jobSelect(page, `id ${sort}`, `$${params.length}::bigint`), params);
}

/** The number of matching jobs, or null when there are more than `COUNT_LIMIT` (not worth counting). */
export async function countJobs(db: Queryable, filter: JobFilter): Promise<number | null> {
  const params: unknown[] = [];
  const condition = where(filter, params);
  params.push(COUNT_LIMIT + 1);
  const [row] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM jobs WHERE ${condition} LIMIT $${params.length}) s`,
    params,
    READ,
  );
  const n = row?.n ?? 0;
  return n > COUNT_LIMIT ? null : n;
}

/** A job of a project, or null if the project has no job of one of these types with that id. */
export async function findJob(
  db: Queryable,
  projectId: number,
  jobId: number,
  types: readonly JobType[] = ["build"],
  viewerId: number | null = null,
): Promise<JobRow | null> {
  const picked = "(SELECT id FROM jobs WHERE id = $1 AND project_id = $2 AND type = ANY($3::text[])) picked";
  const [row] = await selectJobs(db, jobSelect(picked, "id", "$4::bigint"), [
    jobId,
    projectId,
    [...types],
    viewerId,
  ]);
  return row ?? null;
}

/** Any job by id (for job tokens, whose job is known), as `viewerId` sees it. */
export async function getJobById(
  db: Queryable,
  jobId: number,
  viewerId: number | null,
): Promise<JobRow | null> {
  const [row] = await selectJobs(db, jobSelect("(SELECT $1::bigint AS id) picked", "id", "$2::bigint"), [
    jobId,
    viewerId,
  ]);
  return row ?? null;
}

export async function pipelineExists(db: Queryable, projectId: number, pipelineId: number): Promise<boolean> {
  const rows = await db.query(
    "SELECT 1 FROM pipelines WHERE id = $1 AND project_id = $2",
    [pipelineId, projectId],
    READ,
  );
  return rows.length > 0;
}

/** The job's log, or null when it has none. */
export async function getTrace(db: Queryable, jobId: number): Promise<string | null> {
  const [row] = await db.query<{ content: string }>(
    "SELECT content FROM job_traces WHERE job_id = $1",
    [jobId],
    READ,
  );
  return row?.content ?? null;
}
