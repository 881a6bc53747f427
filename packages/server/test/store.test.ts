import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { iso } from "../src/entities/timestamps.js";
import { type Database, DEMO_TOKENS, migrate, store } from "../src/index.js";
import { authenticateAccessToken, authenticateJobToken } from "../src/store/auth.js";
import { countJobs, listJobs, listJobsKeyset } from "../src/store/jobs.js";
import { backends } from "./helpers/db.js";
import { createWorld } from "./helpers/fixtures.js";

/**
 * 3,001 timestamps as the database writes them in JSON: fractions of every length from none to six
 * digits (the step adds 137 µs, and the exact values below), across leap days and 40 years.
 */
const TIMESTAMPS = `
SELECT to_json(t) AS t FROM (
  SELECT timestamptz '1999-12-31 23:59:59.999999+00'
    + n * interval '4 days 23 hours 59 minutes 59.000137 seconds' AS t
  FROM generate_series(0, 3000) n
  UNION ALL
  SELECT unnest(ARRAY['2016-01-11 10:13:33+00', '2016-01-11 10:13:33.5+00', '2016-01-11 10:13:33.05+00',
    '2016-01-11 10:13:33.0001+00', '2016-02-29 23:59:59.999999+00']::timestamptz[])
) s`;

describe.each(backends)("store on $name", ({ open, skip }) => {
  let db: Database;

  beforeAll(async () => {
    if (!skip) db = await open();
  });
  afterAll(async () => {
    await db?.close();
  });

  it.skipIf(skip)("migrates idempotently", async () => {
    expect(await migrate(db)).toEqual([]);
  });

  it.skipIf(skip)("stores tokens as digests only and compares them", async () => {
    const rows = await db.query<{ token_digest: Uint8Array }>("SELECT token_digest FROM access_tokens");
    expect(rows.length).toBeGreaterThan(0);
    const all = JSON.stringify(await db.query("SELECT * FROM access_tokens"));
    expect(all).not.toContain(DEMO_TOKENS.maintainer);
    expect(await authenticateAccessToken(db, DEMO_TOKENS.maintainer, ["personal"])).toMatchObject({
      userId: 1,
    });
    expect(await authenticateAccessToken(db, DEMO_TOKENS.oauth, ["personal"])).toBeNull();
    expect(await authenticateAccessToken(db, DEMO_TOKENS.expired, ["personal"])).toEqual({
      refused: "expired",
    });
    expect(await authenticateAccessToken(db, DEMO_TOKENS.revoked, ["personal"])).toEqual({
      refused: "revoked",
    });
    expect(await authenticateJobToken(db, DEMO_TOKENS.job)).toMatchObject({ jobId: 10, jobProjectId: 1 });
    expect(await authenticateJobToken(db, DEMO_TOKENS.finishedJob)).toBeNull();
  });

  it.skipIf(skip)("lists, counts and pages consistently", async () => {
    const w = await createWorld(db);
    const filter = { projectId: w.projectId, type: "build" as const, includeRetried: true, viewerId: null };
    const all = await listJobs(db, filter, 100, 0);
    expect(await countJobs(db, filter)).toBe(all.length);
    expect(all.map((j) => j.id)).toEqual(all.map((j) => j.id).sort((a, b) => b - a));
    const second = await listJobs(db, filter, 3, 3);
    expect(second.map((j) => j.id)).toEqual(all.slice(3, 6).map((j) => j.id));
    const keyset = await listJobsKeyset(db, filter, "asc", all.at(-2)?.id ?? null, 10);
    const ascending = all.map((j) => j.id).reverse();
    expect(keyset.map((j) => j.id)).toEqual(ascending.slice(2, 12));
    const scoped = await listJobs(db, { ...filter, scope: ["failed", "success"] }, 100, 0);
    expect(new Set(scoped.map((j) => j.status))).toEqual(new Set(["failed", "success"]));
  });

  it.skipIf(skip)("retries a job exactly once under 50 concurrent retries", async () => {
    const w = await createWorld(db);
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, () => store.retryJob(db, w.jobs.failed, w.users.developer)),
    );
    const created = outcomes.filter((o) => "job" in o);
    expect(created).toHaveLength(1);
    const [{ n }] = (await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM jobs WHERE retry_of_id = $1",
      [w.jobs.failed],
    )) as [{ n: number }];
    expect(n).toBe(1);
  });

  it.skipIf(skip)("leaves one consistent outcome when all four actions race on each job", async () => {
    const w = await createWorld(db);
    const targets = [w.jobs.success, w.jobs.failed, w.jobs.running, w.jobs.manual, w.jobs.canceled];
    const actions = (jobId: number) => [
      () => store.cancelJob(db, jobId),
      () => store.retryJob(db, jobId, w.users.developer),
      () => store.playJob(db, jobId, w.users.developer, [{ key: "K", value: "v" }], true),
      () => store.eraseJob(db, jobId, w.users.maintainer),
    ];
    await Promise.all(
      targets.flatMap((id) =>
        Array.from({ length: 4 }, () => actions(id))
          .flat()
          .map((f) => f()),
      ),
    );
    const retries = await db.query<{ retry_of_id: number; n: number }>(
      "SELECT retry_of_id, count(*)::int AS n FROM jobs WHERE retry_of_id = ANY($1::bigint[]) GROUP BY retry_of_id",
      [targets],
    );
    for (const row of retries) expect(row.n).toBe(1);
    const states = await db.query<{ id: number; status: string; retried: boolean; erased_at: Date | null }>(
      "SELECT id, status, retried, erased_at FROM jobs WHERE id = ANY($1::bigint[])",
      [targets],
    );
    for (const job of states) {
      expect(["success", "failed", "canceled"]).toContain(job.status);
      expect(job.retried).toBe(retries.some((r) => r.retry_of_id === job.id));
    }
  });

  it.skipIf(skip)(
    "writes timestamps in UTC, whatever the server's default zone, and as GitLab does, the same as through Date",
    async () => {
      const rows = await db.query<{ t: string }>(TIMESTAMPS);
      expect(rows).toHaveLength(3006);
      expect(rows.every(({ t }) => t.endsWith("+00:00"))).toBe(true);
      for (const { t } of rows) expect(iso(t), t).toBe(new Date(t).toISOString());
      expect(iso("2016-01-11T10:13:33.5+00:00")).toBe("2016-01-11T10:13:33.500Z");
      expect(iso("2016-01-11T10:13:33+00:00")).toBe("2016-01-11T10:13:33.000Z");
      expect(iso("2016-01-11T10:13:33.506+00:00")).toBe("2016-01-11T10:13:33.506Z");
      expect(iso("12026-01-11T10:13:33.5061+00:00")).toBe("12026-01-11T10:13:33.506Z");
    },
  );

  it.skipIf(skip)(
    "writes timestamps the same as through Date in any other time zone of the session",
    async () => {
      const rows = await db.transaction(async (tx) => {
        await tx.query("SET LOCAL TimeZone = 'Asia/Kolkata'");
        return tx.query<{ t: string }>(TIMESTAMPS);
      });
      expect(rows.every(({ t }) => t.endsWith("+05:30"))).toBe(true);
      for (const { t } of rows) expect(iso(t), t).toBe(new Date(t).toISOString());
      expect(iso(new Date("2016-01-11T10:13:33.506Z"))).toBe("2016-01-11T10:13:33.506Z");
    },
  );
});
