import { expect } from "vitest";
import type { Database } from "../../src/index.js";

/** A state change the server answered with 2xx: after a crash or an outage, it must be in the database. */
export type Write =
  | { type: "erase"; id: number }
  | { type: "retry"; from: number; to: number }
  | { type: "cancel"; id: number };

/** Every answered change is there, and nothing is half-done: no retry without its new job, and so on. */
export async function verifyWrites(db: Database, writes: Write[]): Promise<void> {
  for (const w of writes) {
    if (w.type === "erase") {
      const [row] = await db.query<{ erased: boolean; leftovers: boolean }>(
        `SELECT erased_at IS NOT NULL AS erased, EXISTS (SELECT 1 FROM job_traces WHERE job_id = $1)
           OR EXISTS (SELECT 1 FROM job_artifacts WHERE job_id = $1) AS leftovers FROM jobs WHERE id = $1`,
        [w.id],
      );
      expect(row, `erase ${w.id}`).toEqual({ erased: true, leftovers: false });
    } else if (w.type === "retry") {
      const rows = await db.query<{ id: number; retried: boolean; retry_of_id: number | null }>(
        "SELECT id, retried, retry_of_id FROM jobs WHERE id = ANY($1::bigint[]) ORDER BY id",
        [[w.from, w.to]],
      );
      expect(rows, `retry ${w.from} → ${w.to}`).toMatchObject([
        { id: w.from, retried: true },
        { id: w.to, retry_of_id: w.from },
      ]);
      // Applied once: one answered retry, one new job.
      const [copies] = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM jobs WHERE retry_of_id = $1",
        [w.from],
      );
      expect(copies?.n, `retries of ${w.from}`).toBe(1);
    } else {
      const [row] = await db.query<{ status: string }>("SELECT status FROM jobs WHERE id = $1", [w.id]);
      expect(row?.status, `cancel ${w.id}`).toBe("canceled");
    }
  }
  const halfDone = await db.query(
    `SELECT id FROM jobs j WHERE (status = 'canceled' AND finished_at IS NULL)
       OR (erased_at IS NOT NULL AND (EXISTS (SELECT 1 FROM job_artifacts a WHERE a.job_id = j.id)
         OR EXISTS (SELECT 1 FROM job_traces t WHERE t.job_id = j.id)))
       OR (retried <> EXISTS (SELECT 1 FROM jobs c WHERE c.retry_of_id = j.id))
       OR (retry_of_id IS NOT NULL AND NOT (SELECT retried FROM jobs p WHERE p.id = j.retry_of_id))`,
  );
  expect(halfDone).toEqual([]);
}
