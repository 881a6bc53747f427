// @ts-check
// Soak (issue 17): the server under a steady mix of reads, lists, traces and actions (retry, cancel) for a
// long time (10 minutes by default), with its memory (RSS and V8 heap) at the start, every interval and at
// the end, so that a leak shows as a climb. Memory, not speed: the load is moderate and nothing is pinned.
// Only when asked (--only=soak): --duration is the whole run, --interval the time between samples.
//
// The server is the real CLI on an embedded database in a fresh data directory (or on a throwaway
// PostgreSQL cluster with --db=postgres), logging at info to /dev/null. It reports its own
// process.memoryUsage() over an IPC channel (servers.mjs's memory probe).
//
// The load is its own loop, not lib/measure.mjs's: each connection follows a chain of retries and
// cancels whose next request depends on the last answer (the new attempt's id), which autocannon's fixed
// URLs cannot do; and its output is memory over time, not rates of alternating candidates.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_IDS } from "@jobs-api/server";
import { startPostgres, stopPostgres } from "../lib/postgres.mjs";
import { stop, unpinned } from "../lib/proc.mjs";
import { memoryOf, startServer } from "../lib/servers.mjs";
import { summary } from "../lib/stats.mjs";
import { perDatabase } from "../lib/suite.mjs";

/**
 * @typedef {{ requests: number, byStatus: Record<string, number>, failed: number }} Counts
 * @typedef {{ at: string, elapsedS: number, requests: number, rssMB: number, heapUsedMB: number,
 *   heapTotalMB: number, externalMB: number }} Sample
 * @typedef {{ id: number, name: string, pipeline: { id: number } }} ListedJob
 */

/**
 * @param {{ options: import("../lib/options.mjs").Options, root: string, cpu: { load: number|null },
 *   log: (msg: string) => void }} ctx
 */
export function soakSuite({ options, root, cpu, log }) {
  return unpinned(cpu, () => perDatabase(options.db, (engine) => soakOn(engine, { options, root, log })));
}

/**
 * @param {string} engine
 * @param {{ options: import("../lib/options.mjs").Options, root: string, log: (msg: string) => void }} ctx
 */
async function soakOn(engine, { options, root, log }) {
  const { duration, interval, connections } = options.soak;
  log(`  soak [${engine}]: ${duration} s, ${connections} connections, memory every ${interval} s`);
  const cluster = engine === "postgres" ? await startPostgres(root, log, null) : null;
  const dataDir = cluster ? null : mkdtempSync(join(tmpdir(), "jobs-api-soak-"));
  /** @type {Awaited<ReturnType<typeof startServer>> | null} */
  let server = null;
  /** @type {Counts} */
  const counts = { requests: 0, byStatus: {}, failed: 0 };
  /** @type {Sample[]} */
  const samples = [];
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  try {
    server = await startServer({
      label: `soak ${engine}`,
      cpu: null,
      db: cluster ? { databaseUrl: cluster.url } : { dataDir: dataDir ?? undefined },
      memoryProbe: true,
    });
    const { child } = server;
    const api = apiOf(server, counts);
    const t0 = performance.now();
    /** @param {string} label */
    const sample = async (label) => {
      const m = await memoryOf(child);
      const row = {
        at: label,
        elapsedS: Math.round((performance.now() - t0) / 1000),
        requests: counts.requests,
        rssMB: mb(m.rss),
        heapUsedMB: mb(m.heapUsed),
        heapTotalMB: mb(m.heapTotal),
        externalMB: mb(m.external),
      };
      samples.push(row);
      log(
        `  ${label.padEnd(8)} ${String(row.elapsedS).padStart(5)} s  ${String(row.requests).padStart(8)} requests  ` +
          `rss ${row.rssMB} MB  heap ${row.heapUsedMB}/${row.heapTotalMB} MB  external ${row.externalMB} MB`,
      );
    };
    const { project } = server;
    const starts = await chainStarts(api, project);
    if (starts.length < connections)
      throw new Error(`only ${starts.length} retry chains for ${connections} connections`);
    await sample("start");
    const deadline = t0 + duration * 1000;
    const loops = starts.slice(0, connections).map((start) => connection(api, project, start.id, deadline));
    let n = 0;
    timer = setInterval(() => {
      n++;
      void sample(`${Math.round((n * interval * 100) / 60) / 100} min`);
    }, interval * 1000);
    await Promise.all(loops);
    clearInterval(timer);
    await sample("end");
  } finally {
    clearInterval(timer);
    if (server) await stop(server.child);
    if (cluster) await stopPostgres(cluster);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }

  const failing = Object.keys(counts.byStatus).filter((status) => Number(status) >= 500);
  if (counts.failed > 0 || failing.length)
    throw new Error(
      `soak [${engine}]: ${counts.failed} requests failed outright, answers by status ${JSON.stringify(counts.byStatus)}`,
    );
  // After the first interval: the start still holds what building the database left.
  const settled = samples.length > 2 ? samples.slice(1) : samples;
  const [first, last] = [samples[0], samples[samples.length - 1]];
  const growth = Number((last.rssMB - settled[0].rssMB).toFixed(1));
  log(
    `  ${counts.requests} requests (${Math.round(counts.requests / duration)}/s), by status ${JSON.stringify(counts.byStatus)}; ` +
      `RSS ${first.rssMB} MB at the start, ${growth >= 0 ? "+" : ""}${growth} MB from ${settled[0].at} to the end`,
  );
  const tag = `[${engine}, ${duration} s, ${connections} connections]`;
  return {
    rows: [
      { name: `soak requests ${tag}`, unit: "req/s", ...summary([counts.requests / duration]) },
      {
        name: `soak RSS from ${settled[0].at} on ${tag}`,
        unit: "MB",
        ...summary(settled.map((s) => s.rssMB)),
      },
      {
        name: `soak heap used from ${settled[0].at} on ${tag}`,
        unit: "MB",
        ...summary(settled.map((s) => s.heapUsedMB)),
      },
      { name: `soak RSS growth from ${settled[0].at} to the end ${tag}`, unit: "MB", ...summary([growth]) },
    ],
    targets: [],
    counts,
    samples,
  };
}

/** @param {number} bytes */
const mb = (bytes) => Number((bytes / 2 ** 20).toFixed(1));

/**
 * Requests to the server's API that count the answers by status and the requests that failed outright.
 * @param {{ baseUrl: string, headers: Record<string, string> }} server
 * @param {Counts} counts
 */
function apiOf({ baseUrl, headers }, counts) {
  /** @param {string} method @param {string} path @returns {Promise<{ status: number, body: string }>} */
  return async (method, path) => {
    try {
      const res = await fetch(`${baseUrl}${path}`, { method, headers });
      const body = await res.text();
      counts.requests++;
      counts.byStatus[res.status] = (counts.byStatus[res.status] ?? 0) + 1;
      return { status: res.status, body };
    } catch {
      counts.failed++;
      return { status: 0, body: "" };
    }
  };
}

/** @typedef {ReturnType<typeof apiOf>} Api */

/**
 * Finished jobs of distinct name and pipeline: the chains' starting points.
 * @param {Api} api
 * @param {number} project
 * @returns {Promise<ListedJob[]>}
 */
async function chainStarts(api, project) {
  const r = await api(
    "GET",
    `/projects/${project}/jobs?scope[]=success&scope[]=failed&scope[]=canceled&per_page=100`,
  );
  const seen = new Set();
  return /** @type {ListedJob[]} */ (JSON.parse(r.body)).filter((j) => {
    const key = `${j.pipeline.id} ${j.name}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * One connection's loop: a job, a page of the list, a trace, then one action of its chain (retry of its
 * job, then cancel of the new attempt, and so on). Each chain has a name and pipeline of its own, so that
 * the chains never retry each other's jobs; a refused action starts the chain again with a retry.
 * @param {Api} api
 * @param {number} project
 * @param {number} start the chain's first job
 * @param {number} deadline performance.now() at which to stop
 */
async function connection(api, project, start, deadline) {
  const [, traced, other] = DEMO_IDS.exampleJobs;
  let job = start;
  let step = "retry";
  const jobs = [other, traced, start];
  let i = 0;
  while (performance.now() < deadline) {
    await api("GET", `/projects/${project}/jobs/${jobs[i++ % jobs.length]}`);
    await api("GET", `/projects/${project}/jobs?per_page=20`);
    await api("GET", `/projects/${project}/jobs/${traced}/trace`);
    const r = await api("POST", `/projects/${project}/jobs/${job}/${step}`);
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
