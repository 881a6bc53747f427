// @ts-check
// A throwaway PostgreSQL cluster for the scale suite, through the project's scripts/test-postgres.sh.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { hasTaskset } from "./proc.mjs";

/**
 * `cpu`: pin the postmaster (and so every backend it forks from then on) to the servers' core, so that
 * PostgreSQL competes with the server it serves, not with the load generator.
 */
export async function startPostgres(root, log, cpu = null) {
  const out = execFileSync("bash", [join(root, "scripts/test-postgres.sh"), "start"], { encoding: "utf8" });
  const url = /JOBS_API_TEST_DATABASE_URL=(\S+)/.exec(out)?.[1];
  const dir = /JOBS_API_TEST_PGDATA=(\S+)/.exec(out)?.[1];
  if (!url || !dir) throw new Error(`test-postgres.sh start printed no URL:\n${out}`);
  const pid = readFileSync(join(dir, "data/postmaster.pid"), "utf8").split("\n")[0];
  const pinned =
    hasTaskset &&
    cpu !== null &&
    spawnSync("taskset", ["-cp", String(cpu), pid], { stdio: "ignore" }).status === 0;
  log(`  PostgreSQL at ${url}${pinned ? ` (postmaster pinned to core ${cpu})` : ""}`);
  return { url, dir, root, pid: Number(pid) };
}

export async function stopPostgres(cluster) {
  execFileSync("bash", [join(cluster.root, "scripts/test-postgres.sh"), "stop", cluster.dir], {
    stdio: "ignore",
  });
}
