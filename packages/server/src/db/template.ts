import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Database } from "./database.js";
import { migrate, migrationsDir } from "./migrate.js";
import { openPglite } from "./pglite.js";

/**
 * This module's own file: the source under vitest, `dist/db/template.js` otherwise. Named from `dist/db/` so
 * that the CLI's bundle (`dist/bundle/cli.js`, where `import.meta.url` is the bundle's) keys its templates on
 * this file too, not on the whole bundle, which changes with any of the server's code.
 */
const ownFile = new URL(`../db/template${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * The key of a template: how it is built (this file), the migrations, PGlite's version (its data
 * directory format) and `inputs`.
 */
async function templateKey(inputs: readonly URL[]): Promise<string> {
  const hash = createHash("sha256");
  hash.update(await readFile(ownFile));
  for (const name of (await readdir(migrationsDir)).sort())
    hash.update(await readFile(new URL(name, migrationsDir)));
  // The entry point is `dist/index.js`: the package's manifest, with its version, is one level up.
  hash.update(await readFile(new URL("../package.json", import.meta.resolve("@electric-sql/pglite"))));
  for (const input of inputs) hash.update(await readFile(input));
  return hash.digest("hex").slice(0, 16);
}

const templates = new Map<string, Promise<Blob>>();

/**
 * Run on a template, one statement at a time, before it is dumped. The copies start on a database that only this library uses:
 * without the `template0` and `template1` databases (never connected to; only `CREATE DATABASE` would
 * miss them) the tarball has a third of the files, and unpacking them was ~70 ms of every copy's open.
 * The checkpoint leaves no WAL to replay when a copy starts.
 */
const SHRINK = [
  "ALTER DATABASE template0 IS_TEMPLATE false",
  "DROP DATABASE template0",
  "ALTER DATABASE template1 IS_TEMPLATE false",
  "DROP DATABASE template1",
  "CHECKPOINT",
];

/**
 * A migrated PGlite data directory, filled by `fill`, as a tarball under the OS temp directory: built once
 * (initdb and the migrations, about 3 s) and shared by every process and run until the migrations, PGlite or
 * one of `inputs` (the files `fill` depends on) change. Opening a database from it takes a fraction of that.
 */
export function cachedTemplate(
  name: string,
  inputs: readonly URL[],
  fill: (db: Database) => Promise<unknown>,
): Promise<Blob> {
  let template = templates.get(name);
  if (!template) {
    template = (async () => {
      const file = join(tmpdir(), `jobs-api-${name}-${await templateKey(inputs)}.tar`);
      const cached = await stat(file).then(
        (s) => s.size > 0,
        () => false,
      );
      if (cached) return new Blob([await readFile(file)]);
      const db = await openPglite();
      await migrate(db);
      await fill(db);
      // One at a time: a script runs as one transaction, which DROP DATABASE refuses.
      for (const statement of SHRINK) await db.exec(statement);
      const dump = await db.dump();
      await db.close();
      // Processes building it at once: the rename makes one whole file win. The file only saves the next
      // process the build: where the temp directory cannot be written, this one goes on without it.
      const partial = `${file}.${randomUUID()}`;
      await writeFile(partial, Buffer.from(await dump.arrayBuffer()))
        .then(() => rename(partial, file))
        .catch(() => rm(partial, { force: true }));
      return dump;
    })();
    templates.set(name, template);
  }
  return template;
}

/**
 * A migrated, empty database: what a new in-memory database starts from (`openDatabase`), and a GitLab
 * double before its fixtures (empty, so that their relative times count from each load).
 */
export const migratedTemplate = (): Promise<Blob> => cachedTemplate("migrated", [], async () => {});
