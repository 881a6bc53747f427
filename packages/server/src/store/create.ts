import type { Artifact, JobStatus, Runner } from "@jobs-api/types";
import type { Queryable } from "../db/database.js";
import { iso } from "../entities/timestamps.js";
import { digestToken } from "./auth.js";
import type { JobType, PipelineVariablesMinimumOverrideRole, Role, Visibility } from "./rows.js";

/** Inserts used by the demo seed and by tests to build their own data. Each returns the new id. */

async function insertOne(db: Queryable, table: string, values: Record<string, unknown>): Promise<number> {
  const entries = Object.entries(values).filter(([, value]) => value !== undefined);
  const columns = entries.map(([column]) => `"${column}"`).join(", ");
  const placeholders = entries.map((_, i) => `$${i + 1}`).join(", ");
  const [row] = await db.query<{ id: number }>(
    `INSERT INTO ${table} (${columns}) VALUES (${placeholders}) RETURNING id`,
    entries.map(([, value]) => value),
  );
  if (!row) throw new Error(`insert into ${table} returned nothing`);
  return row.id;
}

export interface NewUser {
  id?: number;
  username: string;
  name?: string;
  state?: "active" | "blocked" | "deactivated";
  avatarUrl?: string | null;
  webUrl?: string;
  createdAt?: Date;
  bio?: string | null;
  location?: string | null;
  organization?: string;
  jobTitle?: string;
  pronouns?: string | null;
  discord?: string;
  bot?: boolean;
  /** A Rails time zone name such as `Europe/Berlin`. */
  timezone?: string | null;
  privateProfile?: boolean;
}

export function createUser(db: Queryable, user: NewUser): Promise<number> {
  return insertOne(db, "users", {
    id: user.id,
    username: user.username,
    name: user.name ?? user.username,
    state: user.state,
    avatar_url: user.avatarUrl,
    web_url: user.webUrl ?? `https://example.com/${user.username}`,
    created_at: user.createdAt,
    bio: user.bio,
    location: user.location,
    organization: user.organization,
    job_title: user.jobTitle,
    pronouns: user.pronouns,
    discord: user.discord,
    bot: user.bot,
    timezone: user.timezone,
    private_profile: user.privateProfile,
  });
}

export async function follow(db: Queryable, followerId: number, followeeId: number): Promise<void> {
  await db.query(
    "INSERT INTO user_follows (follower_id, followee_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    [followerId, followeeId],
  );
}

/** A group, under `parentId` if given. */
export function createGroup(
  db: Queryable,
  g: { id?: number; path: string; parentId?: number },
): Promise<number> {
  return insertOne(db, "groups", { id: g.id, path: g.path, parent_id: g.parentId });
}

export interface NewAccessToken {
  userId: number;
  token: string;
  kind?: "personal" | "oauth";
  name?: string;
  expiresAt?: Date;
  revokedAt?: Date;
  /** Default `["api"]`. */
  scopes?: readonly string[];
}

export function createAccessToken(db: Queryable, t: NewAccessToken): Promise<number> {
  return insertOne(db, "access_tokens", {
    user_id: t.userId,
    kind: t.kind ?? "personal",
    name: t.name ?? "token",
    token_digest: digestToken(t.token),
    expires_at: t.expiresAt,
    revoked_at: t.revokedAt,
    scopes: t.scopes ?? ["api"],
  });
}

export interface NewProject {
  id?: number;
  fullPath: string;
  visibility?: Visibility;
  name?: string;
  description?: string | null;
  /** Defaults to `https://example.com/<full path>`, the host of GitLab's documentation examples. */
  webUrl?: string;
  archived?: boolean;
  /** GitLab's "Public pipelines" (`public_builds`): Guests and, where the project is visible, anyone read its jobs. Default true. */
  publicBuilds?: boolean;
  /** GitLab feature flags enabled for the project (`Feature.enable(flag, project)`). */
  featureFlags?: readonly ProjectFeatureFlag[];
  /** Who may give variables when playing a job. Default `developer`, as on a default GitLab. */
  pipelineVariablesMinimumOverrideRole?: PipelineVariablesMinimumOverrideRole;
  groupId?: number;
  createdAt?: Date;
}

/** The GitLab feature flags a project of the double can have enabled. */
export type ProjectFeatureFlag = "enforce_ci_builds_pagination_limit";

export function createProject(db: Queryable, p: NewProject): Promise<number> {
  const segments = p.fullPath.split("/");
  const path = segments.at(-1) ?? p.fullPath;
  const name = p.name ?? path;
  return insertOne(db, "projects", {
    id: p.id,
    name,
    path,
    full_path: p.fullPath,
    name_with_namespace: [...segments.slice(0, -1), name].join(" / "),
    description: p.description,
    visibility: p.visibility ?? "private",
    web_url: p.webUrl ?? `https://example.com/${p.fullPath}`,
    archived: p.archived,
    public_builds: p.publicBuilds,
    enforce_ci_builds_pagination_limit: p.featureFlags?.includes("enforce_ci_builds_pagination_limit"),
    pipeline_variables_minimum_override_role: p.pipelineVariablesMinimumOverrideRole,
    group_id: p.groupId,
    created_at: p.createdAt,
  });
}

export async function addMember(db: Queryable, projectId: number, userId: number, role: Role): Promise<void> {
  await db.query(
    `INSERT INTO members (project_id, user_id, role) VALUES ($1, $2, $3)
     ON CONFLICT (project_id, user_id) DO UPDATE SET role = EXCLUDED.role`,
    [projectId, userId, role],
  );
}

export interface NewCommit {
  sha: string;
  title?: string;
  message?: string;
  authorName?: string;
  authorEmail?: string;
  /** When it was committed (GitLab's `created_at` and `committed_date`). */
  createdAt?: Date;
  authoredAt?: Date;
  committerName?: string;
  committerEmail?: string;
  parentIds?: string[];
  /** Trailers of the message: every value of each key. */
  trailers?: Record<string, string[]>;
  /** False: the commit is no longer in the repository, and its pipelines' jobs answer `commit: null`. */
  inRepository?: boolean;
}

export interface NewPipeline {
  id?: number;
  /** Null: the pipeline has no id within its project (GitLab's imported pipelines and those older than the column). */
  iid?: null;
  projectId: number;
  commit?: NewCommit;
  ref?: string;
  status?: string;
  source?: string;
  userId?: number;
  /** Whether the pipeline's ref is protected (`Ci::Pipeline#protected_ref?`); false by default. */
  protected?: boolean;
  createdAt?: Date;
  updatedAt?: Date;
}

const DEFAULT_SHA = "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd";

export async function createPipeline(db: Queryable, p: NewPipeline): Promise<number> {
  const commit = p.commit ?? { sha: DEFAULT_SHA };
  const title = commit.title ?? "Test the CI integration.";
  const authorName = commit.authorName ?? "Administrator";
  const authorEmail = commit.authorEmail ?? "admin@example.com";
  const committedAt = commit.createdAt ?? new Date();
  await db.query(
    `INSERT INTO commits (project_id, sha, title, message, author_name, author_email, created_at,
       authored_date, committer_name, committer_email, parent_ids, trailers, in_repository)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (project_id, sha) DO NOTHING`,
    [
      p.projectId,
      commit.sha,
      title,
      commit.message ?? title,
      authorName,
      authorEmail,
      committedAt,
      commit.authoredAt ?? committedAt,
      commit.committerName ?? authorName,
      commit.committerEmail ?? authorEmail,
      commit.parentIds ?? [],
      JSON.stringify(commit.trailers ?? {}),
      commit.inRepository ?? true,
    ],
  );
  const [next] = await db.query<{ iid: number }>(
    "SELECT coalesce(max(iid), 0) + 1 AS iid FROM pipelines WHERE project_id = $1",
    [p.projectId],
  );
  return insertOne(db, "pipelines", {
    id: p.id,
    iid: p.iid === null ? null : (next?.iid ?? 1),
    project_id: p.projectId,
    sha: commit.sha,
    ref: p.ref ?? "main",
    status: p.status ?? "pending",
    source: p.source,
    user_id: p.userId,
    protected: p.protected,
    created_at: p.createdAt,
    updated_at: p.updatedAt ?? p.createdAt,
  });
}

export interface NewRunner {
  id?: number;
  description?: string;
  name?: string;
  ipAddress?: string;
  runnerType?: Runner["runner_type"];
  creatorId?: number;
  createdAt?: Date;
  /** The runner's authentication token (`glrt-…`); stored as its digest. Without one it cannot ask for jobs. */
  token?: string;
  /** It picks jobs whose tags are all among these. */
  tagList?: string[];
  /** Whether it picks jobs without tags (default true). */
  runUntagged?: boolean;
  paused?: boolean;
}

export function createRunner(db: Queryable, r: NewRunner = {}): Promise<number> {
  return insertOne(db, "runners", {
    id: r.id,
    description: r.description ?? "shared-runner",
    name: r.name ?? "gitlab-runner",
    ip_address: r.ipAddress,
    runner_type: r.runnerType ?? "instance_type",
    creator_id: r.creatorId,
    created_at: r.createdAt,
    token_digest: r.token === undefined ? undefined : digestToken(r.token),
    tag_list: r.tagList,
    run_untagged: r.runUntagged,
    paused: r.paused,
  });
}

export interface NewRunnerManager {
  id?: number;
  runnerId: number;
  systemId: string;
  version?: string;
  revision?: string;
  platform?: string;
  architecture?: string;
  ipAddress?: string;
  createdAt?: Date;
  contactedAt?: Date;
}

export function createRunnerManager(db: Queryable, m: NewRunnerManager): Promise<number> {
  return insertOne(db, "runner_managers", {
    id: m.id,
    runner_id: m.runnerId,
    system_id: m.systemId,
    version: m.version,
    revision: m.revision,
    platform: m.platform,
    architecture: m.architecture,
    ip_address: m.ipAddress,
    created_at: m.createdAt,
    contacted_at: m.contactedAt,
  });
}

export interface NewEnvironment {
  id?: number;
  projectId: number;
  name: string;
  /** GitLab derives it from the name (lower case, `-` for other characters, a random suffix if changed). */
  slug: string;
  tier?: "production" | "staging" | "testing" | "development" | "other";
}

export function createEnvironment(db: Queryable, e: NewEnvironment): Promise<number> {
  return insertOne(db, "environments", {
    id: e.id,
    project_id: e.projectId,
    name: e.name,
    slug: e.slug,
    tier: e.tier,
  });
}

export interface NewJob {
  id?: number;
  pipelineId: number;
  name: string;
  status: JobStatus;
  type?: JobType;
  stage?: string;
  when?: "on_success" | "on_failure" | "always" | "manual" | "delayed";
  allowFailure?: boolean;
  retried?: boolean;
  userId?: number;
  runnerId?: number;
  runnerManagerId?: number;
  environmentId?: number;
  coverage?: number;
  tagList?: string[];
  failureReason?: string;
  createdAt?: Date;
  queuedAt?: Date;
  startedAt?: Date;
  finishedAt?: Date;
  artifactsExpireAt?: Date;
  downstreamPipelineId?: number;
  /** The attempt this job retries (which must be marked `retried`). */
  retryOfId?: number;
  /** Builds: the script lines a runner runs. */
  script?: string[];
}

/** A job in a pipeline; project and ref come from the pipeline. */
export function createJob(db: Queryable, j: NewJob): Promise<number> {
  return db
    .query<{ id: number }>(
      `INSERT INTO jobs (id, project_id, pipeline_id, ref, type, name, stage, status, "when", allow_failure, retried,
         user_id, runner_id, coverage, tag_list, failure_reason, created_at, queued_at, started_at, finished_at,
         artifacts_expire_at, downstream_pipeline_id, retry_of_id, runner_manager_id, environment_id, script)
       SELECT coalesce($1, nextval(pg_get_serial_sequence('jobs', 'id'))), p.project_id, p.id, p.ref,
         $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, coalesce($15, now()), $16, $17, $18, $19, $20, $21,
         $22, $23, $24
       FROM pipelines p WHERE p.id = $2
       RETURNING id`,
      [
        j.id ?? null,
        j.pipelineId,
        j.type ?? "build",
        j.name,
        j.stage ?? "test",
        j.status,
        j.when ?? "on_success",
        j.allowFailure ?? false,
        j.retried ?? false,
        j.userId ?? null,
        j.runnerId ?? null,
        j.coverage ?? null,
        j.tagList ?? [],
        j.failureReason ?? null,
        j.createdAt ?? null,
        j.queuedAt ?? null,
        j.startedAt ?? null,
        j.finishedAt ?? null,
        // In GitLab's form: PostgreSQL refuses `Date`'s expanded year past 9999 (`+012026-…`), which the
        // driver would send for an expiry thousands of years ahead.
        j.artifactsExpireAt ? iso(j.artifactsExpireAt) : null,
        j.downstreamPipelineId ?? null,
        j.retryOfId ?? null,
        j.runnerManagerId ?? null,
        j.environmentId ?? null,
        j.script ?? [],
      ],
    )
    .then(([row]) => {
      if (!row) throw new Error(`pipeline ${j.pipelineId} does not exist`);
      return row.id;
    });
}

export async function addArtifacts(
  db: Queryable,
  jobId: number,
  artifacts: readonly Artifact[],
): Promise<void> {
  for (const a of artifacts) {
    await db.query(
      "INSERT INTO job_artifacts (job_id, file_type, file_format, filename, size) VALUES ($1, $2, $3, $4, $5)",
      [jobId, a.file_type, a.file_format, a.filename, a.size],
    );
  }
}

export async function setTrace(db: Queryable, jobId: number, content: string): Promise<void> {
  await db.query(
    "INSERT INTO job_traces (job_id, content) VALUES ($1, $2) ON CONFLICT (job_id) DO UPDATE SET content = EXCLUDED.content",
    [jobId, content],
  );
}

export async function createJobToken(db: Queryable, jobId: number, token: string): Promise<void> {
  await db.query("INSERT INTO job_tokens (token_digest, job_id) VALUES ($1, $2)", [
    digestToken(token),
    jobId,
  ]);
}

export async function createAgent(
  db: Queryable,
  a: {
    id?: number;
    projectId: number;
    name: string;
    /**
     * The projects (a bare id: with `{}`) and groups the agent's `ci_access` lists, each with the configuration
     * of its entry; a group's reaches the projects of the group and of its subgroups.
     */
    sharedWith?: readonly (
      | number
      | { projectId: number; config: Record<string, unknown> }
      | { groupId: number; config: Record<string, unknown> }
    )[];
  },
): Promise<number> {
  const id = await insertOne(db, "agents", {
    id: a.id,
    project_id: a.projectId,
    name: a.name,
  });
  for (const shared of a.sharedWith ?? []) {
    if (typeof shared === "object" && "groupId" in shared) {
      await db.query(
        "INSERT INTO agent_group_authorizations (agent_id, group_id, config) VALUES ($1, $2, $3)",
        [id, shared.groupId, JSON.stringify(shared.config)],
      );
      continue;
    }
    const { projectId, config } = typeof shared === "number" ? { projectId: shared, config: {} } : shared;
    await db.query("INSERT INTO agent_authorizations (agent_id, project_id, config) VALUES ($1, $2, $3)", [
      id,
      projectId,
      JSON.stringify(config),
    ]);
  }
  return id;
}

/** GitLab's instance settings the double models (`application_settings`). */
export interface ApplicationSettings {
  /**
   * Admin > Settings > CI/CD "Archive jobs": a job created longer ago than this many seconds is archived
   * (`Ci::Build#archived?`). Null (GitLab's default) archives no job; GitLab requires at least one day.
   */
  archiveBuildsInSeconds: number | null;
}

/** Sets the instance settings (one row: `application_settings` holds at most one). */
export async function setApplicationSettings(db: Queryable, settings: ApplicationSettings): Promise<void> {
  await db.query(
    `INSERT INTO application_settings (id, archive_builds_in_seconds) VALUES (1, $1)
     ON CONFLICT (id) DO UPDATE SET archive_builds_in_seconds = EXCLUDED.archive_builds_in_seconds`,
    [settings.archiveBuildsInSeconds],
  );
}

/** After inserting rows with explicit ids, move the identity sequences past them. */
export async function resetSequences(db: Queryable): Promise<void> {
  for (const table of [
    "users",
    "projects",
    "pipelines",
    "runners",
    "runner_managers",
    "jobs",
    "agents",
    "groups",
    "environments",
  ]) {
    await db.query(
      `SELECT setval(pg_get_serial_sequence('${table}', 'id'), coalesce((SELECT max(id) FROM ${table}), 0) + 1, false)`,
    );
  }
}
