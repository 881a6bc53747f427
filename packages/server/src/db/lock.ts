import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

/** The lock file in a PGlite data directory, like PostgreSQL's `postmaster.pid`. */
const LOCK_FILE = "jobs-api.pid";

/** A data directory held by another live process. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `data directory ${dataDir} is in use by process ${pid}: one server per data directory (stop it, or use another --data-dir)`,
    );
  }
}

/** Whether process `pid` is alive: signal 0 checks without sending anything. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function holder(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8"), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Takes the single-writer lock of a PGlite data directory, as PostgreSQL refuses a second postmaster on one
 * data directory: two embedded databases writing the same files lose each other's writes. The lock file
 * names the holder's pid; a lock left by a process that no longer runs (killed with SIGKILL) is taken over.
 * Returns the release, which removes the file.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        if (holder(path) === process.pid) unlinkSync(path);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const pid = holder(path);
      if (pid !== null && alive(pid)) throw new DataDirInUseError(dataDir, pid);
      // Stale: its process is gone (or the file is unreadable garbage). Taken over on the next attempt.
      unlinkSync(path);
    }
  }
  throw new Error(`could not lock data directory ${dataDir}`);
}
