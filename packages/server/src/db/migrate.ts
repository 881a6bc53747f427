import { readdir, readFile } from "node:fs/promises";
import type { Database } from "./database.js";

/** `packages/server/migrations`, both from `src/db` (tests) and from `dist/db` (the built server). */
export const migrationsDir = new URL("../../migrations/", import.meta.url);

/** Arbitrary constant shared by every process that migrates the same database. */
const MIGRATION_LOCK = 7_210_004;

/**
 * Applies the migrations not applied yet, in file-name order, in one transaction under an advisory
 * lock, so several server processes starting at once on one PostgreSQL database migrate it once.
 * Returns the names of the migrations applied.
 */
export async function migrate(db: Database): Promise<string[]> {
  const files = (await readdir(migrationsDir)).filter((name) => name.endsWith(".sql")).sort();
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
