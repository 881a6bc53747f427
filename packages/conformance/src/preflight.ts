/**
 * What is checked before any check runs, so that a wrong input fails the run with one line that says which
 * input is wrong (exit 2), instead of as dozens of failed checks that blame the server (exit 1): the URL
 * answers like a GitLab API, the token is accepted and its role suffices, the job token is valid.
 */
import type { JobTokenJob } from "@jobs-api/types";
import type { Material, Tokens } from "./context.js";
import { isJob, SetupError } from "./discovery.js";
import { type Exchange, type Http, insufficientScope } from "./http.js";

/** A route no GitLab has: GitLab's router answers it `404 {"error":"404 Not Found"}` (api.rb `route :any, '*path'`). */
const unknownRoute = "/jobs-api-conformance/no-such-route";

/** GitLab's access levels (`Gitlab::Access`), for messages. */
const roles: ReadonlyArray<[number, string]> = [
  [50, "Owner"],
  [40, "Maintainer"],
  [30, "Developer"],
  [20, "Reporter"],
  [15, "Planner"],
  [10, "Guest"],
  [5, "Minimal Access"],
];
const developer = 30;

/** Statuses a cancel leaves as they are: the harmless action that tells whether the token may act. */
const finished = ["success", "failed", "canceled", "skipped"];

/** An answer in one line: request, status, content type and the start of the body. */
export function describe(exchange: Exchange): string {
  const body = exchange.text.replace(/\s+/g, " ").trim();
  const shown = body.length > 120 ? `${body.slice(0, 120)}…` : body;
  const type = exchange.mediaType || "no content type";
  return `${exchange.method} ${exchange.shownUrl} answered ${exchange.status} (${type})${shown ? ` ${shown}` : ""}`;
}

/** GitLab's answer to a route it does not have (`404 {"error":"404 Not Found"}`), unlike a missing project's. */
function unknownRouteAnswer(exchange: Exchange): boolean {
  return (
    exchange.status === 404 &&
    typeof exchange.json === "object" &&
    exchange.json !== null &&
    (exchange.json as { error?: unknown }).error === "404 Not Found"
  );
}

export interface Preflight {
  /** The project as given, or as the job token's job names it. */
  project: string;
  jobTokenJob: JobTokenJob | undefined;
}

export async function preflight(http: Http, tokens: Tokens, project: string | undefined): Promise<Preflight> {
  const probe = await http.send("GET", http.url(unknownRoute), {
    kind: "privateTokenHeader",
    token: tokens.token,
  });
  const gitlabRouter = unknownRouteAnswer(probe);
  const router = gitlabRouter
    ? ""
    : `; an unknown route answered ${probe.status} (${probe.mediaType || "no content type"}), not GitLab's 404 {"error":"404 Not Found"}`;
  const notGitlab = (answer: Exchange) =>
    new SetupError(`this is not a GitLab API at ${http.baseUrl}: ${describe(answer)}${router}`);
  // GitLab's router answers, but not with the Jobs API's routes: a base URL that is not the API root
  // (`/api/v3`, a path too many), which would otherwise read as a refused token or a missing project.
  const noJobsApi = (answer: Exchange) =>
    new SetupError(
      `no Jobs API at ${http.baseUrl}: ${describe(answer)}, GitLab's answer to an unknown route (the base URL is the API root, e.g. https://gitlab.example.com/api/v4)`,
    );

  let jobTokenJob: JobTokenJob | undefined;
  if (tokens.jobToken) {
    const exchange = await http.send("GET", http.url("/job"), {
      kind: "jobTokenHeader",
      token: tokens.jobToken,
    });
    if (!gitlabRouter && exchange.json === undefined) throw notGitlab(exchange);
    if (unknownRouteAnswer(exchange)) throw noJobsApi(exchange);
    if (exchange.status !== 200) {
      throw new SetupError(
        `the job token was refused (it must be the CI_JOB_TOKEN of a job that is still running): ${describe(exchange)}`,
      );
    }
    if (!isJob(exchange.json)) throw notGitlab(exchange);
    jobTokenJob = exchange.json as JobTokenJob;
  }
  const given = project ?? jobTokenJob?.pipeline.project_id.toString();
  if (given === undefined) {
    throw new SetupError("no project: give --project <id or path> (or a --job-token, whose job names one)");
  }
  const param = encodeURIComponent(/^\d+$/.test(given) ? given : decodeURIComponent(given));
  const list = await http.send("GET", http.url(`/projects/${param}/jobs`, [["per_page", "1"]]), {
    kind: "privateTokenHeader",
    token: tokens.token,
  });
  if (!gitlabRouter && list.json === undefined) throw notGitlab(list);
  if (list.status === 401) throw new SetupError(`the token was refused: ${describe(list)}`);
  if (insufficientScope(list)) {
    throw new SetupError(
      `the token's scopes do not allow the API (the suite needs api, or read_api without --destructive): ${describe(list)}`,
    );
  }
  if (list.status === 403) {
    throw new SetupError(
      `the token's role in project ${given} cannot read its jobs (the suite needs Reporter or more): ${describe(list)}`,
    );
  }
  if (unknownRouteAnswer(list)) throw noJobsApi(list);
  if (list.status === 404) {
    throw new SetupError(`project ${given} was not found, or the token cannot see it: ${describe(list)}`);
  }
  if (list.status !== 200 || !Array.isArray(list.json)) throw notGitlab(list);
  return { project: given, jobTokenJob };
}

export function roleName(level: number): string {
  return roles.find(([l]) => level >= l)?.[1] ?? "no role";
}

/**
 * `--destructive` needs the Developer role. GitLab's `GET /projects/:id` tells it in `permissions`; a server
 * without that route (or a token whose role comes from elsewhere, e.g. an administrator's) is asked with the
 * one action that changes nothing: cancel of a finished job, 201 unchanged for a Developer, 403 below.
 * Answers the access level when `permissions` told it (the erase checks need to know a Maintainer's).
 */
export async function preflightDestructive(
  http: Http,
  tokens: Tokens,
  material: Material,
): Promise<number | undefined> {
  const auth = { kind: "privateTokenHeader", token: tokens.token } as const;
  const project = encodeURIComponent(material.project.id ?? material.project.given);
  const shown = material.project.given;
  const answer = await http.send("GET", http.url(`/projects/${project}`), auth);
  const permissions = answer.status === 200 ? permissionLevels(answer.json) : [];
  const job = material.jobs.find((j) => finished.includes(j.status) && j.id !== material.jobTokenJob?.id);
  // A read_api token reads the project's permissions like any other but may not POST: the cancel tells.
  const cancel =
    job && (await http.send("POST", http.url(`/projects/${project}/jobs/${job.id}/cancel`), auth));
  if (job && cancel && insufficientScope(cancel)) {
    throw new SetupError(
      `--destructive needs a token with the api scope: canceling finished job ${job.id} (which changes nothing) was refused: ${describe(cancel)}`,
    );
  }
  if (permissions.length > 0) {
    const level = Math.max(...permissions);
    if (level >= developer) return level;
    throw new SetupError(
      `--destructive needs the Developer role in project ${shown}; the token has ${roleName(level)} (access level ${level}, GET /projects/${project} permissions)`,
    );
  }
  if (!job || !cancel) return undefined;
  if (cancel.status === 403) {
    throw new SetupError(
      `--destructive needs the Developer role in project ${shown}: canceling finished job ${job.id} (which changes nothing) was forbidden: ${describe(cancel)}`,
    );
  }
  return undefined;
}

/** The access levels GitLab's project answer grants the caller, directly and through the group. */
function permissionLevels(project: unknown): number[] {
  if (typeof project !== "object" || project === null) return [];
  const permissions = (project as { permissions?: unknown }).permissions;
  if (typeof permissions !== "object" || permissions === null) return [];
  return ["project_access", "group_access"]
    .map(
      (key) =>
        (permissions as Record<string, { access_level?: unknown } | null | undefined>)[key]?.access_level,
    )
    .filter((level): level is number => typeof level === "number");
}
