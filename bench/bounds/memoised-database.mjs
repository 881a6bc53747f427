#!/usr/bin/env node
// @ts-check
// The reference server's own app (createApp: logging, request and response validation, authentication,
// handlers, JSON) over a database whose reads are answered from memory after their first execution:
// what the server costs when the database costs nothing. Only sound for the benchmark's read-only
// requests; a real server must not do this (revoked tokens and changed jobs would be served stale).
//   node bench/bounds/memoised-database.mjs --port N (--data-dir DIR | --database-url URL)
import { parseArgs } from "node:util";
import { createApp, listen, openDatabase } from "@jobs-api/server";

const { values } = parseArgs({
  options: { port: { type: "string" }, "data-dir": { type: "string" }, "database-url": { type: "string" } },
});
const db = await openDatabase(
  values["database-url"] ? { databaseUrl: values["database-url"] } : { dataDir: values["data-dir"] },
);
const answers = new Map();
const memoised = {
  kind: db.kind,
  async query(sql, params = [], options = {}) {
    const key = `${sql}\0${JSON.stringify(params)}`;
    let rows = answers.get(key);
    if (!rows) {
      rows = await db.query(sql, params, options);
      answers.set(key, rows);
    }
    return rows;
  },
  exec: (sql) => db.exec(sql),
  transaction: (fn) => db.transaction(fn),
  close: () => db.close(),
};
const server = await listen(createApp({ db: memoised }), { port: Number(values.port), host: "127.0.0.1" });
process.on("SIGTERM", async () => {
  await server.close();
  await db.close();
  process.exit(0);
});
