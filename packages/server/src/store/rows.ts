import type { Artifact, JobStatus, PipelineStatus, Runner, User } from "@jobs-api/types";

/** Timestamps arrive as `Date` from columns and as ISO strings from inside `json` values. */
export type Timestamp = Date | string;

export type Role = "guest" | "reporter" | "developer" | "maintainer" | "owner";
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
  created_at: Timestamp;
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
  created_at: Timestamp;
}

export interface PipelineRow {
  id: number;
  iid: number;
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
  project_archived: boolean;
  ci_job_token_scope_enabled: boolean;
  user: UserRow | null;
  pipeline: PipelineRow;
  commit: CommitRow;
  runner: RunnerRow | null;
  downstream_pipeline: PipelineRow | null;
  artifacts: Artifact[];
}
