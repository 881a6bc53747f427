// @ts-check
// Server ready time: spawn of `jobs-api-server` to the first 200 answer of getJob, on an existing PGlite
// data directory (demo data only, and the largest scale dataset when it exists), alternating, sequential
// (a PGlite directory has one process at a time). A fresh in-memory database (a copy of the cached migrated
// template, then the demo data) is shown for comparison. Beside each time, the CPU the server process
// used to get there (all its threads, from /proc): on a machine others load, the wall time swings with
// their work, the CPU much less, and on the one core the server has, the CPU is what a start can save.

import { pgliteDataset } from "../lib/dataset.mjs";
import { cpuSeconds, stop } from "../lib/proc.mjs";
import { target } from "../lib/report.mjs";
import { startServer } from "../lib/servers.mjs";
import { push, summary } from "../lib/stats.mjs";
import { fmtSize } from "./scale.mjs";

export async function readySuite({ options, root, cpu, log }) {
  const demo = await pgliteDataset({ root, n: 0, log });
  /** @type {{ name: string, db: { dataDir?: string }, cli?: string }[]} */
  const candidates = [{ name: "existing data dir, demo data", db: { dataDir: demo.dataDir } }];
  // Another build (--baseline) on the same data dir, alternating with this one: before/after of a change.
  if (options.baseline)
    candidates.push({
      name: "existing data dir, demo data, baseline build",
      db: { dataDir: demo.dataDir },
      cli: options.baseline,
    });
  const biggest = Math.max(...options.sizes);
  const big = await pgliteDataset({ root, n: biggest, log });
  candidates.push({ name: `existing data dir, ${fmtSize(biggest)} jobs`, db: { dataDir: big.dataDir } });
  if (!options.quick) candidates.push({ name: "fresh in-memory database (template copy + seed)", db: {} });
  const rounds = options.quick ? 2 : Math.max(options.rounds, 3);
  const ms = {};
  const cpuUsed = {};
  // One unmeasured start of each: the first open after a build may hit a cold page cache.
  for (const c of candidates.filter((c) => c.db.dataDir))
    await stop((await startServer({ label: "warm", cpu: cpu.server, db: c.db, cli: c.cli })).child);
  for (let round = 0; round < rounds; round++) {
    for (const c of round % 2 ? [...candidates].reverse() : candidates) {
      const s = await startServer({ label: `ready ${c.name}`, cpu: cpu.server, db: c.db, cli: c.cli });
      push(ms, c.name, s.readyMs);
      push(cpuUsed, c.name, cpuSeconds(s.child.pid) * 1000);
      await stop(s.child);
    }
    log(
      `  round ${round + 1}: ${candidates.map((c) => `${c.name} ${Math.round(ms[c.name].at(-1))} ms (CPU ${Math.round(cpuUsed[c.name].at(-1))} ms)`).join(", ")}`,
    );
  }
  const rows = candidates.flatMap((c) => [
    { name: `server ready: ${c.name}`, unit: "ms", ...summary(ms[c.name]) },
    { name: `server CPU to ready: ${c.name}`, unit: "ms", ...summary(cpuUsed[c.name]) },
  ]);
  return {
    rows,
    perRound: { ms, cpuMs: cpuUsed },
    targets: candidates
      .filter((c) => c.db.dataDir && !c.cli)
      .map((c) => target(`server ready (s), ${c.name}`, summary(ms[c.name]).median / 1000, "<=", 0.5)),
  };
}
