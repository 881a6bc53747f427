import { readdir, readFile } from "node:fs/promises";
import type { Database } from "./database.js";

/** `packages/server/migrations`, both from `src/db` (tests) and from `dist/db` (the built server). */
export const migrationsDir = new URL("../../migrations/", import.meta.url);

/** Arbitrary constant shared by every process that migrates the same database. */
const MIGRATION_LOCK = 7_210_004;

/** PostgreSQL's undefined_table: the database was never migrated. */
const UNDEFINED_TABLE = "42P01";

/** The migrations applied already, or null when the bookkeeping table does not exist yet. */
async function appliedMigrations(db: Database): Promise<Set<string> | null> {
  try {
    return new Set(
      (await db.query<{ name: string }>("SELECT name FROM schema_migrations")).map((row) => row.name),
    );
  } catch (error) {
    if ((error as { code?: unknown }).code === UNDEFINED_TABLE) return null;
    throw error;
  }
}

/**
 * Applies the migrations not applied yet, in file-name order, in one transaction under an advisory
 * lock, so several server processes starting at once on one PostgreSQL database migrate it once.
 * Returns the names of the migrations applied.
 */
export async function migrate(db: Database): Promise<string[]> {
  const files = (await readdir(migrationsDir)).filter((name) => name.endsWith(".sql")).sort();
  // Every start but the first after an upgrade finds nothing to do: one query says so, without the
  // transaction, the lock and the DDL below (~0.1 s of CPU of an embedded start). Migrations are only
  // ever added, so a database found up to date cannot fall behind before the check returns.
  const applied = await appliedMigrations(db);
  if (applied && files.every((name) => applied.has(name))) return [];
  return db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await tx.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    const done = new Set(
      (await tx.query<{ name: string }>("SELECT name FROM schema_migrations")).map((row) => row.name),
    );
    const applied: string[] = [];
    for (const name of files) {
      if (done.has(name)) continue;
      await tx.exec(await readFile(new URL(name, migrationsDir), "utf8"));
      await tx.query("INSERT INTO schema_migrations (name) VALUES ($1)", [name]);
      applied.push(name);
    }
    return applied;
  });
}
