// @ts-check
// Workers mode (issue 18): the server with --workers N (one process a core) against one process, on
// PostgreSQL, alternating. Nothing is pinned here: the servers, PostgreSQL and this load generator share
// the machine's cores, as they would on one machine, so the generator's own CPU is in the accounting.
import { cpus } from "node:os";
import { postgresDataset } from "../lib/dataset.mjs";
import { alternate } from "../lib/measure.mjs";
import { startPostgres, stopPostgres } from "../lib/postgres.mjs";
import { cpuSeconds, rssMiB, stop, unpinned } from "../lib/proc.mjs";
import { target } from "../lib/report.mjs";
import { startBound, startServer } from "../lib/servers.mjs";
import { median, ratioOfRounds, summary } from "../lib/stats.mjs";

/** CPU time a request of the ceiling's servers: about what a cached getJob costs the server. */
const BUSY_US = 250;

/**
 * @param {{ options: import("../lib/options.mjs").Options, root: string, cpu: { server: number|null, load: number|null },
 *   log: (msg: string) => void }} ctx
 */
export function workersSuite({ options, root, cpu, log }) {
  return unpinned(cpu, () => workersOn({ options, root, log }));
}

/**
 * @param {{ options: import("../lib/options.mjs").Options, root: string, log: (msg: string) => void }} ctx
 */
async function workersOn({ options, root, log }) {
  const cores = cpus().length;
  const counts = [1, cores];
  const cluster = await startPostgres(root, log, null);
  /** @type {Awaited<ReturnType<typeof startServer>>[]} */
  const servers = [];
  /** @type {Awaited<ReturnType<typeof startServer>>[]} */
  const ceiling = [];
  try {
    const demo = await postgresDataset({ n: 0, adminUrl: cluster.url, log });
    for (const workers of counts) {
      const s = await startServer({
        label: `${workers} worker(s)`,
        cpu: null,
        workers,
        db: { databaseUrl: demo.databaseUrl },
      });
      s.name = `${workers} worker${workers > 1 ? "s" : ""}`;
      servers.push(s);
    }
    // The machine's ceiling: the same process counts doing nothing but a fixed CPU time a request (about a
    // cached getJob's), so that the server's ratio reads against what this machine allows at all.
    for (const workers of counts) {
      const b = await startBound({
        label: `busy cluster ${workers}`,
        script: "busy-cluster.mjs",
        cpu: null,
        args: ["--workers", String(workers), "--busy-us", String(BUSY_US)],
      });
      b.name = `busy cluster, ${workers} process${workers > 1 ? "es" : ""}`;
      ceiling.push(b);
    }
    const [one] = servers;
    const requests = [
      { op: "listProjectJobs", path: `/projects/${one.project}/jobs?per_page=20` },
      { op: "listProjectJobs 2 a page", path: `/projects/${one.project}/jobs?per_page=2` },
      { op: "getJob", path: `/projects/${one.project}/jobs/${one.jobId}` },
    ];
    const idle = servers.map((s) => rssMiB(s.child.pid));
    const targets = [...servers, ...ceiling];
    // The cores each target kept busy: a server's processes and PostgreSQL's (the busy cluster has none).
    /** @param {(typeof targets)[number]} t */
    const cpuOf = (t) => cpuSeconds(t.child.pid) + (servers.includes(t) ? cpuSeconds(cluster.pid) : 0);
    // Enough connections to keep every process busy: with the throughput suites' 10, one worker and its
    // PostgreSQL kept 1.0 core busy and two 1.9, each request waiting on the database more often than on
    // the CPU, and the ratio (1.17–1.42) measured the wait. 20 a core keeps one worker's core saturated.
    const connections = Math.max(options.connections, 20 * cores);
    const measured = await alternate({
      ...options,
      connections,
      targets,
      requests,
      log,
      suffix: ` workers, ${connections} connections`,
      cpuOf,
    });
    const generatorShare = median(Object.values(measured.generatorCores).flat()) / cores;
    const afterLoad = servers.map((s) => rssMiB(s.child.pid));
    const rows = [];
    const met = [];
    const ceilingRatios = [];
    for (const r of requests) {
      for (const s of servers)
        rows.push({
          name: `${r.op} ${s.name} [postgres, unpinned]`,
          unit: "req/s",
          ...summary(measured.rps[`${r.op} ${s.name}`]),
        });
      const ratio = ratioOfRounds(
        measured.rps[`${r.op} ${servers[1].name}`],
        measured.rps[`${r.op} ${one.name}`],
      );
      rows.push({ name: `ratio ${r.op}: ${servers[1].name} / 1 worker`, unit: "×", ...summary([ratio]) });
      met.push(
        target(`${r.op}: ${servers[1].name} / 1 worker (load generator on the same cores)`, ratio, ">=", 1.8),
      );
      ceilingRatios.push(
        ratioOfRounds(measured.rps[`${r.op} ${ceiling[1].name}`], measured.rps[`${r.op} ${ceiling[0].name}`]),
      );
      // Where the ratio goes: the CPU an answer costs the server processes and PostgreSQL with each count,
      // and the most two workers could reach if an answer cost them what it costs one, on the cores the
      // load generator leaves (its cores in the two-worker runs; the one worker's own cores as measured).
      const cores1 = median(measured.targetCores[`${r.op} ${one.name}`] ?? []);
      const generator2 = median(measured.generatorCores[`${r.op} ${servers[1].name}`] ?? []);
      for (const s of servers)
        rows.push({
          name: `CPU per answer, ${r.op}, ${s.name} and PostgreSQL`,
          unit: "µs",
          ...summary(
            (measured.targetCores[`${r.op} ${s.name}`] ?? []).map(
              (c, i) => (c / (measured.rps[`${r.op} ${s.name}`]?.[i] ?? Number.NaN)) * 1e6,
            ),
          ),
        });
      rows.push({
        name: `${r.op}: most 2 workers / 1 could reach at one worker's CPU per answer, (${cores} − load generator's cores) / one worker's cores`,
        unit: "×",
        ...summary([(cores - generator2) / cores1]),
      });
    }
    rows.push({
      name: `machine ceiling: ${ceiling[1].name} / 1, ${BUSY_US} µs of CPU a request (all requests)`,
      unit: "×",
      ...summary(ceilingRatios),
    });
    for (const t of targets)
      rows.push({
        name: `cores busy during the runs, ${t.name}${servers.includes(t) ? " and PostgreSQL" : ""} (all requests)`,
        unit: "cores",
        ...summary(requests.flatMap((r) => measured.targetCores[`${r.op} ${t.name}`] ?? [])),
      });
    servers.forEach((s, i) => {
      rows.push({
        name: `RSS idle, ${s.name} (all processes)`,
        unit: "MiB",
        ...summary([idle[i] ?? Number.NaN]),
      });
      rows.push({
        name: `RSS after load, ${s.name} (all processes)`,
        unit: "MiB",
        ...summary([afterLoad[i] ?? Number.NaN]),
      });
    });
    rows.push({
      name: `load generator's share of the machine's CPU during the runs (${options.load}, median)`,
      unit: "×",
      ...summary([generatorShare]),
    });
    return { rows, targets: met, perRound: measured, memory: { idle, afterLoad }, generatorShare };
  } finally {
    await Promise.all([...servers, ...ceiling].map((s) => stop(s.child)));
    await stopPostgres(cluster);
  }
}
