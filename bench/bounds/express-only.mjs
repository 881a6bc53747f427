#!/usr/bin/env node
// @ts-check
// Express alone answering each benchmark request with the reference server's own answer (status, paging
// headers and body, read from a file): no logging, no validation, no authentication, no database. The
// floor under any server built on Express, to put the Prism comparison in proportion. Served by the reference
// server's `listen`, as the server is: its requests and responses are made with Express's prototypes.
//   node bench/bounds/express-only.mjs --port N --answers FILE   (FILE: { "<path?query>": { headers, body } })
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { listen } from "@jobs-api/server";
import express from "express";

const { values } = parseArgs({ options: { port: { type: "string" }, answers: { type: "string" } } });
if (!values.answers) throw new Error("usage: express-only.mjs --port N --answers FILE");
const answers = new Map(Object.entries(JSON.parse(readFileSync(values.answers, "utf8"))));
const app = express();
app.disable("x-powered-by");
app.use((req, res) => {
  const answer = answers.get(req.url);
  if (!answer) return res.status(404).json({ error: "404 Not Found" });
  res.set(answer.headers).json(answer.body);
});
const server = await listen(app, { port: Number(values.port), host: "127.0.0.1" });
process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
