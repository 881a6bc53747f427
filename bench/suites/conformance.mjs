// @ts-check
// Suite 5b: a full conformance run (destructive checks included) against the local reference server, as a
// user runs it: the jobs-api-conformance CLI, wall time from spawn to exit. A fresh in-memory server per
// round, since the destructive checks change its data.
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_TOKENS } from "@jobs-api/server";
import { spawnPinned, stop } from "../lib/proc.mjs";
import { startServer } from "../lib/servers.mjs";
import { summary } from "../lib/stats.mjs";

const CLI = "packages/conformance/dist/cli.js";

export async function conformanceSuite({ options, root, cpu, log }) {
  const rounds = options.quick ? 1 : 3;
  const wall = [];
  const reported = [];
  let counts = null;
  for (let round = 0; round < rounds; round++) {
    const server = await startServer({ label: "conformance", cpu: cpu.server, db: {} });
    const json = join(tmpdir(), `jobs-api-bench-conformance-${process.pid}-${round}.json`);
    try {
      const args = [
        join(root, CLI),
        "--base-url",
        server.baseUrl,
        "--token",
        server.headers["PRIVATE-TOKEN"],
        "--project",
        String(server.project),
        "--job-token",
        DEMO_TOKENS.job,
        "--destructive",
        "--json",
        json,
      ];
      const t0 = performance.now();
      const code = await new Promise((resolve, reject) => {
        const child = spawnPinned(cpu.load, process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.setEncoding("utf8");
        child.stderr.on("data", (d) => {
          stderr = (stderr + d).slice(-2000);
        });
        child.on("error", reject);
        child.on("exit", (c) =>
          c === 2 ? reject(new Error(`conformance CLI: usage/connection error\n${stderr}`)) : resolve(c),
        );
      });
      wall.push((performance.now() - t0) / 1000);
      const report = JSON.parse(readFileSync(json, "utf8"));
      reported.push(report.durationMs / 1000);
      counts = report.counts;
      log(
        `  round ${round + 1}: ${(wall.at(-1) ?? Number.NaN).toFixed(2)} s wall, exit ${code}, ${JSON.stringify(report.counts)}`,
      );
    } finally {
      rmSync(json, { force: true });
      await stop(server.child);
    }
  }
  return {
    rows: [
      { name: "conformance: full run, CLI wall time", unit: "s", ...summary(wall) },
      { name: "conformance: checks only (report durationMs)", unit: "s", ...summary(reported) },
    ],
    counts,
  };
}
