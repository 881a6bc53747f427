#!/usr/bin/env node
// `pnpm start`: the reference server of this checkout. A fresh clone is installed and built first; after that,
// only what is out of date is redone, so that a start on an up-to-date tree costs the server's own start.
// Node's built-in modules only: on a fresh clone nothing else is installed yet.
import { execFileSync } from "node:child_process";
import cluster from "node:cluster";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const at = (...parts) => join(root, ...parts);
/** Modification time in ms, 0 when the file is missing. */
const mtime = (file) => statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0;
const newest = (files) => Math.max(...files.map(mtime));

const workspaces = ["bench", ...readdirSync(at("packages")).map((name) => join("packages", name))];
/** What `pnpm install` reads: when none changed since its last run, node_modules is current. */
const installInputs = [
  "package.json",
  "pnpm-lock.yaml",
  "pnpm-workspace.yaml",
  ...workspaces.map((dir) => join(dir, "package.json")),
  ...readdirSync(at("patches")).map((name) => join("patches", name)),
].map((file) => at(file));
// pnpm writes this file at the end of every install.
const installState = at("node_modules/.pnpm-workspace-state-v1.json");

function run(command, args) {
  execFileSync(command, args, { cwd: root, stdio: "inherit" });
}

// A worker of `--workers n` (node:cluster) runs this file again: only the primary installs and builds.
if (cluster.isPrimary) {
  if (mtime(installState) < newest(installInputs)) {
    // pnpm's own binary when started by pnpm (`pnpm start`); else the version the repository names, from npm.
    const pnpm = process.env.npm_execpath;
    if (pnpm === undefined) {
      const version = JSON.parse(readFileSync(at("package.json"), "utf8")).packageManager.split("@")[1];
      run("npx", ["-y", `pnpm@${version}`, "install", "--frozen-lockfile"]);
    } else if (/\.[cm]?js$/.test(pnpm)) run(process.execPath, [pnpm, "install", "--frozen-lockfile"]);
    else run(pnpm, ["install", "--frozen-lockfile"]);
  }
  // The docs page (a second of redocly) only when the bundle it is built from, or its builder, is newer.
  const docs = at("packages/types/docs/index.html");
  if (mtime(docs) < newest([at("packages/types/spec/openapi.json"), at("scripts/spec.mjs")])) {
    run(process.execPath, [at("scripts/spec.mjs"), "docs"]);
  }
  // tsc -b is incremental: a tenth of a second when every project is up to date. So is the CLI's bundle,
  // built from tsc's output (packages/server/scripts/bundle.mjs): it checks its inputs' times.
  run(process.execPath, [at("node_modules/typescript/bin/tsc"), "-b", root]);
  run(process.execPath, [at("packages/server/scripts/bundle.mjs")]);
}

// The server runs in this process (its options are this script's), so that a signal reaches it directly:
// on SIGINT or SIGTERM it closes and exits 0, and pnpm has no failed command to report.
// The `jobs-api-server` command as published: the bundle.
await import(pathToFileURL(at("packages/server/dist/bundle/cli.js")).href);
