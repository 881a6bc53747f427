/**
 * The runner's side of GitLab's job protocol (`lib/api/ci/runner.rb`), on openapi-fetch and the spec's
 * types: ask for a job, append to its log, report its state. Answers are returned as data, not thrown:
 * the runner decides what each status means for the job (GitLab Runner does the same).
 */
import type { paths, RequestJobRequest, RunnerJob, UpdateJobRequest } from "@jobs-api/types";
import createClient from "openapi-fetch";

export type { RunnerJob };

/** What the runner says about itself with each request (`info`, recorded on its runner manager). */
export type RunnerInfo = NonNullable<RequestJobRequest["info"]>;

export type RequestJobAnswer =
  | { kind: "job"; job: RunnerJob }
  /** 204: nothing now; `lastUpdate` is the queue value to send back next time. */
  | { kind: "none"; lastUpdate: string | undefined }
  /** 409: another runner took the job at the same moment. */
  | { kind: "conflict" }
  /** 403: the runner token is not a runner's. */
  | { kind: "forbidden" }
  | { kind: "error"; status: number; body: string };

export interface AppendAnswer {
  status: number;
  /** The log's size on the server after the request (`Range: 0-N`), when the answer says it. */
  size: number | undefined;
  /** The job's status (`Job-Status`), when the answer says it. */
  jobStatus: string | undefined;
  /** `X-GitLab-Trace-Update-Interval`, in seconds. */
  updateInterval: number | undefined;
}

export interface UpdateAnswer {
  status: number;
  jobStatus: string | undefined;
  updateInterval: number | undefined;
}

export interface Protocol {
  requestJob(lastUpdate: string | undefined, signal?: AbortSignal): Promise<RequestJobAnswer>;
  appendJobTrace(job: RunnerJob, offset: number, bytes: Uint8Array): Promise<AppendAnswer>;
  updateJob(job: RunnerJob, update: Omit<UpdateJobRequest, "token">): Promise<UpdateAnswer>;
}

export interface ProtocolOptions {
  /** The API root, `/api/v4` included. */
  baseUrl: string;
  token: string;
  systemId: string;
  info: RunnerInfo;
  fetch?: (request: Request) => Promise<Response>;
}

function header(response: Response, name: string): string | undefined {
  return response.headers.get(name) ?? undefined;
}

function seconds(response: Response): number | undefined {
  const value = header(response, "X-GitLab-Trace-Update-Interval");
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** `Range: 0-N` → N. */
function rangeEnd(response: Response): number | undefined {
  const match = /^0-(\d+)$/.exec(header(response, "Range") ?? "");
  return match ? Number(match[1]) : undefined;
}

export function createProtocol(options: ProtocolOptions): Protocol {
  const api = createClient<paths>({ baseUrl: options.baseUrl, fetch: options.fetch });
  return {
    async requestJob(lastUpdate, signal) {
      const { data, response } = await api.POST("/jobs/request", {
        body: {
          token: options.token,
          system_id: options.systemId,
          info: options.info,
          ...(lastUpdate === undefined ? {} : { last_update: lastUpdate }),
        },
        parseAs: "text",
        signal,
      });
      switch (response.status) {
        case 201:
          return { kind: "job", job: JSON.parse(String(data)) as RunnerJob };
        case 204:
          return { kind: "none", lastUpdate: header(response, "X-GitLab-Last-Update") };
        case 403:
          return { kind: "forbidden" };
        case 409:
          return { kind: "conflict" };
        default:
          return { kind: "error", status: response.status, body: String(data ?? "") };
      }
    },
    async appendJobTrace(job, offset, bytes) {
      const { response } = await api.PATCH("/jobs/{id}/trace", {
        params: {
          path: { id: job.id },
          header: { "Content-Range": `${offset}-${offset + bytes.length - 1}` },
        },
        headers: { "JOB-TOKEN": job.token, "Content-Type": "text/plain" },
        body: new TextDecoder().decode(bytes),
        bodySerializer: (body) => body,
        parseAs: "text",
      });
      return {
        status: response.status,
        size: rangeEnd(response),
        jobStatus: header(response, "Job-Status"),
        updateInterval: seconds(response),
      };
    },
    async updateJob(job, update) {
      const { response } = await api.PUT("/jobs/{id}", {
        params: { path: { id: job.id } },
        body: { token: job.token, ...update },
        parseAs: "text",
      });
      return {
        status: response.status,
        jobStatus: header(response, "Job-Status"),
        updateInterval: seconds(response),
      };
    },
  };
}
