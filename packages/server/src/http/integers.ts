import { operationTable } from "@jobs-api/types";
import type { Request } from "express";
import type { ParamProblem } from "./invalid-params.js";

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
 * What Ruby's `Integer(text, 10)` accepts (dry-types' `Params::Integer`, Grape's `type: Integer`): ASCII
 * blanks around an optional sign, the base's optional `0d` prefix, and digits with single `_` between them
 * (`1_000`; bignum.c `rb_cstr_to_inum`). The groups are the sign and the digits.
 */
const RUBY_INTEGER = /^[ \t\n\v\f\r]*([+-]?)(?:0[dD])?(\d+(?:_\d+)*)[ \t\n\v\f\r]*$/;

/** The integer Ruby reads in `text`, as plain decimal text (`-12`), or null where `Integer()` raises. */
export function rubyInteger(text: string): string | null {
  const match = RUBY_INTEGER.exec(text);
  return match ? `${match[1]}${(match[2] ?? "").replaceAll("_", "")}` : null;
}

/** Texts JavaScript would not read as the number Ruby reads: `_` separators, the `0d` prefix. */
export const NEEDS_RUBY_READING = /\d_\d|0[dD]\d/;

/** A path segment or value percent-decoded as the router reads it; text that does not decode, as it came. */
export function decoded(text: string): string {
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
 * refuses anything `Integer(text, 10)` does not read as `is invalid`; and digits too many for a double become `Infinity`, on
 * which Ajv skips `minimum`/`maximum`, while they are as out of range as any id above the maximum.
 */
export function integerTextProblem(req: Request, name: string): string | null {
  for (const raw of writtenValues(req, name)) {
    const value = rubyInteger(raw);
    if (value === null) return "is invalid";
    if (!Number.isFinite(Number(value))) return "does not have a valid value";
  }
  return null;
}

/** Each integer parameter of the matched operation whose text Grape refuses, with `integerTextProblem`'s words. */
export function integerProblems(req: Request): ParamProblem[] {
  return [...integerParametersOf(req)].flatMap((name) => {
    const problem = integerTextProblem(req, name);
    return problem ? [{ name, problem }] : [];
  });
}
