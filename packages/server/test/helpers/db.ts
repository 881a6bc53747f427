import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import {
  type Database,
  migrate,
  migrationsDir,
  openPglite,
  openPostgres,
  seedDemo,
} from "../../src/index.js";

/** A real PostgreSQL server for the PG variants of the store tests (a superuser on an admin database). */
export const postgresUrl = process.env.JOBS_API_TEST_DATABASE_URL;

/** What the seeded data depends on: the demo file and the code that loads it. */
const seedSources = [
  "../../fixtures/demo.yaml",
  "../../src/seed/demo.ts",
  "../../src/fixtures/load.ts",
  "../../src/store/create.ts",
].map((path) => new URL(path, import.meta.url));

/** The template changes whenever the migrations, the seed or PGlite change. */
async function templateKey(): Promise<string> {
  const hash = createHash("sha256");
  for (const name of (await readdir(migrationsDir)).sort())
    hash.update(await readFile(new URL(name, migrationsDir)));
  for (const source of seedSources) hash.update(await readFile(source));
  hash.update(
    await readFile(new URL("../../node_modules/@electric-sql/pglite/package.json", import.meta.url)),
  );
  return hash.digest("hex").slice(0, 16);
}

/**
 * A migrated, seeded PGlite data directory as a tarball under the OS temp dir, built once (about 3 s)
 * and reused by every test file and every run until its inputs change.
 */
async function template(): Promise<Blob> {
  const file = join(tmpdir(), `jobs-api-server-template-${await templateKey()}.tar`);
  const exists = await stat(file).then(
    (s) => s.size > 0,
    () => false,
  );
  if (!exists) {
    const db = await openPglite();
    await migrate(db);
    await seedDemo(db);
    const dump = await db.dump();
    await db.close();
    // Parallel test files may build it at once; the rename makes whichever finishes last win atomically.
    const partial = `${file}.${randomUUID()}`;
    await writeFile(partial, Buffer.from(await dump.arrayBuffer()));
    await rename(partial, file);
  }
  return new Blob([await readFile(file)]);
}

/** A fresh in-memory PGlite with the schema and the demo data, in about half a second. */
export async function openTestPglite(): Promise<Database> {
  return openPglite({ loadDataDir: await template() });
}

/** A PGlite data directory holding the migrated, seeded template, for server processes to start on. */
export async function createTestDataDir(dataDir: string): Promise<void> {
  const db = await openPglite({ dataDir, loadDataDir: await template() });
  await db.close();
}

/** An empty database on the PostgreSQL server of `JOBS_API_TEST_DATABASE_URL`; `drop()` removes it. */
export async function createEmptyPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (!postgresUrl) throw new Error("JOBS_API_TEST_DATABASE_URL is not set");
  const name = `jobs_api_test_${randomUUID().replaceAll("-", "")}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const dropper = new pg.Client({ connectionString: postgresUrl });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
}

/**
 * A fresh database on the PostgreSQL server of `JOBS_API_TEST_DATABASE_URL`, migrated and seeded;
 * closing it drops the database. `url` lets other pools (other "server processes") share it.
 */
export async function openTestPostgres(): Promise<Database & { url: string }> {
  const empty = await createEmptyPostgresDatabase();
  const db = openPostgres({ connectionString: empty.url });
  await migrate(db);
  await seedDemo(db);
  return {
    ...db,
    url: empty.url,
    async close() {
      await db.close();
      await empty.drop();
    },
  };
}

/** The backends the store tests run on: always PGlite, PostgreSQL too when a server is given. */
export const backends: { name: string; open: () => Promise<Database>; skip: boolean }[] = [
  { name: "pglite", open: openTestPglite, skip: false },
  { name: "postgres", open: openTestPostgres, skip: !postgresUrl },
];
