// @ts-check
// The reference server as a user runs it: its own CLI (the bin, packages/server/dist/bundle/cli.js, which the
// root `build` bundles) in a child process, on 127.0.0.1 and a free port, pinned to the server core. Request
// logs stay at the CLI's default level (info) and go to /dev/null unless a variant says otherwise.
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DEMO_IDS, DEMO_TOKENS } from "@jobs-api/server";
import { freePort, spawnPinned } from "./proc.mjs";

const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const SERVER_CLI = join(root, "packages/server/dist/bundle/cli.js");
const DEMO_TOKEN = DEMO_TOKENS.maintainer;
const DEMO_PROJECT = DEMO_IDS.project;
/** A build of the demo seed (GitLab's documentation example `rubocop`, with user, runner, pipeline, commit). */
const DEMO_JOB = DEMO_IDS.exampleJobs[2];

/**
 * Preloaded into a server started with `memoryProbe`: answers "memory" over the IPC channel with its
 * process.memoryUsage(), without the channel keeping it alive.
 */
const MEMORY_PROBE = `data:text/javascript,${encodeURIComponent(
  'process.on("message",(m)=>{if(m==="memory")process.send({memory:process.memoryUsage()})});process.channel?.unref();',
)}`;

/**
 * The memory of a server started with `memoryProbe`, as it reports it.
 * @param {import("node:child_process").ChildProcess} child
 * @returns {Promise<NodeJS.MemoryUsage>}
 */
export async function memoryOf(child) {
  child.send("memory");
  const [message] = await once(child, "message");
  return message.memory;
}

/**
 * @param {{ label: string, cpu: number|null, validation?: "full"|"requests", db: { dataDir?: string, databaseUrl?: string },
 *   logLevel?: string, profileDir?: string|null, seed?: boolean, cli?: string, workers?: number,
 *   memoryProbe?: boolean }} o  `cli`: another build's CLI (--baseline); `workers`: server processes (--workers,
 *   PostgreSQL only); `memoryProbe`: answers memoryOf()
 */
export async function startServer(o) {
  const port = await freePort();
  const args = ["--port", String(port), "--host", "127.0.0.1"];
  if (o.db.databaseUrl) args.push("--database-url", o.db.databaseUrl);
  else args.push("--data-dir", o.db.dataDir ?? "memory://");
  if (o.validation === "requests") args.push("--no-response-validation");
  if (o.logLevel) args.push("--log-level", o.logLevel);
  if (o.seed === false) args.push("--no-seed");
  // A PostgreSQL database gets the demo data only when asked.
  else if (o.db.databaseUrl) args.push("--seed-demo");
  if (o.workers) args.push("--workers", String(o.workers));
  return spawnServer({ ...o, script: o.cli ?? SERVER_CLI, args, port });
}

/**
 * One of the bounds in bench/bounds/ (the server's app over a memoised database, or Express alone), started
 * like the server: a child on the server core, ready when getJob answers 200.
 * @param {{ label: string, script: string, cpu: number|null, args?: string[], db?: { dataDir?: string, databaseUrl?: string },
 *   profileDir?: string|null }} o
 */
export async function startBound(o) {
  const port = await freePort();
  const args = ["--port", String(port), ...(o.args ?? [])];
  if (o.db?.databaseUrl) args.push("--database-url", o.db.databaseUrl);
  else if (o.db?.dataDir) args.push("--data-dir", o.db.dataDir);
  return spawnServer({ ...o, script: join(root, "bench/bounds", o.script), args, port });
}

/**
 * @param {{ label: string, cpu: number|null, profileDir?: string|null, script: string, args: string[], port: number,
 *   memoryProbe?: boolean }} o
 */
async function spawnServer({ label, cpu, profileDir, script, args, port, memoryProbe }) {
  const nodeArgs = memoryProbe ? ["--import", MEMORY_PROBE] : [];
  if (profileDir) {
    mkdirSync(profileDir, { recursive: true });
    const name = label.replace(/[^a-z0-9]+/gi, "-");
    nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}-${port}.cpuprofile`);
  }
  const env = { ...process.env };
  delete env.DATABASE_URL;
  delete env.JOBS_API_DEMO_TOKEN;
  const started = performance.now();
  const child = spawnPinned(cpu, process.execPath, [...nodeArgs, script, ...args], {
    stdio: ["ignore", "ignore", "pipe", ...(memoryProbe ? ["ipc"] : [])],
    env,
  });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const baseUrl = `http://127.0.0.1:${port}/api/v4`;
  const headers = { "PRIVATE-TOKEN": DEMO_TOKEN };
  const readyMs = await waitReady(
    child,
    `${baseUrl}/projects/${DEMO_PROJECT}/jobs/${DEMO_JOB}`,
    headers,
    () => stderr,
  );
  return {
    name: label,
    kind: "server",
    child,
    port,
    baseUrl,
    headers,
    project: DEMO_PROJECT,
    jobId: DEMO_JOB,
    readyMs: readyMs - started,
  };
}

/** Polls until `url` answers 200 (not merely listening): the time a user waits before the first answer. */
async function waitReady(child, url, headers, stderr, timeoutMs = 180_000) {
  const deadline = performance.now() + timeoutMs;
  let exited = null;
  child.once("exit", (code, signal) => {
    exited = code ?? signal;
  });
  for (;;) {
    if (exited !== null) throw new Error(`server exited (${exited}) before ready:\n${stderr()}`);
    try {
      const res = await fetch(url, { headers });
      await res.arrayBuffer();
      if (res.status === 200) return performance.now();
      throw new Error(`HTTP ${res.status}`);
    } catch (error) {
      if (performance.now() > deadline)
        throw new Error(`server not ready at ${url}: ${error.message}\n${stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
