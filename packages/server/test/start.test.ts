import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cachedTemplate } from "../src/db/template.js";
import {
  createDemoDataDir,
  FixtureError,
  migrate,
  migrationsDir,
  openDatabase,
  openDemoDatabase,
  openPglite,
  openPostgres,
  startDouble,
} from "../src/index.js";
import { createEmptyPostgresDatabase, postgresUrl } from "./helpers/db.js";

/** The arbitrary constant of `migrate()`'s advisory lock. */
const MIGRATION_LOCK = 7_210_004;

describe("copies of a cached template", () => {
  it("hold only the database they serve, with in-memory shared buffers", async () => {
    const db = await openDemoDatabase();
    try {
      expect(await db.query("SELECT datname FROM pg_database")).toEqual([{ datname: "postgres" }]);
      expect(await db.query("SHOW shared_buffers")).toEqual([{ shared_buffers: "16MB" }]);
      expect(await migrate(db)).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it("and a data directory start with the same small shared buffers", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jobs-api-start-"));
    try {
      await createDemoDataDir(dir);
      const db = await openPglite({ dataDir: dir });
      try {
        expect(await db.query("SHOW shared_buffers")).toEqual([{ shared_buffers: "16MB" }]);
      } finally {
        await db.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("a new in-memory database", () => {
  it("starts as a copy of the migrated template", async () => {
    const db = await openDatabase();
    try {
      // initdb would have made template0 and template1 too.
      expect(await db.query("SELECT datname FROM pg_database")).toEqual([{ datname: "postgres" }]);
      expect(await db.query("SELECT count(*)::int AS n FROM jobs")).toEqual([{ n: 0 }]);
    } finally {
      await db.close();
    }
  });

  it("is built without the cache file where the temp directory cannot be written", async () => {
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = join(tmpdir(), `jobs-api-missing-${process.pid}`, "nowhere");
    try {
      const db = await openPglite({ loadDataDir: await cachedTemplate("unwritable", [], async () => {}) });
      try {
        expect(await migrate(db)).toEqual([]);
      } finally {
        await db.close();
      }
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });
});

describe.skipIf(!postgresUrl)("migrate() on PostgreSQL", () => {
  let empty: Awaited<ReturnType<typeof createEmptyPostgresDatabase>>;
  beforeAll(async () => {
    empty = await createEmptyPostgresDatabase();
  });
  afterAll(() => empty?.drop());

  it("applies every migration to a database never migrated, then finds nothing to do", async () => {
    const db = openPostgres({ connectionString: empty.url });
    try {
      const files = (await readdir(migrationsDir)).filter((name) => name.endsWith(".sql")).sort();
      expect(await migrate(db)).toEqual(files);
      expect(await migrate(db)).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it("does not wait for another process's migration when the database is up to date", async () => {
    const other = new pg.Client({ connectionString: empty.url });
    await other.connect();
    const db = openPostgres({ connectionString: empty.url });
    try {
      await other.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
      // Waiting on the lock would hold this past the test's timeout.
      expect(await migrate(db)).toEqual([]);
    } finally {
      await db.close();
      await other.end();
    }
  });
});

describe("startDouble on a fixture file", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "jobs-api-start-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const fixtures = (username: string) =>
    JSON.stringify({ users: [{ username, tokens: [{ token: `glpat-${username}`, name: username }] }] });

  it("reads the file again when it changed, and refuses it when it became invalid", async () => {
    const file = join(dir, "fixtures.json");
    await writeFile(file, fixtures("alice"));
    const first = await startDouble({ fixtures: file });
    await first.close();
    expect(first.tokens).toEqual({ alice: "glpat-alice" });

    await writeFile(file, fixtures("bob"));
    const second = await startDouble({ fixtures: file });
    try {
      expect(second.tokens).toEqual({ bob: "glpat-bob" });
      expect(await second.db.query("SELECT username FROM users")).toEqual([{ username: "bob" }]);
    } finally {
      await second.close();
    }

    await writeFile(file, JSON.stringify({ users: [{ tokens: [] }] }));
    await expect(startDouble({ fixtures: file })).rejects.toBeInstanceOf(FixtureError);
  });
});
