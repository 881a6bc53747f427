import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../src/index.js";
import { iso } from "../src/store/timestamps.js";
import { backends } from "./helpers/db.js";

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

describe.each(backends)("timestamps on $name", ({ open, skip }) => {
  let db: Database;

  beforeAll(async () => {
    if (!skip) db = await open();
  });
  afterAll(async () => {
    await db?.close();
  });

  it.skipIf(skip)("are written as GitLab does, the same as through Date, in UTC", async () => {
    const rows = await db.query<{ t: string }>(TIMESTAMPS);
    expect(rows).toHaveLength(3006);
    expect(rows.filter(({ t }) => t.endsWith("+00:00")).length).toBe(3006);
    for (const { t } of rows) expect(iso(t), t).toBe(new Date(t).toISOString());
    expect(iso("2016-01-11T10:13:33.5+00:00")).toBe("2016-01-11T10:13:33.500Z");
    expect(iso("2016-01-11T10:13:33+00:00")).toBe("2016-01-11T10:13:33.000Z");
  });

  it.skipIf(skip)("and in any other time zone of the session", async () => {
    const rows = await db.transaction(async (tx) => {
      await tx.query("SET LOCAL TimeZone = 'Asia/Kolkata'");
      return tx.query<{ t: string }>(TIMESTAMPS);
    });
    expect(rows.every(({ t }) => t.endsWith("+05:30"))).toBe(true);
    for (const { t } of rows) expect(iso(t), t).toBe(new Date(t).toISOString());
    expect(iso(new Date("2016-01-11T10:13:33.506Z"))).toBe("2016-01-11T10:13:33.506Z");
  });
});
