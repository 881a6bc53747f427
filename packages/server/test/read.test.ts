import { describe, expect, it } from "vitest";
import { type Database, DEMO_IDS, DEMO_TOKENS, type DemoServer, store } from "../src/index.js";
import { createWorld, type World } from "./helpers/fixtures.js";
import { keepAliveAgent, sendRaw } from "./helpers/http.js";
import { call, serveForFile } from "./helpers/server.js";

let db: Database;
let server: DemoServer;
let w: World;
const T = DEMO_TOKENS.maintainer;

serveForFile(async (d, s) => {
  db = d;
  server = s;
  w = await createWorld(db);
});

type JobJson = { id: number; status: string; failure_reason?: string; artifacts_file?: unknown };
const ids = (body: unknown) => (body as JobJson[]).map((j) => j.id);

describe("demo data: the page's examples", () => {
  it("serves job 8 by id and by URL-encoded path", async () => {
    for (const ref of ["1", "foo%2Fbar", "FOO%2Fbar"]) {
      const r = await call(`${server.api}/projects/${ref}/jobs/8`, { token: T });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({
        id: 8,
        name: "rubocop",
        status: "failed",
        duration: 0.465,
        queued_duration: 0.01,
        web_url: "https://example.com/foo/bar/-/jobs/8",
        pipeline: { id: 6, project_id: 1, ref: "main", status: "pending" },
        commit: { id: "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd", short_id: "0ff3ae19" },
        user: { id: 1, username: "root", name: "Administrator" },
        tag_list: ["docker runner", "macos-10.15"],
      });
    }
  });

  it("lists pipeline 6 newest first, with artifacts_file only for the archive", async () => {
    const r = await call(`${server.api}/projects/1/pipelines/6/jobs?scope[]=failed`, { token: T });
    expect(r.status).toBe(200);
    expect(ids(r.body)).toEqual([8, 7, 6]);
    const [eight, seven] = r.body as JobJson[];
    expect(seven?.artifacts_file).toEqual({ filename: "artifacts.zip", size: 1000 });
    expect(eight && "artifacts_file" in eight).toBe(false);
    expect(r.headers.get("x-total")).toBe("3");
  });

  it("sends no artifacts_file once the archive has expired, though the archive is still listed", async () => {
    const r = await call(`${server.api}/projects/1/jobs?scope=success&per_page=100`, { token: T });
    const expired = (r.body as (JobJson & { artifacts: { file_type: string }[] })[]).filter((j) =>
      j.artifacts.some((a) => a.file_type === "archive"),
    );
    expect(expired.length).toBeGreaterThan(0);
    for (const job of expired) expect(job).not.toHaveProperty("artifacts_file");
  });

  it("sends the user, commit, runner and runner manager attributes of GitLab's entities", async () => {
    const job = await call(`${server.api}/projects/1/jobs/${DEMO_IDS.runningJob}`, { token: T });
    expect(job.status).toBe(200);
    const body = job.body as Record<string, Record<string, unknown>>;
    expect(body.user).toEqual({
      id: 1,
      username: "root",
      name: "Administrator",
      state: "active",
      locked: false,
      avatar_url: "http://www.gravatar.com/avatar/e64c7d89f26bd1972efa854d13d7dd61?s=80&d=identicon",
      web_url: "http://gitlab.dev/root",
      created_at: "2015-12-21T13:14:24.077Z",
      bio: null,
      location: null,
      public_email: "",
      skype: "",
      linkedin: "",
      twitter: "",
      discord: "",
      website_url: "",
      organization: "",
      job_title: "",
      pronouns: null,
      bot: false,
      work_information: null,
      followers: 2,
      following: 1,
      is_followed: false,
      local_time: null,
    });
    expect(body.commit).toMatchObject({
      id: "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd",
      parent_ids: [],
      authored_date: "2015-12-24T15:51:14.000Z",
      committer_name: "Administrator",
      committer_email: "admin@example.com",
      committed_date: "2015-12-24T15:51:14.000Z",
      trailers: {},
      extended_trailers: {},
      web_url: "https://example.com/foo/bar/-/commit/0ff3ae198f8601a285adcf5c0fff204ee6fba5fd",
    });
    expect(body.runner).toMatchObject({
      ip_address: null,
      created_at: "2015-12-21T13:20:00.000Z",
      job_execution_status: "active",
      created_by: { id: 1, username: "root", locked: false },
    });
    expect(body.runner_manager).toMatchObject({
      system_id: "s_0e6850b2bce1",
      version: "17.5.0",
      platform: "linux",
      architecture: "amd64",
      ip_address: "127.0.0.1",
      status: "online",
      job_execution_status: "active",
    });
  });

  it("sends tag_list sorted, as GitLab's Job entity does (job.rb: job.tags.map(&:name).sort)", async () => {
    const id = await store.createJob(db, {
      pipelineId: w.pipelineId,
      name: "tags",
      status: "success",
      tagList: ["ruby", "docker", "Linux", "arm64"],
    });
    const r = await call(`${server.api}/projects/${w.projectId}/jobs/${id}`, { token: w.tokens.maintainer });
    expect((r.body as { tag_list: string[] }).tag_list).toEqual(["Linux", "arm64", "docker", "ruby"]);
  });

  it("follows GitLab's conditions on the user: work information, local time, follows, private profiles", async () => {
    // The developer (job title, organization, time zone) is followed by root, who reads here.
    const r = await call(`${server.api}/projects/1/jobs?per_page=100`, { token: T });
    const users = (r.body as { user: Record<string, unknown> | null }[]).map((j) => j.user);
    const developer = users.find((u) => u?.username === "developer");
    expect(developer).toMatchObject({
      job_title: "Software Engineer",
      organization: "Example Corp",
      work_information: "Software Engineer at Example Corp",
      pronouns: "they/them",
      discord: "123456789012345678",
      followers: 1,
      following: 1,
      is_followed: true,
    });
    expect(developer?.local_time).toMatch(/^(1[0-2]|[1-9]):[0-5][0-9] (AM|PM)$/);
    // The outsider's profile is private: no created_at and no follow counts for others, all for themselves.
    const downstream = `${server.api}/projects/2/pipelines/${DEMO_IDS.downstreamPipeline}/jobs`;
    const [seenByOther] = (await call(downstream, { token: T })).body as { user: Record<string, unknown> }[];
    expect(seenByOther?.user.username).toBe("outsider");
    for (const hidden of ["created_at", "followers", "following", "is_followed"]) {
      expect(seenByOther?.user).not.toHaveProperty(hidden);
    }
    const [seenBySelf] = (await call(downstream, { token: DEMO_TOKENS.outsider })).body as {
      user: Record<string, unknown>;
    }[];
    expect(seenBySelf?.user).toMatchObject({ followers: 0, following: 0, is_followed: false });
    expect(seenBySelf?.user).toHaveProperty("created_at");
  });

  it("lists the bridges newest first, with their downstream pipeline when there is one", async () => {
    const r = await call(`${server.api}/projects/1/pipelines/6/bridges`, { token: T });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject([
      { id: DEMO_IDS.createdBridge, downstream_pipeline: null },
      {
        id: DEMO_IDS.bridge,
        downstream_pipeline: { id: 5, sha: "f62a4b2fb89754372a346f24659212eb8da13601" },
      },
    ]);
  });
});

describe("listProjectJobs", () => {
  it("lists builds newest first, retried included, bridges excluded", async () => {
    const r = await call(`${server.api}/projects/${w.projectId}/jobs?per_page=100`, {
      token: w.tokens.reporter,
    });
    expect(r.status).toBe(200);
    const list = ids(r.body);
    expect(list).toEqual([...list].sort((a, b) => b - a));
    expect(list).not.toContain(w.bridge);
    expect(list).toContain(w.manualJob);
  });

  it.each([
    ["scope=failed", ["failed"]],
    ["scope=failed&scope=success", ["failed", "success"]],
    ["scope[]=failed&scope[]=success", ["failed", "success"]],
    ["scope%5B%5D=pending", ["pending"]],
  ])("filters with %s", async (query, statuses) => {
    const r = await call(`${server.api}/projects/${w.projectId}/jobs?${query}`, { token: w.tokens.reporter });
    expect(r.status).toBe(200);
    const body = r.body as JobJson[];
    expect(body.length).toBeGreaterThan(0);
    for (const job of body) expect(statuses).toContain(job.status);
  });

  it("paginates without counts and repeats every query parameter in Link", async () => {
    const url = `${server.api}/projects/${w.path.replace("/", "%2F")}/jobs?scope[]=failed&scope[]=manual&per_page=1&page=2&private_token=${w.tokens.reporter}`;
    const r = await call(url);
    expect(r.status).toBe(200);
    expect(ids(r.body)).toHaveLength(1);
    expect(r.headers.get("x-page")).toBe("2");
    expect(r.headers.get("x-per-page")).toBe("1");
    expect(r.headers.get("x-prev-page")).toBe("1");
    expect(r.headers.get("x-next-page")).toBe("3");
    expect(r.headers.has("x-total")).toBe(false);
    expect(r.headers.has("x-total-pages")).toBe(false);
    const link = r.headers.get("link") ?? "";
    expect(link).toContain('rel="prev"');
    expect(link).toContain('rel="next"');
    expect(link).toContain('rel="first"');
    expect(link).not.toContain('rel="last"');
    for (const part of link.split(", ")) {
      // Every parameter of the route, sorted and encoded as ActiveSupport's to_query writes them.
      expect(part).toMatch(
        new RegExp(
          `\\?id=${w.path.replace("/", "%2F")}&page=\\d&per_page=1&private_token=${w.tokens.reporter}&scope%5B%5D=failed&scope%5B%5D=manual>`,
        ),
      );
    }
    const next = /<([^>]+)>; rel="next"/.exec(link)?.[1] ?? "";
    const followed = await call(next);
    expect(followed.headers.get("x-page")).toBe("3");
    expect((followed.body as { status: string }[]).map((j) => j.status)).toEqual(["failed"]);
    const last = await call(url.replace("page=2", "page=3"));
    expect(last.headers.get("x-next-page")).toBe("");
    expect(last.headers.get("link")).not.toContain('rel="next"');
  });

  it.each([
    ["500", "100"],
    ["-3", "20"],
  ])(
    "writes the per_page it served in Link, not the one sent (per_page=%s → %s, the paginator's limit_value)",
    async (sent, served) => {
      const r = await call(`${server.api}/projects/${w.projectId}/jobs?per_page=${sent}`, {
        token: w.tokens.reporter,
      });
      expect(r.status).toBe(200);
      expect(r.headers.get("x-per-page")).toBe(served);
      for (const part of (r.headers.get("link") ?? "").split(", ")) {
        expect(new URL(/<([^>]+)>/.exec(part)?.[1] ?? "").searchParams.get("per_page")).toBe(served);
      }
    },
  );

  it("encodes in Link what a URI may not hold, so no parameter can break the header", async () => {
    const r = await call(`${server.api}/projects/${w.projectId}/jobs?per_page=1&note=a>b<c"d`, {
      token: w.tokens.reporter,
    });
    const link = r.headers.get("link") ?? "";
    expect(link).toContain("note=a%3Eb%3Cc%22d");
    expect(link.split(", ").every((part) => /^<[^<>"]+>; rel="\w+"$/.test(part))).toBe(true);
  });

  it("writes Link values as Ruby's CGI.escape does: a space as +, ! ' ( ) * encoded, ~ . - _ kept", async () => {
    // offset_header_builder.rb `page_href`: `params.merge(…).to_query`, and ActiveSupport's `to_query`
    // escapes every key and value with `CGI.escape`.
    const r = await call(`${server.api}/projects/${w.projectId}/jobs?per_page=1&note=a%20b!'()*~.-_`, {
      token: w.tokens.reporter,
    });
    expect(r.headers.get("link")).toContain("&note=a+b%21%27%28%29%2A~.-_&");
  });

  it("walks every job with keyset pagination, newest first (GitLab: Ci::Build.supported_keyset_orderings)", async () => {
    const all = ids(
      (
        await call(`${server.api}/projects/${w.projectId}/jobs?per_page=100`, {
          token: T.length ? w.tokens.owner : "",
        })
      ).body,
    );
    for (const sort of ["desc"] as const) {
      let next: string | undefined =
        `${server.api}/projects/${w.projectId}/jobs?pagination=keyset&order_by=id&sort=${sort}&per_page=4`;
      const seen: number[] = [];
      while (next) {
        const r = await call(next, { token: w.tokens.owner });
        expect(r.status).toBe(200);
        expect(r.headers.has("x-page")).toBe(false);
        seen.push(...ids(r.body));
        next = /<([^>]+)>; rel="next"/.exec(r.headers.get("link") ?? "")?.[1];
        if (next) expect(next).toContain(`sort=${sort}`);
      }
      expect(seen).toEqual(all);
    }
  });

  /** The project jobs list with `query` answers 400 `{"error": error}`. */
  const refused = async (query: string, error: string) => {
    const r = await call(`${server.api}/projects/${w.projectId}/jobs?${query}`, { token: w.tokens.owner });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error });
  };

  it.each([
    ["scope=bogus", "scope does not have a valid value"],
    ["scope[]=failed&scope[]=nope", "scope does not have a valid value"],
    ["per_page=0", "per_page has a value not allowed"],
    ["per_page=abc", "per_page is invalid"],
    ["page=x", "page is invalid"],
  ])("answers 400 for %s", refused);

  // Grape runs every validator of the route and raises their errors together (grape 2.0.0, GitLab's
  // Gemfile.checksum 1935348f: endpoint.rb `run_validators`); ValidationErrors groups them by parameter,
  // drops repeats and joins them with ", " (validation_errors.rb:10-13, 36-47), and api.rb's
  // `rescue_from Grape::Exceptions::Base` answers that text as `{"error": …}`. The order is the route's
  // declaration: `use :optional_scope`, then `use :pagination` (jobs.rb:49-52, 017a6c12), page before
  // per_page (pagination_params.rb:20-22, 495a5c79).
  it.each([
    [
      "scope[]=bogus&per_page=abc&page=x",
      "scope does not have a valid value, page is invalid, per_page is invalid",
    ],
    ["per_page=abc&scope=nope", "scope does not have a valid value, per_page is invalid"],
    // Both integers Ajv reads as numbers and Grape's Integer(text, 10) refuses.
    ["per_page=2e3&page=1e3", "page is invalid, per_page is invalid"],
    ["per_page=0&page=1e3", "page is invalid, per_page has a value not allowed"],
    // A bad parameter beside good ones is reported alone.
    ["page=x&scope[]=failed&per_page=5", "page is invalid"],
    // `values` judges the whole list once (values_validator.rb `check_values`): scope is named once.
    ["scope[]=bogus&scope[]=nope&page=x", "scope does not have a valid value, page is invalid"],
  ])("reports every invalid parameter at once, in jobs.rb's order: %s", refused);

  // A failed coercion leaves the value as sent (coerce_validator.rb `validate_param!` raises before assigning
  // it), and the validators after it still run on that value (params_scope.rb `validates`: presence, then
  // coerce, then the rest). scope[a][b]=failed is {"a"=>{"b"=>"failed"}} in Rack; jobs.rb's coerce_with takes
  // its values, [{"b"=>"failed"}], which is no Array[String] (`is invalid`), and `values` then refuses the
  // hash as sent (`does not have a valid value`). per_page=0e0 fails only the coercion: except_values [0]
  // sees the text "0e0", never 0.
  it.each([
    ["scope[a][b]=failed", "scope is invalid, scope does not have a valid value"],
    ["per_page=0e0", "per_page is invalid"],
    ["per_page=0e0&page=0", "per_page is invalid"],
  ])("names each way one parameter fails, as Grape does: %s", refused);

  describe("cursor, read as GitLab's keyset paginator reads it (keyset/paginator.rb Base64CursorConverter, decode_cursor_attributes)", () => {
    const jobs = (query: string) =>
      call(`${server.api}/projects/${w.projectId}/jobs?${query}`, { token: w.tokens.owner });
    const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

    it("takes a blank cursor for the first page, and ignores any cursor without keyset pagination", async () => {
      const first = await jobs("pagination=keyset&per_page=3");
      for (const query of [
        "pagination=keyset&per_page=3&cursor=",
        "pagination=keyset&per_page=3&cursor=%20",
      ]) {
        const r = await jobs(query);
        expect(r.status, query).toBe(200);
        expect(ids(r.body), query).toEqual(ids(first.body));
      }
      for (const cursor of ["", "!!", "x".repeat(600)]) {
        expect((await jobs(`per_page=3&cursor=${cursor}`)).status, cursor).toBe(200);
      }
    });

    it("writes GitLab's cursor, {id: last id as text, _kd: n}, padded base64url", async () => {
      const first = await jobs("pagination=keyset&per_page=3");
      const next = /[?&]cursor=([^&>]+)/.exec(first.headers.get("link") ?? "")?.[1];
      const decoded = Buffer.from(decodeURIComponent(next ?? ""), "base64url").toString("utf8");
      expect(JSON.parse(decoded)).toEqual({ id: String(ids(first.body).at(-1)), _kd: "n" });
    });

    it.each([
      ["a cursor id no job has", { id: -1 }],
      ["an id Rails sends as NULL", { id: "abc" }],
    ])("answers 200 with no jobs for %s", async (_, value) => {
      const r = await jobs(`pagination=keyset&cursor=${cursorOf(value)}`);
      expect(r.status).toBe(200);
      expect(r.body).toEqual([]);
    });

    it("pages backward with _kd p, newest first, and from the last page without an id", async () => {
      const all = ids((await jobs("pagination=keyset&per_page=100")).body);
      const pivot = all[5] ?? 0;
      const newer = await jobs(
        `pagination=keyset&per_page=2&cursor=${cursorOf({ id: String(pivot), _kd: "p" })}`,
      );
      expect(ids(newer.body)).toEqual(all.slice(3, 5));
      expect(newer.headers.get("link")).toContain('rel="next"');
      const last = await jobs(`pagination=keyset&per_page=2&cursor=${cursorOf({ _kd: "p" })}`);
      expect(ids(last.body)).toEqual(all.slice(-2));
      expect(last.headers.has("link")).toBe(false);
    });

    it.each([
      ["not base64", "!!"],
      ["base64 of no JSON", Buffer.from("nope").toString("base64url")],
      ["JSON that is no object", cursorOf([1])],
      ["other keys than id (Order#verify_incoming_values!)", cursorOf({ id: 1, name: "x" })],
      ["a backward page with no job to continue from", "newest"],
    ])("answers 500 as GitLab does for %s", async (_, given) => {
      // Nothing is newer than the newest job: its backward page is empty, and has no last job.
      const newest = ids((await jobs("pagination=keyset&per_page=1")).body)[0];
      const cursor = given === "newest" ? cursorOf({ id: String(newest), _kd: "p" }) : given;
      const r = await jobs(`pagination=keyset&cursor=${cursor}`);
      expect(r.status).toBe(500);
      expect(r.body).toEqual({ message: "500 Internal Server Error" });
    });
  });

  it("reads scope sent as a hash by its values, and a repeated plain key by its last value (jobs.rb, Rack)", async () => {
    const list = (query: string) =>
      call(`${server.api}/projects/${w.projectId}/jobs?per_page=100&${query}`, { token: w.tokens.owner });
    const statuses = (body: unknown) => new Set((body as JobJson[]).map((job) => job.status));
    expect(statuses((await list("scope[a]=failed&scope[b]=manual")).body)).toEqual(
      new Set(["failed", "manual"]),
    );
    expect(statuses((await list("scope=failed&scope=manual")).body)).toEqual(new Set(["manual"]));
    // Rack: a later plain key replaces an earlier list (query_parser.rb `normalize_params`).
    expect(statuses((await list("scope[]=failed&scope=manual")).body)).toEqual(new Set(["manual"]));
  });

  // Rack reads a form or multipart body whatever the method (request.rb:323-327 `form_data?`, :350-373 `POST`)
  // and Grape's params are `GET.merge(POST)` (:378-382; grape request.rb:9): a GET's form body gives the
  // route's parameters, over the query's. Grape's formatter reads no GET's body (formatter.rb:120-125), so a
  // JSON body gives none (Rack's `POST` is `{}` for it).
  it("reads a GET's form or multipart body as parameters, over the query's, and not a JSON one (Rack GET.merge(POST))", async () => {
    const agent = keepAliveAgent();
    const list = (query: string, type: string, body: string) =>
      sendRaw(
        server.origin,
        {
          method: "GET",
          target: `/api/v4/projects/${w.projectId}/jobs?per_page=100${query}`,
          headers: { "PRIVATE-TOKEN": w.tokens.owner, "Content-Type": type },
          body,
        },
        agent,
      );
    const statuses = (body: string) => new Set((JSON.parse(body) as JobJson[]).map((job) => job.status));
    const form = "application/x-www-form-urlencoded";
    try {
      expect(statuses((await list("", form, "scope=failed")).body)).toEqual(new Set(["failed"]));
      expect(statuses((await list("&scope=success", form, "scope[]=failed&scope[]=manual")).body)).toEqual(
        new Set(["failed", "manual"]),
      );
      // Read as Grape reads the query's: a hash by its values, the values checked, integers as Ruby's.
      expect(statuses((await list("", form, "scope[a]=manual")).body)).toEqual(new Set(["manual"]));
      const bogus = await list("&scope=failed", form, "scope=bogus");
      expect(bogus.status).toBe(400);
      expect(JSON.parse(bogus.body)).toEqual({ error: "scope does not have a valid value" });
      const paged = await list("", form, "per_page=1_0");
      expect(paged.headers["x-per-page"]).toBe("10");
      const boundary = "jobs-api-boundary";
      const multipart = await list(
        "&scope=success",
        `multipart/form-data; boundary=${boundary}`,
        `--${boundary}\r\nContent-Disposition: form-data; name="scope"\r\n\r\nfailed\r\n--${boundary}--\r\n`,
      );
      expect(statuses(multipart.body)).toEqual(new Set(["failed"]));
      expect(statuses((await list("&scope=success", "application/json", '{"scope":"failed"}')).body)).toEqual(
        new Set(["success"]),
      );
    } finally {
      agent.destroy();
    }
  });

  // Grape's PrimitiveCoercer reads '' as nil for every type but String (`treat_as_nil?`) and the `default:`
  // applies (pagination_params.rb); a key without `=` is nil in Rack, and api.rb's `coerce_nil_params_to_array!`
  // makes `scope` [] (every job, jobs.rb `filter_builds`), while `scope=` is [''] and fails `values`.
  it("reads an empty page, per_page or scope as GitLab does (Grape treat_as_nil?, coerce_nil_params_to_array!)", async () => {
    const list = (query: string) =>
      call(`${server.api}/projects/${w.projectId}/jobs?${query}`, { token: w.tokens.owner });
    const plain = await list("");
    for (const query of [
      "page=",
      "per_page=",
      "page",
      "per_page",
      "page=&per_page=",
      "scope",
      "page=abc&page=1",
    ]) {
      const r = await list(query);
      expect(r.status, query).toBe(200);
      expect(ids(r.body), query).toEqual(ids(plain.body));
      expect(r.headers.get("x-page"), query).toBe("1");
      expect(r.headers.get("x-per-page"), query).toBe("20");
    }
    for (const query of ["scope=", "scope[]="]) {
      const r = await list(query);
      expect(r.status, query).toBe(400);
      expect(r.body, query).toEqual({ error: "scope does not have a valid value" });
    }
  });

  it.each([
    ["per_page=101", { "x-per-page": "100", "x-page": "1" }],
    ["per_page=1000", { "x-per-page": "100", "x-page": "1" }],
    ["per_page=-5", { "x-per-page": "20", "x-page": "1" }],
    ["page=0&per_page=2", { "x-per-page": "2", "x-page": "1" }],
    ["page=-3&per_page=2", { "x-per-page": "2", "x-page": "1" }],
  ])(
    "serves %s as Kaminari does (GitLab: pagination_params.rb, kaminari_config.rb)",
    async (query, headers) => {
      const r = await call(`${server.api}/projects/${w.projectId}/jobs?${query}`, { token: w.tokens.owner });
      expect(r.status).toBe(200);
      for (const [name, value] of Object.entries(headers)) expect(r.headers.get(name), name).toBe(value);
    },
  );

  it("serves offset pages beyond 50,000 jobs by default, the flag being off (cursor_based_keyset.rb:23-27, enforce_ci_builds_pagination_limit.yml default_enabled: false)", async () => {
    const r = await call(`${server.api}/projects/${w.projectId}/jobs?page=501&per_page=100`, {
      token: w.tokens.owner,
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual([]);
  });

  it("answers 405 beyond the offset limit of 50,000 where enforce_ci_builds_pagination_limit is on (pagination_strategies.rb:49-59)", async () => {
    const flagged = await createWorld(db, { featureFlags: ["enforce_ci_builds_pagination_limit"] });
    const r = await call(`${server.api}/projects/${flagged.projectId}/jobs?page=501&per_page=100`, {
      token: flagged.tokens.owner,
    });
    expect(r.status).toBe(405);
    expect(r.body).toEqual({
      error:
        "Offset pagination has a maximum allowed offset of 50000 for requests that return objects of type Ci::Build. Remaining records can be retrieved using keyset pagination.",
    });
    const last = await call(`${server.api}/projects/${flagged.projectId}/jobs?page=500&per_page=100`, {
      token: flagged.tokens.owner,
    });
    expect(last.status).toBe(200);
  });

  it("takes per_page as sent with keyset pagination, without the cap of 100 (cursor_based_request_context.rb:18-20, paginator.rb per_page_plus_one)", async () => {
    const many = await createWorld(db);
    for (let i = 0; i < 100; i += 1) {
      await store.createJob(db, { pipelineId: many.pipelineId, name: `extra-${i}`, status: "success" });
    }
    const all = await call(`${server.api}/projects/${many.projectId}/jobs?pagination=keyset&per_page=500`, {
      token: many.tokens.owner,
    });
    expect(all.status).toBe(200);
    expect((all.body as JobJson[]).length).toBeGreaterThan(100);
    expect(all.headers.has("link")).toBe(false);
    const first = await call(`${server.api}/projects/${many.projectId}/jobs?pagination=keyset&per_page=101`, {
      token: many.tokens.owner,
    });
    expect((first.body as JobJson[]).length).toBe(101);
    expect(first.headers.get("link")).toContain("per_page=101");
    const offset = await call(`${server.api}/projects/${many.projectId}/jobs?per_page=500`, {
      token: many.tokens.owner,
    });
    expect((offset.body as JobJson[]).length).toBe(100);
  });

  it.each(["-1", "-5"])(
    "answers 500 as GitLab does for per_page=%s with keyset pagination (a negative LIMIT, or an empty page read as full: paginator.rb records)",
    async (perPage) => {
      const r = await call(
        `${server.api}/projects/${w.projectId}/jobs?pagination=keyset&per_page=${perPage}`,
        {
          token: w.tokens.owner,
        },
      );
      expect(r.status).toBe(500);
      expect(r.body).toEqual({ message: "500 Internal Server Error" });
    },
  );

  it("answers 405 for keyset pagination in an unsupported order, and ignores order_by without keyset", async () => {
    for (const order of ["order_by=name", "sort=asc", "order_by=id&sort=asc"]) {
      const keyset = await call(`${server.api}/projects/${w.projectId}/jobs?pagination=keyset&${order}`, {
        token: w.tokens.owner,
      });
      expect(keyset.status, order).toBe(405);
      expect(keyset.body).toEqual({
        error: "Keyset pagination is not yet available for this type of request",
      });
    }
    const offset = await call(`${server.api}/projects/${w.projectId}/jobs?order_by=name`, {
      token: w.tokens.owner,
    });
    expect(offset.status).toBe(200);
  });
});

describe("listPipelineJobs and listPipelineBridges", () => {
  it("hides retried jobs unless include_retried=true", async () => {
    // A world of its own: the retry would change what the other tests of this file list.
    const w = await createWorld(db);
    const retried = await call(`${server.api}/projects/${w.projectId}/jobs/${w.jobs.failed}/retry`, {
      method: "POST",
      token: w.tokens.developer,
    });
    expect(retried.status).toBe(201);
    const newId = (retried.body as JobJson).id;
    const base = `${server.api}/projects/${w.projectId}/pipelines/${w.pipelineId}/jobs?per_page=100`;
    const hidden = ids((await call(base, { token: w.tokens.reporter })).body);
    expect(hidden).toContain(newId);
    expect(hidden).not.toContain(w.jobs.failed);
    const shown = ids((await call(`${base}&include_retried=true`, { token: w.tokens.reporter })).body);
    expect(shown).toContain(w.jobs.failed);
  });

  it("reads an empty include_retried as false, and refuses scope as a hash or empty (Grape, pipelines_helpers.rb)", async () => {
    const base = `${server.api}/projects/${w.projectId}/pipelines/${w.pipelineId}/jobs?per_page=100`;
    const plain = await call(base, { token: w.tokens.reporter });
    for (const query of ["include_retried=", "include_retried"]) {
      const r = await call(`${base}&${query}`, { token: w.tokens.reporter });
      expect(r.status, query).toBe(200);
      expect(ids(r.body), query).toEqual(ids(plain.body));
    }
    // Rack reads `scope[0]` as a hash, which the route's `coerce_with` makes ['unknown'].
    for (const query of ["scope[0]=failed", "scope="]) {
      const r = await call(`${base}&${query}`, { token: w.tokens.reporter });
      expect(r.status, query).toBe(400);
      expect(r.body, query).toEqual({ error: "scope does not have a valid value" });
    }
  });

  it("sends counts and rel=last", async () => {
    const r = await call(
      `${server.api}/projects/${w.projectId}/pipelines/${w.pipelineId}/jobs?per_page=5&page=2`,
      {
        token: w.tokens.reporter,
      },
    );
    expect(r.status).toBe(200);
    const total = Number(r.headers.get("x-total"));
    expect(total).toBeGreaterThan(10);
    expect(r.headers.get("x-total-pages")).toBe(String(Math.ceil(total / 5)));
    // OffsetHeaderBuilder: the route's params (path ids and defaults included) in to_query's sorted order.
    expect(r.headers.get("link")).toContain(
      `?id=${w.projectId}&include_retried=false&page=${Math.ceil(total / 5)}&per_page=5&pipeline_id=${w.pipelineId}>; rel="last"`,
    );
    const beyond = await call(
      `${server.api}/projects/${w.projectId}/pipelines/${w.pipelineId}/jobs?page=99`,
      {
        token: w.tokens.reporter,
      },
    );
    expect(beyond.body).toEqual([]);
    expect(beyond.headers.get("x-prev-page")).toBe("");
  });

  it("lists bridges only, with counts", async () => {
    const r = await call(
      `${server.api}/projects/${w.projectId}/pipelines/${w.pipelineId}/bridges?scope=success`,
      {
        token: w.tokens.reporter,
      },
    );
    expect(r.status).toBe(200);
    expect(ids(r.body)).toEqual([w.bridge]);
    expect(r.headers.get("x-total")).toBe("1");
  });

  // A key alone is nil in Rack; api.rb's `before { coerce_nil_params_to_array! }` (common_helpers.rb:17-23)
  // makes it `[]`, which pipelines_helpers.rb's `coerce_with` keeps; jobs_finder.rb:62 `filter_by_scope` then
  // calls `filter_by_statuses!` for any Array, and `with_statuses([])` (state_machines-activerecord ~> 0.8.0,
  // Gemfile; empty lists are ignored only since 0.31.0) is `status IN (NULL)`: no job, where the project
  // list's `filter_builds` lists them all.
  it("lists no job for the key alone, ?scope (coerce_nil_params_to_array!, jobs_finder.rb filter_by_statuses!)", async () => {
    for (const op of ["jobs", "bridges"]) {
      const base = `${server.api}/projects/${w.projectId}/pipelines/${w.pipelineId}/${op}`;
      const all = await call(base, { token: w.tokens.owner });
      expect(ids(all.body).length, op).toBeGreaterThan(0);
      const r = await call(`${base}?scope`, { token: w.tokens.owner });
      expect(r.status, op).toBe(200);
      expect(r.body, op).toEqual([]);
      expect(r.headers.get("x-total"), op).toBe("0");
      const empty = await call(`${base}?scope=`, { token: w.tokens.owner });
      expect(empty.status, op).toBe(400);
      expect(empty.body, op).toEqual({ error: "scope does not have a valid value" });
    }
  });

  // pipelines.rb declares pipeline_id, include_retried, `use :optional_scope`, `use :pagination` for the
  // jobs, and the same without include_retried for the bridges (pipelines.rb:121-126 and the bridges' params,
  // a84766a2); Grape reports them all, in that order (validation_errors.rb:10-13, 36-47).
  it("reports every invalid parameter at once, in pipelines.rb's order", async () => {
    const query = "page=x&scope[]=bogus&include_retried=maybe&per_page=abc";
    for (const [path, error] of [
      [
        `pipelines/x1/jobs?${query}`,
        "pipeline_id is invalid, include_retried is invalid, scope does not have a valid value, page is invalid, per_page is invalid",
      ],
      [
        `pipelines/x1/bridges?${query}`,
        "pipeline_id is invalid, scope does not have a valid value, page is invalid, per_page is invalid",
      ],
      [`pipelines/${w.pipelineId}/jobs?include_retried=maybe&scope[]=failed`, "include_retried is invalid"],
    ]) {
      const r = await call(`${server.api}/projects/${w.projectId}/${path}`, { token: w.tokens.owner });
      expect(r.status, path).toBe(400);
      expect(r.body, path).toEqual({ error });
    }
  });

  it("answers 404 Not found for another project's pipeline and bad ids", async () => {
    for (const op of ["jobs", "bridges"]) {
      const r = await call(`${server.api}/projects/${w.projectId}/pipelines/${DEMO_IDS.pipeline}/${op}`, {
        token: w.tokens.owner,
      });
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ message: "404 Not found" });
      const bad = await call(`${server.api}/projects/${w.projectId}/pipelines/x1/${op}`, {
        token: w.tokens.owner,
      });
      expect(bad.status).toBe(400);
      expect(bad.body).toEqual({ error: "pipeline_id is invalid" });
    }
  });
});

describe("getJob and getJobTrace", () => {
  it("sends failure_reason only for failed jobs, unknown_failure when none was recorded", async () => {
    // app/models/concerns/enums/ci/commit_status.rb:9 maps `unknown_failure: nil`, and Rails' enum reads a
    // NULL column back as that key (EnumType#deserialize is `mapping.key(...)` since rails/rails#39998, 6.1);
    // lib/api/entities/ci/job_basic.rb:26-27 (0286e4c6) exposes it `if: ->(job) { job.failed? }`.
    const canceled = await call(`${server.api}/projects/${w.projectId}/jobs/${w.jobs.canceled}`, {
      token: w.tokens.reporter,
    });
    expect(canceled.status).toBe(200);
    expect(canceled.body).not.toHaveProperty("failure_reason");
    const pipelineId = await store.createPipeline(db, {
      projectId: w.projectId,
      commit: { sha: "b".repeat(40) },
    });
    const noReason = await store.createJob(db, { pipelineId, name: "no-reason", status: "failed" });
    const failed = await call(`${server.api}/projects/${w.projectId}/jobs/${noReason}`, {
      token: w.tokens.reporter,
    });
    expect(failed.status).toBe(200);
    expect(failed.body).toHaveProperty("failure_reason", "unknown_failure");
  });

  it("answers 404 for a bridge, another project's job and an unknown job", async () => {
    for (const id of [w.bridge, 8, 999_999_999]) {
      const r = await call(`${server.api}/projects/${w.projectId}/jobs/${id}`, { token: w.tokens.reporter });
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ message: "404 Not found" });
    }
  });

  it("reads job_id, pipeline_id, page and per_page as Ruby's Integer(text, 10) does: 1_0, 0d10 (dry-types Params::Integer)", async () => {
    const id = String(w.jobs.success);
    const spelled = [id.split("").join("_"), `0d${id}`, `+0_${id}`, `%20${id.split("").join("_")}%20`];
    for (const text of spelled) {
      const r = await call(`${server.api}/projects/${w.projectId}/jobs/${text}`, {
        token: w.tokens.reporter,
      });
      expect(r.status, text).toBe(200);
      expect((r.body as JobJson).id).toBe(w.jobs.success);
    }
    for (const text of [`${id}_`, `_${id}`, `1__0`, `0d_${id}`, `0x1A`]) {
      const r = await call(`${server.api}/projects/${w.projectId}/jobs/${text}`, {
        token: w.tokens.reporter,
      });
      expect(r.status, text).toBe(400);
      expect(r.body).toEqual({ error: "job_id is invalid" });
    }
    const pipeline = String(w.pipelineId).split("").join("_");
    const list = await call(
      `${server.api}/projects/${w.projectId}/pipelines/${pipeline}/jobs?per_page=0_1&page=0d2`,
      { token: w.tokens.reporter },
    );
    expect(list.status).toBe(200);
    expect(list.headers.get("x-per-page")).toBe("1");
    expect(list.headers.get("x-page")).toBe("2");
  });

  it("answers 400 for ids that are not integers, 404 for integers no job has (Grape Integer, find_build!)", async () => {
    for (const id of ["abc", "1.5", "1e3"]) {
      const r = await call(`${server.api}/projects/${w.projectId}/jobs/${id}`, { token: w.tokens.reporter });
      expect(r.status, id).toBe(400);
      expect(r.body).toEqual({ error: "job_id is invalid" });
    }
    for (const id of ["0", "-1", "99999999999999999999"]) {
      const r = await call(`${server.api}/projects/${w.projectId}/jobs/${id}`, { token: w.tokens.reporter });
      expect(r.status, id).toBe(404);
      expect(r.body).toEqual({ message: "404 Not found" });
    }
  });

  it("serves the log as text/plain, empty when there is none", async () => {
    const r = await call(`${server.api}/projects/${w.projectId}/jobs/${w.jobs.success}/trace`, {
      token: w.tokens.reporter,
    });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(r.headers.get("content-disposition")).toBe(`infile; filename="${w.jobs.success}.log"`);
    expect(r.text).toBe("log of success\n");
    const empty = await call(`${server.api}/projects/${w.projectId}/jobs/${w.jobs.created}/trace`, {
      token: w.tokens.reporter,
    });
    expect(empty.status).toBe(200);
    expect(empty.text).toBe("");
    const missing = await call(`${server.api}/projects/${w.projectId}/jobs/999999/trace`, {
      token: w.tokens.reporter,
    });
    expect(missing.status).toBe(404);
  });
});

describe("authentication and visibility", () => {
  const url = () => `${server.api}/projects/${w.projectId}/jobs/${w.jobs.success}`;

  it.each([
    ["no token", {}],
    ["unknown token", { "PRIVATE-TOKEN": "glpat-nope" }],
    ["OAuth token as PRIVATE-TOKEN", { "PRIVATE-TOKEN": DEMO_TOKENS.oauth }],
    ["malformed Authorization", { Authorization: "Bearer" }],
    ["finished job's token", { "JOB-TOKEN": DEMO_TOKENS.finishedJob }],
  ])("answers 401 with %s", async (_name, headers) => {
    const r = await call(url(), { headers });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ message: "401 Unauthorized" });
  });

  it.each([
    [
      "expired",
      DEMO_TOKENS.expired,
      "Token is expired. You can either do re-authorization or token refresh.",
    ],
    ["revoked", DEMO_TOKENS.revoked, "Token was revoked. You have to re-authorize from the user."],
  ])(
    "answers the OAuth bearer error of APIGuard to a %s token (api_guard.rb)",
    async (_name, token, description) => {
      const spellings: Record<string, string>[] = [
        { "PRIVATE-TOKEN": token },
        { Authorization: `Bearer ${token}` },
      ];
      for (const headers of spellings) {
        const r = await call(url(), { headers });
        expect(r.status).toBe(401);
        expect(r.body).toEqual({ error: "invalid_token", error_description: description });
        expect(r.headers.get("www-authenticate")).toBe(
          `Bearer realm="Protected by OAuth 2.0", error="invalid_token", error_description="${description}"`,
        );
      }
    },
  );

  it("accepts every kind of token in header and query form", async () => {
    const demo = `${server.api}/projects/1/jobs/8`;
    const forms: [string, RequestInit][] = [
      [`${demo}`, { headers: { "PRIVATE-TOKEN": T } }],
      [`${demo}?private_token=${T}`, {}],
      [`${demo}`, { headers: { Authorization: `Bearer ${DEMO_TOKENS.oauth}` } }],
      [`${demo}`, { headers: { Authorization: `Bearer ${T}` } }],
      [`${demo}?access_token=${DEMO_TOKENS.oauth}`, {}],
    ];
    for (const [u, init] of forms) expect((await call(u, init)).status, u).toBe(200);
  });

  it("takes job tokens only on the routes that declare job_token_allowed (jobs.rb, pipelines.rb)", async () => {
    const job = DEMO_TOKENS.job;
    const allowed = [`${server.api}/projects/1/jobs`, `${server.api}/projects/1/pipelines/6/jobs`];
    for (const u of allowed) {
      const forms: [string, Record<string, string>][] = [
        [u, { "JOB-TOKEN": job }],
        [u, { Authorization: `Bearer ${job}` }],
        [`${u}?job_token=${job}`, {}],
      ];
      for (const [target, headers] of forms) {
        expect((await call(target, { headers })).status, `${target} ${JSON.stringify(headers)}`).toBe(200);
      }
    }
    for (const u of [`${server.api}/projects/1/jobs/8`, `${server.api}/projects/1/jobs/8/trace`]) {
      const r = await call(u, { headers: { "JOB-TOKEN": job } });
      expect(r.status, u).toBe(401);
      expect(r.body).toEqual({ message: "401 Unauthorized" });
    }
  });

  it("serves pipeline lists without a token (pipelines.rb: authenticate_non_get!)", async () => {
    const pub = await call(`${server.api}/projects/${DEMO_IDS.publicProject}/pipelines/5/jobs`, {
      token: "",
    });
    expect(pub.status).toBe(200);
    const bridges = await call(`${server.api}/projects/${DEMO_IDS.publicProject}/pipelines/5/bridges`, {
      token: "",
    });
    expect(bridges.status).toBe(200);
    const hidden = await call(`${server.api}/projects/1/pipelines/6/jobs`, { token: "" });
    expect(hidden.status).toBe(404);
    expect(hidden.body).toEqual({ message: "404 Project Not Found" });
    const bad = await call(`${server.api}/projects/${DEMO_IDS.publicProject}/pipelines/5/jobs`, {
      token: "glpat-nope",
    });
    expect(bad.status).toBe(401);
  });

  it("hides private projects from non-members and job tokens of other projects", async () => {
    const callers: [string, Record<string, string>][] = [
      [url(), { "PRIVATE-TOKEN": w.tokens.outsider }],
      [`${server.api}/projects/${w.projectId}/jobs`, { "JOB-TOKEN": DEMO_TOKENS.job }],
    ];
    for (const [target, headers] of callers) {
      const r = await call(target, { headers });
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ message: "404 Project Not Found" });
    }
    const unknown = await call(`${server.api}/projects/no%2Fsuch/jobs`, { token: T });
    expect(unknown.body).toEqual({ message: "404 Project Not Found" });
  });

  it("answers 404 Project Not Found to an id or path of any length (helpers.rb find_project!: no length limit)", async () => {
    for (const id of [`${"a".repeat(1500)}%2Fb`, "x".repeat(4000), "9".repeat(2000)]) {
      for (const target of [`/projects/${id}/jobs`, `/projects/${id}/jobs/1`]) {
        const r = await call(`${server.api}${target}`, { token: T });
        expect(r.status, `${target.length} characters`).toBe(404);
        expect(r.body).toEqual({ message: "404 Project Not Found" });
      }
    }
  });

  describe('public_builds (GitLab\'s "Public pipelines", db/structure.sql DEFAULT true)', () => {
    const reads = (v: World) => [
      `${server.api}/projects/${v.projectId}/jobs`,
      `${server.api}/projects/${v.projectId}/jobs/${v.jobs.success}`,
      `${server.api}/projects/${v.projectId}/jobs/${v.jobs.success}/trace`,
      `${server.api}/projects/${v.projectId}/pipelines/${v.pipelineId}/jobs`,
      `${server.api}/projects/${v.projectId}/pipelines/${v.pipelineId}/bridges`,
    ];

    it("lets a Guest read jobs, logs and pipeline jobs by default (project_policy.rb `rule { public_builds }.policy { enable :read_build }`)", async () => {
      for (const target of reads(w)) {
        const r = await call(target, { token: w.tokens.guest });
        expect(r.status, target).toBe(200);
      }
      const pub = await call(`${server.api}/projects/${DEMO_IDS.publicProject}/jobs`, {
        token: w.tokens.outsider,
      });
      expect(pub.status).toBe(200);
    });

    it("refuses a Guest (403) where public_builds is off, as jobs_spec.rb's guest contexts expect", async () => {
      const closed = await createWorld(db, { publicBuilds: false });
      for (const target of reads(closed)) {
        const r = await call(target, { token: closed.tokens.guest });
        expect(r.status, target).toBe(403);
        expect(r.body).toEqual({ message: "403 Forbidden" });
        expect((await call(target, { token: closed.tokens.reporter })).status, target).toBe(200);
      }
    });

    it("in a public project with public_builds off: jobs 403 to others, pipeline jobs an empty list (JobsFinder none), bridges 403", async () => {
      const open = await createWorld(db, { visibility: "public", publicBuilds: false });
      const [jobs, job, trace, pipelineJobs, bridges] = reads(open);
      for (const token of [open.tokens.outsider, undefined]) {
        const init = token ? { token } : {};
        const refused = token ? [jobs, job, trace, bridges] : [bridges];
        for (const target of refused) expect((await call(target ?? "", init)).status, target).toBe(403);
        const listed = await call(pipelineJobs ?? "", init);
        expect(listed.status).toBe(200);
        expect(listed.body).toEqual([]);
        expect(listed.headers.get("x-total")).toBe("0");
      }
    });
  });

  it("lets a job token act in its own project while its job runs", async () => {
    const r = await call(`${server.api}/projects/${w.projectId}/jobs`, {
      headers: { "JOB-TOKEN": w.runningJobToken },
    });
    expect(r.status).toBe(200);
  });
});

describe("getJobTokenJob and getJobTokenAllowedAgents", () => {
  it("returns the running job of the token, in all three forms", async () => {
    const forms: [string, RequestInit][] = [
      [`${server.api}/job`, { headers: { "JOB-TOKEN": DEMO_TOKENS.job } }],
      [`${server.api}/job?job_token=${DEMO_TOKENS.job}`, {}],
      [`${server.api}/job`, { headers: { Authorization: `Bearer ${DEMO_TOKENS.job}` } }],
    ];
    for (const [u, init] of forms) {
      const r = await call(u, init);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ id: DEMO_IDS.runningJob, status: "running" });
    }
  });

  it("answers 404 Job Not Found to other tokens and 401 to none or dead ones", async () => {
    for (const path of ["job", "job/allowed_agents"]) {
      const other = await call(`${server.api}/${path}`, { token: T });
      expect(other.status).toBe(404);
      expect(other.body).toEqual({ message: "404 Job Not Found" });
      const dead: Record<string, string>[] = [
        {},
        { "JOB-TOKEN": DEMO_TOKENS.finishedJob },
        { "JOB-TOKEN": "nope" },
      ];
      for (const headers of dead) {
        const r = await call(`${server.api}/${path}`, { headers });
        expect(r.status).toBe(401);
      }
    }
  });

  it("lists the agents configured in or shared with the job's project, as GitLab's route builds the answer", async () => {
    const r = await call(`${server.api}/job/allowed_agents`, { headers: { "JOB-TOKEN": DEMO_TOKENS.job } });
    expect(r.status).toBe(200);
    const body = r.body as { allowed_agents: { config_project: { id: number } }[] };
    // ci_access/finder.rb:14-15: the authorizations shared with the project (agent 2 of foo/cluster-management,
    // under the same top-level group, finder.rb:29-39), then the project's own agents.
    expect(body.allowed_agents.map((a) => a.config_project.id)).toEqual([DEMO_IDS.agentProject, 1]);
    expect({ ...body, allowed_agents: body.allowed_agents.map(({ config_project: _, ...a }) => a) }).toEqual({
      allowed_agents: [
        { id: 2, configuration: { access_as: { ci_job: {} } } },
        { id: 1, configuration: {} },
      ],
      job: { id: DEMO_IDS.runningJob },
      pipeline: { id: DEMO_IDS.pipeline },
      project: { id: 1, groups: [{ id: 1 }] },
      user: {
        id: 1,
        username: "root",
        roles_in_project: ["guest", "planner", "reporter", "developer", "maintainer"],
      },
      environment: { tier: "development", slug: "review-main-8dyme2" },
    });
    // auth_finders.rb: a Bearer token is tried as a job token on every route that takes job tokens.
    const bearer = await call(`${server.api}/job/allowed_agents`, {
      headers: { Authorization: `Bearer ${DEMO_TOKENS.job}` },
    });
    expect(bearer.status).toBe(200);
  });
});

describe("getJobTokenAllowedAgents beyond the demo data", () => {
  it("omits environment for a job without one, lists every ancestor group, and roles up to the user's", async () => {
    const top = await store.createGroup(db, { path: "top" });
    const sub = await store.createGroup(db, { path: "sub", parentId: top });
    const projectId = await store.createProject(db, {
      fullPath: `top/sub/agents-${Date.now()}`,
      groupId: sub,
    });
    const userId = await store.createUser(db, { username: `reporter-agents-${Date.now()}` });
    await store.addMember(db, projectId, userId, "reporter");
    const pipelineId = await store.createPipeline(db, { projectId });
    const jobId = await store.createJob(db, { pipelineId, name: "plain", status: "running", userId });
    const token = `glcbt-agents-${Date.now()}`;
    await store.createJobToken(db, jobId, token);
    const r = await call(`${server.api}/job/allowed_agents`, { headers: { "JOB-TOKEN": token } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      allowed_agents: [],
      job: { id: jobId },
      pipeline: { id: pipelineId },
      project: { id: projectId, groups: [{ id: sub }, { id: top }] },
      user: {
        id: userId,
        username: expect.stringMatching(/^reporter-agents-/),
        roles_in_project: ["guest", "planner", "reporter"],
      },
    });
  });
});

/** What `/job/allowed_agents` lists to a new running job of `job.projectId`, by the job token `glcbt-<name>`. */
async function allowedAgentsOfNewJob(
  name: string,
  job: { projectId: number; userId: number; environmentId?: number; protectedRef?: boolean },
): Promise<{ id: number; configuration: unknown; config_project: unknown }[]> {
  const pipelineId = await store.createPipeline(db, {
    projectId: job.projectId,
    protected: job.protectedRef,
  });
  const jobId = await store.createJob(db, {
    pipelineId,
    name: "deploy",
    status: "running",
    userId: job.userId,
    environmentId: job.environmentId,
  });
  const token = `glcbt-${name}`;
  await store.createJobToken(db, jobId, token);
  const r = await call(`${server.api}/job/allowed_agents`, { headers: { "JOB-TOKEN": token } });
  expect(r.status).toBe(200);
  return (r.body as { allowed_agents: { id: number; configuration: unknown; config_project: unknown }[] })
    .allowed_agents;
}

describe("getJobTokenAllowedAgents filters as GitLab's CiAccess::FilterService", () => {
  /** A job of a new project with a deployment to `environment` (if any), on a protected ref or not. */
  async function agentsOf(
    configs: Record<string, unknown>[],
    job: { environment?: string; protectedRef?: boolean },
  ): Promise<number[]> {
    const n = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const projectId = await store.createProject(db, { fullPath: `filter/app-${n}` });
    const toolsId = await store.createProject(db, { fullPath: `filter/tools-${n}` });
    const agentIds: number[] = [];
    for (const [i, config] of configs.entries())
      agentIds.push(
        await store.createAgent(db, {
          projectId: toolsId,
          name: `a${i}`,
          sharedWith: [{ projectId, config }],
        }),
      );
    const environmentId =
      job.environment === undefined
        ? undefined
        : await store.createEnvironment(db, { projectId, name: job.environment, slug: `env-${n}` });
    const userId = await store.createUser(db, { username: `filter-${n}` });
    const listed = await allowedAgentsOfNewJob(`filter-${n}`, {
      projectId,
      userId,
      environmentId,
      protectedRef: job.protectedRef,
    });
    return listed.map((a) => agentIds.indexOf(a.id));
  }

  it("keeps an authorization listing environments only when one matches the job's (filter_service.rb:26-50)", async () => {
    const configs = [
      {},
      { environments: [] },
      { environments: ["production"] },
      { environments: ["review/*"] },
      { environments: ["staging", "*view*"] },
    ];
    expect(await agentsOf(configs, { environment: "review/main" })).toEqual([0, 1, 3, 4]);
    expect(await agentsOf(configs, { environment: "production" })).toEqual([0, 1, 2]);
    // environment_matcher.rb:26-28: the pattern is an unanchored regular expression.
    expect(await agentsOf(configs, { environment: "old-review/x" })).toEqual([0, 1, 3, 4]);
    // No persisted environment: `environment: nil` matches no pattern.
    expect(await agentsOf(configs, {})).toEqual([0, 1]);
  });

  it("keeps protected_branches_only authorizations only for a protected ref (filter_service.rb:53-70)", async () => {
    const configs = [{ protected_branches_only: false }, { protected_branches_only: true }, {}];
    expect(await agentsOf(configs, {})).toEqual([0, 2]);
    expect(await agentsOf(configs, { protectedRef: true })).toEqual([0, 1, 2]);
  });

  it("drops authorizations whose access_as GitLab Premium does not offer (ci_access/config_scopes.rb)", async () => {
    const configs = [
      { access_as: {} },
      { access_as: { agent: {} } },
      { access_as: { ci_user: {} } },
      { access_as: { something_else: {} } },
    ];
    expect(await agentsOf(configs, {})).toEqual([0, 1, 2]);
  });
});

describe("getJobTokenAllowedAgents lists the agents shared with the project's groups (ci_access/finder.rb)", () => {
  type Share = NonNullable<Parameters<typeof store.createAgent>[1]["sharedWith"]>[number];
  type Listed = { id: number; configuration: unknown };

  /**
   * The job's project `top/sub/app`; beside it the groups `top/beside` and `top/sub/deeper`, another top-level
   * group `elsewhere`; the agents' projects `top/tools`, `elsewhere/tools` and one in a personal namespace.
   */
  async function groupWorld() {
    const n = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const top = await store.createGroup(db, { path: `top-${n}` });
    const sub = await store.createGroup(db, { path: "sub", parentId: top });
    const deeper = await store.createGroup(db, { path: "deeper", parentId: sub });
    const beside = await store.createGroup(db, { path: "beside", parentId: top });
    const elsewhere = await store.createGroup(db, { path: `elsewhere-${n}` });
    const app = await store.createProject(db, { fullPath: `top-${n}/sub/app`, groupId: sub });
    const tools = await store.createProject(db, { fullPath: `top-${n}/tools`, groupId: top });
    const foreign = await store.createProject(db, { fullPath: `elsewhere-${n}/tools`, groupId: elsewhere });
    const personal = await store.createProject(db, { fullPath: `someone-${n}/tools` });
    const userId = await store.createUser(db, { username: `groups-${n}` });
    const environments = new Map<string, number>();
    let agents = 0;
    let jobs = 0;
    return {
      top,
      sub,
      deeper,
      beside,
      app,
      foreign,
      personal,
      personalNamespace: `someone-${n}`,
      /** A new agent of `projectId` (by default `top/tools`) shared as `sharedWith` says. */
      agent: (sharedWith: Share[], projectId = tools) =>
        store.createAgent(db, { projectId, name: `agent-${++agents}`, sharedWith }),
      /** What the answer lists to a new running job of `top/sub/app` (or of project `projectId`). */
      async allowed(
        job: { environment?: string; protectedRef?: boolean; projectId?: number } = {},
      ): Promise<Listed[]> {
        const name = job.environment;
        let environmentId = name === undefined ? undefined : environments.get(name);
        if (name !== undefined && environmentId === undefined) {
          environmentId = await store.createEnvironment(db, {
            projectId: app,
            name,
            slug: `env-${environments.size}`,
          });
          environments.set(name, environmentId);
        }
        const listed = await allowedAgentsOfNewJob(`groups-${n}-${++jobs}`, {
          projectId: job.projectId ?? app,
          userId,
          environmentId,
          protectedRef: job.protectedRef,
        });
        return listed.map(({ config_project: _, ...a }) => a);
      },
    };
  }

  it("lists those shared with the project's group or an ancestor, by agent id, not with any other group (finder.rb:41-70)", async () => {
    const w = await groupWorld();
    const parent = await w.agent([{ groupId: w.top, config: { access_as: { ci_job: {} } } }]);
    const own = await w.agent([{ groupId: w.sub, config: {} }]);
    await w.agent([{ groupId: w.beside, config: {} }]);
    await w.agent([{ groupId: w.deeper, config: {} }]);
    expect(await w.allowed()).toEqual([
      { id: parent, configuration: { access_as: { ci_job: {} } } },
      { id: own, configuration: {} },
    ]);
  });

  it("lists no agent whose project is outside the job's top-level group (finder.rb:60,73-75)", async () => {
    const w = await groupWorld();
    const inside = await w.agent([{ groupId: w.top, config: {} }]);
    await w.agent([{ groupId: w.top, config: {} }], w.foreign);
    await w.agent([{ groupId: w.sub, config: {} }], w.personal);
    expect(await w.allowed()).toEqual([{ id: inside, configuration: {} }]);
  });

  // finder.rb:29-39 `project_authorizations`: `namespace_ids = project.group ? all_namespace_ids :
  // project.namespace_id`, and the agent's project must be in one of them.
  it("lists an agent shared with the project only from its top-level group, or its own namespace for a personal project (finder.rb:29-39)", async () => {
    const w = await groupWorld();
    const inside = await w.agent([{ projectId: w.app, config: {} }]);
    await w.agent([{ projectId: w.app, config: {} }], w.foreign);
    await w.agent([{ projectId: w.app, config: {} }], w.personal);
    expect(await w.allowed()).toEqual([{ id: inside, configuration: {} }]);
    // A personal project: an agent of the same user's namespace, not one of a group.
    const mine = await store.createProject(db, { fullPath: `${w.personalNamespace}/app` });
    const neighbour = await w.agent([{ projectId: mine, config: {} }], w.personal);
    await w.agent([{ projectId: mine, config: {} }]);
    expect(await w.allowed({ projectId: mine })).toEqual([{ id: neighbour, configuration: {} }]);
  });

  it("takes an agent shared with several ancestors once, with its closest group's configuration (finder.rb:46-49,61-67)", async () => {
    const w = await groupWorld();
    const closest = await w.agent([
      { groupId: w.top, config: { environments: ["production"] } },
      { groupId: w.sub, config: { access_as: { agent: {} } } },
    ]);
    // `with_available_ci_access_fields` (finder.rb:59) runs before DISTINCT ON: an authorization GitLab Premium
    // does not offer leaves the next group's.
    const next = await w.agent([
      { groupId: w.sub, config: { access_as: { something_else: {} } } },
      { groupId: w.top, config: { access_as: { ci_user: {} } } },
    ]);
    expect(await w.allowed()).toEqual([
      { id: closest, configuration: { access_as: { agent: {} } } },
      { id: next, configuration: { access_as: { ci_user: {} } } },
    ]);
  });

  it("lists an agent authorized several ways once, the project's authorization first, then its own agents', then groups' (finder.rb:12-16)", async () => {
    const w = await groupWorld();
    const grouped = await w.agent([{ groupId: w.sub, config: { access_as: { ci_user: {} } } }]);
    const shared = await w.agent([
      { groupId: w.sub, config: { access_as: { ci_user: {} } } },
      { projectId: w.app, config: { access_as: { ci_job: {} } } },
    ]);
    const implicit = await w.agent([{ groupId: w.top, config: { access_as: { ci_user: {} } } }], w.app);
    expect(await w.allowed()).toEqual([
      { id: shared, configuration: { access_as: { ci_job: {} } } },
      { id: implicit, configuration: {} },
      { id: grouped, configuration: { access_as: { ci_user: {} } } },
    ]);
  });

  it("filters a group's authorization by environment and protected ref once chosen, the others not standing in (filter_service.rb:26-70)", async () => {
    const w = await groupWorld();
    const production = await w.agent([{ groupId: w.sub, config: { environments: ["production"] } }]);
    const protectedOnly = await w.agent([{ groupId: w.top, config: { protected_branches_only: true } }]);
    const projectFirst = await w.agent([
      { groupId: w.sub, config: {} },
      { projectId: w.app, config: { environments: ["production"] } },
    ]);
    const closestFirst = await w.agent([
      { groupId: w.top, config: {} },
      { groupId: w.sub, config: { environments: ["prod*"] } },
    ]);
    const ids = (listed: Listed[]) => listed.map((a) => a.id);
    expect(ids(await w.allowed({ environment: "review/x" }))).toEqual([]);
    expect(ids(await w.allowed())).toEqual([]);
    expect(ids(await w.allowed({ environment: "production" }))).toEqual([
      projectFirst,
      production,
      closestFirst,
    ]);
    expect(ids(await w.allowed({ environment: "production", protectedRef: true }))).toEqual([
      projectFirst,
      production,
      protectedOnly,
      closestFirst,
    ]);
  });
});

describe("times written by clocks that disagree", () => {
  // GitLab subtracts without a floor (app/models/concerns/ci/has_status.rb:125-129 at 4555e1b,
  // `calculate_duration`: `(end_time || Time.current) - start_time`): a job
  // that "finished" before it started, or started before it was queued, has a negative duration, and the
  // answer is valid by the spec.
  it("answers negative durations as GitLab computes them", async () => {
    const pipelineId = await store.createPipeline(db, {
      projectId: w.projectId,
      commit: { sha: "c".repeat(40) },
    });
    const at = Date.parse("2024-01-01T10:00:00Z");
    const jobId = await store.createJob(db, {
      pipelineId,
      name: "skewed",
      status: "success",
      queuedAt: new Date(at + 2_000),
      startedAt: new Date(at),
      finishedAt: new Date(at - 500),
    });
    const r = await call(`${server.api}/projects/${w.projectId}/jobs/${jobId}`, {
      token: w.tokens.developer,
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ duration: -0.5, queued_duration: -2 });
  });
});
