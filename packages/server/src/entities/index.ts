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
  RunnerManager,
  User,
  UserBasic,
} from "@jobs-api/types";
import type { AgentContext, AgentRow } from "../store/projects.js";
import type {
  CommitRow,
  JobRow,
  JobUserRow,
  PipelineRow,
  ProjectRow,
  Role,
  RunnerManagerRow,
  RunnerRow,
  UserRow,
} from "../store/rows.js";
import { instant, iso, isoOrNull, seconds } from "./timestamps.js";

/** Rows → the JSON GitLab sends (its `Entities::Ci::*` classes). */

function userBasic(row: UserRow): UserBasic {
  return {
    id: row.id,
    name: row.name,
    username: row.username,
    state: row.state,
    locked: row.locked,
    avatar_url: row.avatar_url,
    web_url: row.web_url,
  };
}

// The longer entities extend the shorter ones with Object.assign, not object spread: spreading made
// building a page of jobs six times slower (V8 copies a spread object property by property into a new
// shape), and it is on every request's path (BENCHMARKS.md).

/** `job_title at organization`, either alone, or null: GitLab's `UsersHelper#work_information`. */
function workInformation(row: UserRow): string | null {
  if (row.job_title && row.organization) return `${row.job_title} at ${row.organization}`;
  return row.job_title || row.organization || null;
}

/** A zone's clock: its format, and the text it showed in the minute last asked for. */
interface Clock {
  format: Intl.DateTimeFormat;
  minute: number;
  text: string;
}

const clocks = new Map<string, Clock>();

function clockFormat(timeZone: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat("en-US", { timeZone, hour: "numeric", minute: "2-digit", hour12: true });
}

/** The user's time now as `h:MM AM` in their time zone (GitLab's `TimeZoneHelper#local_time`); null without one. */
export function localTime(timezone: string | null, now: Date): string | null {
  if (!timezone) return null;
  let clock = clocks.get(timezone);
  if (!clock) {
    let format: Intl.DateTimeFormat;
    try {
      format = clockFormat(timezone);
    } catch {
      // GitLab falls back to the instance's zone (UTC here) for a name it does not know.
      format = clockFormat("UTC");
    }
    clock = { format, minute: Number.NaN, text: "" };
    clocks.set(timezone, clock);
  }
  // Zones are whole minutes off UTC, so the text changes only with the minute: formatting it once a minute
  // instead of once a user was 2% of a 20-job page's samples.
  const minute = Math.floor(now.getTime() / 60_000);
  if (clock.minute !== minute) {
    const parts = clock.format.formatToParts(now);
    const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
    clock.text = `${part("hour")}:${part("minute")} ${part("dayPeriod").toUpperCase()}`;
    clock.minute = minute;
  }
  return clock.text;
}

/**
 * GitLab's `Entities::User` as `viewerId` sees it: `created_at` and the follow counts only when the
 * viewer may read the profile (it is public, or their own), `is_followed` only to a signed-in viewer.
 */
function user(row: JobUserRow, viewerId: number | null, now: Date): User {
  const built: User = Object.assign(userBasic(row), {
    bio: row.bio,
    location: row.location,
    public_email: row.public_email,
    skype: row.skype,
    linkedin: row.linkedin,
    twitter: row.twitter,
    discord: row.discord,
    website_url: row.website_url,
    organization: row.organization,
    job_title: row.job_title,
    pronouns: row.pronouns,
    bot: row.bot,
    work_information: workInformation(row),
    local_time: localTime(row.timezone, now),
  });
  if (!row.private_profile || viewerId === row.id) {
    built.created_at = iso(row.created_at);
    built.followers = row.followers;
    built.following = row.following;
    if (viewerId !== null) built.is_followed = row.followed_by_viewer;
  }
  return built;
}

/** GitLab's `trailers`: the last value of each key. */
function lastValues(trailers: Record<string, string[]>): Record<string, string> {
  const last: Record<string, string> = {};
  for (const [key, values] of Object.entries(trailers)) {
    const value = values.at(-1);
    if (value !== undefined) last[key] = value;
  }
  return last;
}

function commit(row: CommitRow, projectWebUrl: string): Commit {
  return {
    id: row.sha,
    short_id: row.sha.slice(0, 8),
    created_at: iso(row.created_at),
    parent_ids: row.parent_ids,
    title: row.title,
    message: row.message,
    author_name: row.author_name,
    author_email: row.author_email,
    authored_date: iso(row.authored_date),
    committer_name: row.committer_name,
    committer_email: row.committer_email,
    committed_date: iso(row.created_at),
    trailers: lastValues(row.trailers),
    extended_trailers: row.trailers,
    web_url: `${projectWebUrl}/-/commit/${row.sha}`,
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
  const built: Runner = {
    id: row.id,
    description: row.description,
    // GitLab 17 and later always answer null here: a runner's addresses are its managers'.
    ip_address: null,
    active: !row.paused,
    paused: row.paused,
    is_shared: row.runner_type === "instance_type",
    runner_type: row.runner_type,
    name: row.name,
    online: row.online,
    created_at: iso(row.created_at),
    status: row.status,
    job_execution_status: row.running ? "active" : "idle",
  };
  // Sent when the runner has a creator (every user may see another here: no restricted visibility).
  if (row.creator) built.created_by = userBasic(row.creator);
  return built;
}

function runnerManager(row: RunnerManagerRow): RunnerManager {
  return {
    id: row.id,
    system_id: row.system_id,
    version: row.version,
    revision: row.revision,
    platform: row.platform,
    architecture: row.architecture,
    created_at: iso(row.created_at),
    contacted_at: isoOrNull(row.contacted_at),
    ip_address: row.ip_address,
    status: row.status,
    job_execution_status: row.running ? "active" : "idle",
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

function jobBasic(row: JobRow, viewerId: number | null, now: Date): JobBasic & { pipeline: PipelineBasic } {
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
    user: row.user ? user(row.user, viewerId, now) : null,
    commit: row.commit ? commit(row.commit, row.project_web_url) : null,
    pipeline: pipeline(row.pipeline),
    web_url: `${row.project_web_url}/-/jobs/${row.id}`,
    project: { ci_job_token_scope_enabled: row.ci_job_token_scope_enabled },
  };
  // GitLab sends the reason of every failed job, and of no other job. A job failed without one reads back as
  // `unknown_failure`: GitLab's enum maps that key to NULL (`unknown_failure: nil`), and Rails' enum turns a
  // NULL column into the key that maps to it.
  if (row.status === "failed") basic.failure_reason = row.failure_reason ?? "unknown_failure";
  return basic;
}

/**
 * GitLab's job-level `archived?` (ci/build.rb, ci/processable.rb): created before the instance's
 * `archive_builds_older_than` (`archive_builds_in_seconds.seconds.ago`, application_setting.rb), unset by
 * default. Not the project's archived flag, which takes away the rights to change builds instead.
 * GitLab's other cause, a degenerated job (its pipeline archived, its definition dropped), is not modelled.
 */
export const jobArchived = (row: JobRow, now = new Date()): boolean =>
  row.archive_builds_in_seconds !== null &&
  instant(row.created_at).getTime() < now.getTime() - row.archive_builds_in_seconds * 1000;

export function job(row: JobRow, viewerId: number | null, now = new Date()): Job {
  const archive = row.artifacts.find((a) => a.file_type === "archive");
  const built: Job = Object.assign(jobBasic(row, viewerId, now), {
    artifacts: row.artifacts,
    artifacts_expire_at: isoOrNull(row.artifacts_expire_at),
    runner: row.runner ? runner(row.runner) : null,
    // GitLab's `job.tags.map(&:name).sort`: byte order, which JavaScript's default sort gives for tag names.
    tag_list: [...row.tag_list].sort(),
    archived: jobArchived(row, now),
  });
  // Exposed `if: job.is_a?(Ci::Build)`: a trigger job answered with this entity (retry's answer) has no key.
  if (row.type !== "bridge") {
    built.runner_manager = row.runner_manager ? runnerManager(row.runner_manager) : null;
  }
  // GitLab's `artifacts?`: an archive that has not expired.
  const expired = row.artifacts_expire_at !== null && instant(row.artifacts_expire_at) <= now;
  // The fixtures refuse an archive without a size (GitLab reads it from the file), so the check only narrows.
  if (archive && archive.size !== null && !expired)
    built.artifacts_file = { filename: archive.filename, size: archive.size };
  return built;
}

export function bridge(row: JobRow, viewerId: number | null, now = new Date()): Bridge {
  return Object.assign(jobBasic(row, viewerId, now), {
    downstream_pipeline: row.downstream_pipeline ? pipeline(row.downstream_pipeline) : null,
  });
}

/** A build as `job`, a trigger job as `bridge`. */
export const anyJob = (row: JobRow, viewerId: number | null, now = new Date()): Job | Bridge =>
  row.type === "bridge" ? bridge(row, viewerId, now) : job(row, viewerId, now);

/** GitLab's roles (`Gitlab::Access.sym_options_with_owner`), lowest first, with their access levels. */
const ROLE_LEVELS = [
  ["guest", 10],
  ["planner", 15],
  ["reporter", 20],
  ["developer", 30],
  ["maintainer", 40],
  ["owner", 50],
] as const;

type RoleName = (typeof ROLE_LEVELS)[number][0];

/** Every role up to `role`'s access level; none for a non-member. */
export function rolesUpTo(role: Role | null): RoleName[] {
  const level = ROLE_LEVELS.find(([name]) => name === role)?.[1] ?? 0;
  return ROLE_LEVELS.filter(([, l]) => l <= level).map(([name]) => name);
}

/** The hash GitLab's `/job/allowed_agents` route builds (no entity class of its own). */
export function allowedAgents(
  row: JobRow,
  context: AgentContext,
  agents: readonly AgentRow[],
): AllowedAgents {
  const answer: AllowedAgents = {
    allowed_agents: agents.map((a) => ({
      id: a.id,
      config_project: projectIdentity(a.config_project),
      configuration: a.config,
    })),
    job: { id: row.id },
    pipeline: { id: row.pipeline.id },
    project: { id: context.projectId, groups: context.groupIds.map((id) => ({ id })) },
    user: { id: context.userId, username: context.username, roles_in_project: rolesUpTo(context.role) },
  };
  // `.compact`: no key at all when the job has no environment.
  if (row.environment) answer.environment = { tier: row.environment.tier, slug: row.environment.slug };
  return answer;
}
