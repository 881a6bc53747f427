#!/usr/bin/env node
// Soak: the server under a steady mix of reads, lists, traces and actions (retry, cancel) for a long time
// (10 minutes by default), reporting its memory (RSS and V8 heap) at the start, every minute and at the end,
// so that a leak shows as a climb. Memory, not speed: the load is moderate and the server not pinned.
//
//   node bench/suites/soak.mjs [--duration 600] [--connections 8] [--postgres] [--interval 60]
//
// The server is the real CLI (packages/server/dist/cli.js: build first), on an embedded database in a
// fresh data directory (or a throwaway PostgreSQL cluster with --postgres), logging at info to /dev/null.
// It reports its own process.memoryUsage() over an IPC channel, through a module preloaded with --import.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEMO_IDS, DEMO_TOKENS } from "@jobs-api/server";
import { startPostgres, stopPostgres } from "../lib/postgres.mjs";
import { freePort, waitForHttp } from "../lib/proc.mjs";
import { table } from "../lib/report.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const CLI = join(root, "packages/server/dist/cli.js");
const PROJECT = DEMO_IDS.project;
const HEADERS = { "PRIVATE-TOKEN": DEMO_TOKENS.maintainer };

/** Preloaded into the server: answers "memory" with its process.memoryUsage(), without keeping it alive. */
const PROBE = `data:text/javascript,${encodeURIComponent(
  'process.on("message",(m)=>{if(m==="memory")process.send({memory:process.memoryUsage()})});process.channel?.unref();',
)}`;

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "600" },
    interval: { type: "string", default: "60" },
    connections: { type: "string", default: "8" },
    postgres: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(
    "usage: node bench/suites/soak.mjs [--duration seconds (600)] [--interval seconds (60)] [--connections n (8)] [--postgres]",
  );
  process.exit(0);
}
const duration = Number(values.duration);
const interval = Number(values.interval);
const connections = Number(values.connections);
for (const [name, value] of [
  ["duration", duration],
  ["interval", interval],
  ["connections", connections],
]) {
  if (!(Number.isInteger(value) && value > 0)) {
    console.error(`invalid --${name}: ${values[name]} (a whole number above 0)`);
    process.exit(2);
  }
}
const log = (msg) => console.error(msg);

/** The server, its data directory or cluster, and a way to ask its memory. */
async function startSoakServer() {
  const port = await freePort();
  const args = ["--port", String(port), "--host", "127.0.0.1"];
  let cluster = null;
  let dataDir = null;
  if (values.postgres) {
    cluster = await startPostgres(root, log);
    args.push("--database-url", cluster.url, "--seed-demo");
  } else {
    dataDir = mkdtempSync(join(tmpdir(), "jobs-api-soak-"));
    args.push("--data-dir", dataDir);
  }
  const env = { ...process.env, LOG_FORMAT: "json" };
  delete env.DATABASE_URL;
  delete env.JOBS_API_DEMO_TOKEN;
  const child = spawn(process.execPath, ["--import", PROBE, CLI, ...args], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    env,
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}/api/v4/projects/${PROJECT}/jobs/${DEMO_IDS.exampleJobs[2]}`, 180_000, HEADERS);
  const memory = async () => {
    child.send("memory");
    const [message] = await once(child, "message");
    return message.memory;
  };
  const stop = async () => {
    child.kill("SIGTERM");
    await once(child, "exit");
    if (cluster) await stopPostgres(cluster);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  return { origin, memory, stop };
}

/** Counts of the answers by status, and of requests that failed outright. */
const counts = { requests: 0, byStatus: {}, failed: 0 };

async function request(origin, method, path) {
  try {
    const res = await fetch(`${origin}/api/v4${path}`, { method, headers: HEADERS });
    const body = await res.text();
    counts.requests++;
    counts.byStatus[res.status] = (counts.byStatus[res.status] ?? 0) + 1;
    return { status: res.status, body };
  } catch {
    counts.failed++;
    return { status: 0, body: "" };
  }
}

/**
 * One connection's loop: a job, a page of the list, a trace, then one action of its chain (retry of its
 * job, then cancel of the new attempt, and so on). Each chain has a name and pipeline of its own, so that
 * the chains never retry each other's jobs; a chain that is refused starts from its first job's newest
 * attempt by reading the list again.
 */
async function worker(origin, start, deadline) {
  let job = start.id;
  let step = "retry";
  const jobs = [DEMO_IDS.exampleJobs[2], DEMO_IDS.exampleJobs[1], start.id];
  let i = 0;
  while (performance.now() < deadline) {
    await request(origin, "GET", `/projects/${PROJECT}/jobs/${jobs[i++ % jobs.length]}`);
    await request(origin, "GET", `/projects/${PROJECT}/jobs?per_page=20`);
    await request(origin, "GET", `/projects/${PROJECT}/jobs/${DEMO_IDS.exampleJobs[1]}/trace`);
    const r = await request(origin, "POST", `/projects/${PROJECT}/jobs/${job}/${step}`);
    if (r.status !== 201) {
      step = "retry";
      continue;
    }
    if (step === "retry") {
      job = JSON.parse(r.body).id;
      jobs[2] = job;
      step = "cancel";
    } else {
      step = "retry";
    }
  }
}

/** Finished jobs of distinct name and pipeline: the chains' starting points. */
async function chainStarts(origin) {
  const r = await request(
    origin,
    "GET",
    `/projects/${PROJECT}/jobs?scope[]=success&scope[]=failed&scope[]=canceled&per_page=100`,
  );
  const seen = new Set();
  return JSON.parse(r.body).filter((j) => {
    const key = `${j.pipeline.id} ${j.name}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const mb = (bytes) => (bytes / 2 ** 20).toFixed(1);

async function main() {
  log(
    `soak: ${duration} s, ${connections} connections, ${values.postgres ? "PostgreSQL" : "embedded PGlite (data directory)"}`,
  );
  const server = await startSoakServer();
  const samples = [];
  const sample = async (label) => {
    const m = await server.memory();
    const row = {
      at: label,
      elapsedS: Math.round((performance.now() - t0) / 1000),
      requests: counts.requests,
      rssMB: Number(mb(m.rss)),
      heapUsedMB: Number(mb(m.heapUsed)),
      heapTotalMB: Number(mb(m.heapTotal)),
      externalMB: Number(mb(m.external)),
    };
    samples.push(row);
    log(
      `  ${label.padEnd(6)} ${String(row.elapsedS).padStart(5)} s  ${String(row.requests).padStart(8)} requests  rss ${row.rssMB} MB  heap ${row.heapUsedMB}/${row.heapTotalMB} MB  external ${row.externalMB} MB`,
    );
  };
  const t0 = performance.now();
  try {
    const starts = await chainStarts(server.origin);
    if (starts.length < connections)
      throw new Error(`only ${starts.length} chains for ${connections} connections`);
    await sample("start");
    const deadline = t0 + duration * 1000;
    const workers = starts.slice(0, connections).map((start) => worker(server.origin, start, deadline));
    let minute = 0;
    const timer = setInterval(() => {
      minute++;
      void sample(`${Math.round((minute * interval * 100) / 60) / 100} min`);
    }, interval * 1000);
    await Promise.all(workers);
    clearInterval(timer);
    await sample("end");
  } finally {
    await server.stop();
  }

  const first = samples[0];
  // The first sample after a full interval: the start still holds what building the database left.
  const warm = samples.length > 2 ? samples[1] : first;
  const last = samples.at(-1);
  const result = {
    started: new Date(Date.now() - (performance.now() - t0)).toISOString(),
    node: process.version,
    command: `node bench/suites/soak.mjs ${process.argv.slice(2).join(" ")}`.trim(),
    durationS: duration,
    connections,
    database: values.postgres ? "postgres" : "pglite",
    counts,
    samples,
    rssGrowthMB: Number((last.rssMB - first.rssMB).toFixed(1)),
    heapUsedGrowthMB: Number((last.heapUsedMB - first.heapUsedMB).toFixed(1)),
    rssGrowthSinceFirstIntervalMB: Number((last.rssMB - warm.rssMB).toFixed(1)),
    rssRangeAfterFirstIntervalMB: [
      Math.min(...samples.slice(1).map((s) => s.rssMB)),
      Math.max(...samples.slice(1).map((s) => s.rssMB)),
    ],
  };
  const resultsDir = join(root, "bench/results");
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `soak-${result.started.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    table(
      ["at", "elapsed (s)", "requests", "RSS (MB)", "heap used (MB)", "heap total (MB)", "external (MB)"],
      samples.map((s) => [s.at, s.elapsedS, s.requests, s.rssMB, s.heapUsedMB, s.heapTotalMB, s.externalMB]),
    ),
  );
  console.log(
    `\n${counts.requests} requests (${Math.round(counts.requests / duration)}/s), by status ${JSON.stringify(counts.byStatus)}, ${counts.failed} failed outright; RSS ${result.rssGrowthMB >= 0 ? "+" : ""}${result.rssGrowthMB} MB, heap used ${result.heapUsedGrowthMB >= 0 ? "+" : ""}${result.heapUsedGrowthMB} MB from start to end; RSS ${result.rssGrowthSinceFirstIntervalMB >= 0 ? "+" : ""}${result.rssGrowthSinceFirstIntervalMB} MB from ${warm.at} to end (range ${result.rssRangeAfterFirstIntervalMB.join("–")} MB). ${file}`,
  );
  if (counts.failed > 0 || Object.keys(counts.byStatus).some((s) => s >= 500)) process.exitCode = 1;
}

await main();
