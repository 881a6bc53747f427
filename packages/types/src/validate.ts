/**
 * `@jobs-api/types/validate`: the one check of HTTP answers against the bundled spec, shared by the
 * conformance suite, the server's tests and the spec's example test. Is the status documented for the
 * operation, is the content type one of the documented ones, do documented headers match their schemas,
 * does the body match its schema. The spec bundle is the only reference; nothing here knows GitLab's
 * behaviour beyond what the spec says. A subpath of its own so that the types and the client never load Ajv.
 */
import { readFileSync } from "node:fs";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { specPath } from "./files.js";
import { operationTable } from "./generated/operations.js";
import type { OperationId } from "./index.js";

type JsonObject = { [key: string]: unknown };

/** The bundled spec as JSON, or a variant of it (tests validate against deliberately broken copies). */
export interface SpecDocument {
  paths: Record<string, unknown>;
  components: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}

/** A fresh copy of the bundled spec, free to change. */
export function loadSpec(path: string = specPath): SpecDocument {
  return JSON.parse(readFileSync(path, "utf8")) as SpecDocument;
}

/** An HTTP answer as the validator reads it. */
export interface Answer {
  status: number;
  headers: Headers;
  /** Media type of the answer without parameters, lower case (`application/json`), or "" when absent. */
  mediaType: string;
  text: string;
  /** The parsed body when it is JSON, `undefined` otherwise. */
  json: unknown;
}

/** An answer from its status, headers and body text: its media type read, its body parsed when JSON. */
export function answerOf(status: number, headers: Headers, text: string): Answer {
  const mediaType = (headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  return { status, headers, mediaType, text, json: parseJson(mediaType, text) };
}

function parseJson(mediaType: string, text: string): unknown {
  // Only a body that says it is JSON counts as JSON: a server sending JSON as text/html is a deviation.
  if (mediaType !== "application/json" && !mediaType.endsWith("+json")) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export interface OperationInfo {
  id: OperationId;
  /** Upper case, as sent on the wire. */
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
  /** Media type → the body's schema, for `undeclaredFields`. */
  schemas: Map<string, JsonObject>;
  headers: HeaderRule[];
}

const operationIds = Object.keys(operationTable) as OperationId[];

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function escapePointer(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** `/projects/{id}/jobs` → a pattern of the concrete paths it stands for. */
function templatePattern(template: string): RegExp {
  return new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/?]+").replaceAll("/", "\\/")}$`);
}

const routes = operationIds.map((id) => ({
  id,
  method: operationTable[id].method,
  pattern: templatePattern(operationTable[id].path),
}));

export class SpecValidator {
  readonly #doc: SpecDocument;
  readonly #ajv: Ajv2020;
  readonly #rules = new Map<string, ResponseRule>();
  readonly #schemas = new Map<string, ValidateFunction>();

  /** Validates against `doc`, the bundled spec unless given (where operations are is the operation table's). */
  constructor(doc: SpecDocument = loadSpec()) {
    this.#doc = doc;
    // Not strict: the document around the schemas has OpenAPI keys (info, paths, …) that are no JSON Schema keywords.
    this.#ajv = new Ajv2020({ allErrors: true, strict: false });
    addFormats.default(this.#ajv);
    this.#ajv.addSchema(doc, "spec");
  }

  static load(path: string = specPath): SpecValidator {
    return new SpecValidator(loadSpec(path));
  }

  operation(id: OperationId): OperationInfo {
    const op = operationTable[id];
    return { id, method: op.method.toUpperCase(), path: op.path };
  }

  /**
   * The operation a request falls on: its method and its path below the base URL, without query, or
   * null. As Express and GitLab's Grape do, `/jobs/` is taken for `/jobs`.
   */
  matchOperation(method: string, path: string): OperationId | null {
    const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
    const lower = method.toLowerCase();
    return routes.find((r) => r.method === lower && r.pattern.test(trimmed))?.id ?? null;
  }

  /** Status codes the spec documents for an operation, as written there ("200", "404", …). */
  documentedStatuses(id: OperationId): string[] {
    return Object.keys(this.#responses(id));
  }

  /** Whether the spec documents `status` for the operation (exactly, as `4XX` or as `default`). */
  documents(id: OperationId, status: number): boolean {
    return this.#statusKey(id, status) !== undefined;
  }

  /** Everything in the answer that contradicts the spec for this operation; empty when it conforms. */
  validate(id: OperationId, answer: Answer): string[] {
    const key = this.#statusKey(id, answer.status);
    if (!key) {
      const statuses = this.documentedStatuses(id);
      return [`status ${answer.status} is not documented for ${id} (documented: ${statuses.join(", ")})`];
    }
    const rule = this.#rule(id, key);
    const problems: string[] = [];
    for (const header of rule.headers) {
      const raw = answer.headers.get(header.name);
      if (raw === null) continue;
      // Header values are text on the wire; an integer schema (`X-Page`) describes the number it holds.
      const value = header.type === "integer" && /^-?\d+$/.test(raw) ? Number(raw) : raw;
      if (!header.validate(value)) {
        problems.push(
          `header ${header.name}: ${JSON.stringify(raw)} ${formatErrors(header.validate.errors)}`,
        );
      }
    }
    if (rule.bodies.size === 0) return problems;
    const validateBody = rule.bodies.get(answer.mediaType);
    if (!validateBody) {
      const documented = [...rule.bodies.keys()].join(", ");
      return [
        ...problems,
        `content type "${answer.mediaType}" is not documented (documented: ${documented})`,
      ];
    }
    const isJson = answer.mediaType === "application/json";
    if (isJson && answer.json === undefined) return [...problems, "the body is not valid JSON"];
    if (!validateBody(isJson ? answer.json : answer.text)) {
      problems.push(`body ${formatErrors(validateBody.errors)}`);
    }
    return problems;
  }

  /** The body schema's validator of one documented answer, for a look at its errors. */
  bodyValidator(id: OperationId, status: string, mediaType = "application/json"): ValidateFunction {
    const validate = this.#rule(id, status).bodies.get(mediaType);
    if (!validate) throw new Error(`${id} documents no ${mediaType} body for ${status}`);
    return validate;
  }

  /** Whether a body is in one of GitLab's two error shapes, `{message}` or `{error}`. */
  isErrorShape(body: unknown): boolean {
    return ["ErrorMessage", "ErrorValidation"].some((name) =>
      this.#compiled(`#/components/schemas/${name}`)(body),
    );
  }

  /**
   * Paths of fields in a body that the documented schema does not declare. JSON Schema leaves objects
   * open, and closing them with `unevaluatedProperties` would reject GitLab's newer fields, so undeclared
   * fields are found here instead.
   */
  undeclaredFields(
    id: OperationId,
    status: string,
    value: unknown,
    mediaType = "application/json",
  ): string[] {
    const schema = this.#rule(id, status).schemas.get(mediaType);
    if (!schema) throw new Error(`${id} documents no ${mediaType} body for ${status}`);
    return this.#undeclared(schema, value, "");
  }

  #responses(id: OperationId): JsonObject {
    const { method, path } = operationTable[id];
    const item = this.#doc.paths[path];
    const op = isObject(item) ? item[method] : undefined;
    if (!isObject(op) || !isObject(op.responses)) throw new Error(`operation ${id} is not in the spec`);
    return op.responses;
  }

  #statusKey(id: OperationId, status: number): string | undefined {
    const statuses = this.documentedStatuses(id);
    return [String(status), `${String(status)[0]}XX`, "default"].find((s) => statuses.includes(s));
  }

  #compiled(pointer: string): ValidateFunction {
    let validate = this.#schemas.get(pointer);
    if (!validate) {
      validate = this.#ajv.compile({ $ref: `spec${pointer}` });
      this.#schemas.set(pointer, validate);
    }
    return validate;
  }

  #rule(id: OperationId, status: string): ResponseRule {
    const cacheKey = `${id} ${status}`;
    const cached = this.#rules.get(cacheKey);
    if (cached) return cached;
    const { method, path } = operationTable[id];
    const [response, responsePointer] = this.#resolve(
      this.#responses(id)[status],
      `#/paths/${escapePointer(path)}/${method}/responses/${status}`,
    );
    const rule: ResponseRule = { bodies: new Map(), schemas: new Map(), headers: [] };
    const content = isObject(response.content) ? response.content : {};
    for (const [mediaType, media] of Object.entries(content)) {
      const pointer = `${responsePointer}/content/${escapePointer(mediaType)}/schema`;
      rule.bodies.set(mediaType.toLowerCase(), this.#ajv.compile({ $ref: `spec${pointer}` }));
      if (isObject(media) && isObject(media.schema)) rule.schemas.set(mediaType.toLowerCase(), media.schema);
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

  /** Follows local `$ref`s, returning the object and its pointer. */
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

  /** Every schema a value is checked against at this level: the schema itself and its allOf/oneOf/anyOf members. */
  #branches(schema: JsonObject): JsonObject[] {
    const [own] = this.#resolve(schema, "");
    const members = ["allOf", "oneOf", "anyOf"].flatMap((k) => {
      const list = own[k];
      return Array.isArray(list) ? list.filter(isObject) : [];
    });
    return [own, ...members.flatMap((m) => this.#branches(m))];
  }

  #undeclared(schema: JsonObject, value: unknown, at: string): string[] {
    const branches = this.#branches(schema);
    if (Array.isArray(value)) {
      const items = branches.map((s) => s.items).find(isObject);
      return items ? value.flatMap((v, i) => this.#undeclared(items, v, `${at}/${i}`)) : [];
    }
    if (!isObject(value)) return [];
    const declared = new Map<string, JsonObject[]>();
    for (const branch of branches) {
      const properties = isObject(branch.properties) ? branch.properties : {};
      for (const [key, sub] of Object.entries(properties)) {
        if (isObject(sub)) declared.set(key, [...(declared.get(key) ?? []), sub]);
      }
    }
    const additional = branches.some((b) => isObject(b.additionalProperties));
    return Object.entries(value).flatMap(([key, child]) => {
      const subs = declared.get(key);
      if (!subs) return additional ? [] : [`${at}/${key}`];
      // A field declared by several branches is fine if any branch declares all of its nested fields.
      const misses = subs.map((s) => this.#undeclared(s, child, `${at}/${key}`));
      return misses.reduce((a, b) => (a.length <= b.length ? a : b));
    });
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
