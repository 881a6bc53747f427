import { operationTable } from "@jobs-api/types";
import type { Request } from "express";

/**
 * Each operation's parameters typed as plain integers (`job_id`, `pipeline_id`, `page`, `per_page`, the runner
 * routes' `id`), by operationId: one name may be an integer in one operation and not in another (`id` is a
 * project's id or path elsewhere).
 */
const integerParametersByOperation: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  Object.entries(operationTable).map(([operationId, op]) => [
    operationId,
    new Set(Object.entries(op.parameters).flatMap(([name, p]) => (p.type === "integer" ? [name] : []))),
  ]),
);

const NONE: ReadonlySet<string> = new Set();

/** The integer parameters of the operation the validator matched the request to (none outside the spec). */
export function integerParametersOf(req: Pick<Request, "openapi">): ReadonlySet<string> {
  const operationId = req.openapi?.schema.operationId;
  return (operationId && integerParametersByOperation.get(operationId)) || NONE;
}

/**
 * What Ruby's `Integer(text, 10)` accepts, less its `_` digit separators (which Ajv would not read as a
 * number at all): ASCII blanks around an optional sign and digits.
 */
const INTEGER_TEXT = /^[ \t\n\v\f\r]*[+-]?\d+[ \t\n\v\f\r]*$/;

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The text a request gives for parameter `name`: its segment in the matched route, else its query value as
 * Rack keeps it (the last one). None for an empty value: Grape reads it as nil, no text to judge.
 */
function writtenValues(req: Request, name: string): string[] {
  const url = req.originalUrl;
  const query = url.indexOf("?");
  const path = query < 0 ? url : url.slice(0, query);
  const route = req.openapi?.expressRoute.split("/") ?? [];
  const at = route.indexOf(`:${name}`);
  if (at >= 0) return [decoded(path.split("/")[at] ?? "")];
  const last = query < 0 ? undefined : new URLSearchParams(url.slice(query + 1)).getAll(name).at(-1);
  return last === undefined || last === "" ? [] : [last];
}

/**
 * What is wrong with integer parameter `name` as the request writes it, in Grape's words, or null. Ajv's
 * type coercion reads any JavaScript number literal (`1e3`, `0x10`, `8.0`) as a number, where GitLab
 * refuses anything but digits as `is invalid`; and digits too many for a double become `Infinity`, on
 * which Ajv skips `minimum`/`maximum`, while they are as out of range as any id above the maximum.
 */
export function integerTextProblem(req: Request, name: string): string | null {
  for (const raw of writtenValues(req, name)) {
    if (!INTEGER_TEXT.test(raw)) return "is invalid";
    if (!Number.isFinite(Number(raw))) return "does not have a valid value";
  }
  return null;
}
