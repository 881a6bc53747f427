import type { Database } from "./database.js";
import { migrate } from "./migrate.js";
import { openPglite } from "./pglite.js";
import { openPostgres } from "./postgres.js";

export type { Database, Queryable } from "./database.js";
export { migrate, migrationsDir } from "./migrate.js";
export { openPglite, type PgliteOptions } from "./pglite.js";
export { openPostgres, type PostgresOptions } from "./postgres.js";

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

/** Opens PostgreSQL (`databaseUrl`) or PGlite (`dataDir`, in memory by default) and migrates it. */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  const db = options.databaseUrl
    ? openPostgres({
        connectionString: options.databaseUrl,
        ...(options.onConnectionError ? { onConnectionError: options.onConnectionError } : {}),
      })
    : await openPglite(options.dataDir === undefined ? {} : { dataDir: options.dataDir });
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
