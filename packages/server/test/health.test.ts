import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseUnavailableError, isUnavailable } from "../src/db/unavailable.js";
import {
  type Database,
  DEMO_TOKENS,
  type DemoServer,
  openDemoDatabase,
  startDemoServer,
} from "../src/index.js";
import { call } from "./helpers/server.js";

/**
 * Health endpoints as GitLab has them, and a database that went away answered 503 in GitLab's shape, with
 * `Retry-After`, and readiness failing while liveness holds. The real outage (a PostgreSQL cluster stopped
 * under load) is outage.test.ts; here a database that fails as node-postgres does when it is down.
 */

let down = false;
const refused = () => {
  const cause = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
  return new DatabaseUnavailableError(cause);
};

/** The demo database behind a switch: while `down`, every statement fails as on a refused connection. */
function switchable(db: Database): Database {
  return {
    kind: db.kind,
    query: (sql, params, options) => (down ? Promise.reject(refused()) : db.query(sql, params, options)),
    exec: (sql) => (down ? Promise.reject(refused()) : db.exec(sql)),
    transaction: (fn) => (down ? Promise.reject(refused()) : db.transaction(fn)),
    close: () => db.close(),
  };
}

let db: Database;
let server: DemoServer;
beforeAll(async () => {
  db = await openDemoDatabase();
  server = await startDemoServer({ db: switchable(db) });
});
afterAll(async () => {
  await server.close();
  await db.close();
});

const T = DEMO_TOKENS.maintainer;

describe("health endpoints", () => {
  it("answers /-/health (and /health) with GitLab OK, /-/liveness and /-/readiness with their JSON", async () => {
    for (const path of ["/-/health", "/health"]) {
      const r = await call(`${server.origin}${path}`);
      // lib/gitlab/middleware/basic_health_check.rb OK_RESPONSE: `'Content-Type' => 'text/plain'`, no charset.
      expect([r.status, r.headers.get("content-type"), r.text], path).toEqual([
        200,
        "text/plain",
        "GitLab OK",
      ]);
    }
    const live = await call(`${server.origin}/-/liveness`);
    expect([live.status, live.body]).toEqual([200, { status: "ok" }]);
    const ready = await call(`${server.origin}/-/readiness`);
    expect([ready.status, ready.body]).toEqual([200, { status: "ok", master_check: [{ status: "ok" }] }]);
    // The services (here the database) only with `all`, as on GitLab.
    const all = await call(`${server.origin}/-/readiness?all=1`);
    expect([all.status, all.body]).toEqual([
      200,
      { status: "ok", master_check: [{ status: "ok" }], db_check: [{ status: "ok" }] },
    ]);
  });

  it("while the database is down: 503 with Retry-After on the API, readiness 503, liveness and health 200", async () => {
    down = true;
    try {
      for (const [method, path] of [
        ["GET", "/projects/1/jobs/8"],
        ["GET", "/projects/1/jobs"],
        ["GET", "/projects/1/jobs/8/trace"],
        ["POST", "/projects/1/jobs/8/retry"],
      ] as const) {
        const r = await call(`${server.api}${path}`, { method, token: T });
        expect([r.status, r.body, r.headers.get("retry-after")], `${method} ${path}`).toEqual([
          503,
          { message: "503 Service Unavailable" },
          "5",
        ]);
      }
      // The default readiness checks the process only, as GitLab's.
      expect((await call(`${server.origin}/-/readiness`)).status).toBe(200);
      const ready = await call(`${server.origin}/-/readiness?all=1`);
      expect(ready.headers.get("x-gitlab-custom-error")).toBe("1");
      expect([ready.status, ready.body]).toEqual([
        503,
        {
          status: "failed",
          master_check: [{ status: "ok" }],
          db_check: [
            {
              status: "failed",
              message:
                "unexpected Db check result: database unavailable: connect ECONNREFUSED 127.0.0.1:5432",
            },
          ],
        },
      ]);
      expect((await call(`${server.origin}/-/liveness`)).status).toBe(200);
      expect((await call(`${server.origin}/-/health`)).status).toBe(200);
      // One warning line per 503, without a stack: the operator sees the outage in the logs.
      expect(server.logs.some((l) => l.includes('"answered 503"') && !l.includes('"stack"'))).toBe(true);
    } finally {
      down = false;
    }
    // Back: answered as before, without a restart.
    expect((await call(`${server.api}/projects/1/jobs/8`, { token: T })).status).toBe(200);
    expect((await call(`${server.origin}/-/readiness?all=1`)).status).toBe(200);
  });
});

describe("what counts as the database being unavailable", () => {
  const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });
  it.each<[string, boolean, unknown]>([
    ["connection refused", true, withCode("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED")],
    ["connection reset", true, withCode("read ECONNRESET", "ECONNRESET")],
    ["host unknown", true, withCode("getaddrinfo ENOTFOUND db", "ENOTFOUND")],
    [
      "administrator shutdown (57P01)",
      true,
      withCode("terminating connection due to administrator command", "57P01"),
    ],
    ["starting up (57P03)", true, withCode("the database system is starting up", "57P03")],
    ["too many connections (53300)", true, withCode("sorry, too many clients already", "53300")],
    ["connection failure (08006)", true, withCode("connection failure", "08006")],
    ["lost connection", true, new Error("Connection terminated unexpectedly")],
    ["pool connect timeout", true, new Error("timeout exceeded when trying to connect")],
    ["query timeout", true, new Error("Query read timeout")],
    [
      "every address refused",
      true,
      new AggregateError([withCode("connect ECONNREFUSED ::1:5432", "ECONNREFUSED")], "connect failed"),
    ],
    ["unique violation (23505)", false, withCode("duplicate key value", "23505")],
    ["syntax error (42601)", false, withCode("syntax error", "42601")],
    ["serialization failure (40001)", false, withCode("could not serialize access", "40001")],
    ["a bug", false, new TypeError("cannot read properties of undefined")],
    ["not an error", false, "ECONNREFUSED"],
  ])("%s → unavailable: %s", (_name, expected, error) => {
    expect(isUnavailable(error)).toBe(expected);
  });
});
