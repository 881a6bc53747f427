import type { RunnerJob, RunnerJobVariable } from "@jobs-api/types";
import { FAILURE_REASONS, type RunnerJobRow } from "../store/runner.js";
import { seconds } from "./timestamps.js";

/**
 * The job as GitLab hands it to its runner (`Entities::Ci::JobRequest::Response`), for a job the data model
 * knows only the `script` of: no image, services, artifacts, cache or dependencies are configured, and no
 * registry credentials are sent (GitLab sends none when its container registry is off).
 */

/** Seconds a job may run: GitLab's default project timeout (one hour). */
export const JOB_TIMEOUT = 3600;

/** GitLab's default shallow clone depth (`ci_default_git_depth`), which `GIT_DEPTH` overrides. */
const DEFAULT_GIT_DEPTH = 20;

/** `Gitlab::Git::SHA1_BLANK_SHA`: the `before_sha` of a pipeline without a previous commit. */
const BLANK_SHA = "0000000000000000000000000000000000000000";

const variable = (key: string, value: string | null, visible = true, masked = false): RunnerJobVariable => ({
  key,
  value,
  public: visible,
  masked,
});

/** The project's HTTP clone URL with the job token as credentials, as runners clone with it. */
function repoUrl(projectWebUrl: string, token: string): string {
  const url = new URL(`${projectWebUrl}.git`);
  url.username = "gitlab-ci-token";
  url.password = token;
  return url.href;
}

/** has_variable.rb `enum variable_type: { env_var: 1, file: 2 }`. */
const FILE_VARIABLE = 2;

/**
 * A job variable as the runner gets it: `to_hash_variable` gives `public: false, file: file?, raw: raw?`
 * (has_variable.rb, raw_variable.rb), and `Collection::Item#to_runner_variable` adds `masked: false` and drops
 * `file` and `raw` when false (variables/collection/item.rb).
 */
function jobVariable(v: RunnerJobRow["variables"][number]): RunnerJobVariable {
  return {
    ...variable(v.key, v.value, false),
    ...(v.variable_type === FILE_VARIABLE && { file: true }),
    ...(v.raw && { raw: true }),
  };
}

/**
 * Predefined variables first (those a job's script and the runner rely on: server, job, pipeline, project and
 * commit), then the job's own variables, which like every variable GitLab stores are not `public`.
 */
function variables(row: RunnerJobRow, token: string, serverUrl: string): RunnerJobVariable[] {
  return [
    variable("CI", "true"),
    variable("GITLAB_CI", "true"),
    variable("CI_SERVER_URL", serverUrl),
    variable("CI_API_V4_URL", `${serverUrl}/api/v4`),
    variable("CI_JOB_ID", String(row.id)),
    variable("CI_JOB_NAME", row.name),
    variable("CI_JOB_STAGE", row.stage),
    variable("CI_JOB_TOKEN", token, false, true),
    variable("CI_JOB_URL", `${row.project_web_url}/-/jobs/${row.id}`),
    variable("CI_PIPELINE_ID", String(row.pipeline_id)),
    variable("CI_PIPELINE_SOURCE", row.pipeline_source),
    variable("CI_PROJECT_ID", String(row.project_id)),
    variable("CI_PROJECT_NAME", row.project_name),
    // GitLab's `Project#predefined_project_variables` sends the description as it is: null without one.
    variable("CI_PROJECT_DESCRIPTION", row.project_description),
    variable("CI_PROJECT_PATH", row.project_full_path),
    variable("CI_PROJECT_URL", row.project_web_url),
    variable("CI_REPOSITORY_URL", repoUrl(row.project_web_url, token), false),
    variable("CI_COMMIT_SHA", row.sha),
    variable("CI_COMMIT_REF_NAME", row.ref),
    variable(row.tag ? "CI_COMMIT_TAG" : "CI_COMMIT_BRANCH", row.ref),
    ...row.variables.map(jobVariable),
  ];
}

/** `GIT_DEPTH` of the job's variables when it is a whole number, else the default. */
function gitDepth(row: RunnerJobRow): number {
  const text = row.variables.findLast((v) => v.key === "GIT_DEPTH")?.value;
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : DEFAULT_GIT_DEPTH;
}

/**
 * Refspecs as `Ci::BuildRunnerPresenter#refspecs` writes them: the pipeline's ref and, for a shallow clone,
 * only the job's branch or tag; for a full clone every branch and tag.
 */
function refspecs(row: RunnerJobRow, depth: number): string[] {
  const pipelineRef = `+refs/pipelines/${row.pipeline_id}:refs/pipelines/${row.pipeline_id}`;
  if (depth === 0) return [pipelineRef, "+refs/tags/*:refs/tags/*", "+refs/heads/*:refs/remotes/origin/*"];
  return [
    pipelineRef,
    row.tag
      ? `+refs/tags/${row.ref}:refs/tags/${row.ref}`
      : `+refs/heads/${row.ref}:refs/remotes/origin/${row.ref}`,
  ];
}

/** `serverUrl`: the GitLab origin the job's scripts call back (`CI_SERVER_URL`). */
export function runnerJob(row: RunnerJobRow, token: string, serverUrl: string): RunnerJob {
  const depth = gitDepth(row);
  return {
    id: row.id,
    token,
    allow_git_fetch: true,
    job_info: {
      id: row.id,
      name: row.name,
      stage: row.stage,
      project_id: row.project_id,
      project_name: row.project_name,
      pipeline_id: row.pipeline_id,
      project_full_path: row.project_full_path,
      namespace_id: row.namespace_id,
      user_id: row.user_id,
      time_in_queue_seconds:
        row.queued_at && row.started_at ? Math.floor(seconds(row.queued_at, row.started_at)) : null,
    },
    git_info: {
      repo_url: repoUrl(row.project_web_url, token),
      ref: row.ref,
      sha: row.sha,
      before_sha: row.before_sha ?? BLANK_SHA,
      ref_type: row.tag ? "tag" : "branch",
      refspecs: refspecs(row, depth),
      depth,
    },
    runner_info: { timeout: JOB_TIMEOUT, runner_session_url: null },
    variables: variables(row, token, serverUrl),
    steps: [
      { name: "script", script: row.script, timeout: JOB_TIMEOUT, when: "on_success", allow_failure: false },
    ],
    image: null,
    services: [],
    artifacts: null,
    cache: [],
    credentials: [],
    dependencies: [],
    features: { trace_sections: true, failure_reasons: [...FAILURE_REASONS] },
  };
}
