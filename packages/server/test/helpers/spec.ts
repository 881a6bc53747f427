import { readFileSync } from "node:fs";
import { specPath } from "@jobs-api/types";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

/**
 * An independent check of the server's answers against the bundled spec, with its own Ajv (JSON Schema
 * 2020-12), so that a fault in express-openapi-validator's response validation cannot hide a bad answer.
 */

type Json = Record<string, unknown>;

export interface SpecParameter {
  name: string;
  in: "path" | "query" | "header";
  required?: boolean;
  schema: Json;
}

export interface SpecOperation {
  operationId: string;
  method: string;
  /** `/projects/{id}/jobs`, relative to the `/api/v4` base. */
  template: string;
  parameters: SpecParameter[];
  /** The JSON schema of the request body, when the operation takes one. */
  body: Json | null;
}

interface OperationObject {
  operationId?: string;
  parameters?: (Json & { $ref?: string })[];
  requestBody?: { content: Record<string, { schema: Json }> };
  responses: Record<string, Json & { $ref?: string }>;
}

export const spec = JSON.parse(readFileSync(specPath, "utf8")) as {
  paths: Record<string, Record<string, OperationObject>>;
  components: Record<string, Record<string, Json>>;
};

/** `#/components/parameters/JobId` → that object. Only local references occur in the bundle. */
function deref<T>(value: Json & { $ref?: string }): T {
  if (typeof value.$ref !== "string") return value as T;
  const [, kind = "", name = ""] = value.$ref.split("/").slice(1);
  return spec.components[kind]?.[name] as T;
}

const METHODS = ["get", "post", "put", "patch", "delete"];

export const operations: SpecOperation[] = Object.entries(spec.paths).flatMap(([template, item]) =>
  Object.entries(item)
    .filter(([method]) => METHODS.includes(method))
    .map(([method, op]) => ({
      operationId: op.operationId ?? `${method} ${template}`,
      method: method.toUpperCase(),
      template,
      parameters: (op.parameters ?? []).map((p) => deref<SpecParameter>(p)),
      body: op.requestBody?.content["application/json"]?.schema ?? null,
    })),
);

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);
ajv.addSchema(spec, "spec");

/** Header values are strings on the wire; their schemas (`X-Page: integer`) describe what the string holds. */
const headerAjv = new Ajv2020({ strict: false, coerceTypes: true });
const headerValid = (schema: Json, value: string | string[]) =>
  headerAjv.validate({ type: "object", properties: { v: schema } }, { v: value });

const pointer = (...parts: string[]) =>
  `spec#/${parts.map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/")}`;
const compiled = new Map<string, ValidateFunction>();
function validatorAt(ref: string): ValidateFunction {
  let validate = compiled.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: ref });
    compiled.set(ref, validate);
  }
  return validate;
}

/** GitLab's two error shapes, for statuses an operation does not document (405, 413, 415, 429, …). */
const errorShape = (body: unknown): boolean =>
  validatorAt(pointer("components", "schemas", "ErrorMessage"))(body) ||
  validatorAt(pointer("components", "schemas", "ErrorValidation"))(body);

/** Statuses the server may answer although no operation documents them, all in GitLab's error shape. */
const UNDOCUMENTED = new Set([400, 404, 405, 406, 408, 413, 415, 429, 431]);

const segmentPattern = (template: string) =>
  new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/?]+").replaceAll("/", "\\/")}$`);
const routes = Object.keys(spec.paths).map((template) => ({ template, pattern: segmentPattern(template) }));

/** The spec path a request path (below `/api/v4`, without query) falls on, or null. */
export function matchTemplate(path: string): string | null {
  // Express, like GitLab's Grape, takes `/jobs/` for `/jobs`.
  const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  return routes.find((r) => r.pattern.test(trimmed))?.template ?? null;
}

export interface Exchange {
  method: string;
  /** The request target as sent, e.g. `/api/v4/projects/1/jobs?page=2`. */
  target: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
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
  const contentType = header(ex, "content-type");
  const path = ex.target.split("?", 1)[0] ?? "";
  const below = path.startsWith("/api/v4/") ? path.slice("/api/v4".length) : null;
  const template = below === null ? null : matchTemplate(below);
  const method = ex.method.toLowerCase();
  const op = template ? spec.paths[template]?.[method] : undefined;
  const response = op?.responses[String(ex.status)];
  const declared = response
    ? deref<Json & { content?: Record<string, { schema: Json }> }>(response)
    : undefined;

  if (ex.method === "HEAD") return problems;
  // GitLab's messages start with the status they come with: `404 Project Not Found` on a 404.
  const json = contentType.includes("json") ? parseJson(ex.body) : { ok: false as const };
  const message = json.ok ? (json.value as { message?: unknown } | null)?.message : undefined;
  if (typeof message === "string" && !message.startsWith(`${ex.status} `)) {
    problems.push(`message ${JSON.stringify(message)} on a ${ex.status}`);
  }
  if (template && response && declared?.content) {
    const [mediaType] = Object.keys(declared.content);
    if (!mediaType || !contentType.startsWith(mediaType)) {
      problems.push(`content-type ${contentType} instead of ${mediaType}`);
      return problems;
    }
    // A shared response (`#/components/responses/NotFound`) or one written in the operation.
    const schemaRef = response.$ref
      ? pointer(...response.$ref.slice(2).split("/"), "content", mediaType, "schema")
      : pointer("paths", template, method, "responses", String(ex.status), "content", mediaType, "schema");
    const parsed = mediaType.includes("json") ? parseJson(ex.body) : { ok: true as const, value: ex.body };
    if (!parsed.ok) problems.push("body is not JSON");
    else if (!validatorAt(schemaRef)(parsed.value)) {
      problems.push(`body: ${ajv.errorsText(validatorAt(schemaRef).errors)}`);
    }
    const headers = (declared.headers ?? {}) as Record<string, Json>;
    for (const [name, ref] of Object.entries(headers)) {
      const value = ex.headers[name.toLowerCase()];
      if (value === undefined) continue;
      const schema = deref<{ schema: Json }>(ref).schema;
      if (!headerValid(schema, value))
        problems.push(`header ${name}: ${headerAjv.errorsText(headerAjv.errors)}`);
    }
    return problems;
  }
  // Not documented for this operation (or no operation at all): GitLab's error shape, in JSON.
  if (ex.status < 400) {
    problems.push(`undocumented success ${ex.status} for ${ex.method} ${template ?? path}`);
    return problems;
  }
  if (!UNDOCUMENTED.has(ex.status) && !(ex.status >= 500)) problems.push(`unexpected status ${ex.status}`);
  if (ex.status === 405 && !header(ex, "allow")) problems.push("405 without Allow");
  if (ex.status === 429 && !/^[0-9]+$/.test(header(ex, "retry-after")))
    problems.push("429 without Retry-After");
  if (!contentType.startsWith("application/json"))
    problems.push(`content-type ${contentType} on ${ex.status}`);
  const parsed = parseJson(ex.body);
  if (!parsed.ok || !errorShape(parsed.value)) problems.push(`error body ${ex.body.slice(0, 200)}`);
  return problems;
}
