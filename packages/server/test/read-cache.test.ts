import { afterEach, describe, expect, it } from "vitest";
import type { Database } from "../src/db/database.js";
import { withReadCache } from "../src/db/read-cache.js";
import { DEMO_IDS } from "../src/index.js";
import { findJob } from "../src/store/jobs.js";
import { cancelJob } from "../src/store/transitions.js";
import { openTestPglite } from "./helpers/db.js";

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
    const [running] = await db.query<{ id: number }>(
      "SELECT id FROM jobs WHERE project_id = $1 AND type = 'build' AND status = 'running' LIMIT 1",
      [DEMO_IDS.project],
    );
    if (!running) throw new Error("the demo data has no running job");
    const read = () => findJob(db, DEMO_IDS.project, running.id, ["build"], null);
    const before = await read();
    expect(before?.status).toBe("running");
    expect(await read()).toEqual(before);
    await cancelJob(db, running.id, { viewerId: DEMO_IDS.maintainerUser });
    const after = await read();
    expect(after?.status).toBe("canceled");
    expect(after?.finished_at).not.toBeNull();
  });
});
