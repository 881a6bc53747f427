import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Job } from "@jobs-api/types";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkFixtures,
  DatabaseNotEmptyError,
  DEMO_IDS,
  DEMO_TOKENS,
  type Double,
  demoFixturesUrl,
  FixtureError,
  type FixtureProject,
  type Fixtures,
  fixturesSchemaUrl,
  loadFixtures,
  openPglite,
  parseFixtures,
  readFixtures,
  startDouble,
} from "../src/index.js";
import { openTestPglite } from "./helpers/db.js";
import { buildServer, cliPath, startCli } from "./helpers/process.js";

const scenarioFile = fileURLToPath(new URL("data/scenario.yaml", import.meta.url));

/** Fixtures of one user `u` (token `t`) owning project `g/p`, with `project`'s pipelines. */
const ownedProject = (project: Omit<FixtureProject, "path" | "members">): Fixtures => ({
  users: [{ username: "u", tokens: [{ token: "t" }] }],
  groups: [{ path: "g" }],
  projects: [{ path: "g/p", members: [{ user: "u", role: "owner" }], ...project }],
});

/** The problems a fixture value is refused with, or [] when it is valid. */
function problemsOf(value: unknown): readonly string[] {
  try {
    checkFixtures(value);
    return [];
  } catch (error) {
    if (error instanceof FixtureError) return error.problems;
    throw error;
  }
}

const STATUSES =
  "created, waiting_for_resource, preparing, waiting_for_callback, pending, running, success, failed, canceling, canceled, skipped, manual, scheduled";

/** One user `u` with a token, one project `g/p` with one pipeline holding `jobs`. */
const world = (jobs: object[], more: Partial<Record<"user" | "project", object>> = {}) => ({
  users: [{ username: "u", tokens: [{ token: "t" }], ...more.user }],
  groups: [{ path: "g" }],
  projects: [
    { path: "g/p", members: [{ user: "u", role: "owner" }], pipelines: [{ jobs }], ...more.project },
  ],
});

describe("the fixture format", () => {
  it("publishes its JSON Schema in the package", async () => {
    const schema = JSON.parse(await readFile(fixturesSchemaUrl, "utf8")) as {
      $schema: string;
      $defs: object;
    };
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    // Valid by JSON Schema's own meta-schema, in Ajv's strict mode: the server compiles it unchecked.
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
    expect(ajv.validateSchema(schema), ajv.errorsText()).toBe(true);
    expect(() => ajv.compile(schema)).not.toThrow();
    const manifest = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")) as {
      exports: Record<string, unknown>;
      files: string[];
    };
    expect(manifest.exports["./fixtures.schema.json"]).toBe("./fixtures/fixtures.schema.json");
    expect(manifest.files).toContain("fixtures");
  });

  const invalid: [string, unknown, string[]][] = [
    [
      "a job status that does not exist, at its exact place",
      {
        projects: [
          { path: "a/one" },
          {
            path: "a/two",
            pipelines: [
              {
                jobs: [
                  { name: "a", status: "success" },
                  { name: "b", status: "failed" },
                  { name: "c", status: "manual" },
                  { name: "d", status: "done" },
                ],
              },
            ],
          },
        ],
      },
      [`projects[1].pipelines[0].jobs[3].status: must be one of ${STATUSES}`],
    ],
    [
      "a misspelt property and a missing one",
      { users: [{ username: "u", emial: "u@example.com" }], projects: [{ visibility: "public" }] },
      ["users[0].emial: is not a property of the format", "projects[0].path: is required"],
    ],
    [
      "times neither ISO with a zone nor relative",
      world([{ name: "a", status: "success", startedAt: "yesterday", finishedAt: "2024-01-01 10:00" }]),
      [
        "projects[0].pipelines[0].jobs[0].startedAt: must be an ISO 8601 time with a zone (2024-01-01T09:00:00Z) or relative to loading (now, -5m, +2h, -3d)",
        "projects[0].pipelines[0].jobs[0].finishedAt: must be an ISO 8601 time with a zone (2024-01-01T09:00:00Z) or relative to loading (now, -5m, +2h, -3d)",
      ],
    ],
    [
      "a date that does not exist",
      world([{ name: "a", status: "success", createdAt: "2024-02-30T10:00:00Z" }]),
      ['projects[0].pipelines[0].jobs[0].createdAt: "2024-02-30T10:00:00Z" is not a valid time'],
    ],
    [
      "a wrong type, a bad sha, a version that does not exist",
      { version: 2, users: [{ username: 7 }], projects: [{ path: "a/b", pipelines: [{ sha: "main" }] }] },
      [
        "version: must be equal to constant",
        "users[0].username: must be string",
        "projects[0].pipelines[0].sha: must be 40 lower-case hex digits (SHA-1) or 64 (SHA-256)",
      ],
    ],
    [
      "an archive without a size (GitLab reads the archive's from its file)",
      world([
        {
          name: "a",
          status: "success",
          artifacts: [{ file_type: "archive", file_format: "zip", filename: "a.zip", size: null }],
        },
      ]),
      [
        "projects[0].pipelines[0].jobs[0].artifacts[0].size: the archive's size is known: null is for other artifacts",
      ],
    ],
    [
      "a member naming an unknown user",
      {
        users: [{ username: "u" }],
        projects: [{ path: "u/p", members: [{ user: "nobody", role: "guest" }] }],
      },
      ['projects[0].members[0].user: no user "nobody" in users'],
    ],
    [
      "a job token of an unknown job, and one acting as someone else",
      {
        users: [
          { username: "u", tokens: [{ token: "a", kind: "job", job: "ghost" }] },
          {
            username: "v",
            tokens: [
              { token: "b", kind: "job", job: 5 },
              { token: "c", kind: "job" },
            ],
          },
        ],
        projects: [
          { path: "u/p", pipelines: [{ jobs: [{ id: 5, name: "a", status: "running", user: "u" }] }] },
        ],
      },
      [
        'users[0].tokens[0].job: no job with id or key "ghost"',
        'users[1].tokens[0].job: a job token acts as its job\'s user: projects[0].pipelines[0].jobs[0].user must be "v"',
        "users[1].tokens[1].job: is required for a token of kind job",
      ],
    ],
    [
      "scopes on a job token",
      {
        users: [{ username: "u", tokens: [{ token: "a", kind: "job", job: 5, scopes: ["read_api"] }] }],
        projects: [
          { path: "u/p", pipelines: [{ jobs: [{ id: 5, name: "a", status: "running", user: "u" }] }] },
        ],
      },
      ["users[0].tokens[0].scopes: a job token carries no scopes: it acts with its job's rights"],
    ],
    [
      "a token without any scope",
      { users: [{ username: "u", tokens: [{ token: "b", scopes: [] }] }] },
      ["users[0].tokens[0].scopes: must NOT have fewer than 1 items"],
    ],
    [
      "duplicate usernames, tokens, token names and ids",
      {
        users: [
          { id: 1, username: "u", tokens: [{ token: "t", name: "n" }] },
          { id: 1, username: "U", tokens: [{ token: "t", name: "n" }] },
        ],
      },
      [
        'users[1].username: username "u" is already used at users[0].username',
        "users[1].id: user id 1 is already used at users[0].id",
        'users[1].tokens[0].token: token "t" is already used at users[0].tokens[0].token',
        'users[1].tokens[0].name: token name "n" is already used at users[0].tokens[0].name',
      ],
    ],
    [
      "what the database would refuse: a failure reason without failure, downstream of a build",
      world([
        { name: "a", status: "success", failureReason: "script_failure" },
        { name: "b", status: "success", downstream: 1 },
      ]),
      [
        "projects[0].pipelines[0].jobs[0].failureReason: only a failed job has a failure reason",
        "projects[0].pipelines[0].jobs[1].downstream: only a bridge (type: bridge) has one",
      ],
    ],
    [
      "unknown runner, manager, environment, downstream pipeline; a retry of an attempt not retried",
      {
        runners: [{ name: "r", managers: [{ systemId: "s1" }] }],
        projects: [
          {
            path: "g/p",
            pipelines: [
              {
                jobs: [
                  { key: "first", name: "a", status: "failed" },
                  { name: "a", status: "success", retryOf: "first", runner: "r", runnerManager: "s2" },
                  { name: "b", status: "success", runner: "other", environment: "prod" },
                  { name: "c", status: "success", type: "bridge", downstream: "nowhere" },
                ],
              },
            ],
          },
        ],
        groups: [{ path: "g" }],
      },
      [
        'projects[0].pipelines[0].jobs[1].runnerManager: runner "r" has no manager "s2"',
        "projects[0].pipelines[0].jobs[1].retryOf: the attempt it retries (projects[0].pipelines[0].jobs[0]) must be retried: true",
        'projects[0].pipelines[0].jobs[2].runner: no runner "other" in runners',
        'projects[0].pipelines[0].jobs[2].environment: no environment "prod" in projects[0]',
        'projects[0].pipelines[0].jobs[3].downstream: no pipeline with id or key "nowhere"',
      ],
    ],
    [
      "a subgroup project without its group, a subgroup without its parent",
      { groups: [{ path: "a/b" }], projects: [{ path: "x/y/z" }] },
      ['groups[0].path: no parent group "a" in groups', 'projects[0].path: no group "x/y" in groups'],
    ],
    [
      "an agent's share naming both a project and a group",
      {
        groups: [{ path: "g" }],
        projects: [
          { path: "g/p" },
          { path: "g/more", agents: [{ name: "k", sharedWith: [{ project: "g/p", group: "g" }] }] },
        ],
      },
      ["projects[1].agents[0].sharedWith[0]: names either a project or a group"],
    ],
    [
      "an agent shared with a group the file lacks",
      {
        groups: [{ path: "g" }],
        projects: [{ path: "g/tools", agents: [{ name: "k", sharedWith: [{ group: "nope" }] }] }],
      },
      ['projects[0].agents[0].sharedWith[0].group: no group "nope" in groups'],
    ],
    [
      // ci_access/finder.rb:29-39, 60, 73-75: GitLab lists no share from another top-level group or namespace.
      "an agent shared with a project or a group under another top-level group",
      {
        groups: [{ path: "g" }, { path: "h" }],
        projects: [
          { path: "h/app" },
          {
            path: "G/tools",
            agents: [{ name: "k", sharedWith: [{ project: "h/app" }, { group: "h" }, { group: "g" }] }],
          },
        ],
      },
      [
        'projects[1].agents[0].sharedWith[0].project: an agent of "G/tools" is shared only under "g": GitLab lists no share from another top-level group or namespace',
        'projects[1].agents[0].sharedWith[1].group: an agent of "G/tools" is shared only under "g": GitLab lists no share from another top-level group or namespace',
      ],
    ],
  ];

  it.each(invalid)("refuses %s", (_, value, expected) => {
    expect(problemsOf(value)).toEqual(expected);
  });

  it("refuses YAML it cannot parse, with line and column", () => {
    const problems = (text: string) => {
      try {
        parseFixtures(text, "bad.yaml");
        return [];
      } catch (error) {
        if (error instanceof FixtureError) return error.problems;
        throw error;
      }
    };
    expect(problems("users:\n  - username: a\n    username: b\n")).toEqual([
      "bad.yaml:3:5: Map keys must be unique",
    ]);
  });

  it("accepts the scenario and the demo file", async () => {
    await expect(readFixtures(scenarioFile)).resolves.toBeDefined();
    await expect(readFixtures(demoFixturesUrl)).resolves.toBeDefined();
  });
});

describe("loading", () => {
  it("writes nothing when the database refuses a row halfway, and names the row", async () => {
    const db = await openPglite();
    const { migrate } = await import("../src/index.js");
    await migrate(db);
    try {
      const value = world([
        { name: "a", status: "success" },
        {
          name: "b",
          status: "success",
          // Valid for the schema (an integer) but beyond PostgreSQL's bigint.
          artifacts: [{ file_type: "archive", size: 1e19, filename: "a.zip", file_format: "zip" }],
        },
      ]);
      const error = await loadFixtures(db, checkFixtures(value)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FixtureError);
      expect((error as FixtureError).problems).toEqual([
        'projects[0].pipelines[0].jobs[1]: the database refused it: value "10000000000000000000" is out of range for type bigint',
      ]);
      for (const table of ["users", "access_tokens", "groups", "projects", "pipelines", "jobs"]) {
        const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
        expect({ table, rows: row?.n }).toEqual({ table, rows: 0 });
      }
    } finally {
      await db.close();
    }
  });

  it("refuses a database that has data, changing nothing", async () => {
    const db = await openTestPglite();
    try {
      const before = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs");
      const error = await loadFixtures(db, await readFixtures(scenarioFile)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DatabaseNotEmptyError);
      expect((error as Error).message).toMatch(
        /^the database already has data \(5 users, 4 projects, 1 runners, 3 groups\)/,
      );
      expect(await db.query("SELECT count(*)::int AS n FROM jobs")).toEqual(before);
    } finally {
      await db.close();
    }
  });
});

describe("startDouble on the scenario", () => {
  let double: Double;
  let readyMs = 0;
  beforeAll(async () => {
    const started = performance.now();
    double = await startDouble({ fixtures: scenarioFile });
    readyMs = performance.now() - started;
  });
  afterAll(() => double?.close());

  const get = async (path: string, headers: Record<string, string>) => {
    const res = await fetch(`${double.baseUrl}${path}`, { headers });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown> & Record<string, unknown>[],
    };
  };

  it("is ready, with its named tokens", () => {
    expect(readyMs).toBeGreaterThan(0);
    expect(double.tokens).toEqual({
      alice: "glpat-alice",
      "alice-oauth": "oauth-alice",
      "deploy-job": "glcbt-deploy",
      bob: "glpat-bob",
      carol: "glpat-carol",
      "carol-expired": "glpat-carol-old",
      "carol-revoked": "glpat-carol-revoked",
    });
  });

  it("serves the jobs as the file describes them, relative times counted from loading", async () => {
    const { status, body } = await get("/projects/acme%2Fapp/jobs?include_retried=true", {
      "PRIVATE-TOKEN": double.tokens.alice ?? "",
    });
    expect(status).toBe(200);
    const jobs = body as unknown as { id: number; name: string; status: string; started_at: string | null }[];
    expect(jobs.map((j) => [j.id, j.name, j.status])).toEqual([
      [3, "deploy", "running"],
      [2, "test", "success"],
      [1, "test", "failed"],
    ]);
    const started = Date.parse(jobs[0]?.started_at ?? "");
    expect(Math.abs(Date.now() - 4 * 60_000 - started)).toBeLessThan(60_000);
    const bridges = await get("/projects/acme%2Fapp/pipelines/1/bridges", { "PRIVATE-TOKEN": "glpat-alice" });
    expect(bridges.body[0]?.downstream_pipeline).toMatchObject({ id: 400, project_id: 40 });
    const job = await get("/projects/acme%2Fapp/jobs/2", { "PRIVATE-TOKEN": "glpat-alice" });
    expect(job.body).toMatchObject({
      coverage: 91.5,
      tag_list: ["docker"],
      artifacts: [{ file_type: "archive", size: 2048, filename: "artifacts.zip", file_format: "zip" }],
      runner: { description: "shared runner" },
    });
    const trace = await fetch(`${double.baseUrl}/projects/acme%2Fapp/jobs/2/trace`, {
      headers: { "PRIVATE-TOKEN": "glpat-alice" },
    });
    expect(await trace.text()).toBe("$ make test\nok\n");
  });

  it("honours every kind of token, blocked users, expiry and revocation", async () => {
    const path = "/projects/acme%2Fapp/jobs";
    expect((await get(path, { Authorization: "Bearer oauth-alice" })).status).toBe(200);
    expect((await get("/job", { "JOB-TOKEN": "glcbt-deploy" })).body).toMatchObject({
      id: 3,
      name: "deploy",
    });
    expect((await get(path, { "PRIVATE-TOKEN": "glpat-carol" })).status).toBe(200);
    // A read_api token reads; GitLab refuses it on POST routes (api.rb:39), a read_user one everywhere.
    expect((await get(path, { "PRIVATE-TOKEN": "glpat-carol-read" })).status).toBe(200);
    const retry = await fetch(`${double.baseUrl}/projects/acme%2Fapp/jobs/1/retry`, {
      method: "POST",
      headers: { "PRIVATE-TOKEN": "glpat-carol-read" },
    });
    expect(retry.status).toBe(403);
    expect(await retry.json()).toMatchObject({ error: "insufficient_scope" });
    expect((await get(path, { "PRIVATE-TOKEN": "glpat-carol-user" })).body).toMatchObject({
      error: "insufficient_scope",
    });
    for (const token of ["glpat-bob", "glpat-carol-old", "glpat-carol-revoked"])
      expect((await get(path, { "PRIVATE-TOKEN": token })).status).toBe(401);
  });

  it("reset() brings the fixtures back", async () => {
    const cancel = await fetch(`${double.baseUrl}/projects/acme%2Fapp/jobs/3/cancel`, {
      method: "POST",
      headers: { "PRIVATE-TOKEN": "glpat-alice" },
    });
    expect(cancel.status).toBe(201);
    await double.reset();
    const { body } = await get("/projects/acme%2Fapp/jobs/3", { "PRIVATE-TOKEN": "glpat-alice" });
    expect(body.status).toBe("running");
  });
});

describe("a SHA-256 repository", () => {
  // GitLab hosts SHA-256 repositories too (lib/gitlab/git.rb:11-12, `SHA1_BLANK_SHA = ('0' * 40)`,
  // `SHA256_BLANK_SHA = ('0' * 64)`, and `blank_ref?` takes both): their commit ids are 64
  // hex digits, and every answer naming one passes the response validator.
  const sha = "ab".repeat(32);
  const parent = "cd".repeat(32);
  let double: Double;
  beforeAll(async () => {
    const fixtures = ownedProject({
      pipelines: [{ sha, commit: { parentIds: [parent] }, jobs: [{ name: "build", status: "success" }] }],
    });
    double = await startDouble({ fixtures });
  });
  afterAll(() => double?.close());

  it("is a valid fixture, and its commit ids are served as they are", async () => {
    const res = await fetch(`${double.baseUrl}/projects/g%2Fp/jobs/1`, { headers: { "PRIVATE-TOKEN": "t" } });
    expect(res.status).toBe(200);
    const job = (await res.json()) as Job;
    expect([job.commit?.id, job.commit?.parent_ids, job.pipeline?.sha]).toEqual([sha, [parent], sha]);
  });
});

describe("a commit no longer in the repository", () => {
  // GitLab looks the commit up in the repository (app/models/ci/pipeline.rb, `def commit`:
  // `Commit.lazy(project, sha)`): once a force push dropped it and it was pruned, the lookup comes back nil
  // and lib/api/entities/ci/job_basic.rb:14 (`expose :commit, with: ::API::Entities::Commit`, at 4555e1b)
  // sends `"commit": null`, which the spec allows.
  let double: Double;
  beforeAll(async () => {
    double = await startDouble({
      fixtures: ownedProject({
        pipelines: [
          { commit: { inRepository: false }, jobs: [{ name: "gone", status: "success" }] },
          { sha: "d".repeat(40), jobs: [{ name: "kept", status: "success" }] },
        ],
      }),
    });
  });
  afterAll(() => double?.close());

  it("answers commit: null for its jobs, in the list and alone, and keeps the pipeline's sha", async () => {
    const headers = { "PRIVATE-TOKEN": "t" };
    const list = await fetch(`${double.baseUrl}/projects/g%2Fp/jobs`, { headers });
    expect(list.status).toBe(200);
    const jobs = (await list.json()) as Job[];
    expect(jobs.map((j) => [j.name, j.commit?.id ?? null])).toEqual([
      ["kept", "d".repeat(40)],
      ["gone", null],
    ]);
    const gone = jobs.find((j) => j.name === "gone");
    const alone = await fetch(`${double.baseUrl}/projects/g%2Fp/jobs/${gone?.id}`, { headers });
    expect(alone.status).toBe(200);
    expect(await alone.json()).toMatchObject({
      commit: null,
      pipeline: { sha: "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd" },
    });
  });
});

describe("rows only old or imported GitLab data has", () => {
  let double: Double;
  const headers = { "PRIVATE-TOKEN": "t" };
  const jobNamed = async (name: string): Promise<Job> => {
    const list = await fetch(`${double.baseUrl}/projects/g%2Fp/jobs`, { headers });
    expect(list.status).toBe(200);
    const job = ((await list.json()) as Job[]).find((j) => j.name === name);
    if (!job) throw new Error(`no job ${name}`);
    return job;
  };
  beforeAll(async () => {
    double = await startDouble({
      fixtures: ownedProject({
        pipelines: [
          {
            jobs: [
              {
                name: "legacy-artifacts",
                status: "success",
                artifacts: [
                  { file_type: "archive", file_format: "zip", filename: "artifacts.zip", size: 1024 },
                  { file_type: "metadata", file_format: "gzip", filename: "metadata.gz", size: null },
                ],
              },
              {
                name: "kept-for-ages",
                status: "success",
                artifactsExpireAt: "+3652500d",
                artifacts: [{ file_type: "archive", file_format: "zip", filename: "a.zip", size: 1 }],
              },
            ],
          },
          {
            id: 70,
            iid: null,
            key: "imported",
            jobs: [{ name: "imported-job", status: "success" }],
          },
          {
            id: 71,
            jobs: [{ name: "trigger", type: "bridge", status: "success", downstream: "imported" }],
          },
        ],
      }),
    });
  });
  afterAll(() => double?.close());

  it("answers iid: null for a pipeline without one, as the job's pipeline and as a downstream pipeline", async () => {
    // app/models/ci/pipeline.rb:67-69 (`has_internal_id :iid, scope: :project, presence: false`,
    // `ensure_if: -> { !importing? }`) and the nullable column of db/migrate/20180424160449 (no backfill).
    expect((await jobNamed("imported-job")).pipeline).toMatchObject({ iid: null });
    expect((await jobNamed("legacy-artifacts")).pipeline).toMatchObject({ iid: 1 });
    const bridges = await fetch(`${double.baseUrl}/projects/g%2Fp/pipelines/71/bridges`, { headers });
    expect(bridges.status).toBe(200);
    expect(await bridges.json()).toMatchObject([
      { name: "trigger", downstream_pipeline: { iid: null }, pipeline: { iid: 2 } },
    ]);
  });

  it("writes an artifacts expiry past year 9999 as GitLab does, with a five-digit year", async () => {
    // `expire_in: 10000 years`: Ci::Build#artifacts_expire_in= (`ChronicDuration.parse(value)&.seconds&.from_now`)
    // has no upper bound, and Ruby's Time#xmlschema writes the year whole.
    const job = await jobNamed("kept-for-ages");
    expect(job.artifacts_expire_at).toMatch(
      /^1[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$/,
    );
    expect(job.artifacts_file).toEqual({ filename: "a.zip", size: 1 });
  });

  it("answers size: null for an artifact whose size GitLab never recorded", async () => {
    // lib/gitlab/background_migration/migrate_legacy_artifacts.rb:81-83 (04886af8) wrote the metadata rows
    // with `size: nil` into a nullable column, and lib/api/entities/ci/job_artifact.rb:9 sends it as it is.
    const job = await jobNamed("legacy-artifacts");
    expect(job.artifacts).toEqual([
      { file_type: "archive", file_format: "zip", filename: "artifacts.zip", size: 1024 },
      { file_type: "metadata", file_format: "gzip", filename: "metadata.gz", size: null },
    ]);
    expect(job.artifacts_file).toEqual({ filename: "artifacts.zip", size: 1024 });
  });
});

describe("a project with GitLab's enforce_ci_builds_pagination_limit flag", () => {
  // cursor_based_keyset.rb:23-27: the offset limit covers Ci::Build only where the project has the ops flag
  // (off by default, on at gitlab.com); a fixture project names the flags it has enabled.
  let double: Double;
  beforeAll(async () => {
    const project = (path: string, flags: Pick<FixtureProject, "featureFlags">): FixtureProject => ({
      path,
      ...flags,
      members: [{ user: "u", role: "owner" }],
      pipelines: [{ jobs: [{ name: "only", status: "success" }] }],
    });
    double = await startDouble({
      fixtures: {
        users: [{ username: "u", tokens: [{ token: "t" }] }],
        groups: [{ path: "g" }],
        projects: [
          project("g/enforced", { featureFlags: ["enforce_ci_builds_pagination_limit"] }),
          project("g/default", {}),
        ],
      },
    });
  });
  afterAll(() => double?.close());

  it("answers 405 beyond 50,000 jobs only in the project with the flag", async () => {
    const headers = { "PRIVATE-TOKEN": "t" };
    const deep = (path: string) =>
      fetch(`${double.baseUrl}/projects/${path}/jobs?page=50001&per_page=1`, { headers });
    expect((await deep("g%2Fenforced")).status).toBe(405);
    const served = await deep("g%2Fdefault");
    expect(served.status).toBe(200);
    expect(await served.json()).toEqual([]);
  });
});

describe("a project's Minimum role to use pipeline variables (pipelineVariablesMinimumOverrideRole)", () => {
  // project_ci_cd_setting.rb:70-80 `override_pipeline_variables_allowed?` gives `set_pipeline_variables`,
  // which play_build_service.rb:28-34 asks of a play with variables. Default `developer`: a default GitLab's
  // existing projects (`restrict_user_defined_variables` false) and new ones (namespace default `developer`).
  let double: Double;
  beforeAll(async () => {
    const project = (
      path: string,
      setting: Pick<FixtureProject, "pipelineVariablesMinimumOverrideRole">,
    ): FixtureProject => ({
      path,
      ...setting,
      members: [{ user: "u", role: "developer" }],
      pipelines: [
        {
          jobs: [{ id: path.endsWith("default") ? 2 : 1, name: "deploy", status: "manual", when: "manual" }],
        },
      ],
    });
    double = await startDouble({
      fixtures: {
        users: [{ username: "u", tokens: [{ token: "t" }] }],
        groups: [{ path: "g" }],
        projects: [
          project("g/restricted", { pipelineVariablesMinimumOverrideRole: "maintainer" }),
          project("g/default", {}),
        ],
      },
    });
  });
  afterAll(() => double?.close());

  it("refuses a Developer's play with variables only in the project that asks for Maintainer", async () => {
    const play = (path: string, id: number) =>
      fetch(`${double.baseUrl}/projects/${path}/jobs/${id}/play`, {
        method: "POST",
        headers: { "PRIVATE-TOKEN": "t", "Content-Type": "application/json" },
        body: JSON.stringify({ job_variables_attributes: [{ key: "K", value: "v" }] }),
      });
    const refused = await play("g%2Frestricted", 1);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ message: "403 Forbidden" });
    expect((await play("g%2Fdefault", 2)).status).toBe(200);
  });

  it("takes GitLab's four values only", () => {
    expect(problemsOf(ownedProject({ pipelineVariablesMinimumOverrideRole: "no_one_allowed" }))).toEqual([]);
    expect(
      problemsOf({ projects: [{ path: "u/p", pipelineVariablesMinimumOverrideRole: "guest" }] }),
    ).toEqual([
      "projects[0].pipelineVariablesMinimumOverrideRole: must be one of no_one_allowed, developer, maintainer, owner",
    ]);
  });
});

describe("an instance that archives jobs after a day (settings.archiveBuildsInSeconds)", () => {
  // application_setting.rb `archive_builds_older_than` (`archive_builds_in_seconds.seconds.ago`, at least a
  // day); ci/build.rb `archived?`: created before it. Reset loads the setting again with the rest.
  let double: Double;
  beforeAll(async () => {
    double = await startDouble({
      fixtures: {
        settings: { archiveBuildsInSeconds: 86_400 },
        users: [{ username: "u", tokens: [{ token: "t" }] }],
        projects: [
          {
            path: "u/app",
            members: [{ user: "u", role: "owner" }],
            pipelines: [
              {
                jobs: [
                  { id: 1, name: "old", status: "failed", createdAt: "-2d" },
                  { id: 2, name: "new", status: "failed", createdAt: "-23h" },
                ],
              },
            ],
          },
        ],
      },
    });
  });
  afterAll(() => double?.close());

  it("answers archived: true for the job older than the setting only, before and after reset()", async () => {
    const archived = async (id: number) =>
      (
        (await (
          await fetch(`${double.baseUrl}/projects/u%2Fapp/jobs/${id}`, { headers: { "PRIVATE-TOKEN": "t" } })
        ).json()) as Job
      ).archived;
    expect([await archived(1), await archived(2)]).toEqual([true, false]);
    await double.reset();
    expect([await archived(1), await archived(2)]).toEqual([true, false]);
  });

  it("refuses a setting under a day, as GitLab's validation does", () => {
    expect(() => checkFixtures({ settings: { archiveBuildsInSeconds: 3600 } })).toThrow(
      /archiveBuildsInSeconds/,
    );
  });
});

describe("a pipeline of a protected ref (pipelines[].protected)", () => {
  // ci_access/filter_service.rb:53-70: a `protected_branches_only` authorization applies only to the jobs of a
  // pipeline whose `protected_ref?` is true.
  let double: Double;
  beforeAll(async () => {
    const deploy = (key: string) => ({ key, name: "deploy", status: "running" as const, user: "u" });
    double = await startDouble({
      fixtures: {
        users: [
          {
            username: "u",
            tokens: [
              { token: "on-protected", kind: "job" as const, job: "protected" },
              { token: "on-other", kind: "job" as const, job: "other" },
            ],
          },
        ],
        projects: [
          {
            path: "u/tools",
            agents: [
              {
                id: 7,
                name: "k",
                sharedWith: [{ project: "u/app", config: { protected_branches_only: true } }],
              },
            ],
          },
          {
            path: "u/app",
            members: [{ user: "u", role: "developer" }],
            pipelines: [
              { protected: true, user: "u", jobs: [deploy("protected")] },
              { user: "u", jobs: [deploy("other")] },
            ],
          },
        ],
      },
    });
  });
  afterAll(() => double?.close());

  it("lists the protected_branches_only agent to the job of the protected pipeline only", async () => {
    const agents = async (token: string) =>
      (
        (await (
          await fetch(`${double.baseUrl}/job/allowed_agents`, { headers: { "JOB-TOKEN": token } })
        ).json()) as {
          allowed_agents: { id: number }[];
        }
      ).allowed_agents.map((a) => a.id);
    expect([await agents("on-protected"), await agents("on-other")]).toEqual([[7], []]);
  });
});

describe("an agent shared with a group (agents[].sharedWith[].group)", () => {
  // ci_access/finder.rb:41-70: a group's authorization reaches the projects of the group and of its subgroups,
  // when the agent's project is under the same top-level group (finder.rb:60,73-75).
  let double: Double;
  beforeAll(async () => {
    const running = (key: string) => ({
      jobs: [{ key, name: "deploy", status: "running" as const, user: "u" }],
    });
    double = await startDouble({
      fixtures: {
        users: [
          {
            username: "u",
            tokens: [
              { token: "in-sub", kind: "job" as const, job: "sub" },
              { token: "in-other", kind: "job" as const, job: "other" },
            ],
          },
        ],
        groups: [{ path: "acme" }, { path: "acme/sub" }, { path: "acme/other" }],
        projects: [
          {
            path: "acme/tools",
            agents: [
              {
                id: 7,
                name: "k",
                sharedWith: [{ group: "acme/sub", config: { access_as: { ci_job: {} } } }],
              },
              { id: 8, name: "all", sharedWith: [{ group: "acme" }] },
            ],
          },
          { path: "acme/sub/app", pipelines: [running("sub")] },
          { path: "acme/other/app", pipelines: [running("other")] },
        ],
      },
    });
  });
  afterAll(() => double?.close());

  it("lists the agent to the group's projects and its subgroups' only, with the group's configuration", async () => {
    const agents = async (token: string) =>
      (
        (await (
          await fetch(`${double.baseUrl}/job/allowed_agents`, { headers: { "JOB-TOKEN": token } })
        ).json()) as { allowed_agents: { id: number; configuration: unknown }[] }
      ).allowed_agents.map(({ id, configuration }) => ({ id, configuration }));
    expect([await agents("in-sub"), await agents("in-other")]).toEqual([
      [
        { id: 7, configuration: { access_as: { ci_job: {} } } },
        { id: 8, configuration: {} },
      ],
      [{ id: 8, configuration: {} }],
    ]);
  });
});

describe("the demo file", () => {
  let double: Double;
  beforeAll(async () => {
    double = await startDouble();
  });
  afterAll(() => double?.close());

  it("holds every demo token of a user, under the name demo-<key>", () => {
    for (const [key, token] of Object.entries(DEMO_TOKENS).filter(([key]) => key !== "runner")) {
      const name = `demo-${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      expect({ name, token: double.tokens[name] }).toEqual({ name, token });
    }
  });

  it("reproduces the demo ids", async () => {
    const T = { "PRIVATE-TOKEN": DEMO_TOKENS.maintainer };
    const get = async (path: string) => {
      const res = await fetch(`${double.baseUrl}${path}`, { headers: T });
      expect(res.status, path).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };
    const job = (id: number) => get(`/projects/${DEMO_IDS.project}/jobs/${id}`);
    expect(
      await Promise.all(DEMO_IDS.exampleJobs.map(async (id) => ((await job(id)) as { name: string }).name)),
    ).toEqual(["rspec:other", "teaspoon", "rubocop"]);
    expect((await job(DEMO_IDS.exampleJobs[0])).pipeline).toMatchObject({
      id: DEMO_IDS.pipeline,
      project_id: DEMO_IDS.project,
    });
    const byPath = await get(
      `/projects/${encodeURIComponent(DEMO_IDS.projectPath)}/jobs/${DEMO_IDS.bridge - 1}`,
    );
    expect(byPath.id).toBe(DEMO_IDS.exampleJobs[2]);
    expect((await job(DEMO_IDS.exampleJobs[0])).user).toMatchObject({ id: DEMO_IDS.maintainerUser });
    expect(await job(DEMO_IDS.runningJob)).toMatchObject({ status: "running" });
    expect(await job(DEMO_IDS.manualJob)).toMatchObject({ status: "manual" });
    const bridges = (await get(
      `/projects/${DEMO_IDS.project}/pipelines/${DEMO_IDS.pipeline}/bridges`,
    )) as unknown as { id: number; downstream_pipeline: { id: number; project_id: number } | null }[];
    expect(
      bridges.map((b) => [b.id, b.downstream_pipeline?.id ?? null, b.downstream_pipeline?.project_id]),
    ).toEqual([
      [DEMO_IDS.createdBridge, null, undefined],
      [DEMO_IDS.bridge, DEMO_IDS.downstreamPipeline, DEMO_IDS.publicProject],
    ]);
    const publicJobs = await fetch(
      `${double.baseUrl}/projects/${encodeURIComponent(DEMO_IDS.publicProjectPath)}/jobs`,
      { headers: T },
    );
    expect(publicJobs.status).toBe(200);
    const hidden = await fetch(`${double.baseUrl}/projects/${DEMO_IDS.privateProject}/jobs`, { headers: T });
    expect(hidden.status).toBe(404);
    const byJobToken = await fetch(`${double.baseUrl}/job`, { headers: { "JOB-TOKEN": DEMO_TOKENS.job } });
    expect(((await byJobToken.json()) as { id: number }).id).toBe(DEMO_IDS.runningJob);
  });

  it("names the ids of DEMO_IDS in the file itself", async () => {
    const { fixtures } = await readFixtures(demoFixturesUrl);
    const projects = fixtures.projects ?? [];
    expect(projects.map((p) => [p.id, p.path])).toEqual([
      [DEMO_IDS.project, DEMO_IDS.projectPath],
      [DEMO_IDS.publicProject, DEMO_IDS.publicProjectPath],
      [DEMO_IDS.privateProject, "secret/hidden"],
      [DEMO_IDS.agentProject, "foo/cluster-management"],
    ]);
    const jobIds = projects.flatMap((p) =>
      (p.pipelines ?? []).flatMap((pl) => (pl.jobs ?? []).map((j) => j.id)),
    );
    for (const id of [...DEMO_IDS.exampleJobs, DEMO_IDS.bridge, DEMO_IDS.runningJob, DEMO_IDS.manualJob])
      expect(jobIds).toContain(id);
    expect(fixtures.users?.[0]).toMatchObject({ id: DEMO_IDS.maintainerUser, username: "root" });
  });
});

describe("jobs-api-server --fixtures", () => {
  const dirs: string[] = [];
  beforeAll(() => buildServer());
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  /** Runs the CLI to its exit; answers its exit code and stderr. */
  async function runCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, [cliPath, "--port", "0", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    return { code, stderr };
  }

  it("serves the fixtures instead of the demo data", async () => {
    const cli = await startCli(["--fixtures", scenarioFile]);
    try {
      await cli.waitForLine("loaded the fixtures");
      const ok = await fetch(`${cli.origin}/api/v4/projects/acme%2Fapp/jobs/3`, {
        headers: { "PRIVATE-TOKEN": "glpat-alice" },
      });
      expect(ok.status).toBe(200);
      const demo = await fetch(`${cli.origin}/api/v4/projects/1/jobs`, {
        headers: { "PRIVATE-TOKEN": DEMO_TOKENS.maintainer },
      });
      expect(demo.status).toBe(401);
    } finally {
      cli.child.kill("SIGTERM");
      await cli.exited;
    }
  });

  it("exits 2 with the place of every problem, and no stack, on an invalid file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jobs-api-fixtures-"));
    dirs.push(dir);
    const file = join(dir, "bad.yaml");
    const bad: Fixtures = {
      users: [{ username: "u" }],
      projects: [{ path: "u/p", members: [{ user: "x", role: "guest" }] }],
    };
    await writeFile(file, JSON.stringify(bad));
    expect(await runCli(["--fixtures", file])).toEqual({
      code: 2,
      stderr: `jobs-api-server: cannot load ${file}:\n  projects[0].members[0].user: no user "x" in users\n`,
    });
  });

  it("exits 2 on a database that has data, and leaves it as it is", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jobs-api-fixtures-"));
    dirs.push(dir);
    const { createTestDataDir } = await import("./helpers/db.js");
    await createTestDataDir(dir);
    const { code, stderr } = await runCli(["--fixtures", scenarioFile, "--data-dir", dir]);
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /^jobs-api-server: cannot load .*scenario\.yaml:\n {2}the database already has data/,
    );
    expect(stderr).not.toMatch(/\n\s+at /);
    const db = await openPglite({ dataDir: dir });
    try {
      expect(await db.query("SELECT count(*)::int AS n FROM users WHERE username = 'alice'")).toEqual([
        { n: 0 },
      ]);
    } finally {
      await db.close();
    }
  });
});
