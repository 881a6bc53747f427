import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { OperationId } from "@jobs-api/types";
import { loadSpec, SpecValidator } from "@jobs-api/types/validate";
import { describe, expect, it } from "vitest";

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

const validator = new SpecValidator();
const examples = pageExamples();

/** The operation of the section's `METHOD /path` line (a template, which matches itself). */
function operationOf(example: PageExample): OperationId {
  const id = validator.matchOperation(example.method, example.path);
  if (!id) throw new Error(`${example.section}: no operation ${example.method} ${example.path} in the spec`);
  return id;
}

function successStatus(example: PageExample): string {
  const status = validator.documentedStatuses(operationOf(example)).find((s) => s.startsWith("2"));
  if (!status) throw new Error(`${example.section}: no 2xx response`);
  return status;
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
    expect(examples.map(operationOf)).toEqual([
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
    const validate = validator.bodyValidator(operationOf(example), successStatus(example));

    const outdated = outdatedOnPurpose[operationOf(example)];

    it("validates against the operation's response schema (or lacks exactly what current GitLab added)", () => {
      const valid = validate(example.value);
      if (!outdated?.missing.length) {
        expect(valid, JSON.stringify(validate.errors, null, 2)).toBe(true);
        return;
      }
      expect(valid).toBe(false);
      // A `oneOf` answer (play: a job or a bridge) reports its branches' missing fields, then the `oneOf`.
      const missing = (validate.errors ?? [])
        .filter((e) => e.keyword !== "oneOf")
        .map((e) => {
          expect(e.keyword, JSON.stringify(e)).toBe("required");
          return `${e.instancePath}/${(e.params as { missingProperty: string }).missingProperty}`;
        });
      expect([...new Set(missing)].sort()).toEqual([...outdated.missing].sort());
    });

    it("has no field the schema does not declare (but those current GitLab dropped)", () => {
      expect(validator.undeclaredFields(operationOf(example), successStatus(example), example.value)).toEqual(
        outdated?.undeclared ?? [],
      );
    });

    it("fails validation without any field it shows, except those optional on purpose", () => {
      const item = (Array.isArray(example.value) ? example.value[0] : example.value) as Record<
        string,
        unknown
      >;
      const optional = Object.keys(item)
        .filter((field) => !outdated?.undeclared.includes(`/${field}`))
        .filter((field) => validate(without(example.value, field)));
      expect(optional).toEqual(optionalOnPurpose[operationOf(example)]);
    });
  });
});

/**
 * The fields of each documented answer that the spec keeps optional: they are absent from other answers
 * of the same kind (`failure_reason` only on failed jobs, `artifacts_file` only with an archive).
 * Anything else an example shows is required.
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
  eraseJob: [],
  playJob: [],
};

/**
 * The page's examples that show an older form of the answer than current GitLab sends, which the spec
 * describes: the fields current GitLab always sends and the example lacks (`missing`), and the fields the
 * example shows and current GitLab no longer sends (`undeclared`). The allowed-agents answer was rebuilt
 * after 2022 (`lib/api/ci/jobs.rb`, route `/allowed_agents`): ids only for job and pipeline, the project's
 * groups, the user's roles, each agent's configuration.
 */
const ACTION_ANSWER_FIELDS = ["/pipeline", "/tag_list", "/artifacts_expire_at"];

const outdatedOnPurpose: Record<string, { missing: string[]; undeclared: string[] }> = {
  // The actions present the job with `Entities::Ci::Job` (jobs.rb: cancel, retry, erase, play), which always
  // exposes `pipeline` (job_basic.rb), `tag_list` and `artifacts_expire_at` (job.rb); the page's examples of
  // the actions leave them out. No entity exposes `download_url`: the page's erase example shows it, `null`.
  cancelJob: { missing: ACTION_ANSWER_FIELDS, undeclared: [] },
  retryJob: { missing: ACTION_ANSWER_FIELDS, undeclared: [] },
  eraseJob: { missing: ACTION_ANSWER_FIELDS, undeclared: ["/download_url"] },
  // A played job or a played trigger job: the bridge's `downstream_pipeline` is missing from the other branch.
  playJob: { missing: [...ACTION_ANSWER_FIELDS, "/downstream_pipeline"], undeclared: [] },
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
    const basic = broken.components.schemas?.JobBasic as { required: string[] };
    basic.required.push("erased_at");
    const validate = new SpecValidator(broken).bodyValidator("getJob", "200");
    const single = examples.find((e) => e.section === "Get a single job");
    expect(validate(single?.value)).toBe(false);
  });

  it("makes a complete example fail once that field is dropped from it", () => {
    const validate = validator.bodyValidator("listProjectJobs", "200");
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

describe("answers only some of GitLab's data gives", () => {
  const validate = validator.bodyValidator("getJob", "200");
  const single = examples.find((e) => e.section === "Get a single job")?.value as Record<string, unknown>;
  const withRunner = (status: string) => ({
    ...single,
    runner: {
      id: 1,
      description: "shared",
      ip_address: null,
      active: true,
      paused: false,
      is_shared: true,
      runner_type: "instance_type",
      name: "gitlab-runner",
      online: true,
      status,
    },
  });

  it("takes a runner status GitLab's deprecated_rest_status (or its older status) returns, never active", () => {
    // app/models/ci/runner.rb `deprecated_rest_status`: stale, never_contacted, online, offline or paused;
    // before GitLab 14.6 `status` answered not_connected where never_contacted is now. `active` is only a
    // filter of the runners list (`DEPRECATED_STATUSES`), never an answer.
    for (const status of ["online", "offline", "stale", "never_contacted", "paused", "not_connected"])
      expect(validate(withRunner(status)), status).toBe(true);
    expect(validate(withRunner("active"))).toBe(false);
  });

  it("takes times past year 9999 where GitLab can write them, and still refuses what is not a time", () => {
    // An `expire_in` of thousands of years (Ci::Build#artifacts_expire_in=, no upper bound) and a commit date
    // Gitaly could not parse (its fallbackTimeValue, Go's largest time, year 292277026596).
    const commit = single.commit as Record<string, unknown>;
    const far = {
      ...single,
      artifacts_expire_at: "12026-01-01T00:00:00.000Z",
      commit: {
        ...commit,
        created_at: "292277026596-12-04T15:30:07.000+00:00",
        authored_date: "292277026596-12-04T15:30:07.000+00:00",
        committed_date: "292277026596-12-04T15:30:07.000Z",
      },
    };
    expect(validate(far), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...single, artifacts_expire_at: "soon" })).toBe(false);
    expect(validate({ ...single, commit: { ...commit, created_at: "2016-01-11 10:13:33" } })).toBe(false);
  });
});
