import { type OperationId, operationTable, RUNNER_TAG } from "@jobs-api/types";
import { answerOf, loadSpec, SpecValidator } from "@jobs-api/types/validate";

/**
 * The server's answers checked against the bundled spec by `@jobs-api/types/validate` (its own Ajv, so that
 * a fault in express-openapi-validator's response validation cannot hide a bad answer), plus what the
 * server must do for the statuses the spec leaves out; and the spec's operations, to derive requests from.
 */

type Json = Record<string, unknown>;

export interface SpecParameter {
  name: string;
  in: "path" | "query" | "header";
  required?: boolean;
  schema: Json;
}

export interface SpecOperation {
  operationId: OperationId;
  method: string;
  /** `/projects/{id}/jobs`, relative to the `/api/v4` base. */
  template: string;
  parameters: SpecParameter[];
  /** The JSON schema of the request body, when the operation takes one. */
  body: Json | null;
}

interface OperationObject {
  parameters?: (Json & { $ref?: string })[];
  requestBody?: { content: Record<string, { schema: Json }> };
}

const spec = loadSpec();
const validator = new SpecValidator(spec);

/** `#/components/parameters/JobId` → that object. Only local references occur in the bundle. */
function deref<T>(value: Json & { $ref?: string }): T {
  if (typeof value.$ref !== "string") return value as T;
  const [, kind = "", name = ""] = value.$ref.split("/").slice(1);
  return spec.components[kind]?.[name] as T;
}

/** Each operation of the table, with the full schemas of its parameters and body from the bundle. */
export const operations: SpecOperation[] = (Object.keys(operationTable) as OperationId[]).map(
  (operationId) => {
    const { method, path } = operationTable[operationId];
    const op = (spec.paths[path] as Record<string, OperationObject>)[method] ?? {};
    return {
      operationId,
      method: method.toUpperCase(),
      template: path,
      parameters: (op.parameters ?? []).map((p) => deref<SpecParameter>(p)),
      body: op.requestBody?.content["application/json"]?.schema ?? null,
    };
  },
);

/** The Jobs API's operations, which users' tokens reach (the runner protocol's take runners' tokens instead). */
export const apiOperations: SpecOperation[] = operations.filter(
  (op) => !(operationTable[op.operationId].tags as readonly string[]).includes(RUNNER_TAG),
);

/** Statuses the server may answer although no operation documents them, all in GitLab's error shape. */
const UNDOCUMENTED = new Set([400, 404, 405, 406, 408, 413, 415, 429, 431]);

export interface Exchange {
  method: string;
  /** The request target as sent, e.g. `/api/v4/projects/1/jobs?page=2`. */
  target: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const header = (ex: Exchange, name: string): string => {
  const value = ex.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(", ") : (value ?? "");
};

/**
 * What is wrong with one answer, by the spec: an empty list when nothing. Documented statuses are
 * checked against the operation's schema (body and headers); others must be in GitLab's error shape;
 * any 5xx is wrong.
 */
export function checkExchange(ex: Exchange): string[] {
  const problems: string[] = [];
  if (ex.status >= 500) problems.push(`status ${ex.status}`);
  if (ex.method === "HEAD") return problems;
  const headers = new Headers();
  for (const [name, value] of Object.entries(ex.headers)) {
    for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
      headers.append(name, one);
    }
  }
  const answer = answerOf(ex.status, headers, ex.body);
  const path = ex.target.split("?", 1)[0] ?? "";
  const below = path.startsWith("/api/v4/") ? path.slice("/api/v4".length) : null;
  const id = below === null ? null : validator.matchOperation(ex.method, below);

  // GitLab's messages start with the status they come with: `404 Project Not Found` on a 404.
  const message = (answer.json as { message?: unknown } | null | undefined)?.message;
  if (typeof message === "string" && !message.startsWith(`${ex.status} `)) {
    problems.push(`message ${JSON.stringify(message)} on a ${ex.status}`);
  }
  if (id && validator.documents(id, ex.status)) return [...problems, ...validator.validate(id, answer)];
  // Not documented for this operation (or no operation at all): GitLab's error shape, in JSON.
  if (ex.status < 400) {
    problems.push(`undocumented success ${ex.status} for ${ex.method} ${id ?? path}`);
    return problems;
  }
  if (!UNDOCUMENTED.has(ex.status) && !(ex.status >= 500)) problems.push(`unexpected status ${ex.status}`);
  if (ex.status === 405 && !header(ex, "allow")) problems.push("405 without Allow");
  if (ex.status === 429 && !/^[0-9]+$/.test(header(ex, "retry-after")))
    problems.push("429 without Retry-After");
  // HandleMalformedStrings' plain-text 400 comes before routing, on any path (the spec's PlainTextBadRequest).
  if (ex.status === 400 && answer.mediaType === "text/plain" && ex.body === "Bad Request") return problems;
  if (answer.mediaType !== "application/json")
    problems.push(`content-type ${header(ex, "content-type")} on ${ex.status}`);
  if (!validator.isErrorShape(answer.json)) problems.push(`error body ${ex.body.slice(0, 200)}`);
  return problems;
}
