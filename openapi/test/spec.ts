import { readFileSync } from "node:fs";
import { specPath } from "@jobs-api/types";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

export type JsonSchema = { [key: string]: unknown };

export interface OpenApiDocument {
  paths: Record<string, Record<string, { operationId?: string; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, JsonSchema> };
}

export function loadSpec(): OpenApiDocument {
  return JSON.parse(readFileSync(specPath, "utf8")) as OpenApiDocument;
}

/** JSON pointer of the JSON schema of one operation's response, inside the bundled spec. */
export function responseSchemaPointer(path: string, method: string, status: string): string {
  const escaped = path.replaceAll("~", "~0").replaceAll("/", "~1");
  return `#/paths/${escaped}/${method}/responses/${status}/content/application~1json/schema`;
}

/** Compiles validators for pointers into `spec`, with the formats OpenAPI 3.1 uses. */
export function validatorFor(spec: OpenApiDocument): (pointer: string) => ValidateFunction {
  // Not strict: the document around the schemas has OpenAPI keys (info, paths, …) that are no JSON Schema keywords.
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats.default(ajv);
  ajv.addSchema(spec as unknown as JsonSchema, "spec");
  return (pointer) => ajv.compile({ $ref: `spec${pointer}` });
}

function resolve(spec: OpenApiDocument, schema: JsonSchema): JsonSchema {
  let current = schema;
  while (typeof current.$ref === "string") {
    const name = current.$ref.replace("#/components/schemas/", "");
    const target = spec.components.schemas[name];
    if (!target) throw new Error(`unresolved ${current.$ref}`);
    current = target;
  }
  return current;
}

/** Every schema a value is checked against at this level: the schema itself and its allOf/oneOf/anyOf members. */
function branches(spec: OpenApiDocument, schema: JsonSchema): JsonSchema[] {
  const own = resolve(spec, schema);
  const members = ["allOf", "oneOf", "anyOf"].flatMap((k) =>
    Array.isArray(own[k]) ? (own[k] as JsonSchema[]) : [],
  );
  return [own, ...members.flatMap((m) => branches(spec, m))];
}

/**
 * Paths of fields in `value` that `schema` does not declare. JSON Schema leaves objects open, and closing
 * them with `unevaluatedProperties` would reject GitLab's newer fields, so undeclared example fields are
 * found here instead.
 */
export function undeclaredFields(
  spec: OpenApiDocument,
  schema: JsonSchema,
  value: unknown,
  at = "",
): string[] {
  if (Array.isArray(value)) {
    const items = branches(spec, schema).find((s) => s.items)?.items as JsonSchema | undefined;
    return items ? value.flatMap((v, i) => undeclaredFields(spec, items, v, `${at}/${i}`)) : [];
  }
  if (value === null || typeof value !== "object") return [];
  const declared = new Map<string, JsonSchema[]>();
  for (const branch of branches(spec, schema)) {
    for (const [key, sub] of Object.entries(
      (branch.properties ?? {}) as Record<string, JsonSchema | boolean>,
    )) {
      if (typeof sub === "object") declared.set(key, [...(declared.get(key) ?? []), sub]);
    }
  }
  const additional = branches(spec, schema).some((b) => typeof b.additionalProperties === "object");
  return Object.entries(value).flatMap(([key, child]) => {
    const subs = declared.get(key);
    if (!subs) return additional ? [] : [`${at}/${key}`];
    // A field declared by several branches is fine if any branch declares all of its nested fields.
    const misses = subs.map((s) => undeclaredFields(spec, s, child, `${at}/${key}`));
    return misses.reduce((a, b) => (a.length <= b.length ? a : b));
  });
}
