/**
 * The deliberate deviations the conformance suite must catch, each as a request or answer rewrite of
 * the fault proxy. A factory per fault, because some faults remember what they saw.
 */
import type { OperationId } from "@jobs-api/types";
import type { CheckId } from "../src/index.js";
import type { Fault, ProxiedRequest, ProxiedResponse } from "./fault-proxy.js";

export interface FaultCase {
  name: string;
  /** The deviation, as a server would have it. */
  what: string;
  /** Whether it is in the actions, which only the destructive checks exercise (on a fresh server each). */
  destructive: boolean;
  make(validToken: string): Fault;
  /** Exactly the checks that fail with this fault in place. */
  caughtBy: CheckId[];
}

/** Something GitLab legitimately does that the suite must pass: no check may fail with it in place. */
export interface ToleratedCase {
  name: string;
  /** The variation, as GitLab has it. */
  what: string;
  destructive: boolean;
  make(validToken: string): Fault;
  /** The checks the variation concerns: each must pass (not merely skip) with it in place. */
  exercises: CheckId[];
}

const routes: Array<[OperationId, RegExp]> = [
  ["listProjectJobs", /\/projects\/[^/]+\/jobs$/],
  ["listPipelineJobs", /\/projects\/[^/]+\/pipelines\/[^/]+\/jobs$/],
  ["listPipelineBridges", /\/projects\/[^/]+\/pipelines\/[^/]+\/bridges$/],
  ["getJobTokenAllowedAgents", /\/job\/allowed_agents$/],
  ["getJobTokenJob", /\/job$/],
  ["getJobTrace", /\/projects\/[^/]+\/jobs\/[^/]+\/trace$/],
  ["cancelJob", /\/projects\/[^/]+\/jobs\/[^/]+\/cancel$/],
  ["retryJob", /\/projects\/[^/]+\/jobs\/[^/]+\/retry$/],
  ["eraseJob", /\/projects\/[^/]+\/jobs\/[^/]+\/erase$/],
  ["playJob", /\/projects\/[^/]+\/jobs\/[^/]+\/play$/],
  ["getJob", /\/projects\/[^/]+\/jobs\/[^/]+$/],
];

function operation(request: ProxiedRequest): OperationId | undefined {
  return routes.find(([, pattern]) => pattern.test(request.url.pathname))?.[0];
}

const lists: readonly (OperationId | undefined)[] = [
  "listProjectJobs",
  "listPipelineJobs",
  "listPipelineBridges",
];

function isList(request: ProxiedRequest): boolean {
  return lists.includes(operation(request));
}

function projectSegment(request: ProxiedRequest): string {
  return decodeURIComponent(/\/projects\/([^/]+)/.exec(request.url.pathname)?.[1] ?? "");
}

function jobIdOf(request: ProxiedRequest): number {
  return Number(/\/jobs\/(\d+)/.exec(request.url.pathname)?.[1]);
}

type JsonRecord = Record<string, unknown>;

function json(response: ProxiedResponse): unknown {
  return response.headers.get("content-type")?.includes("json")
    ? (JSON.parse(response.body) as unknown)
    : undefined;
}

function setJson(response: ProxiedResponse, status: number, value: unknown): void {
  response.status = status;
  response.body = JSON.stringify(value);
  response.headers.set("content-type", "application/json");
}

function rewriteLink(response: ProxiedResponse, rewrite: (link: string) => string): void {
  const link = response.headers.get("link");
  if (link) response.headers.set("link", rewrite(link));
}

/** Rewrites the URL of one relation of the Link header. */
function rewriteRel(response: ProxiedResponse, rel: string, change: (url: URL) => void): void {
  rewriteLink(response, (link) =>
    link
      .split(", ")
      .map((part) => {
        const match = /^<([^>]*)>; rel="([^"]*)"$/.exec(part);
        if (!match?.[1] || match[2] !== rel) return part;
        const url = new URL(match[1]);
        change(url);
        return `<${url.href}>; rel="${rel}"`;
      })
      .join(", "),
  );
}

/** Applies `change` to every job object of a JSON answer: the items of a list, or the single job. */
function eachJob(response: ProxiedResponse, change: (job: JsonRecord) => void): void {
  const body = json(response);
  const jobs = Array.isArray(body) ? body : [body];
  const touched = jobs.filter((j): j is JsonRecord => typeof j === "object" && j !== null && "status" in j);
  if (touched.length === 0) return;
  touched.forEach(change);
  response.body = JSON.stringify(body);
}

export const faultCases: FaultCase[] = [
  {
    name: "wrong order",
    what: "lists come oldest first",
    destructive: false,
    make: () => ({
      response(response, request) {
        const body = json(response);
        if (isList(request) && Array.isArray(body)) setJson(response, response.status, body.reverse());
      },
    }),
    caughtBy: [
      "listProjectJobs.orderNewestFirst",
      "listProjectJobs.pageClamped",
      "listProjectJobs.paginationHeaders",
      "listProjectJobs.paginationLastPage",
      "listProjectJobs.linkNextKeepsFilters",
      "listProjectJobs.keysetPagination",
      "listPipelineJobs.orderNewestFirst",
      "listPipelineJobs.pageClamped",
      "listPipelineJobs.linkNextKeepsFilters",
      "listPipelineBridges.orderNewestFirst",
    ],
  },
  {
    name: "scope ignored",
    what: "the scope filter is not applied",
    destructive: false,
    make: () => ({
      request(request) {
        request.url.searchParams.delete("scope");
        request.url.searchParams.delete("scope[]");
      },
    }),
    caughtBy: [
      "listProjectJobs.scopeFilter",
      "listProjectJobs.scopeBracketSpelling",
      "listProjectJobs.scopeRepeatedKey",
      "listProjectJobs.scopeInvalid",
      "listProjectJobs.linkNextKeepsFilters",
      "listProjectJobs.linkRelations",
      "listPipelineJobs.scopeFilter",
      "listPipelineJobs.scopeBracketSpelling",
      "listPipelineJobs.scopeInvalid",
      "listPipelineJobs.linkNextKeepsFilters",
      "listPipelineJobs.linkRelations",
      "listPipelineBridges.scopeFilter",
      "listPipelineBridges.linkRelations",
    ],
  },
  {
    name: "missing X-Next-Page",
    what: "pages do not say which page comes next",
    destructive: false,
    make: () => ({
      response(response) {
        response.headers.delete("x-next-page");
      },
    }),
    caughtBy: [
      "listProjectJobs.paginationHeaders",
      "listProjectJobs.paginationLastPage",
      "listPipelineJobs.paginationCounts",
      "listPipelineBridges.paginationCounts",
    ],
  },
  {
    name: "Link drops filters",
    what: "Link URLs lose scope and include_retried",
    destructive: false,
    make: () => ({
      response(response) {
        rewriteLink(response, (link) =>
          link.replace(/<([^>]*)>/g, (_, href: string) => {
            const url = new URL(href);
            for (const name of ["scope", "scope[]", "include_retried"]) url.searchParams.delete(name);
            return `<${url.href}>`;
          }),
        );
      },
    }),
    caughtBy: [
      "listProjectJobs.linkNextKeepsFilters",
      "listProjectJobs.linkRelations",
      "listPipelineJobs.linkNextKeepsFilters",
      "listPipelineJobs.linkRelations",
      "listPipelineBridges.linkRelations",
    ],
  },
  {
    name: "200 instead of 201",
    what: "cancel, retry and erase answer 200",
    destructive: true,
    make: () => ({
      response(response) {
        if (response.status === 201) response.status = 200;
      },
    }),
    caughtBy: [
      "cancelJob.cancelsActive",
      "cancelJob.finishedUnchanged",
      "retryJob.newJobPending",
      "retryJob.userIsCaller",
      "retryJob.oldJobHidden",
      "retryJob.onlyOnce",
      "eraseJob.removesTraceAndArtifacts",
    ],
  },
  {
    name: "wrong error shape",
    what: 'errors come as {"error": …} where GitLab sends {"message": …}',
    destructive: false,
    make: () => ({
      response(response) {
        const body = json(response) as JsonRecord | undefined;
        if (response.status >= 400 && typeof body?.message === "string") {
          setJson(response, response.status, { error: body.message });
        }
      },
    }),
    caughtBy: [
      "listProjectJobs.unknownProject",
      "listProjectJobs.unauthenticated",
      "listProjectJobs.badToken",
      "listProjectJobs.exactContentType",
      "listPipelineJobs.unknownPipeline",
      "listPipelineJobs.anonymous",
      "listPipelineBridges.anonymous",
      "listPipelineBridges.unknownPipeline",
      "getJob.unknownJob",
      "getJob.unauthenticated",
      "getJob.jobTokenRefused",
      "getJobTrace.jobTokenRefused",
      "getJobTrace.exactContentType",
      "getJobTrace.unknownJob",
      "getJobTokenJob.personalToken",
      "getJobTokenJob.unauthenticated",
      "getJobTokenAllowedAgents.personalToken",
    ],
  },
  {
    name: "field with the wrong type",
    what: 'a single job\'s allow_failure is sent as a string ("false")',
    destructive: false,
    make: () => ({
      response(response, request) {
        if (operation(request) !== "getJob") return;
        eachJob(response, (job) => {
          job.allow_failure = String(job.allow_failure);
        });
      },
    }),
    caughtBy: [
      "getJob.matchesList",
      "getJob.idsMatchUrl",
      "getJob.pathIdSameAnswer",
      "getJobTokenJob.withJobToken",
    ],
  },
  {
    name: "required field missing",
    what: "a pipeline's jobs come without their commit",
    destructive: false,
    make: () => ({
      response(response, request) {
        if (operation(request) !== "listPipelineJobs") return;
        eachJob(response, (job) => {
          delete job.commit;
        });
      },
    }),
    caughtBy: [
      "listPipelineJobs.pipelineJobsOnly",
      "listPipelineJobs.orderNewestFirst",
      "listPipelineJobs.scopeFilter",
      "listPipelineJobs.scopeBracketSpelling",
      "listPipelineJobs.scopeRepeatedKey",
      "listPipelineJobs.includeRetried",
      "listPipelineJobs.includeRetriedBoolean",
      "listPipelineJobs.pageClamped",
      "listPipelineJobs.paginationCounts",
      "listPipelineJobs.linkNextKeepsFilters",
      "listPipelineJobs.linkRelations",
      "listPipelineJobs.jobToken",
      "listPipelineJobs.pathIdSameAnswer",
      "listPipelineBridges.bridgesOnly",
    ],
  },
  {
    name: "retry reuses the id",
    what: "retry answers with the old job's id",
    destructive: true,
    make: () => ({
      response(response, request) {
        if (operation(request) !== "retryJob" || response.status !== 201) return;
        eachJob(response, (job) => {
          job.id = jobIdOf(request);
        });
      },
    }),
    caughtBy: ["retryJob.newJobPending", "retryJob.userIsCaller", "retryJob.oldJobHidden"],
  },
  {
    name: "play accepts any job",
    what: "play of a job that is not manual answers 200 with the job pending",
    destructive: true,
    make: () => ({
      async response(response, request, upstream) {
        if (operation(request) !== "playJob" || response.status !== 400) return;
        const job = await upstream("GET", request.url.pathname.replace(/\/play$/, ""), request.headers);
        setJson(response, 200, { ...(JSON.parse(job.body) as JsonRecord), status: "pending" });
      },
    }),
    caughtBy: ["playJob.nonManualRefused"],
  },
  {
    name: "erase keeps the log",
    what: "the log of an erased job is still served",
    destructive: true,
    make: () => {
      const logs = new Map<number, string>();
      return {
        response(response, request) {
          if (operation(request) !== "getJobTrace" || response.status !== 200) return;
          const id = jobIdOf(request);
          if (response.body) logs.set(id, response.body);
          else response.body = logs.get(id) ?? "";
        },
      };
    },
    caughtBy: ["eraseJob.removesTraceAndArtifacts"],
  },
  {
    name: "500 on bad input",
    what: "invalid parameters answer 500 instead of 400",
    destructive: false,
    make: () => ({
      response(response) {
        if (response.status === 400) setJson(response, 500, { message: "500 Internal Server Error" });
      },
    }),
    caughtBy: [
      "listProjectJobs.scopeInvalid",
      "listProjectJobs.perPageBounds",
      // Not listProjectJobs.exactContentType: its 500 is declared now (GitLab fails on some keyset
      // requests), and the check looks only at the Content-Type.
      "listPipelineJobs.scopeRepeatedKey",
      "listPipelineJobs.scopeInvalid",
      "listPipelineJobs.includeRetriedBoolean",
      "getJob.invalidId",
    ],
  },
  {
    name: "numeric and path ids disagree",
    what: "the project's path gives one job fewer than its numeric id",
    destructive: false,
    make: () => ({
      response(response, request) {
        const body = json(response);
        const project = projectSegment(request);
        if (project === "" || /^\d+$/.test(project) || response.status !== 200) return;
        if (Array.isArray(body)) setJson(response, 200, body.slice(0, -1));
        else
          eachJob(response, (job) => {
            job.name = `${String(job.name)} (by path)`;
          });
      },
    }),
    caughtBy: [
      "listProjectJobs.pathIdSameAnswer",
      "listPipelineJobs.pathIdSameAnswer",
      "getJob.pathIdSameAnswer",
    ],
  },
  {
    name: "log as a download",
    what: "the log is application/octet-stream",
    destructive: false,
    make: () => ({
      response(response, request) {
        if (operation(request) === "getJobTrace")
          response.headers.set("content-type", "application/octet-stream");
      },
    }),
    caughtBy: [
      "getJobTrace.plainText",
      "getJobTrace.emptyWithoutLog",
      "getJobTrace.finishedStable",
      "getJobTrace.jobTokenRefused",
      "getJobTrace.exactContentType",
      "getJobTrace.unknownJob",
    ],
  },
  {
    name: "missing Content-Disposition",
    what: "the log has no file name",
    destructive: false,
    make: () => ({
      response(response) {
        response.headers.delete("content-disposition");
      },
    }),
    caughtBy: ["getJobTrace.plainText"],
  },
  {
    name: "any token accepted",
    what: "an unknown personal token is taken for a valid one",
    destructive: false,
    make: (validToken) => ({
      request(request) {
        if (request.headers.has("private-token")) request.headers.set("private-token", validToken);
        if (request.url.searchParams.has("private_token"))
          request.url.searchParams.set("private_token", validToken);
      },
    }),
    caughtBy: ["listProjectJobs.badToken"],
  },
  {
    name: "wrong counts on the project list",
    what: "the project jobs list sends X-Total and X-Total-Pages that do not count its jobs",
    destructive: false,
    make: () => ({
      response(response, request) {
        if (operation(request) !== "listProjectJobs" || response.status !== 200) return;
        response.headers.set("x-total", "1000");
        response.headers.set("x-total-pages", "50");
      },
    }),
    caughtBy: ["listProjectJobs.paginationHeaders", "listProjectJobs.paginationLastPage"],
  },
  {
    name: "total off by one",
    what: "the pipeline lists count one item more than they have",
    destructive: false,
    make: () => ({
      response(response) {
        const total = response.headers.get("x-total");
        if (total !== null) response.headers.set("x-total", String(Number(total) + 1));
      },
    }),
    caughtBy: ["listPipelineJobs.paginationCounts", "listPipelineBridges.paginationCounts"],
  },
  {
    name: "include_retried ignored",
    what: "retried jobs are never listed",
    destructive: false,
    make: () => ({
      request(request) {
        request.url.searchParams.delete("include_retried");
      },
    }),
    caughtBy: [
      "listPipelineJobs.includeRetried",
      "listPipelineJobs.includeRetriedBoolean",
      "listPipelineJobs.linkNextKeepsFilters",
      "listPipelineJobs.linkRelations",
    ],
  },
  {
    name: "per_page=0 served",
    what: "per_page=0 is served with the default page size instead of refused",
    destructive: false,
    make: () => ({
      request(request) {
        if (request.url.searchParams.get("per_page") === "0") request.url.searchParams.delete("per_page");
      },
    }),
    caughtBy: ["listProjectJobs.perPageBounds"],
  },
  {
    name: "per_page=0 in other words",
    what: 'per_page=0 answers 400 {"error":"per_page does not have a valid value"}, not Grape\'s except_values wording',
    destructive: false,
    make: () => ({
      response(response, request) {
        if (request.url.searchParams.get("per_page") === "0" && response.status === 400)
          setJson(response, 400, { error: "per_page does not have a valid value" });
      },
    }),
    caughtBy: ["listProjectJobs.perPageBounds"],
  },
  {
    name: "per_page above 100 refused",
    what: "the project jobs list answers per_page above 100 with 400 instead of serving 100",
    destructive: false,
    make: () => ({
      response(response, request) {
        if (operation(request) !== "listProjectJobs") return;
        if (Number(request.url.searchParams.get("per_page")) > 100)
          setJson(response, 400, { error: "per_page does not have a valid value" });
      },
    }),
    caughtBy: ["listProjectJobs.pageClamped"],
  },
  {
    name: "page below 1 reported as sent",
    what: "the pipeline job list serves page 0 as page 1 but says X-Page: 0",
    destructive: false,
    make: () => ({
      response(response, request) {
        if (operation(request) !== "listPipelineJobs") return;
        const page = request.url.searchParams.get("page");
        if (page !== null && Number(page) < 1) response.headers.set("x-page", page);
      },
    }),
    caughtBy: ["listPipelineJobs.pageClamped"],
  },
  {
    name: "keyset 405 as a message",
    what: 'an unsupported keyset ordering answers 405 {"message":"405 Method Not Allowed"} (the spec documents {"error"})',
    destructive: false,
    make: () => ({
      response(response) {
        if (response.status === 405) setJson(response, 405, { message: "405 Method Not Allowed" });
      },
    }),
    caughtBy: ["listProjectJobs.keysetUnsupportedOrder"],
  },
  {
    name: "keyset ascending served",
    what: "keyset pagination with sort=asc is served in descending order instead of refused",
    destructive: false,
    make: () => ({
      request(request) {
        if (request.url.searchParams.get("pagination") === "keyset") request.url.searchParams.delete("sort");
      },
    }),
    caughtBy: ["listProjectJobs.keysetUnsupportedOrder"],
  },
  {
    name: "repeated scope filters by all",
    what: "the project jobs list reads scope=a&scope=b as both statuses, not as Rack's last value",
    destructive: false,
    make: () => ({
      request(request) {
        if (operation(request) !== "listProjectJobs") return;
        const params = request.url.searchParams;
        const scopes = params.getAll("scope");
        if (scopes.length < 2) return;
        params.delete("scope");
        for (const scope of scopes) params.append("scope[]", scope);
      },
    }),
    caughtBy: ["listProjectJobs.scopeRepeatedKey"],
  },
  {
    name: "scope hash ignored",
    what: "the pipeline job list ignores scope[0]=a&scope[1]=b (a hash in Rack) instead of refusing it",
    destructive: false,
    make: () => ({
      request(request) {
        if (operation(request) !== "listPipelineJobs") return;
        const params = request.url.searchParams;
        for (const key of [...params.keys()]) if (/^scope\[\d+\]$/.test(key)) params.delete(key);
      },
    }),
    caughtBy: ["listPipelineJobs.scopeRepeatedKey"],
  },
  {
    name: "include_retried true or false only",
    what: 'include_retried=1, yes, True, 0 and no answer 400 {"error":"include_retried is invalid"}',
    destructive: false,
    make: () => ({
      response(response, request) {
        const value = request.url.searchParams.get("include_retried");
        if (value !== null && value !== "true" && value !== "false")
          setJson(response, 400, { error: "include_retried is invalid" });
      },
    }),
    caughtBy: ["listPipelineJobs.includeRetriedBoolean"],
  },
  {
    name: "keyset in any order",
    what: "keyset pagination ordered by another column is served (by id) instead of refused",
    destructive: false,
    make: () => ({
      request(request) {
        if (request.url.searchParams.get("pagination") === "keyset")
          request.url.searchParams.set("order_by", "id");
      },
    }),
    caughtBy: ["listProjectJobs.keysetUnsupportedOrder"],
  },
  {
    name: "job token forbidden on lists",
    what: "the job lists answer a job token 403",
    destructive: false,
    make: () => ({
      response(response, request) {
        if (isList(request) && request.headers.has("job-token"))
          setJson(response, 403, { message: "403 Forbidden" });
      },
    }),
    caughtBy: ["listProjectJobs.jobToken", "listPipelineJobs.jobToken"],
  },
  {
    name: "cancel changes finished jobs",
    what: "cancel of a finished job answers it canceled",
    destructive: true,
    make: () => ({
      response(response, request) {
        if (operation(request) !== "cancelJob" || response.status !== 201) return;
        eachJob(response, (job) => {
          job.status = "canceled";
        });
      },
    }),
    caughtBy: ["cancelJob.finishedUnchanged"],
  },
  {
    name: "Link not RFC 8288",
    what: "links separated by spaces instead of commas, which strict parsers (the client's) refuse",
    destructive: false,
    make: () => ({
      response(response) {
        rewriteLink(response, (link) => link.replaceAll(", <", " <"));
      },
    }),
    caughtBy: [
      "listProjectJobs.paginationHeaders",
      "listProjectJobs.paginationLastPage",
      "listProjectJobs.linkNextKeepsFilters",
      "listProjectJobs.linkRelations",
      "listPipelineJobs.paginationCounts",
      "listPipelineJobs.linkNextKeepsFilters",
      "listPipelineJobs.linkRelations",
      "listPipelineBridges.paginationCounts",
      "listPipelineBridges.linkRelations",
    ],
  },
  {
    name: "keyset without Link",
    what: "keyset pages have no rel=next",
    destructive: false,
    make: () => ({
      response(response, request) {
        if (request.url.searchParams.get("pagination") === "keyset") response.headers.delete("link");
      },
    }),
    caughtBy: ["listProjectJobs.keysetPagination"],
  },
  {
    name: "finished durations drift",
    what: "a finished job's duration differs by a quarter second from one read to the next",
    destructive: false,
    make: () => {
      let reads = 0;
      return {
        response(response, request) {
          if (operation(request) !== "getJob") return;
          reads += 1;
          eachJob(response, (job) => {
            if (job.finished_at !== null && typeof job.duration === "number") {
              job.duration += (reads % 2) * 0.25;
            }
          });
        },
      };
    },
    caughtBy: ["getJob.matchesList"],
  },
  {
    name: "rel=first loses the filter",
    what: 'the project list\'s rel="first" URL leaves scope out',
    destructive: false,
    make: () => ({
      response(response, request) {
        if (operation(request) !== "listProjectJobs") return;
        rewriteRel(response, "first", (url) => {
          url.searchParams.delete("scope");
          url.searchParams.delete("scope[]");
        });
      },
    }),
    caughtBy: ["listProjectJobs.linkRelations"],
  },
  {
    name: "rel=prev stays",
    what: 'the pipeline job list\'s rel="prev" URL leads to the page it is on',
    destructive: false,
    make: () => ({
      response(response, request) {
        if (operation(request) !== "listPipelineJobs") return;
        const page = response.headers.get("x-page") ?? "1";
        rewriteRel(response, "prev", (url) => url.searchParams.set("page", page));
      },
    }),
    caughtBy: ["listPipelineJobs.linkRelations"],
  },
  {
    name: "rel=first stays",
    what: 'the bridge list\'s rel="first" URL leads to the page it is on',
    destructive: false,
    make: () => ({
      response(response, request) {
        if (operation(request) !== "listPipelineBridges") return;
        const page = response.headers.get("x-page") ?? "1";
        rewriteRel(response, "first", (url) => url.searchParams.set("page", page));
      },
    }),
    caughtBy: ["listPipelineBridges.linkRelations"],
  },
  {
    name: "durations doubled",
    what: "a finished job's duration is twice finished_at − started_at",
    destructive: false,
    make: () => ({
      response(response) {
        eachJob(response, (job) => {
          if (job.finished_at !== null && typeof job.duration === "number") job.duration *= 2;
        });
      },
    }),
    caughtBy: ["listProjectJobs.durationsMatchTimestamps"],
  },
  {
    name: "failed without finished_at",
    what: "failed jobs have no finished_at",
    destructive: false,
    make: () => ({
      response(response) {
        eachJob(response, (job) => {
          if (job.status === "failed") job.finished_at = null;
        });
      },
    }),
    caughtBy: ["listProjectJobs.timestampsConsistent"],
  },
  {
    name: "web_url of another job",
    what: "a single manual or scheduled job's web_url names the next job",
    destructive: false,
    make: () => ({
      response(response, request) {
        if (operation(request) !== "getJob") return;
        eachJob(response, (job) => {
          if ((job.status === "manual" || job.status === "scheduled") && typeof job.web_url === "string") {
            job.web_url = job.web_url.replace(/\/(\d+)$/, (_, id: string) => `/${Number(id) + 1}`);
          }
        });
      },
    }),
    caughtBy: ["getJob.idsMatchUrl"],
  },
  {
    name: "downstream web_url of another pipeline",
    what: "a bridge's downstream_pipeline.web_url names the pipeline after it",
    destructive: false,
    make: () => ({
      response(response) {
        eachJob(response, (job) => {
          const downstream = job.downstream_pipeline as JsonRecord | null | undefined;
          if (downstream && typeof downstream.web_url === "string") {
            downstream.web_url = downstream.web_url.replace(
              /\/(\d+)$/,
              (_, id: string) => `/${Number(id) + 1}`,
            );
          }
        });
      },
    }),
    caughtBy: ["listPipelineBridges.downstreamPipeline"],
  },
  {
    name: "finished log grows",
    what: "the log of a finished job gets longer with every read",
    destructive: false,
    make: () => {
      let reads = 0;
      return {
        response(response, request) {
          if (operation(request) !== "getJobTrace" || response.status !== 200 || response.body === "") return;
          reads += 1;
          response.body += `line ${reads}\n`;
        },
      };
    },
    caughtBy: ["getJobTrace.finishedStable"],
  },
  {
    name: "retry keeps the old user",
    what: "the new job of a retry belongs to the retried job's user, not to the caller",
    destructive: true,
    make: () => ({
      async response(response, request, upstream) {
        if (operation(request) !== "retryJob" || response.status !== 201) return;
        const old = await upstream("GET", request.url.pathname.replace(/\/retry$/, ""), request.headers);
        const user = (JSON.parse(old.body) as JsonRecord).user;
        eachJob(response, (job) => {
          job.user = user;
        });
      },
    }),
    caughtBy: ["retryJob.userIsCaller"],
  },
  {
    name: "invisible project forbidden",
    what: "an unknown project answers 403, revealing less than GitLab's 404",
    destructive: false,
    make: () => ({
      response(response) {
        const body = json(response) as JsonRecord | undefined;
        if (body?.message === "404 Project Not Found") setJson(response, 403, { message: "403 Forbidden" });
      },
    }),
    caughtBy: ["listProjectJobs.unknownProject"],
  },
  {
    name: "running job erased",
    what: "erase of a running job answers 201 with the job erased, but the job runs on, unerased",
    destructive: true,
    make: () => ({
      async response(response, request, upstream) {
        if (operation(request) !== "eraseJob" || response.status !== 403) return;
        const job = await upstream("GET", request.url.pathname.replace(/\/erase$/, ""), request.headers);
        const body = JSON.parse(job.body) as JsonRecord;
        setJson(response, 201, { ...body, erased_at: new Date().toISOString(), artifacts: [] });
      },
    }),
    caughtBy: ["eraseJob.runningRefused"],
  },
  {
    name: "erase forbidden to a Maintainer",
    what: 'erase answers 403 {"message":"403 Forbidden"} to a token whose project permissions say Maintainer',
    destructive: true,
    make: () => ({
      response(response, request) {
        // The reference has no GET /projects/:id: this one tells the preflight the token's role.
        if (request.method === "GET" && /\/projects\/[^/]+$/.test(request.url.pathname)) {
          setJson(response, 200, {
            id: Number(projectSegment(request)) || 1,
            permissions: { project_access: { access_level: 40 }, group_access: null },
          });
        }
        if (operation(request) === "eraseJob" && [201, 403].includes(response.status))
          setJson(response, 403, { message: "403 Forbidden" });
      },
    }),
    caughtBy: ["eraseJob.removesTraceAndArtifacts", "eraseJob.runningRefused"],
  },
];

/** Operations jobs.rb gives no `job_token_allowed`: a job token there must authenticate nobody. */
const jobTokenRefusedOps = ["getJob", "getJobTrace", "cancelJob", "retryJob", "playJob", "eraseJob"] as const;

faultCases.push(
  ...jobTokenRefusedOps.map(
    (op): FaultCase => ({
      name: `job token taken by ${op}`,
      what: `${op} takes a CI job token as its job's user's token`,
      destructive: !op.startsWith("get"),
      make: (validToken) => ({
        request(request) {
          if (operation(request) !== op) return;
          const params = request.url.searchParams;
          if (!request.headers.has("job-token") && !params.has("job_token")) return;
          request.headers.delete("job-token");
          params.delete("job_token");
          request.headers.set("private-token", validToken);
        },
      }),
      caughtBy: [`${op}.jobTokenRefused`],
    }),
  ),
  ...(["listPipelineJobs", "listPipelineBridges"] as const).map(
    (op): FaultCase => ({
      name: `${op} needs a token`,
      what: `${op} answers 401 without a token instead of answering as GitLab's pipelines do anonymously`,
      destructive: false,
      make: () => ({
        response(response, request) {
          if (operation(request) !== op) return;
          const credentials = ["private-token", "job-token", "authorization"].some((h) =>
            request.headers.has(h),
          );
          if (!credentials && !request.url.search.includes("token="))
            setJson(response, 401, { message: "401 Unauthorized" });
        },
      }),
      caughtBy: [`${op}.anonymous`],
    }),
  ),
);

const actionOps: readonly (OperationId | undefined)[] = ["cancelJob", "retryJob", "playJob", "eraseJob"];

faultCases.push(
  {
    name: "charset on JSON",
    what: "the project jobs list's JSON answers say application/json; charset=utf-8",
    destructive: false,
    make: () => ({
      response(response, request) {
        if (
          operation(request) === "listProjectJobs" &&
          response.headers.get("content-type") === "application/json"
        )
          response.headers.set("content-type", "application/json; charset=utf-8");
      },
    }),
    caughtBy: ["listProjectJobs.exactContentType"],
  },
  {
    name: "charset on the log",
    what: "the log is text/plain; charset=utf-8",
    destructive: false,
    make: () => ({
      response(response, request) {
        if (operation(request) === "getJobTrace" && response.headers.get("content-type") === "text/plain")
          response.headers.set("content-type", "text/plain; charset=utf-8");
      },
    }),
    caughtBy: ["getJobTrace.exactContentType"],
  },
  {
    name: "pagination headers not exposed",
    what: "answers to cross-origin GETs expose no headers to scripts",
    destructive: false,
    make: () => ({
      response(response) {
        response.headers.delete("access-control-expose-headers");
      },
    }),
    caughtBy: ["listProjectJobs.cors"],
  },
  {
    name: "no CORS preflight",
    what: "OPTIONS preflights answer 404 without CORS headers",
    destructive: false,
    make: () => ({
      response(response, request) {
        if (request.method !== "OPTIONS") return;
        for (const name of [...response.headers.keys()])
          if (name.startsWith("access-control-")) response.headers.delete(name);
        setJson(response, 404, { error: "404 Not Found" });
      },
    }),
    caughtBy: ["cancelJob.corsPreflight"],
  },
  {
    name: "text/plain bodies read",
    what: "an action with a text/plain body ignores the body instead of answering 415",
    destructive: true,
    make: () => ({
      request(request) {
        if (!actionOps.includes(operation(request))) return;
        if (request.headers.get("content-type")?.startsWith("text/plain")) {
          request.headers.delete("content-type");
          request.body = undefined;
        }
      },
    }),
    caughtBy: ["cancelJob.unsupportedMediaType"],
  },
  {
    name: "form bodies refused",
    what: "an action with an application/x-www-form-urlencoded body answers 415",
    destructive: true,
    make: () => ({
      response(response, request) {
        if (!actionOps.includes(operation(request))) return;
        const type = request.headers.get("content-type") ?? "";
        if (type.startsWith("application/x-www-form-urlencoded"))
          setJson(response, 415, { error: `The provided content-type '${type}' is not supported.` });
      },
    }),
    caughtBy: ["playJob.emptyFormBody"],
  },
  {
    name: "malformed JSON ignored",
    what: "an action with a JSON body that does not parse acts as without a body",
    destructive: true,
    make: () => ({
      request(request) {
        if (!actionOps.includes(operation(request)) || request.body === undefined) return;
        if (!request.headers.get("content-type")?.startsWith("application/json")) return;
        try {
          JSON.parse(request.body);
        } catch {
          request.headers.delete("content-type");
          request.body = undefined;
        }
      },
    }),
    caughtBy: ["retryJob.malformedJson"],
  },
);

/** The fault case of that name, made afresh (a test of one named fault). */
export function knownFault(name: string): Fault {
  const found = faultCases.find((f) => f.name === name);
  if (!found) throw new Error(`no fault named ${name}`);
  return found.make("");
}

/** Statuses of a job no runner has started yet, which a runner may start at any time. */
const notStarted: readonly unknown[] = ["created", "pending", "waiting_for_resource", "preparing"];

export const toleratedCases: ToleratedCase[] = [
  {
    name: "job tokens of 2022",
    what: "job tokens are refused on the project jobs list (401) and ignored on the pipeline's (anonymous: 404 for a private project)",
    destructive: false,
    make: () => ({
      response(response, request) {
        if (!request.headers.has("job-token")) return;
        if (operation(request) === "listProjectJobs") setJson(response, 401, { message: "401 Unauthorized" });
        if (operation(request) === "listPipelineJobs")
          setJson(response, 404, { message: "404 Project Not Found" });
      },
    }),
    exercises: ["listProjectJobs.jobToken", "listPipelineJobs.jobToken"],
  },
  {
    name: "no counts",
    what: 'no list sends X-Total, X-Total-Pages or rel="last" (above 10,000 rows, or current GitLab\'s project jobs list)',
    destructive: false,
    make: () => ({
      response(response) {
        response.headers.delete("x-total");
        response.headers.delete("x-total-pages");
        rewriteLink(response, (link) =>
          link
            .split(", ")
            .filter((l) => !l.endsWith('rel="last"'))
            .join(", "),
        );
      },
    }),
    exercises: [
      "listProjectJobs.paginationHeaders",
      "listProjectJobs.paginationLastPage",
      "listProjectJobs.linkRelations",
      "listPipelineJobs.paginationCounts",
      "listPipelineJobs.linkRelations",
      "listPipelineBridges.paginationCounts",
      "listPipelineBridges.linkRelations",
    ],
  },
  {
    name: "counts on the project list",
    what: 'the project jobs list sends right X-Total, X-Total-Pages and rel="last" (GitLab before without_count)',
    destructive: false,
    make: () => ({
      async response(response, request, upstream) {
        if (operation(request) !== "listProjectJobs" || response.status !== 200) return;
        if (request.url.searchParams.has("pagination")) return;
        const perPage = Number(request.url.searchParams.get("per_page") ?? "20");
        const whole = new URL(request.url.href);
        whole.searchParams.set("per_page", "100");
        whole.searchParams.delete("page");
        const all = await upstream("GET", `${whole.pathname}${whole.search}`, request.headers);
        const total = (JSON.parse(all.body) as unknown[]).length;
        const pages = Math.max(1, Math.ceil(total / perPage));
        response.headers.set("x-total", String(total));
        response.headers.set("x-total-pages", String(pages));
        // On the proxy's origin, as the other links of the header are by now.
        const origin = /<(https?:\/\/[^/>]+)/.exec(response.headers.get("link") ?? "")?.[1];
        const last = new URL(`${request.url.pathname}${request.url.search}`, origin ?? request.url.origin);
        last.searchParams.set("page", String(pages));
        rewriteLink(response, (link) => `${link}, <${last.href}>; rel="last"`);
      },
    }),
    exercises: [
      "listProjectJobs.paginationHeaders",
      "listProjectJobs.paginationLastPage",
      "listProjectJobs.linkRelations",
    ],
  },
  {
    name: "durations grow with the clock",
    what: "duration of a running job and queued_duration of a job that never started grow between reads, and canceled jobs were canceled before they started",
    destructive: false,
    make: () => {
      let tick = 0;
      return {
        response(response) {
          tick += 1;
          eachJob(response, (job) => {
            if (job.status === "canceled") {
              job.started_at = null;
              job.duration = null;
              job.queued_duration = 0;
            }
            if (job.started_at === null && typeof job.queued_duration === "number") {
              job.queued_duration += tick;
            } else if (
              job.started_at !== null &&
              job.finished_at === null &&
              typeof job.duration === "number"
            ) {
              job.duration += tick;
            }
          });
        },
      };
    },
    exercises: [
      "listProjectJobs.durationsMatchTimestamps",
      "listProjectJobs.timestampsConsistent",
      "listProjectJobs.pathIdSameAnswer",
      "listPipelineJobs.pathIdSameAnswer",
      "getJob.matchesList",
      "getJob.pathIdSameAnswer",
    ],
  },
  {
    name: "fields of a newer GitLab",
    what: "every job, its pipeline and its user carry fields the spec does not declare",
    destructive: false,
    make: () => ({
      response(response) {
        eachJob(response, (job) => {
          job.field_of_a_newer_gitlab = { since: "99.0", values: [1, 2] };
          for (const key of ["pipeline", "user", "commit"]) {
            const nested = job[key];
            if (typeof nested === "object" && nested !== null) {
              (nested as JsonRecord).field_of_a_newer_gitlab = "new";
            }
          }
        });
      },
    }),
    exercises: [
      "listProjectJobs.pathIdSameAnswer",
      "listPipelineJobs.pathIdSameAnswer",
      "listPipelineBridges.bridgesOnly",
      "listPipelineBridges.downstreamPipeline",
      "getJob.matchesList",
      "getJob.idsMatchUrl",
      "getJob.pathIdSameAnswer",
      "getJobTokenJob.withJobToken",
    ],
  },
  {
    name: "public pipelines off",
    what: "a pipeline's jobs answer an anonymous caller 200 [] (the project public, its public_builds off: JobsFinder answers none without read_build)",
    destructive: false,
    make: () => ({
      response(response, request) {
        // The reference's project is private (anonymous: 404): this makes it public, without public builds.
        if (operation(request) !== "listPipelineJobs" || ![200, 404].includes(response.status)) return;
        const tokens = ["private-token", "authorization", "job-token"].filter((h) => request.headers.has(h));
        const queryTokens = ["private_token", "access_token", "bearer_token", "job_token"].filter((q) =>
          request.url.searchParams.has(q),
        );
        if (tokens.length > 0 || queryTokens.length > 0) return;
        setJson(response, 200, []);
        response.headers.set("x-next-page", "");
        if (response.headers.has("x-total")) response.headers.set("x-total", "0");
        if (response.headers.has("x-total-pages")) response.headers.set("x-total-pages", "1");
      },
    }),
    exercises: ["listPipelineJobs.anonymous"],
  },
  {
    name: "runners at work",
    what: "a runner takes played and retried jobs before the next read (running), and a job not yet started when listed or read is running at the next read and finished at the one after; cancel of a job a runner has taken answers canceling, as a runner that cancels gracefully has it; a running job finishes before its erase, which then erases it",
    destructive: true,
    make: () => {
      const taken = new Set<number>();
      const canceling = new Set<number>();
      /** Jobs listed or read before their runner started them: the next read finds them running, then finished. */
      const waiting = new Set<number>();
      const startedAt = new Map<number, string>();
      /** Running jobs whose runner finished them just before an erase, which erased them. */
      const finished = new Map<number, string>();
      const finish = (job: JsonRecord, at: string) => {
        job.status = "success";
        job.finished_at = at;
        job.erased_at = at;
        job.duration = typeof job.duration === "number" ? job.duration : 1;
        job.artifacts = [];
        delete job.artifacts_file;
        job.artifacts_expire_at = null;
      };
      return {
        async response(response, request, upstream) {
          const op = operation(request);
          if (op === "eraseJob" && response.status === 403 && response.body.includes("not erasable")) {
            const at = new Date().toISOString();
            finished.set(jobIdOf(request), at);
            const job = await upstream("GET", request.url.pathname.replace(/\/erase$/, ""), request.headers);
            const erased = JSON.parse(job.body) as JsonRecord;
            finish(erased, at);
            setJson(response, 201, erased);
            return;
          }
          if (op === "playJob" && response.status === 200) taken.add(jobIdOf(request));
          if (op === "retryJob" && response.status === 201) {
            eachJob(response, (job) => {
              if (typeof job.id === "number") taken.add(job.id);
            });
          }
          if (op === "cancelJob" && response.status === 201) {
            eachJob(response, (job) => {
              if (job.status !== "canceled") return;
              canceling.add(jobIdOf(request));
              job.status = "canceling";
              job.finished_at = null;
              job.duration = null;
            });
          }
          if (isList(request) && response.status === 200) {
            eachJob(response, (job) => {
              if (typeof job.id === "number" && notStarted.includes(job.status)) waiting.add(job.id);
            });
            return;
          }
          if (op !== "getJob" || response.status !== 200) return;
          const id = jobIdOf(request);
          eachJob(response, (job) => {
            const erasedAt = finished.get(id);
            if (erasedAt !== undefined) finish(job, erasedAt);
            else if (typeof job.status === "string" && notStarted.includes(job.status)) {
              if (waiting.has(id)) {
                // The first read finds it running, any later one finished (at once: duration 0).
                const at = startedAt.get(id) ?? new Date().toISOString();
                job.status = startedAt.has(id) ? "success" : "running";
                job.started_at = at;
                job.duration = 0;
                if (startedAt.has(id)) job.finished_at = at;
                startedAt.set(id, at);
              } else waiting.add(id);
            }
            if (canceling.has(id)) {
              job.status = "canceling";
              job.finished_at = null;
              job.duration = null;
            } else if (taken.has(id)) {
              job.status = "running";
              job.started_at ??= new Date().toISOString();
            }
          });
        },
      };
    },
    exercises: [
      "cancelJob.cancelsActive",
      "cancelJob.jobTokenRefused",
      "cancelJob.unsupportedMediaType",
      "playJob.manualToPending",
      "playJob.nonManualRefused",
      "retryJob.newJobPending",
      "eraseJob.runningRefused",
    ],
  },
  {
    name: "pipelines move on",
    what: "by the time a job is read on its own, its pipeline has another status and updated_at (its other jobs ran), and a finished job's log has been archived as a trace artifact",
    destructive: false,
    make: () => {
      const later = "2099-01-01T00:00:00.000Z";
      return {
        response(response, request) {
          if (operation(request) !== "getJob" || response.status !== 200) return;
          eachJob(response, (job) => {
            if (typeof job.pipeline === "object" && job.pipeline !== null) {
              const pipeline = job.pipeline as JsonRecord;
              pipeline.status = pipeline.status === "success" ? "failed" : "success";
              pipeline.updated_at = later;
            }
            const artifacts = Array.isArray(job.artifacts) ? (job.artifacts as JsonRecord[]) : [];
            if (job.finished_at !== null && !artifacts.some((a) => a.file_type === "trace")) {
              job.artifacts = [
                ...artifacts,
                { file_type: "trace", size: 42, filename: "job.log", file_format: null },
              ];
            }
          });
        },
      };
    },
    exercises: ["getJob.matchesList", "getJob.pathIdSameAnswer"],
  },
  {
    name: "a Developer's token",
    what: 'erase answers 403 {"message":"403 Forbidden"}: the token\'s user is a Developer, and the jobs are other users\' (build_policy.rb erase_build)',
    destructive: true,
    make: () => ({
      response(response, request) {
        if (operation(request) === "eraseJob" && [201, 403].includes(response.status))
          setJson(response, 403, { message: "403 Forbidden" });
      },
    }),
    exercises: ["eraseJob.jobTokenRefused"],
  },
];
