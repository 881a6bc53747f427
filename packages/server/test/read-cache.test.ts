import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import type { Database } from "../src/db/database.js";
import { coalesce, withReadCache } from "../src/db/read-cache.js";
import { resetToFixtures } from "../src/fixtures/load.js";
import { checkFixtures, DEMO_IDS, openPostgres } from "../src/index.js";
import { findJob } from "../src/store/jobs.js";
import { cancelJob } from "../src/store/transitions.js";
import { backends, openTestPglite, openTestPostgres, postgresUrl } from "./helpers/db.js";

const open: Database[] = [];
afterEach(async () => {
  for (const db of open.splice(0)) await db.close();
});

/** The demo database behind a counter of the statements that reach it. */
async function counted() {
  const inner = await openTestPglite();
  open.push(inner);
  let reached = 0;
  const counting: Database = {
    ...inner,
    query: (sql, params, options) => {
      reached++;
      return inner.query(sql, params, options);
    },
    close: () => inner.close(),
  };
  return { db: withReadCache(counting), reached: () => reached };
}

/**
 * A running demo job read through `reader` (twice: the second from the cache), canceled through `writer`,
 * then read again: it must come back canceled.
 */
async function expectTransitionSeen(reader: Database, writer: Database): Promise<void> {
  const [running] = await reader.query<{ id: number }>(
    "SELECT id FROM jobs WHERE project_id = $1 AND type = 'build' AND status = 'running' LIMIT 1",
    [DEMO_IDS.project],
  );
  if (!running) throw new Error("the demo data has no running job");
  const read = () => findJob(reader, DEMO_IDS.project, running.id, ["build"], null);
  const before = await read();
  expect(before?.status).toBe("running");
  expect(await read()).toEqual(before);
  await cancelJob(writer, running.id, { viewerId: DEMO_IDS.maintainerUser });
  const after = await read();
  expect(after?.status).toBe("canceled");
  expect(after?.finished_at).not.toBeNull();
}

const READ = "SELECT name FROM jobs WHERE id = $1";
const job = DEMO_IDS.exampleJobs[2];

describe("read cache (PGlite)", () => {
  it("answers a repeated `cache` read from memory, and only reads that ask for it", async () => {
    const { db, reached } = await counted();
    const first = await db.query(READ, [job], { cache: true });
    expect(await db.query(READ, [job], { cache: true })).toBe(first);
    expect(reached()).toBe(1);
    await db.query(READ, [job]);
    await db.query(READ, [job]);
    expect(reached()).toBe(3);
  });

  it("forgets everything on each write: statement, script or transaction", async () => {
    const { db } = await counted();
    const name = async () => (await db.query<{ name: string }>(READ, [job], { cache: true }))[0]?.name;
    const before = await name();
    await db.query("UPDATE jobs SET name = 'a' WHERE id = $1", [job]);
    expect(await name()).toBe("a");
    await db.exec(`UPDATE jobs SET name = 'b' WHERE id = ${job}`);
    expect(await name()).toBe("b");
    await db.transaction((tx) => tx.query("UPDATE jobs SET name = $2 WHERE id = $1", [job, before]));
    expect(await name()).toBe(before);
  });

  it("keeps apart reads whose parameters differ only in kind or bytes, and shares those that are equal", async () => {
    const { db, reached } = await counted();
    const text = "SELECT $1::text AS v";
    const digest = (byte: number) => Buffer.alloc(32, byte);
    const params: unknown[][] = [
      [1],
      ["1"],
      [digest(1)],
      [digest(2)],
      [new Uint8Array(digest(1))],
      [["1", 2]],
      [null],
    ];
    for (const p of params) await db.query(text, p, { cache: true });
    // The same bytes in a Buffer or a plain Uint8Array are the same parameter to the database.
    expect(reached()).toBe(params.length - 1);
    for (const p of params) await db.query(text, p, { cache: true });
    expect(reached()).toBe(params.length - 1);
    const [hex] = await db.query<{ v: string }>("SELECT encode($1::bytea, 'hex') AS v", [digest(2)], {
      cache: true,
    });
    expect(hex?.v).toBe("02".repeat(32));
  });

  it("does not keep a read that ran while a write began or ended", async () => {
    const { db, reached } = await counted();
    const reading = db.query(READ, [job], { cache: true });
    const writing = db.query("UPDATE jobs SET name = 'a' WHERE id = $1", [job]);
    await Promise.all([reading, writing]);
    const after = await db.query<{ name: string }>(READ, [job], { cache: true });
    expect(after[0]?.name).toBe("a");
    expect(reached()).toBe(3);
  });

  it("gives cached rows frozen, so no caller can change a later answer", async () => {
    const { db } = await counted();
    const rows = await db.query<{ name: string }>(READ, [job], { cache: true });
    expect(Object.isFrozen(rows)).toBe(true);
    expect(() => {
      (rows[0] as { name: string }).name = "x";
    }).toThrow(TypeError);
  });

  it("serves a job changed by a store transition as it now is", async () => {
    const db = await openTestPglite();
    open.push(db);
    await expectTransitionSeen(db, db);
  });
});

/** The shared data version as a fresh statement sees it. */
async function dataVersion(db: Database) {
  const [row] = await db.query<{ version: number; slots: number }>(
    "SELECT sum(version)::bigint AS version, count(*)::integer AS slots FROM data_version",
  );
  return row;
}

describe("coalesced version reads", () => {
  /** A read whose calls the test ends one by one. */
  function controlled() {
    const calls: { resolve: (v: number) => void; reject: (e: Error) => void }[] = [];
    const read = () =>
      new Promise<number>((resolve, reject) => {
        calls.push({ resolve, reject });
      });
    return { read, calls };
  }
  const settled = <T>(p: Promise<T>) => {
    const state: { value?: T; error?: unknown; done: boolean } = { done: false };
    p.then(
      (value) => Object.assign(state, { value, done: true }),
      (error: unknown) => Object.assign(state, { error, done: true }),
    );
    return state;
  };
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  it("answers a caller only with a read begun after it arrived, one read for all who arrived meanwhile", async () => {
    const { read, calls } = controlled();
    const version = coalesce(read);
    const a = settled(version());
    expect(calls).toHaveLength(1);
    // b and c arrive while the first read runs: it may have begun before a write they must see.
    const b = settled(version());
    const c = settled(version());
    expect(calls).toHaveLength(1);
    calls[0]?.resolve(1);
    await tick();
    expect(a).toMatchObject({ done: true, value: 1 });
    expect(b.done).toBe(false);
    expect(calls).toHaveLength(2);
    const d = settled(version());
    calls[1]?.resolve(2);
    await tick();
    expect(b).toMatchObject({ done: true, value: 2 });
    expect(c).toMatchObject({ done: true, value: 2 });
    expect(d.done).toBe(false);
    expect(calls).toHaveLength(3);
    calls[2]?.resolve(3);
    await tick();
    expect(d).toMatchObject({ done: true, value: 3 });
    // Idle again: the next caller's read begins at once.
    const e = settled(version());
    expect(calls).toHaveLength(4);
    calls[3]?.resolve(4);
    await tick();
    expect(e).toMatchObject({ done: true, value: 4 });
  });

  it("fails only the callers of a failed read; those waiting get the next one", async () => {
    const { read, calls } = controlled();
    const version = coalesce(read);
    const a = settled(version());
    const b = settled(version());
    calls[0]?.reject(new Error("connection lost"));
    await tick();
    expect(a.error).toBeInstanceOf(Error);
    expect(calls).toHaveLength(2);
    calls[1]?.resolve(7);
    await tick();
    expect(b).toMatchObject({ done: true, value: 7 });
  });
});

describe("one request's reads (shared version)", () => {
  /** The demo database behind a read cache whose shared version the test sets, counting its reads. */
  async function versioned() {
    const inner = await openTestPglite();
    open.push(inner);
    const state = { version: 1, reads: 0 };
    const db = withReadCache(inner, {
      sharedVersion: async () => {
        state.reads++;
        return state.version;
      },
    });
    const view = db.forRequest?.();
    if (!view) throw new Error("a read cache with a shared version gives views for requests");
    return { db, view, state };
  }

  it("shares one version read among a request's cached reads; outside a request each reads its own", async () => {
    const { db, view, state } = await versioned();
    await view.query(READ, [job], { cache: true });
    await view.query(READ, [DEMO_IDS.exampleJobs[0]], { cache: true });
    await Promise.all([view.query(READ, [job], { cache: true }), view.query(READ, [job], { cache: true })]);
    expect(state.reads).toBe(1);
    await db.query(READ, [job], { cache: true });
    await db.query(READ, [job], { cache: true });
    expect(state.reads).toBe(3);
  });

  it("reads the version again after a write of the request's own, so its later reads see the write", async () => {
    const { view, state } = await versioned();
    expect(await view.query(READ, [job], { cache: true })).toEqual([{ name: "rubocop" }]);
    await view.query("UPDATE jobs SET name = 'renamed' WHERE id = $1", [job]);
    // What the trigger of migration 0004 does on PostgreSQL, in the same transaction as the write.
    state.version++;
    expect(await view.query(READ, [job], { cache: true })).toEqual([{ name: "renamed" }]);
    expect(state.reads).toBe(2);
  });
});

describe.each(backends)("data version ($name)", ({ open: openBackend, skip }) => {
  it.skipIf(skip)("has its trigger on every table but the bookkeeping", async () => {
    const db = await openBackend();
    open.push(db);
    const rows = await db.query<{ tablename: string; triggered: boolean }>(
      `SELECT t.tablename, EXISTS (SELECT 1 FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
         WHERE c.relname = t.tablename AND g.tgname = 'data_version' AND g.tgenabled <> 'D') AS triggered
       FROM pg_tables t WHERE t.schemaname = current_schema() ORDER BY t.tablename`,
    );
    const untriggered = rows.filter((row) => !row.triggered).map((row) => row.tablename);
    expect(untriggered).toEqual(["data_version", "data_version_pending", "schema_migrations"]);
    expect(rows.length).toBeGreaterThan(untriggered.length);
  });

  it.skipIf(skip)(
    "grows once per committed writing transaction, not on reads or a rollback; never on PGlite",
    async () => {
      const db = await openBackend();
      open.push(db);
      // PGlite's one writer counts its writes in memory (its session opts out of the shared version).
      const step = db.kind === "postgres" ? 1 : 0;
      const start = (await dataVersion(db))?.version ?? 0;
      await db.query("SELECT name FROM jobs WHERE id = $1", [job]);
      expect((await dataVersion(db))?.version).toBe(start);
      await db.transaction(async (tx) => {
        await tx.query("UPDATE jobs SET name = 'a' WHERE id = $1", [job]);
        await tx.query("UPDATE jobs SET name = 'b' WHERE id = $1", [job]);
        await tx.query("DELETE FROM job_variables WHERE job_id = $1", [job]);
      });
      expect((await dataVersion(db))?.version).toBe(start + step);
      await expect(
        db.transaction(async (tx) => {
          await tx.query("UPDATE jobs SET name = 'c' WHERE id = $1", [job]);
          throw new Error("rolled back");
        }),
      ).rejects.toThrow("rolled back");
      expect((await dataVersion(db))?.version).toBe(start + step);
      await db.exec(`UPDATE jobs SET name = 'd' WHERE id = ${job}`);
      expect((await dataVersion(db))?.version).toBe(start + 2 * step);
      expect(await db.query("SELECT xact FROM data_version_pending")).toEqual([]);
    },
  );

  it.skipIf(skip)("keeps its counters across a reset to fixtures: the version never goes back", async () => {
    const db = await openBackend();
    open.push(db);
    const before = await dataVersion(db);
    await resetToFixtures(db, checkFixtures({}));
    const after = await dataVersion(db);
    expect(after?.slots).toBe(16);
    expect(after?.version).toBe((before?.version ?? 0) + (db.kind === "postgres" ? 1 : 0));
  });
});

describe.skipIf(!postgresUrl)("read cache (PostgreSQL, shared version)", () => {
  /** The demo database, and a second pool on it: another worker or server process. */
  async function twoProcesses() {
    const db = await openTestPostgres();
    open.push(db);
    const other = openPostgres({ connectionString: db.url });
    open.unshift(other);
    return { db, other, url: db.url };
  }
  const name = async (db: Database) =>
    (await db.query<{ name: string }>(READ, [job], { cache: true, prepare: true }))[0]?.name;

  it("serves a repeated read from memory until another process commits a write, then at once the new data", async () => {
    const { db, other, url } = await twoProcesses();
    const first = await db.query(READ, [job], { cache: true });
    expect(await db.query(READ, [job], { cache: true })).toBe(first);
    // A change that bypasses the version (its trigger off) is not seen: the answer came from memory.
    const psql = new pg.Client({ connectionString: url });
    await psql.connect();
    try {
      await psql.query("ALTER TABLE jobs DISABLE TRIGGER data_version");
      await psql.query("UPDATE jobs SET name = 'unseen' WHERE id = $1", [job]);
      await psql.query("ALTER TABLE jobs ENABLE TRIGGER data_version");
    } finally {
      await psql.end();
    }
    expect(await db.query(READ, [job], { cache: true })).toBe(first);
    for (const next of ["a", "b", "c"]) {
      await other.query("UPDATE jobs SET name = $2 WHERE id = $1", [job, next]);
      expect(await name(db)).toBe(next);
      expect(await name(db)).toBe(next);
    }
  });

  it("serves the same answer while another connection's transaction is open and after it rolls back", async () => {
    const { db, other, url } = await twoProcesses();
    const first = await db.query(READ, [job], { cache: true });
    const psql = new pg.Client({ connectionString: url });
    await psql.connect();
    try {
      await psql.query("BEGIN");
      await psql.query("UPDATE jobs SET name = 'uncommitted' WHERE id = $1", [job]);
      expect(await db.query(READ, [job], { cache: true })).toBe(first);
      await psql.query("ROLLBACK");
    } finally {
      await psql.end();
    }
    expect(await db.query(READ, [job], { cache: true })).toBe(first);
    await expect(
      other.transaction(async (tx) => {
        await tx.query("UPDATE jobs SET name = 'rolled back' WHERE id = $1", [job]);
        throw new Error("rolled back");
      }),
    ).rejects.toThrow("rolled back");
    expect(await db.query(READ, [job], { cache: true })).toBe(first);
  });

  it("sees a job changed by a store transition in another process at once", async () => {
    const { db, other } = await twoProcesses();
    await expectTransitionSeen(db, other);
  });

  it("never serves an answer older than a write committed before the read began, under concurrent writes", async () => {
    const { db, other } = await twoProcesses();
    // Many readers and one writer in another process at once: each read that starts after a write's
    // commit has resolved must see at least that write.
    await other.query("UPDATE jobs SET name = 'n0' WHERE id = $1", [job]);
    let committed = 0;
    const writer = (async () => {
      for (let i = 1; i <= 40; i++) {
        await other.query("UPDATE jobs SET name = $2 WHERE id = $1", [job, `n${i}`]);
        committed = i;
      }
    })();
    const readers = Array.from({ length: 4 }, async () => {
      while (committed < 40) {
        const floor = committed;
        const seen = Number((await name(db))?.slice(1));
        expect(seen).toBeGreaterThanOrEqual(floor);
      }
    });
    await Promise.all([writer, ...readers]);
    expect(await name(db)).toBe("n40");
  });
});
