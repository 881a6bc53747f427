// A throwaway PostgreSQL cluster for the scale suite, through the project's scripts/test-postgres.sh.
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export async function startPostgres(root, log) {
  const out = execFileSync("bash", [join(root, "scripts/test-postgres.sh"), "start"], { encoding: "utf8" });
  const url = /JOBS_API_TEST_DATABASE_URL=(\S+)/.exec(out)?.[1];
  const dir = /JOBS_API_TEST_PGDATA=(\S+)/.exec(out)?.[1];
  if (!url || !dir) throw new Error(`test-postgres.sh start printed no URL:\n${out}`);
  log(`  PostgreSQL at ${url}`);
  return { url, dir, root };
}

export async function stopPostgres(cluster) {
  execFileSync("bash", [join(cluster.root, "scripts/test-postgres.sh"), "stop", cluster.dir], {
    stdio: "ignore",
  });
}
