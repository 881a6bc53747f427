import * as crypto from "node:crypto";
import { randomUUID } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { type Database, DEMO_TOKENS, type DemoServer, startDemoServer, store } from "../src/index.js";
import { keepAliveAgent, sendRaw } from "./helpers/http.js";
import { serveForFile } from "./helpers/server.js";
import { checkExchange, apiOperations as operations } from "./helpers/spec.js";

// Wraps the real timingSafeEqual so that a test can see the token check go through it.
vi.mock("node:crypto", async (importOriginal) => {
  const original = await importOriginal<typeof import("node:crypto")>();
  return { ...original, timingSafeEqual: vi.fn(original.timingSafeEqual) };
});

/**
 * Each kind of token × each operation × the caller's own project, another project it may read, a project it
 * cannot see and a public one: the status GitLab would give (`gitlab-behaviour.md`), and never a token in
 * a log line or an error body.
 */

type Place = "own" | "other" | "invisible" | "public";
const PLACES: Place[] = ["own", "other", "invisible", "public"];

interface Matrix {
  projects: Record<Place, { id: number; pipelineId: number }>;
  tokens: {
    personal: string;
    oauth: string;
    job: string;
    expired: string;
    revoked: string;
    finishedJob: string;
  };
  userId: number;
}

let db: Database;
let server: DemoServer;
let m: Matrix;

/** A caller who is Maintainer of `own`, Reporter of `other`, nothing in `invisible` and `public`. */
async function buildMatrix(): Promise<Matrix> {
  const tag = randomUUID().slice(0, 8);
  const userId = await store.createUser(db, { username: `caller-${tag}` });
  const ownerId = await store.createUser(db, { username: `owner-${tag}` });
  const projects = {} as Matrix["projects"];
  for (const place of PLACES) {
    const id = await store.createProject(db, {
      fullPath: `${place}-${tag}/app`,
      visibility: place === "public" ? "public" : "private",
    });
    await store.addMember(db, id, ownerId, "owner");
    if (place === "own") await store.addMember(db, id, userId, "maintainer");
    if (place === "other") await store.addMember(db, id, userId, "reporter");
    const pipelineId = await store.createPipeline(db, { projectId: id, commit: { sha: "c".repeat(40) } });
    projects[place] = { id, pipelineId };
  }
  const token = (name: string) => `${name}-${tag}`;
  const tokens = {
    personal: token("glpat-personal"),
    oauth: token("oauth"),
    job: token("glcbt-running"),
    expired: token("glpat-expired"),
    revoked: token("glpat-revoked"),
    finishedJob: token("glcbt-finished"),
  };
  await store.createAccessToken(db, { userId, token: tokens.personal });
  await store.createAccessToken(db, { userId, token: tokens.oauth, kind: "oauth" });
  await store.createAccessToken(db, {
    userId,
    token: tokens.expired,
    expiresAt: new Date(Date.now() - 1000),
  });
  await store.createAccessToken(db, { userId, token: tokens.revoked, revokedAt: new Date() });
  const own = projects.own.pipelineId;
  const running = await store.createJob(db, { pipelineId: own, name: "ci", status: "running", userId });
  await store.createJobToken(db, running, tokens.job);
  const finished = await store.createJob(db, { pipelineId: own, name: "done", status: "success", userId });
  await store.createJobToken(db, finished, tokens.finishedJob);
  return { projects, tokens, userId };
}

serveForFile(async (d, s) => {
  db = d;
  server = s;
  m = await buildMatrix();
});

/** A fresh job for one request, in the state its operation acts on (actions change jobs). */
async function jobFor(operationId: string, place: Place): Promise<number> {
  const pipelineId = m.projects[place].pipelineId;
  const finished = { startedAt: new Date(Date.now() - 60_000), finishedAt: new Date() };
  switch (operationId) {
    case "cancelJob":
      return store.createJob(db, { pipelineId, name: "cancel-me", status: "pending" });
    case "playJob":
      return store.createJob(db, { pipelineId, name: "play-me", status: "manual", when: "manual" });
    default: {
      const id = await store.createJob(db, { pipelineId, name: "finished", status: "failed", ...finished });
      await store.setTrace(db, id, "log\n");
      return id;
    }
  }
}

type Kind =
  | "personal"
  | "oauth"
  | "job"
  | "expired"
  | "revoked"
  | "finishedJob"
  | "none"
  | `malformed ${number}`;

const MALFORMED: Record<string, string>[] = [
  { "PRIVATE-TOKEN": "glpat-" },
  { "PRIVATE-TOKEN": "x".repeat(4096) },
  { "PRIVATE-TOKEN": "' OR '1'='1" },
  { Authorization: "Bearer" },
  { Authorization: "Basic Zm9vOmJhcg==" },
  { Authorization: "Bearer a b" },
  { "JOB-TOKEN": "\u00ff\u00fe" },
];

function headersOf(kind: Kind): Record<string, string> {
  switch (kind) {
    case "personal":
    case "expired":
    case "revoked":
      return { "PRIVATE-TOKEN": m.tokens[kind] };
    case "oauth":
      return { Authorization: `Bearer ${m.tokens.oauth}` };
    case "job":
    case "finishedJob":
      return { "JOB-TOKEN": m.tokens[kind] };
    case "none":
      return {};
    default:
      return MALFORMED[Number(kind.split(" ")[1])] ?? {};
  }
}

const READS = ["listProjectJobs", "listPipelineJobs", "listPipelineBridges", "getJob", "getJobTrace"];
const SUCCESS: Record<string, number> = { cancelJob: 201, retryJob: 201, eraseJob: 201, playJob: 200 };
/** jobs.rb and pipelines.rb: the routes with `route_setting :authentication, job_token_allowed: true`. */
const JOB_TOKEN_ROUTES = new Set([
  "listProjectJobs",
  "listPipelineJobs",
  "listPipelineBridges",
  "getJobTokenJob",
  "getJobTokenAllowedAgents",
]);
/** pipelines.rb: `before { authenticate_non_get! }`, so its GETs answer anonymous callers. */
const ANONYMOUS_ROUTES = new Set(["listPipelineJobs", "listPipelineBridges"]);
/**
 * Malformed credentials that present no token at all (an Authorization header that is no Bearer token).
 * `Bearer a b` presents the token `a b`: Doorkeeper takes the text after `Bearer ` as it is.
 */
const NO_TOKEN_MALFORMED = new Set(["malformed 3", "malformed 4"]);

/** What the route reads of the caller's credentials: job tokens only where the route takes them. */
function presented(kind: Kind, operationId: string): "valid" | "invalid" | "none" {
  const jobToken = kind === "job" || kind === "finishedJob" || kind === "malformed 6";
  if (kind === "none" || NO_TOKEN_MALFORMED.has(kind) || (jobToken && !JOB_TOKEN_ROUTES.has(operationId))) {
    return "none";
  }
  return kind === "personal" || kind === "oauth" || kind === "job" ? "valid" : "invalid";
}

/** The status GitLab gives: an oracle written from GitLab's routes, not from the server's code. */
function expected(
  kind: Kind,
  operationId: string,
  place: Place,
): { status: number; message?: string; error?: string } {
  const credential = presented(kind, operationId);
  // api_guard.rb: expired and revoked tokens get an OAuth bearer error, not the message body.
  if (kind === "expired" || kind === "revoked") return { status: 401, error: "invalid_token" };
  if (credential === "invalid") return { status: 401, message: "401 Unauthorized" };
  if (credential === "none") {
    if (!ANONYMOUS_ROUTES.has(operationId)) return { status: 401, message: "401 Unauthorized" };
    return place === "public" ? { status: 200 } : { status: 404, message: "404 Project Not Found" };
  }
  if (operationId === "getJobTokenJob" || operationId === "getJobTokenAllowedAgents") {
    return kind === "job" ? { status: 200 } : { status: 404, message: "404 Job Not Found" };
  }
  // A job token reaches its own job's project only; others' private projects are invisible.
  if (place === "invisible" || (kind === "job" && place !== "own")) {
    return { status: 404, message: "404 Project Not Found" };
  }
  if (READS.includes(operationId)) return { status: 200 };
  // Actions need Developer: the caller is Maintainer of its own project, Reporter or nobody elsewhere.
  return place === "own" ? { status: SUCCESS[operationId] ?? 0 } : { status: 403, message: "403 Forbidden" };
}

const KINDS: Kind[] = [
  "personal",
  "oauth",
  "job",
  "expired",
  "revoked",
  "finishedJob",
  "none",
  ...MALFORMED.map((_, i) => `malformed ${i}` as const),
];

describe("token kind × operation × project", () => {
  it(`answers what GitLab answers in all ${KINDS.length * operations.length * PLACES.length} cells`, async () => {
    const agent = keepAliveAgent();
    const wrong: string[] = [];
    let cells = 0;
    try {
      for (const kind of KINDS) {
        for (const op of operations) {
          for (const place of PLACES) {
            const project = m.projects[place];
            const jobId = await jobFor(op.operationId, place);
            const target = `/api/v4${op.template
              .replace("{id}", String(project.id))
              .replace("{pipeline_id}", String(project.pipelineId))
              .replace("{job_id}", String(jobId))}`;
            const ex = await sendRaw(
              server.origin,
              { method: op.method, target, headers: headersOf(kind) },
              agent,
            );
            const want = expected(kind, op.operationId, place);
            const body = ex.headers["content-type"]?.includes("json")
              ? (JSON.parse(ex.body) as unknown)
              : ex.body;
            const { message, error } = (body ?? {}) as { message?: string; error?: string };
            if (
              ex.status !== want.status ||
              (want.message !== undefined && message !== want.message) ||
              (want.error !== undefined && error !== want.error)
            ) {
              wrong.push(
                `${kind} ${op.operationId} ${place}: ${ex.status} ${ex.body.slice(0, 80)}, want ${want.status}`,
              );
            }
            wrong.push(...checkExchange(ex).map((p) => `${kind} ${op.operationId} ${place}: ${p}`));
            cells++;
          }
        }
      }
    } finally {
      agent.destroy();
    }
    expect(wrong).toEqual([]);
    expect(cells).toBe(KINDS.length * 11 * 4);
  });

  it("takes the query forms of each token kind like the headers", async () => {
    const own = m.projects.own.id;
    for (const [param, token] of [
      ["private_token", m.tokens.personal],
      ["access_token", m.tokens.oauth],
      ["job_token", m.tokens.job],
    ] as const) {
      const r = await fetch(`${server.api}/projects/${own}/jobs?${param}=${token}`);
      expect(r.status, param).toBe(200);
      const dead = await fetch(`${server.api}/projects/${own}/jobs?${param}=${m.tokens.revoked}`);
      expect(dead.status, param).toBe(401);
    }
  });
});

describe("access tokens answered before (the token lookup may come from the read cache)", () => {
  it("are refused from the moment they expire, and from the next request once revoked", async () => {
    const own = m.projects.own.id;
    const token = `glpat-${randomUUID()}`;
    const expiresAt = Date.now() + 60_000;
    await store.createAccessToken(db, { userId: m.userId, token, expiresAt: new Date(expiresAt) });
    const list = () => fetch(`${server.api}/projects/${own}/jobs`, { headers: { "PRIVATE-TOKEN": token } });
    expect((await list()).status).toBe(200);
    expect((await list()).status).toBe(200);
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      // Expirable: `expires_at <= Time.current`, so the token's last valid moment is just before its expiry.
      vi.setSystemTime(expiresAt - 1);
      expect((await list()).status).toBe(200);
      vi.setSystemTime(expiresAt);
      const expired = await list();
      expect(expired.status).toBe(401);
      expect(await expired.json()).toMatchObject({ error: "invalid_token" });
    } finally {
      vi.useRealTimers();
    }

    const other = `glpat-${randomUUID()}`;
    await store.createAccessToken(db, { userId: m.userId, token: other });
    const withOther = () =>
      fetch(`${server.api}/projects/${own}/jobs`, { headers: { "PRIVATE-TOKEN": other } });
    expect((await withOther()).status).toBe(200);
    await db.query("UPDATE access_tokens SET revoked_at = now() WHERE token_digest = $1", [
      crypto.createHash("sha256").update(other).digest(),
    ]);
    const revoked = await withOther();
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get("www-authenticate")).toContain("Token was revoked");
  });
});

describe("job tokens", () => {
  it("stop working when their job finishes, however it finishes", async () => {
    const pipelineId = m.projects.own.pipelineId;
    for (const finish of ["cancel over the API", "runner reports success"]) {
      const jobId = await store.createJob(db, {
        pipelineId,
        name: "ci",
        status: "running",
        userId: m.userId,
      });
      const token = `glcbt-${randomUUID()}`;
      await store.createJobToken(db, jobId, token);
      const job = () => fetch(`${server.api}/job`, { headers: { "JOB-TOKEN": token } });
      const list = () =>
        fetch(`${server.api}/projects/${m.projects.own.id}/jobs`, { headers: { "JOB-TOKEN": token } });
      expect((await job()).status).toBe(200);
      expect((await list()).status).toBe(200);
      if (finish === "cancel over the API") {
        const r = await fetch(`${server.api}/projects/${m.projects.own.id}/jobs/${jobId}/cancel`, {
          method: "POST",
          headers: { "PRIVATE-TOKEN": m.tokens.personal },
        });
        expect(r.status).toBe(201);
      } else {
        await db.query("UPDATE jobs SET status = 'success', finished_at = now() WHERE id = $1", [jobId]);
      }
      expect((await job()).status, finish).toBe(401);
      expect((await list()).status, finish).toBe(401);
    }
  });
});

describe("job tokens as the token parameter (AuthFinders: job_token, then token, then JOB-TOKEN)", () => {
  it("are read from `token` on the routes that take job tokens, and nowhere else", async () => {
    const own = m.projects.own.id;
    for (const path of [`/projects/${own}/jobs`, "/job", "/job/allowed_agents"]) {
      const r = await fetch(`${server.api}${path}?token=${m.tokens.job}`);
      expect(r.status, path).toBe(200);
    }
    // getJob does not take job tokens: the parameter authenticates nobody.
    const jobs = (await (
      await fetch(`${server.api}/projects/${own}/jobs`, { headers: { "PRIVATE-TOKEN": m.tokens.personal } })
    ).json()) as { id: number }[];
    const getJob = await fetch(`${server.api}/projects/${own}/jobs/${jobs[0]?.id}?token=${m.tokens.job}`);
    expect(getJob.status).toBe(401);
  });

  it("take the first one present: a wrong job_token is not rescued by a right token or header", async () => {
    const wrong = `glcbt-${randomUUID()}`;
    const first = await fetch(`${server.api}/job?job_token=${wrong}&token=${m.tokens.job}`);
    expect(first.status).toBe(401);
    const second = await fetch(`${server.api}/job?token=${wrong}`, {
      headers: { "JOB-TOKEN": m.tokens.job },
    });
    expect(second.status).toBe(401);
    const right = await fetch(`${server.api}/job?token=${m.tokens.job}`, { headers: { "JOB-TOKEN": wrong } });
    expect(right.status).toBe(200);
  });
});

describe("which token counts when a request carries several (auth_finders.rb, doorkeeper.rb access_token_methods)", () => {
  const own = () => m.projects.own.id;
  const list = (query: string, headers: Record<string, string> = {}) =>
    fetch(`${server.api}/projects/${own()}/jobs${query}`, { headers }).then((r) => r.status);
  const bogus = () => `glpat-${randomUUID()}`;

  it("takes bearer_token (Doorkeeper's from_bearer_param) as access_token: OAuth, personal and job tokens", async () => {
    expect(await list(`?bearer_token=${m.tokens.oauth}`)).toBe(200);
    expect(await list(`?bearer_token=${m.tokens.personal}`)).toBe(200);
    expect(await list(`?bearer_token=${bogus()}`)).toBe(401);
    // find_user_from_job_bearer_token reads Doorkeeper's token, whatever its spelling.
    for (const param of ["access_token", "bearer_token"]) {
      const job = await fetch(`${server.api}/job?${param}=${m.tokens.job}`);
      expect(job.status, param).toBe(200);
    }
  });

  it("reads Doorkeeper's spellings in its order: access_token, then Authorization: Bearer, then bearer_token", async () => {
    const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
    expect(await list(`?access_token=${bogus()}`, bearer(m.tokens.oauth))).toBe(401);
    expect(await list(`?access_token=${m.tokens.oauth}`, bearer(bogus()))).toBe(200);
    expect(await list(`?bearer_token=${bogus()}`, bearer(m.tokens.oauth))).toBe(200);
    expect(await list(`?bearer_token=${m.tokens.oauth}`, bearer(bogus()))).toBe(401);
  });

  it("looks an OAuth token up first, then private_token, then PRIVATE-TOKEN, then the Bearer text as a PAT", async () => {
    // access_token: find_oauth_access_token (UnauthorizedError rescued) || find_personal_access_token.
    expect(await list("", { "PRIVATE-TOKEN": bogus(), Authorization: `Bearer ${m.tokens.oauth}` })).toBe(200);
    expect(await list("", { "PRIVATE-TOKEN": m.tokens.personal, Authorization: `Bearer ${bogus()}` })).toBe(
      200,
    );
    expect(await list("", { "PRIVATE-TOKEN": bogus(), Authorization: `Bearer ${m.tokens.personal}` })).toBe(
      401,
    );
    // extract_personal_access_token: the private_token parameter before the PRIVATE-TOKEN header.
    expect(await list(`?private_token=${bogus()}`, { "PRIVATE-TOKEN": m.tokens.personal })).toBe(401);
    expect(await list(`?private_token=${m.tokens.personal}`, { "PRIVATE-TOKEN": bogus() })).toBe(200);
    // An expired token decides too: it is not passed over for a valid one.
    const expired = await fetch(`${server.api}/projects/${own()}/jobs?private_token=${m.tokens.expired}`, {
      headers: { "PRIVATE-TOKEN": m.tokens.personal },
    });
    expect(expired.status).toBe(401);
    expect(await expired.json()).toMatchObject({ error: "invalid_token" });
  });

  it("skips a job token given as an access token (find_personal_access_token, TOKEN_PREFIX) and reads the job token", async () => {
    const jobHeader = { "JOB-TOKEN": m.tokens.job };
    expect(await list("", { "PRIVATE-TOKEN": `glcbt-${randomUUID()}`, ...jobHeader })).toBe(200);
    expect(await list("", { "PRIVATE-TOKEN": bogus(), ...jobHeader })).toBe(401);
    // Skipped everywhere, a token is no token: the pipeline lists answer as to anonymous callers.
    const publicJobs = await fetch(
      `${server.api}/projects/${m.projects.public.id}/pipelines/${m.projects.public.pipelineId}/jobs`,
      { headers: { Authorization: `Bearer glcbt-${randomUUID()}` } },
    );
    expect(publicJobs.status).toBe(200);
  });

  it("reads token parameters from the body as Rails' params do, the query's value winning", async () => {
    const cancel = async (query: string, init: { body?: string; type?: string }) => {
      const jobId = await jobFor("cancelJob", "own");
      const headers: Record<string, string> = init.type ? { "Content-Type": init.type } : {};
      const r = await fetch(`${server.api}/projects/${own()}/jobs/${jobId}/cancel${query}`, {
        method: "POST",
        headers,
        body: init.body,
      });
      return r.status;
    };
    const json = (token: string) => ({
      body: JSON.stringify({ private_token: token }),
      type: "application/json",
    });
    expect(await cancel("", json(m.tokens.personal))).toBe(201);
    expect(
      await cancel("", {
        body: `private_token=${m.tokens.personal}`,
        type: "application/x-www-form-urlencoded",
      }),
    ).toBe(201);
    expect(
      await cancel("", {
        body: `access_token=${m.tokens.oauth}&force=false`,
        type: "application/x-www-form-urlencoded",
      }),
    ).toBe(201);
    const form = new FormData();
    form.set("private_token", m.tokens.personal);
    const multipart = await fetch(
      `${server.api}/projects/${own()}/jobs/${await jobFor("cancelJob", "own")}/cancel`,
      {
        method: "POST",
        body: form,
      },
    );
    expect(multipart.status).toBe(201);
    expect(await cancel(`?private_token=${bogus()}`, json(m.tokens.personal))).toBe(401);
    expect(await cancel(`?private_token=${m.tokens.personal}`, json(bogus()))).toBe(201);
    // Without a Content-Type, Grape reads JSON but Rails reads a form: the token is not seen. (fetch would
    // add `text/plain` to a text body.)
    const agent = keepAliveAgent();
    const untyped = await sendRaw(
      server.origin,
      {
        method: "POST",
        target: `/api/v4/projects/${own()}/jobs/${await jobFor("cancelJob", "own")}/cancel`,
        body: JSON.stringify({ private_token: m.tokens.personal }),
      },
      agent,
    );
    expect(untyped.status).toBe(401);
    // Rails parses a GET's JSON body too (Grape does not read it, AuthFinders do).
    const raw = await sendRaw(
      server.origin,
      {
        method: "GET",
        target: "/api/v4/job",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ job_token: m.tokens.job }),
      },
      agent,
    );
    expect(raw.status).toBe(200);
    // And Rack a GET's form body (request.rb:323-327 `form_data?` whatever the method), the query still
    // winning in Rails' `request_parameters.merge(query_parameters)`.
    const getWithForm = (query: string, token: string) =>
      sendRaw(
        server.origin,
        {
          method: "GET",
          target: `/api/v4/projects/${own()}/jobs${query}`,
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: `private_token=${token}`,
        },
        agent,
      );
    try {
      expect((await getWithForm("", m.tokens.personal)).status).toBe(200);
      expect((await getWithForm(`?private_token=${bogus()}`, m.tokens.personal)).status).toBe(401);
      expect((await getWithForm(`?private_token=${m.tokens.personal}`, bogus())).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });

  it("refuses a token given as a list or hash (private_token[]=…): it matches no token", async () => {
    expect(await list(`?private_token[]=${m.tokens.personal}`)).toBe(401);
    expect(await list(`?job_token[a]=${m.tokens.job}`)).toBe(401);
  });
});

describe("tokens at rest and in logs", () => {
  const everyToken = () => [...Object.values(DEMO_TOKENS), ...Object.values(m.tokens)];

  it("stores only digests: no table holds a token in clear", async () => {
    const tables = await db.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
    );
    for (const { tablename } of tables) {
      const rows = await db.query<{ row: string }>(`SELECT t::text AS row FROM ${tablename} t`);
      const dump = rows.map((r) => r.row).join("\n");
      for (const token of everyToken()) expect(dump, tablename).not.toContain(token);
    }
  });

  it("checks digests with timingSafeEqual", async () => {
    const compare = vi.mocked(crypto.timingSafeEqual);
    compare.mockClear();
    const r = await fetch(`${server.api}/projects/${m.projects.own.id}/jobs`, {
      headers: { "PRIVATE-TOKEN": m.tokens.personal },
    });
    expect(r.status).toBe(200);
    expect(compare).toHaveBeenCalled();
  });

  it("never writes a token to the log or into an error body, in any form", async () => {
    const s = await startDemoServer({ db: db });
    const bodies: string[] = [];
    try {
      const paths = [
        `/projects/${m.projects.own.id}/jobs`,
        `/projects/${m.projects.invisible.id}/jobs/1`,
        `/projects/${m.projects.own.id}/jobs?per_page=1000`,
        "/job",
        "/job/allowed_agents",
        "/nothing",
      ];
      // Header forms and query forms: plain, with an encoded name, as an array, in upper case.
      const forms = (t: string): { query: string; headers: Record<string, string> }[] => [
        { query: "", headers: { "PRIVATE-TOKEN": t } },
        { query: "", headers: { Authorization: `Bearer ${t}` } },
        { query: "", headers: { "JOB-TOKEN": t } },
        { query: `private_token=${t}`, headers: {} },
        { query: `access_token=${t}`, headers: {} },
        { query: `bearer_token=${t}`, headers: {} },
        { query: `job_token=${t}`, headers: {} },
        { query: `token=${t}`, headers: {} },
        { query: `private%5Ftoken=${t}`, headers: {} },
        { query: `job_token[]=${t}`, headers: {} },
        { query: `JOB_TOKEN=${t}&per_page=x`, headers: {} },
      ];
      for (const token of everyToken()) {
        for (const path of paths) {
          for (const form of forms(token)) {
            const sep = path.includes("?") ? "&" : "?";
            const r = await fetch(`${s.api}${path}${form.query ? `${sep}${form.query}` : ""}`, {
              headers: form.headers,
            });
            const text = await r.text();
            if (r.status >= 400) bodies.push(text);
          }
        }
      }
    } finally {
      await s.close();
    }
    const logs = s.logs.join("");
    expect(logs).toContain("[REDACTED]");
    for (const token of everyToken()) {
      expect(logs, token).not.toContain(token);
      expect(bodies.join("\n"), token).not.toContain(token);
    }
  });
});

describe("token scopes (api.rb:38-39 allow_access_with_scope, jobs.rb:11; api_guard.rb InsufficientScopeError)", () => {
  // rack-oauth2's Bearer::Forbidden, as api_guard.rb's oauth2_bearer_token_error_handler builds it: every
  // scope the route registers (jobs.rb's and pipelines.rb's ai_workflows, then api.rb's api and read_api).
  const INSUFFICIENT_SCOPE = {
    error: "insufficient_scope",
    error_description: "The request requires higher privileges than provided by the access token.",
    scope: "ai_workflows api read_api",
  };

  async function scopedToken(scopes: string[], kind: "personal" | "oauth" = "personal"): Promise<string> {
    const token = `${kind === "personal" ? "glpat-" : ""}${scopes.join("-")}-${randomUUID()}`;
    await store.createAccessToken(db, { userId: m.userId, token, kind, scopes });
    return token;
  }

  const headersFor = (token: string, kind: "personal" | "oauth"): Record<string, string> =>
    kind === "personal" ? { "PRIVATE-TOKEN": token } : { Authorization: `Bearer ${token}` };

  async function expectInsufficientScope(r: Response, what: string): Promise<void> {
    expect(r.status, what).toBe(403);
    expect(r.headers.get("www-authenticate"), what).toBeNull();
    expect(await r.json(), what).toEqual(INSUFFICIENT_SCOPE);
  }

  for (const [scope, kind] of [
    ["read_api", "personal"],
    ["read_api", "oauth"],
    ["ai_workflows", "personal"],
  ] as const) {
    it(`a ${kind} ${scope} token reads (200) and is refused on cancel, retry, erase and play, jobs untouched`, async () => {
      const token = await scopedToken([scope], kind);
      const headers = headersFor(token, kind);
      const { id, pipelineId } = m.projects.own;
      const finished = await jobFor("getJob", "own");
      for (const path of [
        `projects/${id}/jobs`,
        `projects/${id}/jobs/${finished}`,
        `projects/${id}/jobs/${finished}/trace`,
        `projects/${id}/pipelines/${pipelineId}/jobs`,
        `projects/${id}/pipelines/${pipelineId}/bridges`,
      ]) {
        const r = await fetch(`${server.api}/${path}`, { headers });
        expect(r.status, path).toBe(200);
      }
      // GitLab's read_api answers HEAD too (`request.get? || request.head?`).
      expect((await fetch(`${server.api}/projects/${id}/jobs`, { method: "HEAD", headers })).status).toBe(
        200,
      );
      for (const action of ["cancel", "retry", "erase", "play"]) {
        const job = await jobFor(`${action}Job`, "own");
        const before = await (await fetch(`${server.api}/projects/${id}/jobs/${job}`, { headers })).json();
        const r = await fetch(`${server.api}/projects/${id}/jobs/${job}/${action}`, {
          method: "POST",
          headers,
        });
        await expectInsufficientScope(r, action);
        const after = await (await fetch(`${server.api}/projects/${id}/jobs/${job}`, { headers })).json();
        expect(after, action).toEqual(before);
      }
    });
  }

  it("refuses a token with neither api, read_api nor ai_workflows on every route, before looking at the project", async () => {
    const token = await scopedToken(["read_user", "read_repository"]);
    const headers = { "PRIVATE-TOKEN": token };
    const { own, invisible, public: open } = m.projects;
    const job = await jobFor("getJob", "own");
    for (const path of [
      `projects/${own.id}/jobs`,
      `projects/${own.id}/jobs/${job}`,
      `projects/${own.id}/jobs/${job}/trace`,
      // APIGuard checks scopes when the route first asks for current_user: authenticate! here, find_project!
      // on the pipeline lists (authenticate_non_get!), before their 404 or their anonymous reading.
      `projects/${invisible.id}/jobs`,
      `projects/${open.id}/pipelines/${open.pipelineId}/jobs`,
      `projects/${open.id}/pipelines/${open.pipelineId}/bridges`,
      // jobs.rb `resource :job`: authenticate! comes before validate_current_authenticated_job's 404.
      "job",
      "job/allowed_agents",
    ]) {
      await expectInsufficientScope(await fetch(`${server.api}/${path}`, { headers }), path);
    }
    const r = await fetch(`${server.api}/projects/${own.id}/jobs/${job}/retry`, { method: "POST", headers });
    await expectInsufficientScope(r, "retry");
  });

  it("answers a read_api token on /job with 404 Job Not Found, as any valid non-job token", async () => {
    const r = await fetch(`${server.api}/job`, {
      headers: { "PRIVATE-TOKEN": await scopedToken(["read_api"]) },
    });
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ message: "404 Job Not Found" });
  });

  it("refuses an expired or revoked token as such whatever its scopes (validated before the scopes)", async () => {
    const expired = `glpat-${randomUUID()}`;
    await store.createAccessToken(db, {
      userId: m.userId,
      token: expired,
      scopes: ["read_user"],
      expiresAt: new Date(Date.now() - 1000),
    });
    const r = await fetch(`${server.api}/projects/${m.projects.own.id}/jobs`, {
      headers: { "PRIVATE-TOKEN": expired },
    });
    expect(r.status).toBe(401);
    expect(await r.json()).toMatchObject({ error: "invalid_token" });
  });

  it("keeps job tokens and api tokens as they were (job tokens carry no scopes)", async () => {
    const own = m.projects.own.id;
    expect(
      (await fetch(`${server.api}/projects/${own}/jobs`, { headers: { "JOB-TOKEN": m.tokens.job } })).status,
    ).toBe(200);
    expect((await fetch(`${server.api}/job`, { headers: { "JOB-TOKEN": m.tokens.job } })).status).toBe(200);
    const both = await scopedToken(["read_api", "api"]);
    const job = await jobFor("cancelJob", "own");
    const r = await fetch(`${server.api}/projects/${own}/jobs/${job}/cancel`, {
      method: "POST",
      headers: { "PRIVATE-TOKEN": both },
    });
    expect(r.status).toBe(201);
  });
});
