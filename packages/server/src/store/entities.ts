import type {
  AllowedAgents,
  Bridge,
  Commit,
  DownstreamPipeline,
  Job,
  JobBasic,
  PipelineBasic,
  ProjectIdentity,
  Runner,
  User,
  UserBasic,
} from "@jobs-api/types";
import type { AgentRow } from "./projects.js";
import type { CommitRow, JobRow, PipelineRow, ProjectRow, RunnerRow, UserRow } from "./rows.js";
import { iso, isoOrNull, seconds } from "./timestamps.js";

/** Rows → the JSON GitLab sends (its `Entities::Ci::*` classes). */

function userBasic(row: UserRow): UserBasic {
  return {
    id: row.id,
    name: row.name,
    username: row.username,
    state: row.state,
    avatar_url: row.avatar_url,
    web_url: row.web_url,
  };
}

// The longer entities extend the shorter ones with Object.assign, not object spread: spreading made
// building a page of jobs six times slower (V8 copies a spread object property by property into a new
// shape), and it is on every request's path (BENCHMARKS.md).

function user(row: UserRow): User {
  return Object.assign(userBasic(row), {
    created_at: iso(row.created_at),
    bio: row.bio,
    location: row.location,
    public_email: row.public_email,
    skype: row.skype,
    linkedin: row.linkedin,
    twitter: row.twitter,
    website_url: row.website_url,
    organization: row.organization,
  });
}

function commit(row: CommitRow): Commit {
  return {
    id: row.sha,
    short_id: row.sha.slice(0, 8),
    title: row.title,
    message: row.message,
    author_name: row.author_name,
    author_email: row.author_email,
    created_at: iso(row.created_at),
  };
}

/** The long form, which satisfies both the job's `pipeline` and a bridge's `downstream_pipeline`. */
function pipeline(row: PipelineRow): PipelineBasic & DownstreamPipeline {
  return {
    id: row.id,
    iid: row.iid,
    project_id: row.project_id,
    sha: row.sha,
    ref: row.ref,
    status: row.status,
    source: row.source,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    web_url: row.web_url,
  };
}

function runner(row: RunnerRow): Runner {
  return {
    id: row.id,
    description: row.description,
    ip_address: row.ip_address,
    active: !row.paused,
    paused: row.paused,
    is_shared: row.runner_type === "instance_type",
    runner_type: row.runner_type,
    name: row.name,
    online: row.online,
    status: row.status,
  };
}

function projectIdentity(row: ProjectRow): ProjectIdentity {
  return {
    id: row.id,
    description: row.description,
    name: row.name,
    name_with_namespace: row.name_with_namespace,
    path: row.path,
    path_with_namespace: row.full_path,
    created_at: iso(row.created_at),
  };
}

function jobBasic(row: JobRow, now: Date): JobBasic & { pipeline: PipelineBasic } {
  const end = row.finished_at ?? now;
  const basic: JobBasic & { pipeline: PipelineBasic } = {
    id: row.id,
    status: row.status,
    stage: row.stage,
    name: row.name,
    ref: row.ref,
    tag: row.tag,
    coverage: row.coverage,
    allow_failure: row.allow_failure,
    created_at: iso(row.created_at),
    started_at: isoOrNull(row.started_at),
    finished_at: isoOrNull(row.finished_at),
    erased_at: isoOrNull(row.erased_at),
    duration: row.started_at ? seconds(row.started_at, end) : null,
    queued_duration: row.queued_at ? seconds(row.queued_at, row.started_at ?? now) : null,
    user: row.user ? user(row.user) : null,
    commit: commit(row.commit),
    pipeline: pipeline(row.pipeline),
    web_url: `${row.project_web_url}/-/jobs/${row.id}`,
    project: { ci_job_token_scope_enabled: row.ci_job_token_scope_enabled },
  };
  // GitLab sends the reason of failed jobs only.
  if (row.status === "failed" && row.failure_reason !== null) basic.failure_reason = row.failure_reason;
  return basic;
}

export function job(row: JobRow, now = new Date()): Job {
  const archive = row.artifacts.find((a) => a.file_type === "archive");
  const built: Job = Object.assign(jobBasic(row, now), {
    artifacts: row.artifacts,
    artifacts_expire_at: isoOrNull(row.artifacts_expire_at),
    runner: row.runner ? runner(row.runner) : null,
    runner_manager: null,
    tag_list: row.tag_list,
    archived: row.project_archived,
  });
  if (archive) built.artifacts_file = { filename: archive.filename, size: archive.size };
  return built;
}

export function bridge(row: JobRow, now = new Date()): Bridge {
  return Object.assign(jobBasic(row, now), {
    downstream_pipeline: row.downstream_pipeline ? pipeline(row.downstream_pipeline) : null,
  });
}

/** A build as `job`, a trigger job as `bridge`. */
export const anyJob = (row: JobRow, now = new Date()): Job | Bridge =>
  row.type === "bridge" ? bridge(row, now) : job(row, now);

export function allowedAgents(row: JobRow, project: ProjectRow, agents: readonly AgentRow[]): AllowedAgents {
  if (!row.user) throw new Error(`job ${row.id} has no user`);
  return {
    allowed_agents: agents.map((a) => ({ id: a.id, config_project: projectIdentity(a.config_project) })),
    job: { id: row.id, name: row.name, stage: row.stage, project_id: project.id, project_name: project.name },
    pipeline: pipeline(row.pipeline),
    project: projectIdentity(project),
    user: userBasic(row.user),
  };
}
