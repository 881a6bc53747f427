import { randomUUID } from "node:crypto";
import pg from "pg";
import {
  createDemoDataDir,
  type Database,
  migrate,
  openDemoDatabase,
  openPostgres,
  seedDemo,
} from "../../src/index.js";

/** A real PostgreSQL server for the PG variants of the store tests (a superuser on an admin database). */
export const postgresUrl = process.env.JOBS_API_TEST_DATABASE_URL;

/** A fresh in-memory PGlite with the schema and the demo data, from the fixture's cached template. */
export const openTestPglite = openDemoDatabase;

/** A PGlite data directory holding the migrated, seeded template, for server processes to start on. */
export const createTestDataDir = createDemoDataDir;

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
