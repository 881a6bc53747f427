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
 * PGlite in `dataDir`. A new in-memory database to migrate starts as a copy of the migrated template
 * (`db/template.ts`, cached under the OS temp directory): initdb and the migrations were ~3 s of every
 * such start (`--fixtures`, a test's server), the copy is a tenth of that.
 */
async function openEmbedded(dataDir: string, migrated: boolean): Promise<Database> {
  const { openPglite } = await import("./pglite.js");
  if (!(migrated && dataDir.startsWith("memory://"))) return openPglite({ dataDir });
  const { migratedTemplate } = await import("./template.js");
  return openPglite({ dataDir, loadDataDir: await migratedTemplate() });
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
    : await openEmbedded(options.dataDir ?? "memory://", options.migrate !== false);
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
