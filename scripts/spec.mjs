#!/usr/bin/env node
// The spec pipeline: every generated artefact comes from openapi/openapi.yaml through the bundle.
//   bundle  openapi/ → packages/types/spec/openapi.{yaml,json}
//   types   bundle   → packages/types/src/generated/schema.ts and operations.ts (the operation table)
//   docs    bundle   → packages/types/docs/index.html (self-contained Redoc page)
//   all     the three above, timed
//   check   regenerate bundle and types in a temp dir and fail if the committed files differ
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString, COMMENT_HEADER } from "openapi-typescript";
import { parse } from "yaml";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "openapi/openapi.yaml");
const out = {
  yaml: join(root, "packages/types/spec/openapi.yaml"),
  json: join(root, "packages/types/spec/openapi.json"),
  types: join(root, "packages/types/src/generated/schema.ts"),
  operations: join(root, "packages/types/src/generated/operations.ts"),
  docs: join(root, "packages/types/docs/index.html"),
};
const redocly = join(root, "node_modules/.bin/redocly");
const env = { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" };

function run(args) {
  execFileSync(redocly, args, { cwd: root, env, stdio: ["ignore", "ignore", "pipe"] });
}

/** One redocly bundle (YAML); the JSON is the same document, written as redocly writes it. */
function bundle(target) {
  mkdirSync(dirname(target.yaml), { recursive: true });
  run(["bundle", source, "--output", target.yaml]);
  writeFileSync(target.json, JSON.stringify(parse(readFileSync(target.yaml, "utf8")), null, 2));
}

async function types(bundleJson, target) {
  const ast = await openapiTS(JSON.parse(readFileSync(bundleJson, "utf8")), {
    alphabetize: false,
    enumValues: true,
    exportType: false,
    immutable: false,
    // `export type Job = components["schemas"]["Job"]` and the like, for every component.
    rootTypes: true,
    rootTypesNoSchemaPrefix: true,
  });
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, COMMENT_HEADER + astToString(ast));
}

/** `#/components/…` references of the bundle, followed to what they name. */
function deref(spec, node) {
  let value = node;
  while (value && typeof value.$ref === "string") {
    value = value.$ref
      .slice(2)
      .split("/")
      .reduce((at, key) => at[key.replaceAll("~1", "/").replaceAll("~0", "~")], spec);
  }
  return value;
}

/** How a parameter's text is read: the kinds the server's Rack/Grape parsing needs to tell apart. */
function parameterType(spec, schema) {
  const s = deref(spec, schema);
  const branches = (s.anyOf ?? s.oneOf ?? [s]).map((b) => deref(spec, b));
  const types = new Set(branches.map((b) => b.type));
  if (types.has("boolean")) return "boolean";
  if (types.has("array")) return "array";
  if (types.size === 1 && types.has("integer")) return "integer";
  return "string";
}

/** The property names of a request body's object schemas, whatever its media type. */
function bodyParameters(spec, requestBody) {
  if (!requestBody) return [];
  const names = Object.values(deref(spec, requestBody).content).flatMap((media) =>
    Object.keys(deref(spec, media.schema)?.properties ?? {}),
  );
  return [...new Set(names)];
}

/**
 * The operation table: for each operationId its method, path, tags, parameters (where they come from and how
 * their text is read), request body media types and named body parameters, and the security schemes it
 * accepts (anonymous when the spec lists an empty requirement). Everything that routes or authenticates a
 * request reads it from here.
 */
function operationTable(bundleJson, target) {
  const spec = JSON.parse(readFileSync(bundleJson, "utf8"));
  const table = {};
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of ["get", "put", "post", "delete", "patch"]) {
      const op = item[method];
      if (!op) continue;
      const security = op.security ?? spec.security ?? [];
      table[op.operationId] = {
        method,
        path,
        tags: op.tags ?? [],
        parameters: Object.fromEntries(
          [...(item.parameters ?? []), ...(op.parameters ?? [])]
            .map((p) => deref(spec, p))
            .map((p) => [
              p.name,
              {
                in: p.in,
                type: parameterType(spec, p.schema),
                required: p.required === true,
                ...(p.schema?.default === undefined ? {} : { default: p.schema.default }),
                // An empty value (`page=`, or the key alone) that Grape reads as no value at all.
                ...(p.allowEmptyValue === true ? { allowEmptyValue: true } : {}),
                // How Grape's `coerce_with` reads an array sent as a hash: its values, or not at all.
                ...(parameterType(spec, p.schema) === "array"
                  ? { hash: p["x-grape-hash"] === "values" ? "values" : "invalid" }
                  : {}),
              },
            ]),
        ),
        requestBody: op.requestBody ? Object.keys(deref(spec, op.requestBody).content) : [],
        // The body's named parameters, which Grape also takes from the query string (`GET.merge(POST)`).
        bodyParameters: bodyParameters(spec, op.requestBody),
        security: security.flatMap((requirement) => Object.keys(requirement)),
        anonymous: security.some((requirement) => Object.keys(requirement).length === 0),
      };
    }
  }
  const schemes = Object.keys(spec.components.securitySchemes);
  const text = `${COMMENT_HEADER.replace("openapi-typescript", "scripts/spec.mjs from the bundled spec")}
/** The spec's security schemes: where a token may come from. */
export type SecuritySchemeName = ${schemes.map((n) => JSON.stringify(n)).join(" | ")};

/** Each operation as the spec declares it: method, path, parameters, request body media types and parameters, accepted tokens. */
export const operationTable = ${JSON.stringify(table, null, 2)} as const;
`;
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, text);
}

// Redoc fetches its "API docs by" logo from a CDN even with --inlineBundle; offline that request fails and
// logs a console error, so the page points at inline images instead and stays fully self-contained. They
// say what the CDN's logos say (the word "Redocly", or its initial when the sidebar is collapsed), so the
// badge reads "API docs by Redocly" instead of ending on an empty image.
const redocLogo = /https:\/\/cdn\.redoc\.ly\/redoc\/logo-mini(-full)?\.svg/g;
const svgText = (width, text) =>
  `data:image/svg+xml,${encodeURIComponent(
    `<svg xmlns='http://www.w3.org/2000/svg' width='${width}' height='16' viewBox='0 0 ${width} 16'>` +
      `<text x='0' y='13' font-family='Inter,Arial,sans-serif' font-size='13' font-weight='600' fill='#8c8c9a'>${text}</text></svg>`,
  ).replaceAll("'", "%27")}`;
const inlineLogo = { full: svgText(56, "Redocly"), mini: svgText(12, "R") };

function docs() {
  mkdirSync(dirname(out.docs), { recursive: true });
  run(["build-docs", out.json, "--output", out.docs, "--inlineBundle", "--title", "GitLab CI Jobs API"]);
  writeFileSync(
    out.docs,
    readFileSync(out.docs, "utf8").replace(redocLogo, (_url, full) =>
      full ? inlineLogo.full : inlineLogo.mini,
    ),
  );
}

async function timed(name, fn) {
  const start = performance.now();
  await fn();
  console.log(`${name.padEnd(7)} ${((performance.now() - start) / 1000).toFixed(2)} s`);
}

async function check() {
  const dir = mkdtempSync(join(tmpdir(), "jobs-api-spec-"));
  try {
    const fresh = {
      yaml: join(dir, "openapi.yaml"),
      json: join(dir, "openapi.json"),
      types: join(dir, "schema.ts"),
      operations: join(dir, "operations.ts"),
    };
    bundle(fresh);
    await types(fresh.json, fresh.types);
    operationTable(fresh.json, fresh.operations);
    const stale = ["yaml", "json", "types", "operations"].filter((k) => {
      try {
        return readFileSync(fresh[k], "utf8") !== readFileSync(out[k], "utf8");
      } catch {
        return true;
      }
    });
    if (stale.length > 0) {
      console.error(
        `Generated files differ from what openapi/ produces: ${stale.map((k) => out[k].slice(root.length + 1)).join(", ")}`,
      );
      console.error("Run `pnpm generate` and commit the result.");
      process.exitCode = 1;
      return;
    }
    console.log("Generated files match the spec.");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const command = process.argv[2];
switch (command) {
  case "bundle":
    bundle(out);
    break;
  case "types":
    await types(out.json, out.types);
    operationTable(out.json, out.operations);
    break;
  case "docs":
    docs();
    break;
  case "all": {
    const start = performance.now();
    await timed("lint", () => run(["lint", source]));
    await timed("bundle", () => bundle(out));
    await timed("types", async () => {
      await types(out.json, out.types);
      operationTable(out.json, out.operations);
    });
    await timed("docs", docs);
    console.log(`total   ${((performance.now() - start) / 1000).toFixed(2)} s`);
    break;
  }
  case "check":
    await check();
    break;
  default:
    console.error("usage: spec.mjs bundle|types|docs|all|check");
    process.exit(2);
}
