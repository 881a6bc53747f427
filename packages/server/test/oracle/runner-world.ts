import { randomUUID } from "node:crypto";
import { type Database, store } from "../../src/index.js";
import { call } from "../helpers/server.js";
import type { OracleProject } from "./world.js";

/**
 * Runners for the oracle tests of the runner protocol (`spec/requests/api/ci/runner/*`). Every runner of the
 * reference server serves every project, so each test's runner takes only jobs with a tag of its own
 * (`run_untagged` off): the pending jobs of other tests and of the demo data are never its candidates.
 */

export interface OracleRunner {
  id: number;
  token: string;
  /** The tag only this runner's jobs carry. */
  tag: string;
}

export async function oracleRunner(
  db: Database,
  options: { paused?: boolean; runUntagged?: boolean } = {},
): Promise<OracleRunner> {
  const tag = `oracle-${randomUUID().slice(0, 8)}`;
  const token = `glrt-${tag}`;
  const id = await store.createRunner(db, {
    name: tag,
    token,
    tagList: [tag],
    runUntagged: options.runUntagged ?? false,
    paused: options.paused ?? false,
  });
  return { id, token, tag };
}

/** GitLab's `:ci_build, :pending, :queued` for the runner (with its tag), queued a minute ago. */
export function pendingJob(
  db: Database,
  p: OracleProject,
  runner: OracleRunner,
  extra: Partial<store.NewJob> = {},
): Promise<number> {
  return store.createJob(db, {
    pipelineId: p.pipelineId,
    name: "spinach",
    stage: "test",
    status: "pending",
    userId: p.user.id,
    tagList: [runner.tag],
    script: ["echo"],
    queuedAt: new Date(Date.now() - 60_000),
    ...extra,
  });
}

/** A job the runner picked: running on it, with the job token the runner got. */
export async function pickedJob(
  db: Database,
  api: string,
  p: OracleProject,
  runner: OracleRunner,
  extra: Partial<store.NewJob> = {},
): Promise<{ id: number; token: string }> {
  const id = await pendingJob(db, p, runner, extra);
  const answer = await call(`${api}/jobs/request`, { method: "POST", json: { token: runner.token } });
  const body = answer.body as { id: number; token: string };
  if (answer.status !== 201 || body.id !== id)
    throw new Error(`the runner did not pick job ${id}: ${answer.text}`);
  return { id, token: body.token };
}

/** The job's row as the runner routes change it. */
export async function jobState(db: Database, id: number) {
  const [row] = await db.query<{
    status: string;
    failure_reason: string | null;
    runner_id: number | null;
    runner_manager_id: number | null;
    started_at: Date | null;
    finished_at: Date | null;
  }>(
    "SELECT status, failure_reason, runner_id, runner_manager_id, started_at, finished_at FROM jobs WHERE id = $1",
    [id],
  );
  if (!row) throw new Error(`no job ${id}`);
  return row;
}
