import type { Request } from "express";
import type { ParamProblem } from "./invalid-params.js";

/** Grape's parameters of a runner route: the query's, with the body's winning (Rack merges them so). */
export function runnerParams(req: { query: unknown; body: unknown }): Record<string, unknown> {
  const body = typeof req.body === "object" && req.body !== null ? req.body : {};
  return { ...(req.query as Record<string, unknown>), ...body };
}

/** The parameters of a route, as Grape reads them: a runner's log patch has the log as its body, not them. */
function paramsOf(req: Pick<Request, "openapi" | "query" | "body">): Record<string, unknown> {
  const log = req.openapi?.schema.operationId === "appendJobTrace";
  return runnerParams({ query: req.query, body: log ? undefined : req.body });
}

interface Declared {
  readonly name: string;
  readonly type: "String" | "Integer";
  readonly required?: true;
}

/**
 * The runner routes' parameters the validator cannot judge alone, since they may come in the query as well
 * as in the body (`token` may be in either, so the spec cannot require it in one), in GitLab's order of
 * declaration (lib/api/ci/runner.rb at e8d2c257: `/request` 90-111, `PUT /:id` 168-179, `/:id/trace`
 * `optional :token`; `system_id` from lib/api/ci/helpers/job_request.rb `request_job_params`).
 */
const HAND_CHECKED: Readonly<Record<string, readonly Declared[]>> = {
  requestJob: [
    { name: "token", type: "String", required: true },
    { name: "system_id", type: "String" },
    { name: "last_update", type: "String" },
    { name: "job_age", type: "Integer" },
  ],
  updateJob: [
    { name: "token", type: "String", required: true },
    { name: "state", type: "String" },
    { name: "failure_reason", type: "String" },
    { name: "exit_code", type: "Integer" },
  ],
  appendJobTrace: [{ name: "token", type: "String" }],
};

const isInteger = (value: unknown) =>
  (typeof value === "number" && Number.isSafeInteger(value)) ||
  (typeof value === "string" && /^\s*[+-]?\d+\s*$/.test(value));

/**
 * Every problem Grape finds with the hand-checked parameters of the runner route matched: `requires` →
 * `is missing`, a failed `type` → `is invalid`. The handler answers them all at once; the validator's
 * answer adds them to its own (`invalidParams` orders and joins them as Grape does).
 */
export function runnerParamProblems(req: Pick<Request, "openapi" | "query" | "body">): ParamProblem[] {
  const declared = HAND_CHECKED[req.openapi?.schema.operationId ?? ""];
  // Every validator refusal asks; only the runner routes have parameters checked by hand.
  if (!declared) return [];
  const params = paramsOf(req);
  return declared.flatMap(({ name, type, required }): ParamProblem[] => {
    const value = params[name];
    if (value === undefined) return required ? [{ name, problem: "is missing" }] : [];
    const valid = type === "String" ? typeof value === "string" : isInteger(value);
    return valid ? [] : [{ name, problem: "is invalid" }];
  });
}

/** A `String` parameter `runnerParamProblems` found valid (or absent). */
export const textParam = (params: Record<string, unknown>, name: string): string | undefined => {
  const value = params[name];
  return typeof value === "string" ? value : undefined;
};

/** An `Integer` parameter `runnerParamProblems` found valid (or absent), which a query gives as text. */
export const integerParam = (params: Record<string, unknown>, name: string): number | undefined => {
  const value = params[name];
  return typeof value === "number" || typeof value === "string" ? Number(value) : undefined;
};
