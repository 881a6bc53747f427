import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type JsonSchema, loadSpec, responseSchemaPointer, undeclaredFields, validatorFor } from "./spec.js";

// GitLab's endpoint page, kept in the repository so the check runs anywhere; the copy must stay
// identical to the project's shared reference wherever that is checked out beside the repository.
const pagePath = fileURLToPath(new URL("../reference/jobs-api-doc.md", import.meta.url));
const sharedPagePath = fileURLToPath(new URL("../../../shared/reference/jobs-api-doc.md", import.meta.url));
const page = readFileSync(pagePath, "utf8");

interface PageExample {
  section: string;
  method: string;
  path: string;
  value: unknown;
}

/** Each JSON block of GitLab's page, with the `METHOD /path` line of the section it stands in. */
function pageExamples(): PageExample[] {
  const found: PageExample[] = [];
  let section = "";
  let route: { method: string; path: string } | undefined;
  const blocks = /^## (.+)$|^```plaintext\n(GET|POST) (\S+)\n```|^```json\n([\s\S]*?)^```/gm;
  for (const m of page.matchAll(blocks)) {
    if (m[1]) {
      section = m[1];
      route = undefined;
    } else if (m[2] && m[3]) {
      route = { method: m[2].toLowerCase(), path: m[3].replace(/:(\w+)/g, "{$1}") };
    } else if (m[4] && route) {
      found.push({ section, ...route, value: JSON.parse(m[4]) });
    }
  }
  return found;
}

const spec = loadSpec();
const validator = validatorFor(spec);
const examples = pageExamples();

function successStatus(example: PageExample): string {
  const operation = spec.paths[example.path]?.[example.method];
  if (!operation)
    throw new Error(`${example.section}: no operation ${example.method} ${example.path} in the spec`);
  const status = Object.keys(operation.responses).find((s) => s.startsWith("2"));
  if (!status) throw new Error(`${example.section}: no 2xx response`);
  return status;
}

function schemaOf(example: PageExample): { pointer: string; schema: JsonSchema } {
  const pointer = responseSchemaPointer(example.path, example.method, successStatus(example));
  const operation = spec.paths[example.path]?.[example.method] as unknown as JsonSchema;
  const content = (operation.responses as Record<string, JsonSchema>)[successStatus(example)]?.content as
    | Record<string, JsonSchema>
    | undefined;
  const schema = content?.["application/json"]?.schema as JsonSchema;
  return { pointer, schema };
}

/** Removes `field` from the example (from its first item, for a list). */
function without(value: unknown, field: string): unknown {
  const copy = structuredClone(value);
  const target = Array.isArray(copy) ? copy[0] : copy;
  delete (target as Record<string, unknown>)[field];
  return copy;
}

describe("the JSON examples of GitLab's Jobs API page", () => {
  it.runIf(existsSync(sharedPagePath))("come from the page in shared/reference", () => {
    expect(page).toBe(readFileSync(sharedPagePath, "utf8"));
  });

  it("are all found, one per documented answer, each under an operation of the spec", () => {
    expect(examples.map((e) => spec.paths[e.path]?.[e.method]?.operationId)).toEqual([
      "listProjectJobs",
      "listPipelineJobs",
      "listPipelineBridges",
      "getJobTokenJob",
      "getJobTokenAllowedAgents",
      "getJob",
      "cancelJob",
      "retryJob",
      "eraseJob",
      "playJob",
    ]);
  });

  describe.each(examples.map((e) => [e.section, e] as const))("%s", (_section, example) => {
    const { pointer, schema } = schemaOf(example);
    const validate = validator(pointer);

    const outdated = outdatedOnPurpose[operationIdOf(example)];

    it("validates against the operation's response schema (or lacks exactly what current GitLab added)", () => {
      const valid = validate(example.value);
      if (!outdated) {
        expect(valid, JSON.stringify(validate.errors, null, 2)).toBe(true);
        return;
      }
      expect(valid).toBe(false);
      const missing = (validate.errors ?? []).map((e) => {
        expect(e.keyword, JSON.stringify(e)).toBe("required");
        return `${e.instancePath}/${(e.params as { missingProperty: string }).missingProperty}`;
      });
      expect(missing.sort()).toEqual([...outdated.missing].sort());
    });

    it("has no field the schema does not declare (but those current GitLab dropped)", () => {
      expect(undeclaredFields(spec, schema, example.value)).toEqual(outdated?.undeclared ?? []);
    });

    it("fails validation without any field it shows, except those optional on purpose", () => {
      const item = (Array.isArray(example.value) ? example.value[0] : example.value) as Record<
        string,
        unknown
      >;
      const optional = Object.keys(item).filter((field) => validate(without(example.value, field)));
      expect(optional).toEqual(optionalOnPurpose[operationIdOf(example)]);
    });
  });
});

function operationIdOf(example: PageExample): string {
  return spec.paths[example.path]?.[example.method]?.operationId ?? "";
}

/**
 * The fields of each documented answer that the spec keeps optional: they are absent from other answers
 * of the same kind (`failure_reason` only on failed jobs, `artifacts_file` only with an archive,
 * `download_url` only on erase). Anything else an example shows is required.
 */
const optionalOnPurpose: Record<string, string[]> = {
  listProjectJobs: ["artifacts_file", "failure_reason"],
  listPipelineJobs: ["failure_reason"],
  listPipelineBridges: [],
  getJobTokenJob: ["failure_reason"],
  getJobTokenAllowedAgents: [],
  getJob: [],
  cancelJob: [],
  retryJob: [],
  eraseJob: ["download_url"],
  playJob: [],
};

/**
 * The page's examples that show an older form of the answer than current GitLab sends, which the spec
 * describes: the fields current GitLab always sends and the example lacks (`missing`), and the fields the
 * example shows and current GitLab no longer sends (`undeclared`). The allowed-agents answer was rebuilt
 * after 2022 (`lib/api/ci/jobs.rb`, route `/allowed_agents`): ids only for job and pipeline, the project's
 * groups, the user's roles, each agent's configuration.
 */
const outdatedOnPurpose: Record<string, { missing: string[]; undeclared: string[] }> = {
  getJobTokenAllowedAgents: {
    missing: ["/allowed_agents/0/configuration", "/project/groups", "/user/roles_in_project"],
    undeclared: [
      "/job/name",
      "/job/stage",
      "/job/project_id",
      "/job/project_name",
      "/pipeline/project_id",
      "/pipeline/sha",
      "/pipeline/ref",
      "/pipeline/status",
      "/pipeline/created_at",
      "/pipeline/updated_at",
      "/pipeline/web_url",
      "/project/description",
      "/project/name",
      "/project/name_with_namespace",
      "/project/path",
      "/project/path_with_namespace",
      "/project/created_at",
      "/user/name",
      "/user/state",
      "/user/avatar_url",
      "/user/web_url",
    ],
  },
};

describe("a schema with a required field removed", () => {
  it("rejects the page's examples that lack it", () => {
    const broken = loadSpec();
    const basic = broken.components.schemas.JobBasic as { required: string[] };
    basic.required.push("erased_at");
    const validate = validatorFor(broken)(
      responseSchemaPointer("/projects/{id}/jobs/{job_id}", "get", "200"),
    );
    const single = examples.find((e) => e.section === "Get a single job");
    expect(validate(single?.value)).toBe(false);
  });

  it("makes a complete example fail once that field is dropped from it", () => {
    const validate = validator(responseSchemaPointer("/projects/{id}/jobs", "get", "200"));
    const list = examples.find((e) => e.section === "List project jobs");
    expect(validate(list?.value)).toBe(true);
    for (const field of [
      "id",
      "status",
      "commit",
      "pipeline",
      "tag_list",
      "artifacts",
      "runner",
      "user",
      "web_url",
    ]) {
      expect(validate(without(list?.value, field)), field).toBe(false);
    }
  });
});
