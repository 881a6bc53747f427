import type { Request } from "express";
import type { Database } from "../db/database.js";
import { runnerJob } from "../entities/runner.js";
import { forbidden, HttpError, invalidParams } from "../errors.js";
import { integerParam, runnerParamProblems, runnerParams, textParam } from "../http/runner-params.js";
import {
  appendTrace,
  authenticateRunner,
  authenticateRunnerJob,
  getRunnerJob,
  type JobRefusal,
  requestJob,
  updateJobState,
} from "../store/runner.js";
import type { Handler } from "./jobs.js";

/**
 * The runner's side of jobs (GitLab's `lib/api/ci/runner.rb`). Runners never get a 401: a wrong runner or
 * job token, an unknown job and a job that no longer runs all answer 403, which tells a runner to stop.
 */

export type RunnerOperationId = "requestJob" | "updateJob" | "appendJobTrace";

/** `Gitlab::Ci::Trace#update_interval` while nobody watches the log (API reads do not count as watching). */
const TRACE_UPDATE_INTERVAL = "60";

/** Every problem with the route's parameters, answered at once as Grape does (`runnerParamProblems`). */
function checkedParams(req: Pick<Request, "openapi" | "query" | "body">): Record<string, unknown> {
  const problems = runnerParamProblems(req);
  if (problems.length > 0) throw invalidParams(req, problems);
  return runnerParams(req);
}

/** `authenticate_job!`'s answers; a job that no longer runs says what it is in `Job-Status` (`job_forbidden!`). */
function refusal(outcome: JobRefusal): HttpError {
  switch (outcome.refused) {
    case "forbidden":
      return forbidden();
    case "erased":
      return forbidden("Job has been erased!");
    case "not_running":
      return new HttpError(
        403,
        { message: "403 Forbidden - Job is not running" },
        { "Job-Status": outcome.status },
      );
  }
}

/** Ruby's `String#to_i`: the leading integer of the text, 0 when it has none. */
function rubyToI(text: string): number {
  const match = /^\s*([+-]?\d+)/.exec(text);
  return match?.[1] === undefined ? 0 : Number(match[1]);
}

/** Ids no row can have: such a job does not exist (403 here, as for any unknown job). */
const isRowId = (id: number) => Number.isSafeInteger(id) && id > 0;

interface RunnerHandlerOptions {
  /** GitLab's external URL (`CI_SERVER_URL` of the jobs); by default the origin the runner called. */
  externalUrl?: string | undefined;
}

export function createRunnerHandlers(
  db: Database,
  options: RunnerHandlerOptions = {},
): { [K in RunnerOperationId]: Handler<K> } {
  const origin = (req: Pick<Request, "protocol" | "get">) =>
    options.externalUrl ?? `${req.protocol}://${req.get("host") ?? "localhost"}`;

  return {
    async requestJob(req, res) {
      const params = checkedParams(req);
      const systemId = textParam(params, "system_id");
      const lastUpdate = textParam(params, "last_update");
      const jobAge = integerParam(params, "job_age");
      const runner = await authenticateRunner(db, textParam(params, "token") ?? "");
      if (!runner) throw forbidden();
      // `info` is recorded only with its declared keys (`get_runner_details_from_request`), strings only.
      const info =
        typeof params.info === "object" && params.info !== null
          ? (params.info as Record<string, unknown>)
          : {};
      const text = (key: string) => (typeof info[key] === "string" ? info[key] : undefined);
      const outcome = await requestJob(db, runner, {
        systemId,
        lastUpdate,
        jobAge,
        ipAddress: req.ip,
        version: text("version"),
        revision: text("revision"),
        platform: text("platform"),
        architecture: text("architecture"),
      });
      if ("none" in outcome) {
        res.status(204).set("X-GitLab-Last-Update", outcome.lastUpdate).end();
        return;
      }
      const row = await getRunnerJob(db, outcome.jobId);
      if (!row) throw new Error(`job ${outcome.jobId} vanished`);
      res.status(201).json(runnerJob(row, outcome.token, origin(req)));
    },

    async updateJob(req, res) {
      // `exit_code` is checked (Grape's `Integer`, here also when it comes in the query) but not stored: jobs
      // have no `allow_failure: exit_codes` for it to decide.
      const params = checkedParams(req);
      const token = textParam(params, "token") ?? "";
      const state = textParam(params, "state");
      const failureReason = textParam(params, "failure_reason");
      const jobId = Number(req.params.id);
      const outcome = isRowId(jobId)
        ? await updateJobState(db, jobId, token, { state: state ?? "", failureReason })
        : ({ refused: "forbidden" } as const);
      if ("refused" in outcome) throw refusal(outcome);
      res.set("Job-Status", outcome.status);
      // GitLab answers the status code itself as the body, a JSON text.
      if (outcome.code === 400) {
        res.status(400).type("application/json").end(JSON.stringify("400"));
        return;
      }
      res.status(200).json("200");
    },

    async appendJobTrace(req, res) {
      // The body is the log, not parameters.
      checkedParams(req);
      // `job_token`: the `token` parameter first, then the `JOB-TOKEN` header.
      const token = textParam(req.query as Record<string, unknown>, "token") ?? req.get("job-token") ?? "";
      const jobId = Number(req.params.id);
      const range = req.get("content-range");
      const body: unknown = req.body;
      const text = typeof body === "string" ? body : "";
      if (!isRowId(jobId)) throw forbidden();
      if (range === undefined) {
        // The token is checked first: a runner without the right one learns nothing about the request.
        const job = await authenticateRunnerJob(db, jobId, token);
        if ("refused" in job) throw refusal(job);
        throw new HttpError(400, { error: "400 Missing header Content-Range" });
      }
      const start = rubyToI(range.split("-", 1)[0] ?? "");
      const outcome = await appendTrace(db, jobId, token, start, text);
      if ("refused" in outcome) throw refusal(outcome);
      if (outcome.size !== start + Buffer.byteLength(text)) {
        throw new HttpError(416, { error: "416 Range Not Satisfiable" }, { Range: `0-${outcome.size}` });
      }
      res
        .status(202)
        .set({
          "Job-Status": outcome.status,
          Range: `0-${outcome.size}`,
          "X-GitLab-Trace-Update-Interval": TRACE_UPDATE_INTERVAL,
        })
        .end();
    },
  };
}
