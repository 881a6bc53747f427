import type { Database } from "./database.js";
import { migrate } from "./migrate.js";

export interface OpenDatabaseOptions {
  /** `postgres://…`: use that PostgreSQL server; otherwise the embedded PGlite. */
  databaseUrl?: string;
  /** PGlite data directory, or `memory://`. Ignored with `databaseUrl`. */
  dataDir?: string;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  /** PostgreSQL only: told when an idle connection is lost. */
  onConnectionError?: (error: Error) => void;
}

/**
 * Opens PostgreSQL (`databaseUrl`) or PGlite (`dataDir`, in memory by default) and migrates it. Only the
 * adapter in use is loaded: node-postgres was ~40 ms of every embedded server's start.
 */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  const db = options.databaseUrl
    ? (await import("./postgres.js")).openPostgres({
        connectionString: options.databaseUrl,
        ...(options.onConnectionError ? { onConnectionError: options.onConnectionError } : {}),
      })
    : await (await import("./pglite.js")).openPglite(
        options.dataDir === undefined ? {} : { dataDir: options.dataDir },
      );
  if (options.migrate !== false) {
    try {
      await migrate(db);
    } catch (error) {
      await db.close();
      throw error;
    }
  }
  return db;
}
