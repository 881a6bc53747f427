/**
 * Validation of raw HTTP answers against the bundled spec: is the status documented for the operation,
 * is the content type one of the documented ones, do documented headers match their schemas, does the
 * body match its schema. The spec bundle is the only reference; nothing here knows GitLab's behaviour.
 */
import { readFileSync } from "node:fs";
import { type OperationId, specPath } from "@jobs-api/types";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { Exchange } from "./http.js";

type JsonObject = { [key: string]: unknown };

export interface OperationInfo {
  id: OperationId;
  method: string;
  /** Path template below the base URL, e.g. `/projects/{id}/jobs/{job_id}`. */
  path: string;
}

interface HeaderRule {
  name: string;
  type: unknown;
  validate: ValidateFunction;
}

interface ResponseRule {
  /** Media type → body validator. */
  bodies: Map<string, ValidateFunction>;
  headers: HeaderRule[];
}

const methods = ["get", "post", "put", "patch", "delete"] as const;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function escapePointer(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

export class SpecValidator {
  readonly #doc: JsonObject;
  readonly #ajv: Ajv2020;
  readonly #operations = new Map<OperationId, OperationInfo & { pointer: string; responses: JsonObject }>();
  readonly #rules = new Map<string, ResponseRule>();

  constructor(doc: JsonObject) {
    this.#doc = doc;
    // Not strict: the document around the schemas has OpenAPI keys (info, paths, …) that are no JSON Schema keywords.
    this.#ajv = new Ajv2020({ allErrors: true, strict: false });
    addFormats.default(this.#ajv);
    this.#ajv.addSchema(doc, "spec");
    const paths = isObject(doc.paths) ? doc.paths : {};
    for (const [path, item] of Object.entries(paths)) {
      if (!isObject(item)) continue;
      for (const method of methods) {
        const op = item[method];
        if (!isObject(op) || typeof op.operationId !== "string" || !isObject(op.responses)) continue;
        const id = op.operationId as OperationId;
        const pointer = `#/paths/${escapePointer(path)}/${method}`;
        this.#operations.set(id, {
          id,
          method: method.toUpperCase(),
          path,
          pointer,
          responses: op.responses,
        });
      }
    }
  }

  static load(path: string = specPath): SpecValidator {
    return new SpecValidator(JSON.parse(readFileSync(path, "utf8")) as JsonObject);
  }

  operation(id: OperationId): OperationInfo {
    const op = this.#operations.get(id);
    if (!op) throw new Error(`operation ${id} is not in the spec`);
    return { id: op.id, method: op.method, path: op.path };
  }

  /** Status codes the spec documents for an operation, as written there ("200", "404", …). */
  documentedStatuses(id: OperationId): string[] {
    return Object.keys(this.#operations.get(id)?.responses ?? {});
  }

  /** Everything in the answer that contradicts the spec for this operation; empty when it conforms. */
  validate(id: OperationId, exchange: Exchange): string[] {
    const statuses = this.documentedStatuses(id);
    const key = [String(exchange.status), `${String(exchange.status)[0]}XX`, "default"].find((s) =>
      statuses.includes(s),
    );
    if (!key)
      return [`status ${exchange.status} is not documented for ${id} (documented: ${statuses.join(", ")})`];
    const rule = this.#rule(id, key);
    const problems: string[] = [];
    for (const header of rule.headers) {
      const raw = exchange.headers.get(header.name);
      if (raw === null) continue;
      const value = header.type === "integer" && /^-?\d+$/.test(raw) ? Number(raw) : raw;
      if (!header.validate(value)) {
        problems.push(
          `header ${header.name}: ${JSON.stringify(raw)} ${formatErrors(header.validate.errors)}`,
        );
      }
    }
    if (rule.bodies.size === 0) return problems;
    const validateBody = rule.bodies.get(exchange.mediaType);
    if (!validateBody) {
      const documented = [...rule.bodies.keys()].join(", ");
      return [
        ...problems,
        `content type "${exchange.mediaType}" is not documented (documented: ${documented})`,
      ];
    }
    const isJson = exchange.mediaType === "application/json";
    if (isJson && exchange.json === undefined) return [...problems, "the body is not valid JSON"];
    if (!validateBody(isJson ? exchange.json : exchange.text)) {
      problems.push(`body ${formatErrors(validateBody.errors)}`);
    }
    return problems;
  }

  #rule(id: OperationId, status: string): ResponseRule {
    const cacheKey = `${id} ${status}`;
    const cached = this.#rules.get(cacheKey);
    if (cached) return cached;
    const op = this.#operations.get(id);
    if (!op) throw new Error(`operation ${id} is not in the spec`);
    const [response, responsePointer] = this.#resolve(
      op.responses[status],
      `${op.pointer}/responses/${status}`,
    );
    const rule: ResponseRule = { bodies: new Map(), headers: [] };
    const content = isObject(response.content) ? response.content : {};
    for (const mediaType of Object.keys(content)) {
      const pointer = `${responsePointer}/content/${escapePointer(mediaType)}/schema`;
      rule.bodies.set(mediaType.toLowerCase(), this.#ajv.compile({ $ref: `spec${pointer}` }));
    }
    const headers = isObject(response.headers) ? response.headers : {};
    for (const [name, ref] of Object.entries(headers)) {
      const [header, headerPointer] = this.#resolve(ref, `${responsePointer}/headers/${escapePointer(name)}`);
      const schema = isObject(header.schema) ? header.schema : {};
      rule.headers.push({
        name,
        type: schema.type,
        validate: this.#ajv.compile({ $ref: `spec${headerPointer}/schema` }),
      });
    }
    this.#rules.set(cacheKey, rule);
    return rule;
  }

  /** Follows local `$ref`s of non-schema objects (responses, headers), returning the object and its pointer. */
  #resolve(value: unknown, pointer: string): [JsonObject, string] {
    let current = value;
    let at = pointer;
    while (isObject(current) && typeof current.$ref === "string") {
      at = current.$ref;
      current = at
        .slice(2)
        .split("/")
        .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"))
        .reduce<unknown>((node, segment) => (isObject(node) ? node[segment] : undefined), this.#doc);
    }
    if (!isObject(current)) throw new Error(`unresolvable reference at ${pointer}`);
    return [current, at];
  }
}

/** The few most specific schema errors, e.g. `/0/id must be integer`. */
function formatErrors(errors: ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return "does not match its schema";
  // allErrors reports every failed branch of oneOf/allOf; the deepest paths are the useful ones.
  const sorted = [...errors].sort((a, b) => b.instancePath.length - a.instancePath.length);
  const unique = [
    ...new Set(sorted.map((e) => `${e.instancePath || "(root)"} ${e.message ?? "is invalid"}`)),
  ];
  const shown = unique.slice(0, 3).join("; ");
  return unique.length > 3 ? `${shown}; … (${unique.length - 3} more)` : shown;
}
