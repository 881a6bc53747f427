import type { Artifact, JobStatus, PipelineStatus, Runner, RunnerManager, User } from "@jobs-api/types";

/** Timestamps arrive as `Date` from columns and as ISO strings from inside `json` values. */
export type Timestamp = Date | string;

export type Role = "guest" | "reporter" | "developer" | "maintainer" | "owner";

/** GitLab's `ci_pipeline_variables_minimum_override_role` values (project_ci_cd_setting.rb's enum). */
export type PipelineVariablesMinimumOverrideRole = "no_one_allowed" | "developer" | "maintainer" | "owner";
export type Visibility = "private" | "internal" | "public";
export type JobType = "build" | "bridge";

export interface UserRow {
  id: number;
  username: string;
  name: string;
  state: User["state"];
  avatar_url: string | null;
  web_url: string;
  bio: string | null;
  location: string | null;
  public_email: string;
  skype: string;
  linkedin: string;
  twitter: string;
  website_url: string;
  organization: string;
  discord: string;
  job_title: string;
  pronouns: string | null;
  bot: boolean;
  timezone: string | null;
  locked: boolean;
  private_profile: boolean;
  created_at: Timestamp;
}

/** A job's user as `jobSelect` reads it: the row, its follow counts, and whether the viewer follows them. */
export interface JobUserRow extends UserRow {
  followers: number;
  following: number;
  followed_by_viewer: boolean;
}

export interface ProjectRow {
  id: number;
  name: string;
  path: string;
  full_path: string;
  name_with_namespace: string;
  description: string | null;
  visibility: Visibility;
  web_url: string;
  archived: boolean;
  /** GitLab's "Public pipelines" setting: anyone who can see the project reads its jobs. */
  public_builds: boolean;
  /** GitLab's ops flag `enforce_ci_builds_pagination_limit`, enabled for this project. */
  enforce_ci_builds_pagination_limit: boolean;
  /** GitLab's "Minimum role to use pipeline variables": who may give variables when playing a job. */
  pipeline_variables_minimum_override_role: PipelineVariablesMinimumOverrideRole;
  group_id: number | null;
  created_at: Timestamp;
}

export interface PipelineRow {
  id: number;
  /** Null for a pipeline without an id within its project (imported, or older than the column). */
  iid: number | null;
  project_id: number;
  sha: string;
  ref: string;
  status: PipelineStatus;
  source: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  web_url: string;
}

export interface CommitRow {
  sha: string;
  title: string;
  message: string;
  author_name: string;
  author_email: string;
  created_at: Timestamp;
  parent_ids: string[];
  authored_date: Timestamp;
  committer_name: string;
  committer_email: string;
  /** Every value of each trailer key, in order. */
  trailers: Record<string, string[]>;
}

export interface RunnerRow {
  id: number;
  description: string;
  name: string | null;
  ip_address: string | null;
  runner_type: Runner["runner_type"];
  paused: boolean;
  online: boolean;
  status: Runner["status"];
  created_at: Timestamp;
  /** Whether it runs a job now (`job_execution_status`). */
  running: boolean;
  creator: UserRow | null;
}

export interface RunnerManagerRow {
  id: number;
  system_id: string;
  version: string | null;
  revision: string | null;
  platform: string | null;
  architecture: string | null;
  ip_address: string | null;
  status: NonNullable<RunnerManager["status"]>;
  created_at: Timestamp;
  contacted_at: Timestamp | null;
  running: boolean;
}

export interface EnvironmentRow {
  name: string;
  slug: string;
  tier: "production" | "staging" | "testing" | "development" | "other";
}

/** A job with everything its JSON needs, as `jobSelect` reads it: one JSON value, timestamps as ISO strings. */
export interface JobRow {
  id: number;
  type: JobType;
  project_id: number;
  pipeline_id: number;
  name: string;
  stage: string;
  ref: string;
  tag: boolean;
  status: JobStatus;
  when: string;
  allow_failure: boolean;
  retried: boolean;
  user_id: number | null;
  coverage: number | null;
  tag_list: string[];
  failure_reason: string | null;
  created_at: string;
  queued_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  artifacts_expire_at: string | null;
  erased_at: string | null;
  project_web_url: string;
  /** The instance's `archive_builds_in_seconds` (null: jobs are never archived), read with the job. */
  archive_builds_in_seconds: number | null;
  ci_job_token_scope_enabled: boolean;
  user: JobUserRow | null;
  pipeline: PipelineRow;
  /** Null when the commit is no longer in the repository. */
  commit: CommitRow | null;
  runner: RunnerRow | null;
  runner_manager: RunnerManagerRow | null;
  environment: EnvironmentRow | null;
  downstream_pipeline: PipelineRow | null;
  artifacts: Artifact[];
}
