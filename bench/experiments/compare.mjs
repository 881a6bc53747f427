#!/usr/bin/env node
// Before/after of prototype fixes (see server.mjs): the CLI server against experiment servers with patch sets,
// listProjectJobs (20 a page) and getJob, 10 connections, alternating rounds, medians and per-round ratios.
//   node bench/experiments/compare.mjs [--rounds=5] [--duration=4] [--sets=baseline;collapse;collapse,authcache]
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkRun, load } from "../lib/load.mjs";
import { freePort, pinSelf, spawnPinned, stop, waitForHttp } from "../lib/proc.mjs";
import { table } from "../lib/report.mjs";
import { fmt, push, ratioOfRounds, rotation, summary } from "../lib/stats.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const arg = (name, fallback) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const rounds = Number(arg("rounds", 5));
const duration = Number(arg("duration", 4));
const sets = arg("sets", "baseline;collapse;authcache;etag;quiet;collapse,authcache,etag").split(";");
const dataDir = arg("data-dir", "memory://");
const paths = {
  listProjectJobs: "/api/v4/projects/1/jobs?per_page=20",
  getJob: "/api/v4/projects/1/jobs/8",
};
const headers = { "PRIVATE-TOKEN": "glpat-demo-maintainer-token" };

pinSelf(1);
const servers = [];
for (const set of sets) {
  const port = await freePort();
  const patches = set === "baseline" ? "" : set;
  const child = spawnPinned(
    0,
    process.execPath,
    [join(here, "server.mjs"), "--port", String(port), "--data-dir", dataDir, "--patches", patches],
    {
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  servers.push({ set, child, base: `http://127.0.0.1:${port}` });
}
try {
  for (const s of servers) await waitForHttp(`${s.base}/-/health`, 120_000);
  for (const s of servers)
    for (const p of Object.values(paths))
      await load({ url: s.base + p, headers, connections: 10, duration: 1.5 });
  const rps = {};
  for (let round = 0; round < rounds; round++) {
    for (const [op, p] of Object.entries(paths)) {
      for (const s of rotation(servers, round)) {
        const run = checkRun(
          await load({ url: s.base + p, headers, connections: 10, duration }),
          `${op} ${s.set}`,
        );
        push(rps, `${op}|${s.set}`, run.rps);
      }
    }
    console.error(`round ${round + 1} done`);
  }
  const rows = [];
  for (const op of Object.keys(paths)) {
    for (const s of servers) {
      const v = rps[`${op}|${s.set}`];
      rows.push([op, s.set, fmt(summary(v).median), fmt(ratioOfRounds(v, rps[`${op}|${servers[0].set}`]))]);
    }
  }
  console.log(table(["request", "server", "req/s (median)", `× ${servers[0].set}`], rows));
  console.log(JSON.stringify(rps));
} finally {
  await Promise.all(servers.map((s) => stop(s.child)));
}
