import type { OperationId } from "@jobs-api/types";
import { SpecValidator } from "@jobs-api/types/validate";
import { cancelJobChecks } from "./checks/cancelJob.js";
import { eraseJobChecks } from "./checks/eraseJob.js";
import { getJobChecks } from "./checks/getJob.js";
import { getJobTokenAllowedAgentsChecks } from "./checks/getJobTokenAllowedAgents.js";
import { getJobTokenJobChecks } from "./checks/getJobTokenJob.js";
import { getJobTraceChecks } from "./checks/getJobTrace.js";
import type { CheckDefinition } from "./checks/helpers.js";
import { listPipelineBridgesChecks } from "./checks/listPipelineBridges.js";
import { listPipelineJobsChecks } from "./checks/listPipelineJobs.js";
import { listProjectJobsChecks } from "./checks/listProjectJobs.js";
import { playJobChecks } from "./checks/playJob.js";
import { retryJobChecks } from "./checks/retryJob.js";
import { CheckContext, CheckFailure, CheckSkipped } from "./context.js";
import { discover, SetupError } from "./discovery.js";
import { Http } from "./http.js";
import { preflight, preflightDestructive } from "./preflight.js";
import { type CheckResult, countResults, groupFailures, type Report, type UsedJob } from "./report.js";

export interface ConformanceOptions {
  /** The API root, e.g. `https://gitlab.example.com/api/v4`. */
  baseUrl: string;
  /** A personal (or project) access token of a user with at least the Developer role in the project. */
  token: string;
  /** Numeric id or full path of the project to examine; defaults to the project of `jobToken`'s job. */
  project?: string | number;
  /** The CI job token of a running job, for the `/job` endpoints. */
  jobToken?: string;
  /** Also run the checks that cancel, retry, play and erase jobs. */
  destructive?: boolean;
  /** Check ids (`retryJob.newJobPending`) or operation ids (`retryJob`) to run; all when absent. */
  only?: readonly string[];
  fetch?: typeof fetch;
  /** Called as each check ends, in order: live progress. */
  onResult?: (result: CheckResult) => void;
  /** Per request; 30 s by default. */
  timeoutMs?: number;
  /** Headers sent with every request, e.g. for an authenticating proxy in front of the server. */
  headers?: ReadonlyArray<readonly [string, string]>;
  /** The environment variables that hold the tokens, named in `curl` commands instead of the values. */
  tokenEnv?: string;
  jobTokenEnv?: string;
  /** Stops after this many failed checks; the checks after them do not run. */
  maxFailures?: number;
}

/** Every check, in the order they run: read-only ones first, then the destructive ones. */
export const checks: readonly CheckDefinition[] = [
  ...listProjectJobsChecks,
  ...listPipelineJobsChecks,
  ...listPipelineBridgesChecks,
  ...getJobChecks,
  ...getJobTraceChecks,
  ...getJobTokenJobChecks,
  ...getJobTokenAllowedAgentsChecks,
  ...cancelJobChecks,
  ...retryJobChecks,
  ...playJobChecks,
  ...eraseJobChecks,
];

function operationOf(check: CheckDefinition): OperationId {
  return check.id.slice(0, check.id.indexOf(".")) as OperationId;
}

/** The checks `only` names; throws a SetupError for a name that matches none. */
export function selectChecks(only?: readonly string[]): CheckDefinition[] {
  if (!only || only.length === 0) return [...checks];
  const unknown = only.filter((name) => !checks.some((c) => c.id === name || operationOf(c) === name));
  if (unknown.length > 0) {
    throw new SetupError(`unknown check or operation: ${unknown.join(", ")} (list them with --list)`);
  }
  return checks.filter((c) => only.includes(c.id) || only.includes(operationOf(c)));
}

export async function runConformance(options: ConformanceOptions): Promise<Report> {
  const startedAt = new Date();
  const started = performance.now();
  const selected = selectChecks(options.only);
  const tokens = { token: options.token, jobToken: options.jobToken };
  const http = new Http({
    baseUrl: options.baseUrl,
    fetch: options.fetch,
    secrets: [
      { value: options.token, env: options.tokenEnv ?? "GITLAB_TOKEN" },
      { value: options.jobToken ?? "", env: options.jobTokenEnv ?? "GITLAB_JOB_TOKEN" },
    ],
    timeoutMs: options.timeoutMs,
    headers: options.headers,
  });
  const destructive = options.destructive ?? false;
  const spec = SpecValidator.load();
  const ready = await preflight(
    http,
    tokens,
    options.project === undefined ? undefined : String(options.project),
  );
  const material = await discover(http, tokens, ready.project, ready.jobTokenJob);
  if (destructive && selected.some((c) => c.destructive))
    material.accessLevel = await preflightDestructive(http, tokens, material);
  const ctx = new CheckContext(http, spec, material, tokens, destructive);
  const results: CheckResult[] = [];
  const used: UsedJob[] = [];
  let stopped: Report["stopped"];
  for (const [index, check] of selected.entries()) {
    const before = new Set(material.claimed);
    const result = await runCheck(ctx, check, destructive);
    results.push(result);
    for (const id of material.claimed) {
      const job = material.jobs.find((j) => j.id === id);
      if (!before.has(id) && job) used.push({ id, status: job.status, check: result.id });
    }
    options.onResult?.(result);
    const failed = results.filter((r) => r.status === "failed").length;
    if (options.maxFailures !== undefined && failed >= options.maxFailures && index < selected.length - 1) {
      stopped = { maxFailures: options.maxFailures, notRun: selected.length - index - 1 };
      break;
    }
  }
  return {
    baseUrl: http.baseUrl,
    project: material.project.given,
    destructive: options.destructive ?? false,
    startedAt: startedAt.toISOString(),
    durationMs: performance.now() - started,
    counts: countResults(results),
    results,
    failureGroups: groupFailures(results),
    used,
    ...(stopped ? { stopped } : {}),
  };
}

async function runCheck(
  ctx: CheckContext,
  check: CheckDefinition,
  destructive: boolean,
): Promise<CheckResult> {
  const base = {
    id: check.id,
    operationId: operationOf(check),
    description: check.description,
    destructive: check.destructive ?? false,
  };
  if (check.destructive && !destructive) {
    return {
      ...base,
      status: "skipped",
      durationMs: 0,
      reason: "changes data: runs only with --destructive",
    };
  }
  const started = performance.now();
  try {
    await check.run(ctx);
    return { ...base, status: "passed", durationMs: performance.now() - started };
  } catch (error) {
    const durationMs = performance.now() - started;
    if (error instanceof CheckSkipped)
      return { ...base, status: "skipped", durationMs, reason: error.message };
    if (error instanceof CheckFailure) {
      // Without a rule of its own (the spec's), a failure breaks the behaviour the check describes.
      const failure = { rule: check.description, ...error.failure };
      return { ...base, status: "failed", durationMs, failure };
    }
    // A network error or an answer the check could not use: still this check's failure, not the run's.
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return {
      ...base,
      status: "failed",
      durationMs,
      failure: { message, expected: "an answer the check can use" },
    };
  }
}
