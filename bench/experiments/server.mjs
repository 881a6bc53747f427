#!/usr/bin/env node
// The reference server started like its CLI (openDatabase → seedDemo → createApp → listen, default pino logger
// at info), with optional *prototype* fixes applied from outside the package, to measure a proposed change
// before it is made in packages/server. Nothing here is used by `pnpm bench` itself.
//   node bench/experiments/server.mjs --port N [--data-dir DIR] [--patches collapse,authcache,etag,quiet]
//   collapse   SET join_collapse_limit = 1 and from_collapse_limit = 1 on the session: the planner keeps the
//              written join order of store/jobs.ts `jobSelect` instead of searching 8! join orders per call
//   authcache  memoise, for 2 s, the three per-request caller queries (token → user, project, membership)
//   etag       app.set("etag", false): no SHA-1 of every response body
//   quiet      logger at warn: no per-request log line
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { createApp, listen, openDatabase, seedDemo } from "@jobs-api/server";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    "data-dir": { type: "string" },
    patches: { type: "string" },
    "no-response-validation": { type: "boolean" },
  },
});
const patches = new Set((values.patches ?? "").split(",").filter(Boolean));
const started = performance.now();
const db = await openDatabase({ dataDir: values["data-dir"] ?? "memory://" });
await seedDemo(db);
if (patches.has("collapse")) await db.exec("SET join_collapse_limit = 1; SET from_collapse_limit = 1");

const CALLER_QUERIES = [
  "SELECT t.token_digest, t.user_id, t.kind FROM access_tokens",
  "SELECT * FROM projects WHERE id = $1",
  "SELECT role FROM members WHERE",
];
const appDb = patches.has("authcache") ? memoiseCallerQueries(db) : db;
const options = { db: appDb, validateResponses: !values["no-response-validation"] };
if (patches.has("quiet")) {
  const { pino } = createRequire(new URL("../../packages/server/package.json", import.meta.url))("pino");
  options.logger = pino({ level: "warn" });
}
const app = createApp(options);
if (patches.has("etag")) app.set("etag", false);
const running = await listen(app, { port: Number(values.port ?? 0), host: "127.0.0.1" });
process.stderr.write(
  `experiment server ${[...patches].join(",") || "baseline"} on ${running.url} in ${Math.round(performance.now() - started)} ms\n`,
);
process.on("SIGTERM", async () => {
  await running.close();
  await db.close();
  process.exit(0);
});

function memoiseCallerQueries(inner) {
  const cache = new Map();
  return {
    ...inner,
    kind: inner.kind,
    query(sql, params = []) {
      if (!CALLER_QUERIES.some((q) => sql.trimStart().startsWith(q))) return inner.query(sql, params);
      const key = `${sql}\u0000${params.map((p) => (p instanceof Uint8Array ? Buffer.from(p).toString("hex") : JSON.stringify(p))).join("\u0000")}`;
      const hit = cache.get(key);
      if (hit && hit.until > Date.now()) return hit.rows;
      const rows = inner.query(sql, params);
      cache.set(key, { rows, until: Date.now() + 2000 });
      return rows;
    },
    exec: (sql) => inner.exec(sql),
    transaction: (fn) => inner.transaction(fn),
    close: () => inner.close(),
  };
}
