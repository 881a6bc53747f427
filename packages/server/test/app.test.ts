import { existsSync } from "node:fs";
import { docsPath } from "@jobs-api/types/files";
import { afterAll, describe, expect, it } from "vitest";
import { HttpError } from "../src/errors.js";
import { decode64 } from "../src/http/malformed.js";
import { type Database, DEMO_TOKENS, type DemoServer, startDemoServer } from "../src/index.js";
import { keepAliveAgent, sendRaw } from "./helpers/http.js";
import { call, serveForFile } from "./helpers/server.js";
import type { Exchange } from "./helpers/spec.js";

let db: Database;
let server: DemoServer;
const T = DEMO_TOKENS.maintainer;

serveForFile((d, s) => {
  db = d;
  server = s;
});

describe("service endpoints", () => {
  it("answers every request with an X-Request-Id, the id of its log line", async () => {
    const r = await call(`${server.api}/projects/1/jobs/8`, { token: T });
    const id = r.headers.get("x-request-id") ?? "";
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const line = server.logs.find((l) => l.includes(id));
    expect(line && (JSON.parse(line) as { req: { id: string } }).req.id).toBe(id);
    const other = await call(`${server.api}/projects/1/jobs/8`, { token: T });
    expect(other.headers.get("x-request-id")).not.toBe(id);
  });

  it("logs a HEAD request as HEAD, although it is answered as the GET it asks about", async () => {
    const r = await call(`${server.api}/projects/1/jobs/8`, { token: T, method: "HEAD" });
    expect(r.status).toBe(200);
    const id = r.headers.get("x-request-id") ?? "";
    const line = server.logs.find((l) => l.includes(id));
    expect(line && JSON.parse(line)).toMatchObject({
      msg: "request completed",
      req: { id, method: "HEAD" },
      res: { statusCode: 200 },
    });
  });

  it("serves the bundled spec as JSON and YAML", async () => {
    const json = await call(`${server.origin}/openapi.json`);
    expect(json.status).toBe(200);
    expect(json.body).toMatchObject({ openapi: expect.stringMatching(/^3\.1/) });
    const yaml = await call(`${server.origin}/openapi.yaml`);
    expect(yaml.status).toBe(200);
    expect(yaml.text).toContain("openapi:");
  });

  it("serves the docs when built, JSON 404 otherwise", async () => {
    const r = await call(`${server.origin}/docs`);
    if (existsSync(docsPath)) {
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toMatch(/text\/html/);
    } else {
      expect(r.status).toBe(404);
      expect(r.body).toHaveProperty("error");
    }
  });
});

describe("the roots lead to the docs", () => {
  it("redirects / to /docs", async () => {
    const r = await fetch(`${server.origin}/`, { redirect: "manual" });
    expect(r.status).toBe(302);
    expect(r.headers.get("location")).toBe("/docs");
  });

  it.each(["/api/v4", "/api/v4/"])("answers GitLab's 404 at %s, linking the docs", async (path) => {
    const r = await call(`${server.origin}${path}`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: "404 Not Found" });
    expect(r.headers.get("link")).toBe('</docs>; rel="service-doc"');
  });

  it.runIf(existsSync(docsPath))("serves /docs compressed, and the API uncompressed", async () => {
    const docs = await fetch(`${server.origin}/docs`, { headers: { "Accept-Encoding": "gzip" } });
    expect(docs.headers.get("content-encoding")).toBe("gzip");
    expect((await docs.text()).length).toBeGreaterThan(1_000_000); // fetch inflates it
    const api = await fetch(`${server.api}/projects/1/jobs`, {
      headers: { "Accept-Encoding": "gzip", "PRIVATE-TOKEN": T },
    });
    expect(api.status).toBe(200);
    expect(api.headers.get("content-encoding")).toBeNull();
    await api.arrayBuffer();
  });
});

describe("routing errors are GitLab's JSON", () => {
  it.each([
    "/api/v4/nothing",
    "/api/v4/projects/1/jobs/8/artifacts",
    "/api/v4/projects/foo/bar/jobs",
    "/nothing",
  ])("404 for %s", async (path) => {
    const r = await call(`${server.origin}${path}`, { token: T });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: "404 Not Found" });
  });

  it("405 with Allow for a wrong method", async () => {
    const r = await call(`${server.api}/projects/1/jobs/8`, { method: "DELETE", token: T });
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("GET");
    expect(r.body).toEqual({ error: "405 Not Allowed" });
    const get = await call(`${server.api}/projects/1/jobs/8/cancel`, { token: T });
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });

  // Grape's formatter reads bodies of POST, PUT, PATCH and DELETE only (middleware/formatter.rb
  // `read_body_input?`): a GET's body of any other type is no reason for 415, nor read as JSON by default.
  it("reads no body of a GET: no 415, no default JSON (Grape formatter read_body_input?)", async () => {
    const agent = keepAliveAgent();
    const get = (headers: Record<string, string>, body: string) =>
      sendRaw(
        server.origin,
        {
          method: "GET",
          target: "/api/v4/projects/1/jobs/8",
          headers: { "PRIVATE-TOKEN": T, ...headers },
          body,
        },
        agent,
      );
    try {
      for (const [headers, body] of [
        [{ "Content-Type": "text/plain" }, "force=true"],
        [{ "Content-Type": "application/xml" }, "<a/>"],
        [{}, "not json"],
      ] as const) {
        const r = await get(headers, body);
        expect(r.status, JSON.stringify(headers)).toBe(200);
        expect(JSON.parse(r.body)).toMatchObject({ id: 8 });
      }
      // Rails' JSON parameter parser still reads a JSON body, and HandleMalformedStrings refuses a broken one.
      expect((await get({ "Content-Type": "application/json" }, "{bad")).status).toBe(400);
    } finally {
      agent.destroy();
    }
  });

  it("HEAD answers as the GET it asks about, without the body (Grape routes HEAD to GET routes)", async () => {
    for (const path of [
      "/projects/1/jobs/8",
      "/projects/1/jobs?per_page=2",
      "/projects/1/jobs/8/trace",
      "/job",
    ]) {
      const get = await fetch(`${server.api}${path}`, { headers: { "PRIVATE-TOKEN": T } });
      const head = await fetch(`${server.api}${path}`, { method: "HEAD", headers: { "PRIVATE-TOKEN": T } });
      expect(head.status, path).toBe(get.status);
      expect(await head.text(), path).toBe("");
      for (const name of ["content-type", "content-length", "etag", "x-total", "x-next-page", "link"]) {
        expect(head.headers.get(name), `${path} ${name}`).toBe(get.headers.get(name));
      }
      expect((await get.arrayBuffer()).byteLength, path).toBe(Number(get.headers.get("content-length")));
    }
    const anonymous = await fetch(`${server.api}/projects/1/jobs/8`, { method: "HEAD" });
    expect(anonymous.status).toBe(401);
    // Only GET routes have a HEAD route: cancel's answers 405 like any other method it does not take.
    const cancel = await fetch(`${server.api}/projects/1/jobs/8/cancel`, {
      method: "HEAD",
      headers: { "PRIVATE-TOKEN": T },
    });
    expect(cancel.status).toBe(405);
  });

  // handle_malformed_strings.rb `malformed_path?`: `Rack::Utils.unescape` raises on a `%` without two hex digits.
  it("400 for malformed percent-encoding in the path, as HandleMalformedStrings answers it", async () => {
    for (const path of ["/projects/foo%ZZbar/jobs", "/projects/%E0%A4%A/jobs/8"]) {
      const r = await call(`${server.api}${path}`, { token: T });
      expect(r.status).toBe(400);
      expect(r.headers.get("content-type")).toBe("text/plain");
      expect(r.text).toBe("Bad Request");
    }
  });

  it("413 for a body over the limit", async () => {
    const r = await call(`${server.api}/projects/1/jobs/11/play`, {
      method: "POST",
      token: T,
      json: { job_variables_attributes: [{ key: "BIG", value: "x".repeat(2_000_000) }] },
    });
    expect(r.status).toBe(413);
    expect(r.body).toEqual({ message: "413 Request Entity Too Large" });
  });
});

/**
 * `Gitlab::Middleware::HandleMalformedStrings` (lib/gitlab/middleware/handle_malformed_strings.rb, stored id
 * 271406280; spec/lib/gitlab/middleware/handle_malformed_strings_spec.rb, stored id 127563067): a Rails
 * middleware in front of Grape (config/application.rb), so its 400 comes before routing and authentication.
 */
describe("malformed requests (HandleMalformedStrings)", () => {
  const agent = keepAliveAgent();
  afterAll(() => agent.destroy());
  const send = (
    method: string,
    target: string,
    headers: Record<string, string> = {},
    body?: string | Buffer,
  ) => sendRaw(server.origin, { method, target, headers, ...(body === undefined ? {} : { body }) }, agent);
  /** handle_malformed_strings.rb:19, `[400, { 'Content-Type' => 'text/plain' }, ['Bad Request']]`. */
  const expectRefused = (ex: Exchange, what: string) => {
    expect(ex.status, what).toBe(400);
    expect(ex.headers["content-type"], what).toBe("text/plain");
    expect(ex.body, what).toBe("Bad Request");
    // Grape's headers: the request never got that far.
    expect(ex.headers["x-frame-options"], what).toBeUndefined();
  };
  const token = { "PRIVATE-TOKEN": T };

  it("refuses a NUL or bytes that are not UTF-8 in the path, on any route, with or without a token", async () => {
    for (const target of [
      "/api/v4/projects/foo%00bar/jobs",
      "/api/v4/projects/1/jobs/8%C0",
      "/api/v4/nowhere/%00",
      "/api/v4/projects/%ZZ/jobs",
    ]) {
      expectRefused(await send("GET", target, token), target);
      expectRefused(await send("GET", target), `${target} without a token`);
    }
  });

  it("refuses a NUL in a query value nested in at most two hashes or arrays (param_has_null_byte?)", async () => {
    for (const query of ["scope=%00", "scope[]=a%00", "a[b][c]=%00", "a[][b]=%00", "x=%C0", "x=%FF%FE"]) {
      expectRefused(await send("GET", `/api/v4/projects/1/jobs?${query}`, token), query);
    }
    // Deeper than `depth > 2` is not looked at (spec: "gives up and does not reject too deeply nested params").
    expect((await send("GET", "/api/v4/projects/1/jobs?a[b][c][d]=%00", token)).status).toBe(200);
  });

  it("refuses a query or form Rack cannot read (ActionController::BadRequest)", async () => {
    for (const query of [
      "a=x&a[]=y",
      "a[]=x&a[b]=y",
      "a=%",
      "a=%zz",
      `${"a".repeat(1)}${"[a]".repeat(100)}=1`,
    ]) {
      expectRefused(await send("GET", `/api/v4/projects/1/jobs?${query}`), query);
    }
    const form = { "Content-Type": "application/x-www-form-urlencoded" };
    expectRefused(await send("POST", "/api/v4/projects/1/jobs/8/cancel", form, "force=a&force[]=b"), "form");
    expectRefused(await send("POST", "/api/v4/projects/1/jobs/8/cancel", form, "force=%00"), "form NUL");
    // A multipart body whose field names Rack refuses: Rails' `request.params` raises there too.
    const boundary = "x-boundary";
    const part = (name: string, value: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    expectRefused(
      await send(
        "POST",
        "/api/v4/projects/1/jobs/8/cancel",
        { "Content-Type": `multipart/form-data; boundary=${boundary}` },
        `${part("force", "a")}${part("force[]", "b")}--${boundary}--\r\n`,
      ),
      "multipart",
    );
    // Rack reads a POST's body without a media type as a form (`form_data?`).
    expectRefused(await send("POST", "/api/v4/projects/1/jobs/8/cancel", {}, "force=%00"), "POST untyped");
  });

  it("refuses a JSON body that does not parse, of any method, before authentication (ParseError)", async () => {
    const json = { "Content-Type": "application/json" };
    for (const method of ["GET", "POST", "PUT", "DELETE"]) {
      expectRefused(await send(method, "/api/v4/projects/1/jobs/8/retry", json, "{ bad json }"), method);
    }
    expectRefused(await send("POST", "/api/v4/projects/1/jobs/8/retry", { ...token, ...json }, "{"), "token");
    // GitLab registers application/vnd.git-lfs+json as JSON too (config/initializers/mime_types.rb).
    const lfs = { "Content-Type": "application/vnd.git-lfs+json" };
    expectRefused(await send("POST", "/api/v4/projects/1/jobs/8/retry", lfs, "{"), "git-lfs+json");
    // Not UTF-8.
    expectRefused(await send("POST", "/api/v4/jobs/request", json, Buffer.from([0x7b, 0xff, 0x7d])), "bytes");
  });

  it("refuses a NUL in a JSON value, a value that is no object counting as `_json`", async () => {
    const json = { "Content-Type": "application/json" };
    for (const body of ['{"force":"\\u0000"}', '["\\u0000"]', '"\\u0000"', '{"a":{"b":["\\u0000"]}}']) {
      expectRefused(
        await send("POST", "/api/v4/projects/1/jobs/8/cancel", { ...token, ...json }, body),
        body,
      );
    }
    // A query parameter hides the body's of the same name (`request_parameters.merge(query_parameters)`).
    const hidden = await send(
      "POST",
      "/api/v4/projects/1/jobs/999999/cancel?force=",
      { ...token, ...json },
      '{"force":"\\u0000"}',
    );
    // The middleware lets it pass; Grape then merges the body over the query, and its "\0" is no Boolean.
    expect(hidden.headers["content-type"]).toBe("application/json");
    expect([hidden.status, JSON.parse(hidden.body)]).toEqual([400, { error: "force is invalid" }]);
  });

  it("refuses a NUL or bytes that are not UTF-8 in the credentials (credentials_malformed?)", async () => {
    const basic = (credentials: Buffer) => ({ Authorization: `Basic ${credentials.toString("base64")}` });
    for (const headers of [
      basic(Buffer.from("user:pass\0word")),
      basic(Buffer.from([0x75, 0x3a, 0xc3])),
      basic(Buffer.from("mal\xC0formed", "latin1")),
      { Authorization: "GL-Geo hello\u00ffworld" },
      { Authorization: "Bearer \u00c3" },
    ]) {
      expectRefused(await send("GET", "/api/v4/projects/1/jobs/8", headers), JSON.stringify(headers));
    }
    // Well-formed credentials go on to GitLab's own answer (here: no token it takes, 401).
    for (const headers of [
      basic(Buffer.from("RçKszEwéC5kFnû∆f243fycGu§Gh9ftDj!U")),
      { Authorization: "Basic" },
    ]) {
      expect((await send("GET", "/api/v4/projects/1/jobs/8", headers)).status).toBe(401);
    }
  });

  it("decodes Basic credentials as Ruby's Base64.decode64: skips what is no Base64, stops at a late =", () => {
    expect(decode64("Zm9vOmJhcg==").toString()).toBe("foo:bar");
    expect(decode64("Zm9v-YmFy").toString()).toBe("foobar");
    expect(decode64("Zm9").toString()).toBe("fo");
    expect(decode64("Zg").toString()).toBe("f");
    expect(decode64("Zm=9v").toString()).toBe("f");
    expect(decode64("=Zm9v").toString()).toBe("foo");
    expect(decode64("Z").toString()).toBe("");
  });

  it("leaves a PUT's body without a media type to Grape, which reads it as JSON", async () => {
    const put = await send("PUT", "/api/v4/jobs/1", {}, "token=%00");
    expect(put.status).toBe(400);
    expect(JSON.parse(put.body)).toHaveProperty("error");
  });
});

describe("robustness", () => {
  it("answers a JSON 500 without details when a handler fails, and logs it", async () => {
    const broken: Database = {
      ...db,
      query: () => Promise.reject(new Error("database is on fire")),
      transaction: () => Promise.reject(new Error("database is on fire")),
    };
    const s = await startDemoServer({ db: broken });
    try {
      const r = await call(`${s.api}/projects/1/jobs`, { token: T });
      expect(r.status).toBe(500);
      expect(r.body).toEqual({ message: "500 Internal Server Error" });
      expect(r.text).not.toContain("fire");
      expect(s.logs.join("")).toContain("database is on fire");
      // The request's own line, as pino-http wrote it: `request errored`, with the status and the error.
      const id = r.headers.get("x-request-id");
      const lines = s.logs.map(
        (l) => JSON.parse(l) as { msg: string; req?: { id: string }; res?: object; err?: object },
      );
      expect(lines.find((l) => l.req?.id === id && l.msg === "request errored")).toMatchObject({
        res: { statusCode: 500 },
        err: { message: "failed with status code 500" },
      });
    } finally {
      await s.close();
    }
  });

  it("answers an error status the operation does not declare as JSON, never Express's HTML page", async () => {
    // GET /job declares no 400: the response validator would refuse this answer.
    const refusing: Database = {
      ...db,
      query: () => Promise.reject(new HttpError(400, { error: "nothing to see" })),
    };
    const s = await startDemoServer({ db: refusing });
    try {
      const r = await call(`${s.api}/job`, { headers: { "JOB-TOKEN": DEMO_TOKENS.job } });
      expect(r.status).toBe(400);
      expect(r.headers.get("content-type")).toMatch(/^application\/json/);
      expect(r.body).toEqual({ error: "nothing to see" });
    } finally {
      await s.close();
    }
  });

  it("turns a response that breaks the spec into a 500, and logs every mismatch", async () => {
    const lying: Database = {
      ...db,
      async query<T>(sql: string, params?: readonly unknown[]) {
        const rows = await db.query<T>(sql, params);
        // Jobs are read as one JSON value a row (`{ job }`).
        return rows.map((row) =>
          row && typeof row === "object" && "job" in row
            ? { job: Object.assign({}, row.job, { status: "bogus", stage: 42 }) }
            : row,
        ) as T[];
      },
    };
    const s = await startDemoServer({ db: lying });
    try {
      const r = await call(`${s.api}/projects/1/jobs/8`, { token: T });
      expect(r.status).toBe(500);
      expect(r.body).toEqual({ message: "500 Internal Server Error" });
      // The validator first stops at the first mismatch, then validates again for all of them (our patch).
      // The first validators are compiled without messages; the logged errors come from the second pass.
      const logged = s.logs.map(
        (l) => JSON.parse(l) as { err?: { errors?: { path: string; message: string }[] } },
      );
      const errors = logged.flatMap((l) => l.err?.errors ?? []);
      expect(errors.map((e) => e.path)).toEqual(
        expect.arrayContaining(["/response/status", "/response/stage"]),
      );
      for (const e of errors) expect(e.message).toMatch(/^must /);
    } finally {
      await s.close();
    }
  });

  it("throttles like GitLab's Rack::Attack API throttles when configured: 429 Retry later, RateLimit-*", async () => {
    const s = await startDemoServer({ db: db, rateLimit: { limit: 2, windowMs: 60_000 } });
    try {
      const codes = [];
      for (let i = 0; i < 3; i++) codes.push(await call(`${s.api}/projects/1/jobs/8`, { token: T }));
      expect(codes.map((r) => r.status)).toEqual([200, 200, 429]);
      const throttled = codes[2];
      expect(throttled?.headers.get("content-type")).toBe("text/plain");
      expect(throttled?.text).toBe("Retry later\n");
      const retryAfter = Number(throttled?.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(throttled?.headers.get("ratelimit-name")).toBe("throttle_authenticated_api");
      expect(throttled?.headers.get("ratelimit-limit")).toBe("2");
      expect(throttled?.headers.get("ratelimit-observed")).toBe("3");
      expect(throttled?.headers.get("ratelimit-remaining")).toBe("0");
      const reset = Number(throttled?.headers.get("ratelimit-reset"));
      expect(new Date(throttled?.headers.get("ratelimit-resettime") ?? "").getTime()).toBe(reset * 1000);
      // Counted per user: anonymous requests have their own window (per client address).
      const anonymous = await call(`${s.api}/projects/1/jobs/8`);
      expect(anonymous.status).not.toBe(429);
      // Only the API is throttled.
      expect((await call(`${s.origin}/docs`)).status).toBe(200);
      // HandleMalformedStrings comes before Rack::Attack (config/application.rb): a malformed request is
      // refused as such, even from a throttled client.
      const malformed = await call(`${s.api}/projects/1/jobs/8?x=%00`, { token: T });
      expect(malformed.status).toBe(400);
      expect(malformed.text).toBe("Bad Request");
    } finally {
      await s.close();
    }
  });

  // lib/gitlab/rack_attack/request.rb: `throttled_identifer` is `user:<id>` of
  // `RequestAuthenticator#find_authenticated_requester([:api])`, which reads every token place on API paths
  // (request_authenticator.rb `find_user_from_any_authentication_method`, `job_token_allowed: api_request?`;
  // auth_finders.rb reads Rails' params, query and body); an authentication error leaves the request
  // `unauthenticated?`, counted per address; a runner's `token` makes it neither (`authenticated_runner_id`).
  it("throttles per user whatever token place, per address without a user, never a runner (rack_attack/request.rb)", async () => {
    const s = await startDemoServer({ db: db, rateLimit: { limit: 4, windowMs: 60_000 } });
    const job8 = `${s.api}/projects/1/jobs/8`;
    try {
      // Five requests of `root`, each with another of its tokens or places: one window.
      const root = [
        await call(job8, { token: T }),
        await call(`${job8}?private_token=${T}`),
        await call(job8, { headers: { Authorization: `Bearer ${DEMO_TOKENS.oauth}` } }),
        await call(`${s.api}/projects/1/jobs`, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: `private_token=${T}`,
        }),
        await call(job8, { headers: { "JOB-TOKEN": DEMO_TOKENS.job } }),
      ];
      expect(root.map((r) => r.status)).toEqual([200, 200, 200, 405, 429]);
      expect(root[4]?.headers.get("ratelimit-name")).toBe("throttle_authenticated_api");
      // Another user has a window of its own.
      expect((await call(job8, { token: DEMO_TOKENS.developer })).status).toBe(200);
      // A token not found, expired or revoked authenticates no one: the address's window.
      const anonymous = [
        await call(job8),
        await call(`${job8}?private_token=glpat-unknown`),
        await call(job8, { token: DEMO_TOKENS.expired }),
        await call(job8, { token: DEMO_TOKENS.revoked }),
        await call(job8),
      ];
      expect(anonymous.map((r) => r.status)).toEqual([401, 401, 401, 401, 429]);
      expect(anonymous[4]?.headers.get("ratelimit-name")).toBe("throttle_unauthenticated_api");
      // A runner's token: counted by no API throttle, even from a throttled address.
      for (let i = 0; i < 5; i++) {
        expect((await call(`${job8}?token=${DEMO_TOKENS.runner}`)).status).not.toBe(429);
      }
    } finally {
      await s.close();
    }
  });

  it("builds Link URLs on the external URL when one is configured, whatever Host the client sent", async () => {
    const s = await startDemoServer({ db: db, externalUrl: "https://jobs.example.com" });
    try {
      const r = await call(`${s.api}/projects/1/pipelines/6/jobs?per_page=1`, {
        token: T,
        headers: { Host: "attacker.example" },
      });
      const links = (r.headers.get("link") ?? "").split(", ");
      expect(links.length).toBeGreaterThan(1);
      for (const l of links)
        expect(l).toMatch(/^<https:\/\/jobs\.example\.com\/api\/v4\/projects\/1\/pipelines\/6\/jobs\?/);
    } finally {
      await s.close();
    }
  });

  it("keeps tokens out of the logs", async () => {
    await call(`${server.api}/projects/1/jobs?private_token=${T}&per_page=1`);
    await call(`${server.api}/job?job_token=${DEMO_TOKENS.job}`);
    await call(`${server.api}/projects/1/jobs`, {
      headers: { Authorization: `Bearer ${DEMO_TOKENS.oauth}` },
    });
    await call(`${server.api}/projects/1/jobs`, { headers: { "JOB-TOKEN": DEMO_TOKENS.job } });
    const logs = server.logs.join("");
    expect(logs).toContain("[REDACTED]");
    for (const token of [T, DEMO_TOKENS.job, DEMO_TOKENS.oauth]) expect(logs).not.toContain(token);
  });
});
