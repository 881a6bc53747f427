/**
 * What the checks of the three lists (project jobs, pipeline jobs, pipeline bridges) share: reading a
 * list, its pagination headers and links, and check bodies each list runs against its own target.
 */
import { parseLinkHeader } from "@jobs-api/client";
import type { Job, JobStatus } from "@jobs-api/types";
import type { CheckContext, OpExchange } from "../context.js";
import { differences, sameJson, sameReads, withoutClock } from "../context.js";
import type { Query } from "../http.js";
import {
  allPages,
  type CheckDefinition,
  ids,
  isNewestFirst,
  maxPerPage,
  pipelines,
  queryValues,
  statusesByFrequency,
  unknownId,
} from "./helpers.js";

/**
 * Why the include_retried checks found nothing to check. They run before the destructive checks, so even a
 * `--destructive` run only leaves retried jobs (by `retryJob.*`) for the next run.
 */
export function noRetriedJob(ctx: CheckContext): string {
  return ctx.destructive
    ? "no job of the project was retried yet (this run's retryJob checks retry some: run the suite again)"
    : "no job of the project was retried (retry one, or run once with --destructive, then run again)";
}

type ListOp = "listProjectJobs" | "listPipelineJobs" | "listPipelineBridges";

/** What every list item has, builds and bridges alike. */
export interface Listed {
  id: number;
  status: JobStatus;
  name: string;
  pipeline: { id: number; project_id: number };
}

export interface ListTarget {
  op: ListOp;
  params: Record<string, number>;
}

export async function list(
  ctx: CheckContext,
  target: ListTarget,
  query: Query,
): Promise<{ exchange: OpExchange<ListOp>; items: Listed[] }> {
  const exchange = await ctx.call(target.op, { params: target.params, query });
  ctx.expect(exchange.status === 200, `status ${exchange.status}`, "status 200 with a list", exchange);
  // The body was validated against the operation's array schema by ctx.call.
  return { exchange, items: exchange.json as Listed[] };
}

/** The whole list when it fits on one page; the check is skipped when it has fewer than `min` items. */
export async function wholeList(ctx: CheckContext, target: ListTarget, min: number, extra: Query = []) {
  const result = await list(ctx, target, [...allPages, ...extra]);
  if (result.items.length < min) {
    ctx.skip(`the list has ${result.items.length} item(s); this check needs at least ${min}`);
  }
  return { ...result, complete: result.items.length < maxPerPage };
}

export function projectJobs(): ListTarget {
  return { op: "listProjectJobs", params: {} };
}

/** The discovered pipeline with the most jobs. */
export function busiestPipeline(ctx: CheckContext): ListTarget {
  const [pipeline] = pipelines(ctx.material.jobs);
  if (!pipeline) ctx.skip("the project has no jobs, so no pipeline was found");
  return { op: "listPipelineJobs", params: { pipeline_id: pipeline.id } };
}

export function bridgePipeline(ctx: CheckContext): ListTarget {
  const id = ctx.material.bridgePipeline;
  if (id === undefined) ctx.skip("no pipeline of the project has a trigger job (bridge)");
  return { op: "listPipelineBridges", params: { pipeline_id: id } };
}

export function orderNewestFirst(target: (ctx: CheckContext) => ListTarget): CheckDefinition["run"] {
  return async (ctx: CheckContext) => {
    const { exchange, items } = await wholeList(ctx, target(ctx), 2);
    ctx.expect(
      isNewestFirst(ids(items)),
      `ids in this order: ${ids(items).join(", ")}`,
      "ids strictly descending (newest first)",
      exchange,
    );
  };
}

/** X-Total, X-Total-Pages and rel="last" against the whole list, read `perPage` at a time. */
export function paginationCounts(
  target: (ctx: CheckContext) => ListTarget,
  perPage: number,
  noun: string,
): CheckDefinition["run"] {
  return async (ctx: CheckContext) => {
    const t = target(ctx);
    const { items, complete } = await wholeList(ctx, t, perPage);
    if (!complete) ctx.skip(`the pipeline has ${maxPerPage} ${noun} or more`);
    await expectCounts(ctx, t, items.length);
  };
}

export function scopeFilter(target: (ctx: CheckContext) => ListTarget): CheckDefinition["run"] {
  return async (ctx: CheckContext) => {
    const t = target(ctx);
    const { items, complete } = await wholeList(ctx, t, 1);
    for (const status of statusesByFrequency(items).slice(0, 3)) {
      const { exchange, items: filtered } = await list(ctx, t, [["scope", status], ...allPages]);
      const others = filtered.filter((j) => j.status !== status);
      ctx.expect(
        others.length === 0,
        `scope=${status} returned ${others.map((j) => `${j.id} (${j.status})`).join(", ")}`,
        `only ${status} jobs`,
        exchange,
      );
      const wanted = ids(items.filter((j) => j.status === status));
      ctx.expect(
        complete ? sameJson(ids(filtered), wanted) : filtered.length > 0,
        `scope=${status} returned ids [${ids(filtered).join(", ")}]`,
        complete ? `every ${status} job of the unfiltered list: [${wanted.join(", ")}]` : `${status} jobs`,
        exchange,
      );
    }
  };
}

/**
 * `scope=a` and `scope[]=a` select the same jobs, and `scope[]=a&scope[]=b` both statuses. A key repeated
 * without brackets is not sent: Rack keeps its last value, so `scope=a&scope=b` means `scope=b` in GitLab.
 */
export function scopeSpellings(target: (ctx: CheckContext) => ListTarget): CheckDefinition["run"] {
  return async (ctx: CheckContext) => {
    const t = target(ctx);
    const { items, complete } = await wholeList(ctx, t, 1);
    const [a, b] = statusesByFrequency(items);
    if (!a || !b) ctx.skip("every job of the list has the same status; two statuses are needed");
    const single = await list(ctx, t, [["scope", a], ...allPages]);
    const singleBracket = await list(ctx, t, [["scope[]", a], ...allPages]);
    ctx.expect(
      sameJson(ids(single.items), ids(singleBracket.items)),
      `scope[]=${a} returned [${ids(singleBracket.items).join(", ")}], scope=${a} [${ids(single.items).join(", ")}]`,
      "the same jobs for both spellings",
      singleBracket.exchange,
    );
    const bracketed = await list(ctx, t, [["scope[]", a], ["scope[]", b], ...allPages]);
    const statuses = new Set(bracketed.items.map((j) => j.status));
    ctx.expect(
      statuses.has(a) && statuses.has(b) && statuses.size === 2,
      `scope[]=${a}&scope[]=${b} returned statuses ${[...statuses].join(", ") || "(none)"}`,
      `${a} and ${b} jobs, and only those`,
      bracketed.exchange,
    );
    if (complete) {
      const wanted = ids(items.filter((j) => j.status === a || j.status === b));
      ctx.expect(
        sameJson(ids(bracketed.items), wanted),
        `scope[]=${a}&scope[]=${b} returned [${ids(bracketed.items).join(", ")}]`,
        `every ${a} and ${b} job of the unfiltered list: [${wanted.join(", ")}]`,
        bracketed.exchange,
      );
    }
  };
}

/**
 * A plain key repeated keeps its last value (Rack). A hash (`scope[0]=a&scope[1]=b`, a hash in Rack) is read by
 * the route's `coerce_with`: jobs.rb takes its values (`"values"`), pipelines_helpers.rb makes it
 * `['unknown']`, refused (`"refused"`; pipelines_spec "filter jobs with hash").
 */
export function scopeRepeatedKey(
  target: (ctx: CheckContext) => ListTarget,
  hash: "values" | "refused",
): CheckDefinition["run"] {
  return async (ctx: CheckContext) => {
    const t = target(ctx);
    const { items } = await wholeList(ctx, t, 1);
    const [a, b] = statusesByFrequency(items);
    if (!a || !b) ctx.skip("every job of the list has the same status; two statuses are needed");
    const onlyB = await list(ctx, t, [["scope", b], ...allPages]);
    const repeated = await list(ctx, t, [["scope", a], ["scope", b], ...allPages]);
    ctx.expect(
      sameJson(ids(repeated.items), ids(onlyB.items)),
      `scope=${a}&scope=${b} returned [${ids(repeated.items).join(", ")}]`,
      `what scope=${b} returns (Rack keeps the last value): [${ids(onlyB.items).join(", ")}]`,
      repeated.exchange,
    );
    if (hash === "refused") {
      const exchange = await ctx.call(t.op, {
        params: t.params,
        query: [
          ["scope[0]", a],
          ["scope[1]", b],
        ],
      });
      ctx.expectError(exchange, 400, { error: "scope does not have a valid value" });
      return;
    }
    const both = await list(ctx, t, [["scope[]", a], ["scope[]", b], ...allPages]);
    const values = await list(ctx, t, [["scope[0]", a], ["scope[1]", b], ...allPages]);
    ctx.expect(
      sameJson(ids(values.items), ids(both.items)),
      `scope[0]=${a}&scope[1]=${b} returned [${ids(values.items).join(", ")}]`,
      `what scope[]=${a}&scope[]=${b} returns: [${ids(both.items).join(", ")}]`,
      values.exchange,
    );
  };
}

export function scopeInvalid(target: (ctx: CheckContext) => ListTarget): CheckDefinition["run"] {
  return async (ctx: CheckContext) => {
    const t = target(ctx);
    for (const name of ["scope", "scope[]"]) {
      const exchange = await ctx.call(t.op, { params: t.params, query: [[name, "not_a_status"]] });
      ctx.expectError(exchange, 400, { error: "scope does not have a valid value" });
    }
  };
}

export function unknownPipeline(op: "listPipelineJobs" | "listPipelineBridges"): CheckDefinition["run"] {
  return async (ctx: CheckContext) => {
    const pipelineId = unknownId(pipelines(ctx.material.jobs).map((p) => p.id));
    const exchange = await ctx.call(op, { params: { pipeline_id: pipelineId } });
    ctx.expectError(exchange, 404, { message: "404 Not found" });
  };
}

export function pathIdSameAnswer(target: (ctx: CheckContext) => ListTarget): CheckDefinition["run"] {
  return async (ctx: CheckContext) => {
    const t = target(ctx);
    const { id, path } = ctx.material.project;
    if (id === undefined || path === undefined)
      ctx.skip("the project's numeric id or path is unknown (it has no jobs)");
    const numeric = await list(ctx, { op: t.op, params: { ...t.params, id } }, allPages);
    const byPath = await ctx.call(t.op, { params: { ...t.params, id: path }, query: allPages });
    ctx.expect(
      byPath.status === 200 && sameReads(byPath.json, numeric.exchange.json),
      byPath.status === 200
        ? `a different list at ${differences(withoutClock(byPath.json), withoutClock(numeric.exchange.json)).slice(0, 5).join(", ")}`
        : `status ${byPath.status}`,
      `the same list as for project ${id}: [${ids(numeric.items).join(", ")}]`,
      byPath,
    );
  };
}

/**
 * A running job's token on a list route. Current GitLab allows it there (`job_token_allowed`), answering
 * the list as the job's user sees it; GitLab before that (2022) did not: the project jobs list, behind
 * `authenticate!`, answers 401, and the pipeline's list, readable anonymously, answers as it would
 * without a token (the public project's list, or 404 Project Not Found).
 */
export function jobTokenOnList(
  target: (ctx: CheckContext) => ListTarget,
  older: Array<{ status: number; message: string }>,
): CheckDefinition["run"] {
  return async (ctx: CheckContext) => {
    const token = ctx.tokens.jobToken;
    if (!token) ctx.skip("needs a job token of a running job (--job-token)");
    const projectId = ctx.material.jobTokenJob?.pipeline.project_id;
    if (projectId === undefined || projectId !== ctx.material.project.id) {
      ctx.skip("the job token's job is not in the project examined");
    }
    const t = target(ctx);
    const exchange = await ctx.call(t.op, {
      params: t.params,
      query: allPages,
      auth: { kind: "jobTokenHeader", token },
    });
    const era = older.find((o) => o.status === exchange.status);
    if (era) {
      ctx.expectError(exchange, era.status, { message: era.message });
      return;
    }
    const accepted = `status 200 (current GitLab) or ${older.map((o) => `${o.status} {"message":"${o.message}"}`).join(" or ")} (GitLab before job tokens were allowed here)`;
    ctx.expect(exchange.status === 200, `status ${exchange.status}`, accepted, exchange);
    const items = exchange.json as Listed[];
    const strangers = items.filter((j) => j.pipeline.project_id !== projectId);
    ctx.expect(
      strangers.length === 0,
      `jobs of other projects: ${ids(strangers).join(", ")}`,
      `only jobs of project ${projectId}`,
      exchange,
    );
  };
}

/**
 * A pipeline list without any token. Pipelines answer GETs anonymously (pipelines.rb `before {
 * authenticate_non_get! }`): a public project's list as its members see it, 403 Forbidden where the
 * project's CI/CD is for members only (`authorize! :read_pipeline` / `:read_build`), 404 Project Not Found
 * for a project anonymous callers cannot see (`find_project!`); never 401.
 */
export function anonymousList(target: (ctx: CheckContext) => ListTarget): CheckDefinition["run"] {
  return async (ctx: CheckContext) => {
    const t = target(ctx);
    const exchange = await ctx.call(t.op, { params: t.params, query: allPages, auth: { kind: "none" } });
    if (exchange.status === 404) {
      ctx.expectError(exchange, 404, { message: "404 Project Not Found" });
      return;
    }
    if (exchange.status === 403) {
      ctx.expectError(exchange, 403, { message: "403 Forbidden" });
      return;
    }
    ctx.expect(
      exchange.status === 200,
      `status ${exchange.status}`,
      'status 200 (public project), 403 {"message":"403 Forbidden"} (CI/CD for members only) or 404 {"message":"404 Project Not Found"}, never 401: pipelines are readable without a token',
      exchange,
    );
    const member = await list(ctx, t, allPages);
    const got = ids(exchange.json as Listed[]);
    // A public project with "Public pipelines" off (public_builds false): anonymous callers may read the
    // pipeline (pipelines.rb `authorize!(:read_pipeline, user_project)`) but not its jobs, and JobsFinder's
    // `pipeline_jobs` raises AccessDeniedError without `read_build`, answered as `type.none`: 200 [].
    // The bridges list asks `read_build` of the project first, so it answers 403 there instead.
    const publicBuildsOff = t.op === "listPipelineJobs" && got.length === 0;
    ctx.expect(
      publicBuildsOff || sameJson(got, ids(member.items)),
      `without a token: [${got.join(", ")}]`,
      `the list the token gets: [${ids(member.items).join(", ")}] (or, for a pipeline's jobs, none: public pipelines off)`,
      exchange,
    );
  };
}

/** A timestamp of a job in milliseconds, or undefined when it is null or absent. */
function time(value: unknown): number | undefined {
  return typeof value === "string" ? Date.parse(value) : undefined;
}

/** GitLab's timestamps come from more than one clock (Rails, the database): a second's slack. */
const slackSeconds = 1;

/**
 * A listed job's clock fields, as the spec types them; `queued_at` is not in the spec (a newer GitLab sends it)
 * and `artifacts_file` is looked at only for being there.
 */
type Timed = Listed &
  Pick<Job, "created_at" | "started_at" | "finished_at" | "erased_at" | "duration" | "queued_duration"> & {
    artifacts_file?: unknown;
    queued_at?: unknown;
  };

/**
 * How `duration` and `queued_duration` contradict the timestamps (GitLab: `calculate_duration(start,
 * end || now)`, nil without a start): a finished job's duration is finished_at − started_at; a job that
 * never started has none; a started job was queued between its creation (or `queued_at`, when a newer
 * GitLab sends it) and its start.
 */
export function durationProblems(job: Timed): string[] {
  const problems: string[] = [];
  const started = time(job.started_at);
  const finished = time(job.finished_at);
  const at = `job ${job.id} (${job.status})`;
  if (started === undefined && job.duration !== null) {
    problems.push(`${at} never started but has duration ${job.duration}`);
  }
  if (started !== undefined && finished !== undefined) {
    const expected = (finished - started) / 1000;
    if (job.duration === null || Math.abs(job.duration - expected) > slackSeconds) {
      problems.push(`${at} has duration ${job.duration}, finished_at − started_at is ${expected}`);
    }
  }
  if (started !== undefined && job.queued_duration !== null) {
    const queued = time(job.queued_at);
    if (queued !== undefined) {
      const expected = (started - queued) / 1000;
      if (Math.abs(job.queued_duration - expected) > slackSeconds) {
        problems.push(
          `${at} has queued_duration ${job.queued_duration}, started_at − queued_at is ${expected}`,
        );
      }
    } else {
      const bound = (started - Date.parse(job.created_at)) / 1000;
      if (job.queued_duration > bound + slackSeconds) {
        problems.push(
          `${at} has queued_duration ${job.queued_duration}, more than started_at − created_at (${bound})`,
        );
      }
    }
  }
  return problems;
}

/** Statuses GitLab sets `finished_at` on (`before_transition any => [:success, :failed, :canceled]`). */
const withFinishedAt: readonly JobStatus[] = ["success", "failed", "canceled"];

/**
 * How a job's fields contradict each other: a finished status without `finished_at`, timestamps out of
 * order (created ≤ started ≤ finished), an erased job that still offers its artifacts file.
 */
export function timestampProblems(job: Timed): string[] {
  const problems: string[] = [];
  const at = `job ${job.id} (${job.status})`;
  const created = time(job.created_at);
  const started = time(job.started_at);
  const finished = time(job.finished_at);
  if (withFinishedAt.includes(job.status) && finished === undefined)
    problems.push(`${at} has no finished_at`);
  const slack = slackSeconds * 1000;
  if (started !== undefined && finished !== undefined && started > finished + slack) {
    problems.push(`${at} started at ${job.started_at}, after it finished (${job.finished_at})`);
  }
  if (created !== undefined && started !== undefined && created > started + slack) {
    problems.push(`${at} was created at ${job.created_at}, after it started (${job.started_at})`);
  }
  if (typeof job.erased_at === "string" && job.artifacts_file !== undefined && job.artifacts_file !== null) {
    problems.push(`${at} was erased at ${job.erased_at} but still has an artifacts_file`);
  }
  return problems;
}

export function jobsConsistent(
  problemsOf: (job: Timed) => string[],
  expected: string,
): CheckDefinition["run"] {
  return async (ctx: CheckContext) => {
    const { exchange, items } = await wholeList(ctx, projectJobs(), 1);
    const problems = (items as Timed[]).flatMap(problemsOf);
    ctx.expect(
      problems.length === 0,
      problems.slice(0, 5).join("; ") + (problems.length > 5 ? `; … (${problems.length - 5} more)` : ""),
      expected,
      exchange,
    );
  };
}

/** Header values as a page of a counted or uncounted offset list must have them. */
export function expectPageHeaders(
  ctx: CheckContext,
  exchange: OpExchange<ListOp>,
  expected: Record<string, string | null>,
): void {
  for (const [name, value] of Object.entries(expected)) {
    const actual = exchange.headers.get(name);
    ctx.expect(
      actual === value,
      `${name}: ${actual === null ? "(absent)" : JSON.stringify(actual)}`,
      `${name}: ${value === null ? "(absent)" : JSON.stringify(value)}`,
      exchange,
    );
  }
}

/**
 * The page's `Link` header by relation type, parsed as the client parses it (RFC 8288): a header a strict
 * parser refuses fails the check, since clients that follow `rel="next"` would stop there.
 */
function links(ctx: CheckContext, exchange: OpExchange<ListOp>): Map<string, string> {
  const header = exchange.headers.get("link");
  if (header === null) return new Map();
  try {
    return new Map(Object.entries(parseLinkHeader(header, exchange.url)));
  } catch (error) {
    ctx.expect(false, (error as Error).message, "a Link header valid under RFC 8288", exchange);
  }
}

export function expectRels(
  ctx: CheckContext,
  exchange: OpExchange<ListOp>,
  present: string[],
  absent: string[],
) {
  const rels = links(ctx, exchange);
  const shown = `Link rels: ${[...rels.keys()].join(", ") || "(none)"}`;
  for (const rel of present) ctx.expect(rels.has(rel), shown, `a Link with rel="${rel}"`, exchange);
  for (const rel of absent) ctx.expect(!rels.has(rel), shown, `no Link with rel="${rel}"`, exchange);
  return rels;
}

/**
 * Every relation of the `Link` header of a middle page: each URL carries the request's parameters with
 * only `page` changed (GitLab may add others, such as the path's `id` or parameter defaults), `first` and
 * `prev` lead to page 1, `next` to page 3, and `last`, when sent, to the last page.
 */
export function linkRelations(
  target: (ctx: CheckContext) => ListTarget,
  extra: Query = [],
): CheckDefinition["run"] {
  return async (ctx: CheckContext) => {
    const t = target(ctx);
    const { items, complete } = await wholeList(ctx, t, 2, extra);
    const scope = statusesByFrequency(items).slice(0, 2);
    const matching = items.filter((j) => scope.includes(j.status)).length;
    if (matching < 2) ctx.skip("fewer than two items match the filter, so there is no second page");
    const sent: Query = [
      ...scope.map((s): [string, string] => ["scope[]", s]),
      ...extra,
      ["page", "2"],
      ["per_page", "1"],
    ];
    const { exchange } = await list(ctx, t, sent);
    const rels = expectRels(ctx, exchange, ["first", "prev", ...(matching > 2 ? ["next"] : [])], []);
    const expectedPage: Record<string, string | undefined> = {
      first: "1",
      prev: "1",
      next: "3",
      last: complete ? String(matching) : undefined,
    };
    const names = [...new Set(sent.map(([k]) => k.replace(/\[\]$/, "")))].filter((k) => k !== "page");
    for (const [rel, url] of rels) {
      const shown = `rel="${rel}" is ${ctx.http.redact(url)}`;
      for (const name of names) {
        const want = sent.filter(([k]) => k.replace(/\[\]$/, "") === name).map(([, v]) => v);
        const got = queryValues(url, name);
        ctx.expect(
          sameJson([...got].sort(), [...want].sort()),
          shown,
          `${name}=${want.join(",")} kept in rel="${rel}"`,
          exchange,
        );
      }
      const page = expectedPage[rel];
      if (page !== undefined) {
        ctx.expect(
          queryValues(url, "page")[0] === page,
          shown,
          `rel="${rel}" leading to page ${page}`,
          exchange,
        );
      }
    }
  };
}

/** Pages followed by the Link checks: enough to show the filters survive, few enough to stay quick. */
export const walkedPages = 5;

/** Follows `rel="next"` from a first page until the end or `limit` pages, keeping every page's answer. */
export async function walk(ctx: CheckContext, op: ListOp, first: OpExchange<ListOp>, limit: number) {
  const pages = [first];
  let current = first;
  for (let i = 1; i < limit; i += 1) {
    const next = links(ctx, current).get("next");
    if (!next) break;
    current = await ctx.follow(op, next, current);
    ctx.expect(current.status === 200, `status ${current.status}`, "status 200 for the next page", current);
    pages.push(current);
  }
  return pages;
}

export const anonymousDescription =
  'without a token answers 200 (public project; the pipeline\'s jobs may be [] where public pipelines are off), 403 {"message":"403 Forbidden"} or 404 {"message":"404 Project Not Found"}, never 401 (pipelines.rb authenticate_non_get!)';

/** What GitLab's Rack::Cors rule for `/api/*` exposes at least (config/application.rb `expose:`). */
export const corsExposed = [
  "Link",
  "X-Total",
  "X-Total-Pages",
  "X-Per-Page",
  "X-Page",
  "X-Next-Page",
  "X-Prev-Page",
] as const;

export const scopeRepeatedKeyDescription =
  "scope=a&scope=b lists only b jobs (Rack keeps the last value); scope[0]=a&scope[1]=b what scope[]=a&scope[]=b does (jobs.rb optional_scope coerce_with)";

export const scopeRepeatedKeyRefusedHashDescription =
  'scope=a&scope=b lists only b jobs (Rack keeps the last value); scope[0]=a&scope[1]=b, a hash in Rack, answers 400 {"error":"scope does not have a valid value"} (pipelines_helpers.rb coerce_with; pipelines_spec "filter jobs with hash")';

export const pageClampedDescription =
  "per_page above 100 is served as 100, a negative per_page as 20, page 0 or below as page 1, as X-Per-Page and X-Page say (Kaminari, kaminari_config.rb max_per_page)";

/**
 * Out-of-range pagination is served, never refused (only per_page=0 is, by Grape's except_values):
 * Kaminari caps per_page at `max_per_page` (100), ignores a negative one (the default, 20), and reads a
 * page below 1 as page 1; the headers report the page and size served.
 */
export function pageClamped(target: (ctx: CheckContext) => ListTarget): CheckDefinition["run"] {
  return async (ctx: CheckContext) => {
    const t = target(ctx);
    const { items } = await wholeList(ctx, t, 1);
    const cases: Array<{ query: Query; headers: Record<string, string>; expected: number[] }> = [
      { query: [["per_page", "101"]], headers: { "x-per-page": "100", "x-page": "1" }, expected: ids(items) },
      {
        query: [["per_page", "-1"]],
        headers: { "x-per-page": "20", "x-page": "1" },
        expected: ids(items.slice(0, 20)),
      },
      ...["0", "-1"].map((page) => ({
        query: [
          ["page", page],
          ["per_page", "2"],
        ] as Query,
        headers: { "x-per-page": "2", "x-page": "1" },
        expected: ids(items.slice(0, 2)),
      })),
    ];
    for (const { query, headers, expected } of cases) {
      const { exchange, items: got } = await list(ctx, t, query);
      expectPageHeaders(ctx, exchange, headers);
      ctx.expect(
        sameJson(ids(got), expected),
        `${query.map(([k, v]) => `${k}=${v}`).join("&")} returned [${ids(got).join(", ")}]`,
        `the jobs of page 1: [${expected.join(", ")}]`,
        exchange,
      );
    }
  };
}

/** Checks the pagination of a list of `total` items, one item a page; counts only when they are sent. */
async function expectCounts(ctx: CheckContext, target: ListTarget, total: number): Promise<void> {
  const first = await list(ctx, target, [["per_page", "1"]]);
  expectPageHeaders(ctx, first.exchange, { "x-page": "1", "x-next-page": total > 1 ? "2" : "" });
  expectRels(ctx, first.exchange, ["first"], ["prev"]);
  expectCountsIfSent(ctx, first.exchange, total, 1);
}

/**
 * GitLab leaves the counts out (`X-Total`, `X-Total-Pages`, `rel="last"`) above 10,000 rows, and always on
 * the project jobs list in current GitLab; when they are sent they must be right. `total` is the list's
 * length when the check knows it.
 */
export function expectCountsIfSent(
  ctx: CheckContext,
  exchange: OpExchange<ListOp>,
  total: number | undefined,
  perPage: number,
): void {
  const xTotal = exchange.headers.get("x-total");
  const xPages = exchange.headers.get("x-total-pages");
  const shown = `X-Total: ${xTotal ?? "(absent)"}, X-Total-Pages: ${xPages ?? "(absent)"}`;
  ctx.expect(
    (xTotal === null) === (xPages === null),
    shown,
    "X-Total and X-Total-Pages sent together or left out together",
    exchange,
  );
  const count = total ?? (xTotal === null ? undefined : Number(xTotal));
  const pages = count === undefined ? undefined : String(Math.max(1, Math.ceil(count / perPage)));
  if (xTotal !== null && total !== undefined) {
    ctx.expect(
      xTotal === String(total) && xPages === pages,
      shown,
      `X-Total: ${total}, X-Total-Pages: ${pages} (or both left out)`,
      exchange,
    );
  }
  if (xPages !== null && pages !== undefined) {
    ctx.expect(
      xPages === pages,
      shown,
      `X-Total-Pages: ${pages} for ${count} items, ${perPage} a page`,
      exchange,
    );
  }
  const last = links(ctx, exchange).get("last");
  if (last !== undefined && pages !== undefined) {
    ctx.expect(
      queryValues(last, "page")[0] === pages,
      `rel="last" is ${ctx.http.redact(last)}`,
      `rel="last" pointing at page ${pages} (or left out)`,
      exchange,
    );
  }
}
