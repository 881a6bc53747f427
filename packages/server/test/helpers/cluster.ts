import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const script = fileURLToPath(new URL("../../../../scripts/test-postgres.sh", import.meta.url));

/**
 * A PostgreSQL cluster of the test's own, from scripts/test-postgres.sh: it can be stopped and started
 * again on the same port and data, which the cluster other tests share (JOBS_API_TEST_DATABASE_URL) must not.
 */
export interface OwnCluster {
  url: string;
  /** Stops it as a crash would (`pg_ctl -m immediate`): connections are cut, nothing is shut down cleanly. */
  stop(): Promise<void>;
  /** Starts it again, with the options it was started with; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it and removes its files. */
  remove(): Promise<void>;
}

/** PostgreSQL refuses to run as root: as the script does, run its tools as `postgres` then. */
function asPostgres(command: string, args: string[]): Promise<unknown> {
  return process.getuid?.() === 0
    ? run("runuser", ["-u", "postgres", "--", command, ...args])
    : run(command, args);
}

export async function startOwnCluster(): Promise<OwnCluster> {
  const { stdout } = await run("bash", [script, "start"]);
  const url = /JOBS_API_TEST_DATABASE_URL=(\S+)/.exec(stdout)?.[1];
  const dir = /JOBS_API_TEST_PGDATA=(\S+)/.exec(stdout)?.[1];
  if (!url || !dir) throw new Error(`test-postgres.sh start printed no URL:\n${stdout}`);
  const data = join(dir, "data");
  // The postmaster's command line as the script gave it: `…/bin/postgres "-D" "…/data" "-c" "port=…" …`.
  const [binary = "", ...words] = (
    readFileSync(join(data, "postmaster.opts"), "utf8").match(/"[^"]*"|\S+/g) ?? []
  ).map((word) => word.replace(/^"|"$/g, ""));
  const pgCtl = join(dirname(binary), "pg_ctl");
  const options = words.filter((_, i) => words[i] !== "-D" && words[i - 1] !== "-D").join(" ");
  return {
    url,
    stop: async () => {
      await asPostgres(pgCtl, ["-D", data, "-m", "immediate", "-w", "stop"]);
    },
    start: async () => {
      await asPostgres(pgCtl, ["-D", data, "-l", join(dir, "log"), "-w", "-o", options, "start"]);
    },
    remove: async () => {
      await run("bash", [script, "stop", dir]);
    },
  };
}
