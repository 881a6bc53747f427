/**
 * What a check works with: requests that are validated against the spec as they come back, assertions
 * that record what was sent, expected and received, and the material discovery found on the server.
 */
import type { Job, JobStatus, JobTokenJob, OperationId, operations } from "@jobs-api/types";
import type { SpecValidator } from "@jobs-api/types/validate";
import { curlCommand } from "./curl.js";
import {
  type Auth,
  type Exchange,
  type Http,
  insufficientScope,
  type Query,
  type SendExtra,
} from "./http.js";
import type { Failure, Violation } from "./report.js";

/** An answer together with the operation it answers, so that its body can be typed from the spec. */
export type OpExchange<Op extends OperationId> = Exchange & { operationId: Op };

type Responses<Op extends OperationId> = operations[Op]["responses"];
type JsonOf<R> = R extends { content: { "application/json": infer B } } ? B : never;
export type Body<Op extends OperationId, S extends keyof Responses<Op>> = JsonOf<Responses<Op>[S]>;

export interface ProjectRef {
  /** The project as the user named it (`--project`), or as found from the job token. */
  given: string;
  id: number | undefined;
  path: string | undefined;
}

export interface Material {
  project: ProjectRef;
  /** The project's jobs, newest first, from the first pages of its list. */
  jobs: Job[];
  /** A pipeline with trigger jobs (bridges), when one was found. */
  bridgePipeline: number | undefined;
  /** The job of `--job-token`, when one was given and the server resolved it. */
  jobTokenJob: JobTokenJob | undefined;
  /** Jobs a destructive check has taken, so that no two checks change the same job. */
  claimed: Set<number>;
  /** The token's access level in the project, when `--destructive`'s preflight read it (GitLab's permissions). */
  accessLevel: number | undefined;
}

export interface Tokens {
  token: string;
  jobToken: string | undefined;
}

export interface CallOptions {
  /** Path parameters besides `id`, which defaults to the project; numbers and strings are URL-encoded. */
  params?: Record<string, string | number>;
  query?: Query;
  /** Defaults to the personal token in `PRIVATE-TOKEN`. */
  auth?: Auth;
  body?: unknown;
  /** Further request headers, and a body sent as is with its own Content-Type. */
  extra?: SendExtra;
}

export class CheckFailure extends Error {
  override name = "CheckFailure";
  constructor(readonly failure: Failure) {
    super(failure.message);
  }
}

export class CheckSkipped extends Error {
  override name = "CheckSkipped";
}

/** Statuses of jobs that have not started and so have no log. */
export const unstartedStatuses: readonly JobStatus[] = [
  "created",
  "waiting_for_resource",
  "preparing",
  "pending",
  "manual",
  "scheduled",
];

const excerptLength = 300;

export class CheckContext {
  constructor(
    readonly http: Http,
    readonly spec: SpecValidator,
    readonly material: Material,
    readonly tokens: Tokens,
    /** Whether this run may change data, so that skip reasons do not suggest what is already done. */
    readonly destructive = false,
  ) {}

  get token(): Auth {
    return { kind: "privateTokenHeader", token: this.tokens.token };
  }

  /** The project as a path parameter: its numeric id when known, else the name it was given by. */
  get project(): string | number {
    return this.material.project.id ?? this.material.project.given;
  }

  /** Sends a request for an operation and fails the check at once if the answer contradicts the spec. */
  async call<Op extends OperationId>(op: Op, options: CallOptions = {}): Promise<OpExchange<Op>> {
    const info = this.spec.operation(op);
    const params: Record<string, string | number> = { id: this.project, ...options.params };
    const path = info.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = params[name];
      if (value === undefined) throw new Error(`${op}: no value for path parameter ${name}`);
      return encodeURIComponent(String(value));
    });
    return this.#exchange(op, info.method, this.http.url(path, options.query), options);
  }

  /** Follows a URL the server gave (a `Link` header), for the operation it should lead to. */
  async follow<Op extends OperationId>(op: Op, url: string, via: Exchange): Promise<OpExchange<Op>> {
    // Tokens are only ever sent to the server under test, never to a host a Link header names.
    if (new URL(url).origin !== new URL(this.http.baseUrl).origin) {
      this.fail(
        `a Link URL leads to another origin: ${this.http.redact(url)}`,
        "Link URLs on the server's own origin",
        via,
      );
    }
    return this.#exchange(op, "GET", url, {});
  }

  async #exchange<Op extends OperationId>(
    op: Op,
    method: string,
    url: string,
    options: CallOptions,
  ): Promise<OpExchange<Op>> {
    const exchange = await this.http.send(
      method,
      url,
      options.auth ?? this.token,
      options.body,
      options.extra,
    );
    const tagged = { ...exchange, operationId: op };
    const problems = this.spec.validate(op, exchange);
    if (problems.length > 0) {
      this.#failWith(
        {
          message: `the answer does not match the spec: ${problems.join("; ")}`,
          expected: `an answer the spec documents for ${op}`,
          rule: `the spec's ${op} response for status ${exchange.status}`,
          violations: violations(problems, exchange.json),
        },
        tagged,
      );
    }
    // The token given may lack the api scope (a read_api token): GitLab's refusal is no fault of the server.
    if (insufficientScope(exchange) && !options.auth) {
      this.skip(
        "the token's scopes do not allow this request (403 insufficient_scope: it needs the api scope)",
      );
    }
    return tagged;
  }

  skip(reason: string): never {
    throw new CheckSkipped(reason);
  }

  fail(message: string, expected: string, exchange?: Exchange): never {
    this.#failWith({ message, expected }, exchange);
  }

  #failWith(failure: Failure, exchange: Exchange | undefined): never {
    if (exchange) {
      failure.sent = { method: exchange.method, url: exchange.shownUrl };
      failure.curl = curlCommand(exchange, this.http.secrets);
      const body = exchange.text.replace(/\s+/g, " ").trim();
      failure.got = {
        status: exchange.status,
        contentType: exchange.headers.get("content-type") ?? "",
        body: body.length > excerptLength ? `${body.slice(0, excerptLength)}…` : body,
      };
    }
    throw new CheckFailure(failure);
  }

  expect(condition: boolean, message: string, expected: string, exchange?: Exchange): asserts condition {
    if (!condition) this.fail(message, expected, exchange);
  }

  /** Asserts the status and returns the body, typed by the spec (which the body was validated against). */
  ok<Op extends OperationId, S extends keyof Responses<Op> & number>(
    exchange: OpExchange<Op>,
    status: S,
  ): Body<Op, S> {
    this.expect(exchange.status === status, `status ${exchange.status}`, `status ${status}`, exchange);
    return exchange.json as Body<Op, S>;
  }

  /** Asserts one of GitLab's exact error answers, e.g. `404 {"message":"404 Not found"}`. */
  expectError(exchange: Exchange, status: number, body: { message: string } | { error: string }): void {
    const expected = `status ${status} with body ${JSON.stringify(body)}`;
    this.expect(exchange.status === status, `status ${exchange.status}`, expected, exchange);
    this.expect(sameJson(exchange.json, body), "a different error body", expected, exchange);
  }

  /** The jobs of the discovered pool that satisfy `predicate`, not claimed by a destructive check. */
  available(predicate: (job: Job) => boolean): Job[] {
    const tokenJob = this.material.jobTokenJob?.id;
    return this.material.jobs.filter(
      (j) => !this.material.claimed.has(j.id) && j.id !== tokenJob && predicate(j),
    );
  }

  /** Takes a job for a check that changes it, preferring statuses in the order given. */
  claim(statuses: readonly JobStatus[], extra: (job: Job) => boolean = () => true): Job {
    for (const status of statuses) {
      const [job] = this.available((j) => j.status === status && extra(j));
      if (job) {
        this.material.claimed.add(job.id);
        return job;
      }
    }
    this.skip(
      `no ${statuses.join(" or ")} job${this.material.jobs.length === 0 ? " (the project has no jobs)" : ""} left to use`,
    );
  }
}

/** Longest JSON text of an offending value kept in a report; bigger ones (whole jobs) are left to the curl. */
const valueLength = 200;

function resolvePointer(value: unknown, pointer: string): { found: boolean; value?: unknown } {
  let current = value;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (typeof current !== "object" || current === null || !Object.hasOwn(current, key))
      return { found: false };
    current = (current as Record<string, unknown>)[key];
  }
  return { found: true, value: current };
}

/**
 * The offending values of a body the spec refused, read back from the body by the JSON Pointers in the
 * validator's problems (`body /3/duration must be number; /7/id must be integer`).
 */
export function violations(problems: readonly string[], body: unknown): Violation[] {
  const found: Violation[] = [];
  for (const problem of problems) {
    if (!problem.startsWith("body ")) continue;
    for (const part of problem.slice("body ".length).split("; ")) {
      const match = /^(\/\S*|\(root\)) (.+)$/.exec(part);
      if (!match?.[1] || !match[2]) continue;
      const path = match[1] === "(root)" ? "" : match[1];
      const violation: Violation = { path: path || "/", rule: match[2] };
      const at = resolvePointer(body, path);
      const text = at.found ? JSON.stringify(at.value) : undefined;
      if (text !== undefined && text.length <= valueLength) violation.value = at.value;
      const index = Array.isArray(body) ? /^\/(\d+)(?:\/|$)/.exec(path)?.[1] : undefined;
      if (index !== undefined) {
        const item: unknown = (body as unknown[])[Number(index)];
        const id = typeof item === "object" && item !== null ? (item as { id?: unknown }).id : undefined;
        violation.item = Number.isInteger(id)
          ? { index: Number(index), id: id as number }
          : { index: Number(index) };
      }
      found.push(violation);
    }
  }
  return found;
}

/** Marks a field whose value GitLab computes from the clock at read time. */
const clockValue = "(grows with the clock)";

/**
 * The fields of a job that GitLab computes from the clock when it is read, `calculate_duration(start,
 * end || Time.current)`: `duration` of a job that started and has not finished, `queued_duration` of a job
 * that never started (pending, or canceled before a runner took it). Two reads of the job may differ there.
 */
export function clockFields(job: { started_at?: unknown; finished_at?: unknown }): string[] {
  const started = job.started_at !== null && job.started_at !== undefined;
  const finished = job.finished_at !== null && job.finished_at !== undefined;
  if (!started) return ["queued_duration"];
  return finished ? [] : ["duration"];
}

/**
 * A job (or a list of them, or anything holding them) as any later read of it must still be: the fields
 * `clockFields` names, and a user's `local_time` (GitLab's `User` entity: the time of day now in the user's
 * time zone, `7:30 PM`), keep only whether they are null; everything else stays as it is.
 */
export function withoutClock(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutClock);
  if (typeof value !== "object" || value === null) return value;
  const record = value as Record<string, unknown>;
  const isJob = "started_at" in record && "finished_at" in record;
  const clock = isJob ? clockFields(record) : [];
  return Object.fromEntries(
    Object.entries(record).map(([k, v]) => [
      k,
      (clock.includes(k) && typeof v === "number") || (k === "local_time" && typeof v === "string")
        ? clockValue
        : withoutClock(v),
    ]),
  );
}

/**
 * A later read of a job, as it must still agree with an earlier one while the job's pipeline goes on without
 * it: `withoutClock`, and without what changes meanwhile by itself. Its pipeline's `status` and `updated_at`
 * follow the pipeline's other jobs (Ci::ProcessPipelineService, pipeline.rb `update_legacy_status`); a finished
 * job gains its log as a `trace` artifact minutes after it finished (app/workers/ci/build_finished_worker.rb
 * `Ci::ArchiveTraceWorker.perform_in(ARCHIVE_TRACES_IN, build.id)`), so a trace artifact the earlier read did
 * not list is left out of the later one.
 */
function settled(later: Job, earlier: Job): unknown {
  const { status: _status, updated_at: _updatedAt, ...pipeline } = later.pipeline;
  const hadTrace = (earlier.artifacts ?? []).some((a) => a.file_type === "trace");
  const artifacts = hadTrace ? later.artifacts : later.artifacts?.filter((a) => a.file_type !== "trace");
  return { ...later, pipeline, artifacts };
}

/** The fields where a later read of a job differs from an earlier one, beyond what `settled` leaves out. */
export function jobChanges(later: Job, earlier: Job): string[] {
  return differences(withoutClock(settled(later, earlier)), withoutClock(settled(earlier, earlier)));
}

/** Two reads of the same job (or list) agree, except where GitLab's clock makes them differ. */
export function sameReads(a: unknown, b: unknown): boolean {
  return sameJson(withoutClock(a), withoutClock(b));
}

/** The paths where two JSON values differ, for failure messages (`/0/duration`, `/name`). */
export function differences(a: unknown, b: unknown, at = ""): string[] {
  if (sameJson(a, b)) return [];
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return [at || "/"];
  if (Array.isArray(a) !== Array.isArray(b)) return [at || "/"];
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(ra), ...Object.keys(rb)])];
  return keys.flatMap((k) => differences(ra[k], rb[k], `${at}/${k}`));
}

/** Deep equality of JSON values, key order ignored. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every(
    (k) =>
      Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}
