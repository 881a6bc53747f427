import type { JobStatus, JobsApiOperationId, paths } from "@jobs-api/types";
import createClient, { defaultPathSerializer } from "openapi-fetch";
import { JobsApiError, JobsApiNetworkError, JobsApiTimeoutError, type SentRequest } from "./errors.js";
import { type Page, readPagination } from "./pagination.js";
import type {
  CallOptions,
  ListItem,
  ListOperationId,
  OperationMethods,
  OperationParams,
  OperationResult,
} from "./types.js";

/** How the client authenticates: one kind of token at most; none for public projects. */
export type JobsClientAuth =
  | {
      /** Personal, project or group access token, sent as `PRIVATE-TOKEN`. */
      token: string;
      oauthToken?: never;
      jobToken?: never;
    }
  | {
      /** OAuth 2.0 access token, sent as `Authorization: Bearer`. */
      oauthToken: string;
      token?: never;
      jobToken?: never;
    }
  | {
      /** CI job token (`CI_JOB_TOKEN`), sent as `JOB-TOKEN`. */
      jobToken: string;
      token?: never;
      oauthToken?: never;
    }
  | { token?: never; oauthToken?: never; jobToken?: never };

export type JobsClientOptions = JobsClientAuth & {
  /** The API root, including `/api/v4`: `https://gitlab.example.com/api/v4`. */
  baseUrl: string;
  /** The `fetch` to send requests with; `globalThis.fetch` by default. */
  fetch?: (request: Request) => Promise<Response>;
  /** Headers sent with every request (e.g. `User-Agent`); the token's header takes precedence. */
  headers?: HeadersInit;
  /** Fails a call with `JobsApiTimeoutError` when its answer (body included) takes longer. No limit by default. */
  timeoutMs?: number;
};

export interface PaginateOptions extends CallOptions {
  /** Stop after this many pages (at least 1), even if the server offers more. */
  maxPages?: number;
}

export interface FollowJobTraceOptions extends CallOptions {
  /** Pause between two polls of a running job, 3000 ms by default (the pace of GitLab's own job page). */
  intervalMs?: number;
  /** Waits between polls; replaceable so that tests (or a custom scheduler) control time. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * The statuses after which a job's log no longer changes: `COMPLETED_STATUSES` of `@jobs-api/types`. Written
 * out because the published client imports nothing at run time but openapi-fetch (types' entry point loads
 * Node modules); `trace.test.ts` checks that the two lists agree.
 */
export const finishedJobStatuses: ReadonlySet<JobStatus> = new Set<JobStatus>([
  "success",
  "failed",
  "canceled",
  "skipped",
]);

export interface JobsClient extends OperationMethods {
  /** One page of a list, with its pagination metadata (`X-Page`, `X-Total`, `Link`, …). */
  page<K extends ListOperationId>(
    operationId: K,
    params: OperationParams<K>,
    options?: CallOptions,
  ): Promise<Page<ListItem<K>>>;
  /** Every page of a list, following `Link: <…>; rel="next"` (offset and keyset pagination alike). */
  pages<K extends ListOperationId>(
    operationId: K,
    params: OperationParams<K>,
    options?: PaginateOptions,
  ): AsyncGenerator<Page<ListItem<K>>, void, undefined>;
  /** Every item of a list, across pages, fetched lazily: stop iterating and no further page is requested. */
  paginate<K extends ListOperationId>(
    operationId: K,
    params: OperationParams<K>,
    options?: PaginateOptions,
  ): AsyncGenerator<ListItem<K>, void, undefined>;
  /**
   * Yields a job's log as it grows (only the new text each time) until the job has finished, then ends.
   * Polls `getJob` then `getJobTrace` every `intervalMs`. Aborting the signal rejects with its reason.
   */
  followJobTrace(
    params: OperationParams<"getJobTrace">,
    options?: FollowJobTraceOptions,
  ): AsyncGenerator<string, void, undefined>;
}

/** What the client hands openapi-fetch for one request. */
interface Transport {
  fetch: (request: Request) => Promise<Response>;
  signal?: AbortSignal;
}

/** openapi-fetch's result, narrowed to what the client reads; typing it checks the derived result types. */
interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

type Operations = {
  [K in JobsApiOperationId]: (
    params: OperationParams<K>,
    transport: Transport,
  ) => Promise<FetchResult<OperationResult<K>>>;
};

export function createJobsClient(options: JobsClientOptions): JobsClient {
  const { baseUrl, fetch: baseFetch = globalThis.fetch, timeoutMs } = options;
  const headers = new Headers(options.headers);
  for (const [name, value] of Object.entries(authHeaders(options))) headers.set(name, value);
  const api = createClient<paths>({
    baseUrl,
    headers,
    querySerializer: serializeQuery,
    pathSerializer: serializePath,
  });
  const origin = new URL(baseUrl).origin;

  // Flat params are split back into openapi-fetch's path/query/body; the rest object of each destructuring is
  // exactly the operation's query parameters, so the compiler checks every call against the spec.
  const operations: Operations = {
    listProjectJobs: ({ id, ...query }, t) =>
      api.GET("/projects/{id}/jobs", { params: { path: { id: projectId(id) }, query }, ...t }),
    listPipelineJobs: ({ id, pipeline_id, ...query }, t) =>
      api.GET("/projects/{id}/pipelines/{pipeline_id}/jobs", {
        params: { path: { id: projectId(id), pipeline_id }, query },
        ...t,
      }),
    listPipelineBridges: ({ id, pipeline_id, ...query }, t) =>
      api.GET("/projects/{id}/pipelines/{pipeline_id}/bridges", {
        params: { path: { id: projectId(id), pipeline_id }, query },
        ...t,
      }),
    getJobTokenJob: (_, t) => api.GET("/job", { ...t }),
    getJobTokenAllowedAgents: (_, t) => api.GET("/job/allowed_agents", { ...t }),
    getJob: ({ id, job_id }, t) =>
      api.GET("/projects/{id}/jobs/{job_id}", { params: { path: { id: projectId(id), job_id } }, ...t }),
    getJobTrace: async ({ id, job_id }, t) => {
      const result = await api.GET("/projects/{id}/jobs/{job_id}/trace", {
        params: { path: { id: projectId(id), job_id } },
        parseAs: "text",
        ...t,
      });
      // openapi-fetch reads a `Content-Length: 0` body as `undefined`; for the trace that is "no log yet".
      return result.response.ok && result.data === undefined ? { ...result, data: "" } : result;
    },
    cancelJob: ({ id, job_id, ...query }, t) =>
      api.POST("/projects/{id}/jobs/{job_id}/cancel", {
        params: { path: { id: projectId(id), job_id }, query },
        ...t,
      }),
    retryJob: ({ id, job_id }, t) =>
      api.POST("/projects/{id}/jobs/{job_id}/retry", {
        params: { path: { id: projectId(id), job_id } },
        ...t,
      }),
    eraseJob: ({ id, job_id }, t) =>
      api.POST("/projects/{id}/jobs/{job_id}/erase", {
        params: { path: { id: projectId(id), job_id } },
        ...t,
      }),
    playJob: ({ id, job_id, body }, t) =>
      api.POST("/projects/{id}/jobs/{job_id}/play", {
        params: { path: { id: projectId(id), job_id } },
        body,
        ...t,
      }),
  };

  /**
   * Runs one operation and turns every way it can go wrong into a typed error. `url` replaces the URL built
   * from params: pagination follows the server's `rel="next"` link verbatim (keyset cursors are opaque).
   */
  async function call<K extends JobsApiOperationId>(
    operationId: K,
    params: OperationParams<K>,
    callOptions: CallOptions | undefined,
    url?: string,
  ): Promise<{ data: OperationResult<K>; response: Response; request: SentRequest }> {
    let sent: SentRequest | undefined;
    let received: Response | undefined;
    const timeout =
      timeoutMs === undefined ? undefined : { ms: timeoutMs, controller: new AbortController() };
    const signals = [callOptions?.signal, timeout?.controller.signal].filter((s) => s !== undefined);
    const transport: Transport = {
      fetch: async (request) => {
        const final = url === undefined ? request : new Request(url, request);
        sent = { operationId, method: final.method, url: final.url };
        received = await baseFetch(final);
        return received;
      },
      signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
    };
    const timer = timeout && setTimeout(() => timeout.controller.abort(), timeout.ms);
    let result: FetchResult<OperationResult<K>>;
    try {
      result = await operations[operationId](params, transport);
    } catch (cause) {
      // Before anything was sent it is a usage error (e.g. a relative baseUrl); a caller's abort stays theirs.
      if (sent === undefined || callOptions?.signal?.aborted) throw cause;
      if (timeout?.controller.signal.aborted) throw new JobsApiTimeoutError(sent, timeout.ms);
      // openapi-fetch's JSON.parse of a success body; a connection lost mid-body is a network error.
      if (received && cause instanceof SyntaxError) {
        throw new JobsApiError(sent, received, undefined, `unreadable response body: ${cause.message}`);
      }
      throw new JobsApiNetworkError(sent, cause);
    } finally {
      clearTimeout(timer);
    }
    // openapi-fetch resolves only after calling our fetch, which set `sent`.
    const request = sent as SentRequest;
    const { data, error, response } = result;
    if (!response.ok) throw new JobsApiError(request, response, error);
    if (data === undefined) throw new JobsApiError(request, response, "", "empty response body");
    return { data, response, request };
  }

  async function page<K extends ListOperationId>(
    operationId: K,
    params: OperationParams<K>,
    callOptions?: CallOptions,
    url?: string,
  ): Promise<Page<ListItem<K>>> {
    const { data, response, request } = await call(operationId, params, callOptions, url);
    if (!Array.isArray(data)) throw new JobsApiError(request, response, data, "expected a JSON array");
    try {
      return { items: data, pagination: readPagination(response.headers, request.url) };
    } catch (cause) {
      throw new JobsApiError(request, response, data, String(cause));
    }
  }

  async function* pages<K extends ListOperationId>(
    operationId: K,
    params: OperationParams<K>,
    paginateOptions: PaginateOptions = {},
  ): AsyncGenerator<Page<ListItem<K>>, void, undefined> {
    const { maxPages = Number.POSITIVE_INFINITY, signal } = paginateOptions;
    if (!(maxPages >= 1)) throw new RangeError(`maxPages must be at least 1, got ${maxPages}`);
    let next: string | undefined;
    for (let count = 0; count < maxPages; count++) {
      const current: Page<ListItem<K>> = await page(operationId, params, { signal }, next);
      yield current;
      next = current.pagination.links.next;
      if (next === undefined) return;
      // The token goes with every request: never send it to a host the caller did not choose.
      if (new URL(next).origin !== origin) {
        throw new Error(`${operationId}: refusing to follow rel="next" to another origin: ${next}`);
      }
    }
  }

  async function* paginate<K extends ListOperationId>(
    operationId: K,
    params: OperationParams<K>,
    paginateOptions?: PaginateOptions,
  ): AsyncGenerator<ListItem<K>, void, undefined> {
    for await (const current of pages(operationId, params, paginateOptions)) yield* current.items;
  }

  async function* followJobTrace(
    params: OperationParams<"getJobTrace">,
    followOptions: FollowJobTraceOptions = {},
  ): AsyncGenerator<string, void, undefined> {
    const { intervalMs = 3000, sleep = abortableSleep, signal } = followOptions;
    let seen = 0;
    for (;;) {
      signal?.throwIfAborted();
      // Status first: if the job had finished by then, the log fetched next is complete.
      const { data: job } = await call<"getJob">("getJob", params, { signal });
      const { data: log } = await call("getJobTrace", params, { signal });
      if (log.length > seen) yield log.slice(seen);
      // A log that shrank was erased or rewritten: carry on from its new end rather than repeat it.
      seen = log.length;
      if (finishedJobStatuses.has(job.status)) return;
      await sleep(intervalMs, signal);
    }
  }

  const method =
    <K extends JobsApiOperationId>(operationId: K) =>
    // Only the job-token operations have no required parameter, and they read none: `{}` stands for "none".
    async (params = {} as OperationParams<K>, callOptions?: CallOptions): Promise<OperationResult<K>> =>
      (await call(operationId, params, callOptions)).data;

  return {
    listProjectJobs: method("listProjectJobs"),
    listPipelineJobs: method("listPipelineJobs"),
    listPipelineBridges: method("listPipelineBridges"),
    getJobTokenJob: method("getJobTokenJob"),
    getJobTokenAllowedAgents: method("getJobTokenAllowedAgents"),
    getJob: method("getJob"),
    getJobTrace: method("getJobTrace"),
    cancelJob: method("cancelJob"),
    retryJob: method("retryJob"),
    eraseJob: method("eraseJob"),
    playJob: method("playJob"),
    page,
    pages,
    paginate,
    followJobTrace,
  };
}

/** Project IDs go in the path as numbers or paths; a path is encoded by openapi-fetch (`a/b` → `a%2Fb`). */
function projectId(id: number | string): number | string {
  // GitLab paths cannot contain `%`, so one means the caller encoded it already: decode to avoid `%252F`.
  return typeof id === "string" && id.includes("%") ? decodeURIComponent(id) : id;
}

/** openapi-fetch leaves a missing path parameter as `{job_id}` in the URL; a JavaScript caller deserves an error. */
function serializePath(pathname: string, params: Record<string, unknown>): string {
  for (const [, name = ""] of pathname.matchAll(/\{([^}]+)\}/g)) {
    const value = params[name];
    if (value === undefined || value === null || value === "")
      throw new TypeError(`missing path parameter ${name}`);
  }
  return defaultPathSerializer(pathname, params);
}

function authHeaders(auth: JobsClientAuth): Record<string, string> {
  const given = [auth.token, auth.oauthToken, auth.jobToken].filter((t) => t !== undefined);
  if (given.length > 1)
    throw new TypeError("createJobsClient: give at most one of token, oauthToken and jobToken");
  if (auth.token !== undefined) return { "PRIVATE-TOKEN": auth.token };
  if (auth.oauthToken !== undefined) return { Authorization: `Bearer ${auth.oauthToken}` };
  if (auth.jobToken !== undefined) return { "JOB-TOKEN": auth.jobToken };
  return {};
}

/**
 * GitLab's own clients send arrays as `scope[]=a&scope[]=b` (openapi-fetch's default is `scope=a&scope=b`);
 * every GitLab version reads the bracket form. Brackets stay literal, as in GitLab's documented `curl` calls.
 */
function serializeQuery(query: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    const values: unknown[] = Array.isArray(value) ? value : [value];
    const key = Array.isArray(value) ? `${encodeURIComponent(name)}[]` : encodeURIComponent(name);
    for (const v of values) parts.push(`${key}=${encodeURIComponent(String(v))}`);
  }
  return parts.join("&");
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
