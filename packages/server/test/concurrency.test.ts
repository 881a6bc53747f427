import type { JobStatus } from "@jobs-api/types";
import { afterAll, describe, expect, it } from "vitest";
import {
  type Database,
  type DemoServer,
  openDemoDatabase,
  openPostgres,
  startDemoServer,
} from "../src/index.js";
import { compositeStatus } from "../src/status/pipeline-status.js";
import { openTestPostgres, postgresUrl } from "./helpers/db.js";
import { createWorld, type World } from "./helpers/fixtures.js";
import { keepAliveAgent, sendRaw } from "./helpers/http.js";
import { seededRandom } from "./helpers/random.js";

import { checkExchange } from "./helpers/spec.js";

/**
 * Many clients at once issuing cancel, retry, play and erase on the same jobs, over HTTP. Afterwards every
 * job must be in a state that some serial order of the answered outcomes reaches (GitLab's state machine,
 * as `gitlab-behaviour.md` states it), retried at most once, with no duplicate new job and no lost update.
 */

const CLIENTS = Number(process.env.CONCURRENCY_CLIENTS ?? 60);
const OPS_PER_CLIENT = Number(process.env.CONCURRENCY_OPS ?? 8);

// GitLab's rules, written down independently of the server's transitions.
const CANCELABLE = [
  "created",
  "waiting_for_resource",
  "preparing",
  "waiting_for_callback",
  "pending",
  "running",
  "scheduled",
  "manual",
];
const RETRYABLE = ["success", "failed", "canceled"];
const ERASABLE = ["success", "failed", "canceled", "skipped"];
const PLAYABLE = ["manual", "scheduled"];

interface JobState {
  status: string;
  retried: boolean;
  /** Artifacts or a log left to erase. */
  leftovers: boolean;
  erased: boolean;
}

/** Outcomes that change the job: an effective cancel, retry, erase, play, or a play that retries. */
type Change = "cancel" | "retry" | "erase" | "play" | "playRetry";
/** Answers that leave the job as it was: cancel of a finished job, 403 retry/erase, 400 play. */
type Refusal = "cancelNoop" | "retryRefused" | "eraseRefused" | "playRefused";

const canRetry = (s: JobState) => RETRYABLE.includes(s.status) && !s.retried;
const isAction = (when: string) => when === "manual" || when === "delayed";

function change(s: JobState, when: string, c: Change): JobState | null {
  switch (c) {
    case "cancel":
      return CANCELABLE.includes(s.status) ? { ...s, status: "canceled" } : null;
    case "retry":
      return canRetry(s) ? { ...s, retried: true } : null;
    case "erase":
      return ERASABLE.includes(s.status) && s.leftovers ? { ...s, leftovers: false, erased: true } : null;
    case "play":
      return isAction(when) && PLAYABLE.includes(s.status) ? { ...s, status: "pending" } : null;
    case "playRetry":
      return isAction(when) && !PLAYABLE.includes(s.status) && canRetry(s) ? { ...s, retried: true } : null;
  }
}

const refuses: Record<Refusal, (s: JobState, when: string) => boolean> = {
  cancelNoop: (s) => !CANCELABLE.includes(s.status),
  retryRefused: (s) => !canRetry(s),
  eraseRefused: (s) => !(ERASABLE.includes(s.status) && s.leftovers),
  playRefused: (s, when) => !(isAction(when) && (PLAYABLE.includes(s.status) || canRetry(s))),
};

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

/**
 * Whether some serial order of the observed outcomes leads from `initial` to `final`. Refusals change
 * nothing, so they only need a state on the path where they hold; the changes are few and are permuted.
 */
function serialisable(
  initial: JobState,
  final: JobState,
  when: string,
  changes: Change[],
  refusals: Record<Refusal, number>,
  cancels: number,
): boolean {
  // All cancels answer 201: none, or one of them, changed the job; the others found nothing to cancel.
  const variants = cancels > 0 ? [changes, [...changes, "cancel" as const]] : [changes];
  return variants.some((variant) =>
    permutations(variant).some((order) => {
      const path = [initial];
      for (const c of order) {
        const next = change(path.at(-1) as JobState, when, c);
        if (!next) return false;
        path.push(next);
      }
      const noops = { ...refusals, cancelNoop: cancels - (variant.includes("cancel") ? 1 : 0) };
      const explained = (Object.keys(noops) as Refusal[]).every(
        (r) => noops[r] === 0 || path.some((s) => refuses[r](s, when)),
      );
      return explained && JSON.stringify(path.at(-1)) === JSON.stringify(final);
    }),
  );
}

interface Observed {
  jobId: number;
  action: string;
  status: number;
  body: { id?: number; status?: string };
  variable: string;
}

async function stateOf(db: Database, jobId: number): Promise<JobState & { when: string }> {
  const [row] = await db.query<JobState & { when: string }>(
    `SELECT status, retried, "when", erased_at IS NOT NULL AS erased,
       EXISTS (SELECT 1 FROM job_artifacts WHERE job_id = j.id) OR EXISTS (SELECT 1 FROM job_traces WHERE job_id = j.id) AS leftovers
     FROM jobs j WHERE id = $1`,
    [jobId],
  );
  if (!row) throw new Error(`job ${jobId} is gone`);
  return row;
}

async function race(db: Database, servers: DemoServer[], w: World, label: string) {
  const random = seededRandom("CONCURRENCY_SEED", `concurrency on ${label}`);
  const targets = [
    w.jobs.success,
    w.jobs.failed,
    w.jobs.canceled,
    w.jobs.running,
    w.jobs.pending,
    w.jobs.created,
    w.jobs.manual,
    w.jobs.scheduled,
    w.jobs.skipped,
    w.manualJob,
  ];
  const initial = new Map<number, JobState & { when: string }>();
  for (const id of targets) initial.set(id, await stateOf(db, id));

  const agents = servers.map(() => keepAliveAgent());
  const observed: Observed[] = [];
  const problems: string[] = [];
  // Every client runs its operations one after another; all clients run at once.
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      const at = client % servers.length;
      const server = servers[at] as DemoServer;
      for (let i = 0; i < OPS_PER_CLIENT; i++) {
        const jobId = random.pick(targets);
        const action = random.pick(["cancel", "retry", "play", "erase"]);
        // Erasing another user's job needs a maintainer; the other actions a developer.
        const token =
          action === "erase" ? w.tokens.maintainer : random.pick([w.tokens.developer, w.tokens.maintainer]);
        const variable = `client-${client}-${i}`;
        const ex = await sendRaw(
          server.origin,
          {
            method: "POST",
            target: `/api/v4/projects/${w.projectId}/jobs/${jobId}/${action}`,
            headers: { "PRIVATE-TOKEN": token, "Content-Type": "application/json" },
            body: JSON.stringify(
              action === "play" ? { job_variables_attributes: [{ key: "CLIENT", value: variable }] } : {},
            ),
          },
          agents[at] as ReturnType<typeof keepAliveAgent>,
        );
        problems.push(...checkExchange(ex).map((p) => `${action} ${jobId}: ${p} ${ex.body.slice(0, 200)}`));
        observed.push({
          jobId,
          action,
          status: ex.status,
          body: JSON.parse(ex.body) as { id?: number; status?: string },
          variable,
        });
      }
    }),
  );
  for (const agent of agents) agent.destroy();
  expect(problems).toEqual([]);
  expect(observed).toHaveLength(CLIENTS * OPS_PER_CLIENT);

  for (const jobId of targets) {
    const start = initial.get(jobId) as JobState & { when: string };
    const mine = observed.filter((o) => o.jobId === jobId);
    const changes: Change[] = [];
    const refusals: Record<Refusal, number> = {
      cancelNoop: 0,
      retryRefused: 0,
      eraseRefused: 0,
      playRefused: 0,
    };
    let cancels = 0;
    const created: Observed[] = [];
    let played: Observed | undefined;
    for (const o of mine) {
      const key = `${o.action} ${o.status}`;
      if (key === "cancel 201") cancels++;
      else if (key === "retry 201") {
        changes.push("retry");
        created.push(o);
      } else if (key === "retry 403") refusals.retryRefused++;
      else if (key === "erase 201") changes.push("erase");
      else if (key === "erase 403") refusals.eraseRefused++;
      // Play answers the job it played (jobs.rb presents `job`): pending when it was played, still
      // finished when the play retried it instead.
      else if (key === "play 200" && o.body.status === "pending") {
        changes.push("play");
        played = o;
      } else if (key === "play 200") {
        changes.push("playRetry");
        created.push(o);
      } else if (key === "play 400") refusals.playRefused++;
      else throw new Error(`job ${jobId}: unexpected ${key} ${JSON.stringify(o.body)}`);
    }
    const { when, ...from } = start;
    const { when: _, ...final } = await stateOf(db, jobId);
    expect(
      serialisable(from, final, when, changes, refusals, cancels),
      `job ${jobId} from ${JSON.stringify(from)} to ${JSON.stringify(final)} by ${JSON.stringify({ changes, refusals, cancels })}`,
    ).toBe(true);

    // At most one new job, the one answered, carrying the variables of the job it retried.
    expect(created.length).toBeLessThanOrEqual(1);
    const children = await db.query<{ id: number }>("SELECT id FROM jobs WHERE retry_of_id = $1", [jobId]);
    expect(children).toHaveLength(created.length);
    // A retry answers the new job; a play that retried answers the played one.
    const retried = created.find((c) => c.action === "retry");
    if (retried) expect(children.map((c) => c.id)).toEqual([retried.body.id]);
    expect(final.retried).toBe(created.length === 1);
    const variables = (id: number) =>
      db.query("SELECT key, value FROM job_variables WHERE job_id = $1 ORDER BY key", [id]);
    // No lost update: the played job's variables are exactly those of the one play that succeeded. A new job
    // copies them; a play that retried the job gives it none of its own (play_build_service.rb:24-26).
    if (played) expect(await variables(jobId)).toEqual([{ key: "CLIENT", value: played.variable }]);
    const child = children[0];
    if (child) expect(await variables(child.id)).toEqual(await variables(jobId));
  }
  // Whatever the interleaving: a canceled job has finished, an erased one keeps nothing.
  const broken = await db.query(
    `SELECT id FROM jobs j WHERE project_id = $1 AND (
       (status = 'canceled' AND finished_at IS NULL)
       OR (erased_at IS NOT NULL AND (artifacts_expire_at IS NOT NULL
         OR EXISTS (SELECT 1 FROM job_artifacts a WHERE a.job_id = j.id)
         OR EXISTS (SELECT 1 FROM job_traces t WHERE t.job_id = j.id)))
       OR (retried <> EXISTS (SELECT 1 FROM jobs c WHERE c.retry_of_id = j.id)))`,
    [w.projectId],
  );
  expect(broken).toEqual([]);
  // No lost update on the pipeline either: its status is the composite of its latest jobs.
  const [pipeline] = await db.query<{ status: string }>("SELECT status FROM pipelines WHERE id = $1", [
    w.pipelineId,
  ]);
  const latest = await db.query<{ status: JobStatus; allow_failure: boolean }>(
    "SELECT status, allow_failure FROM jobs WHERE pipeline_id = $1 AND NOT retried",
    [w.pipelineId],
  );
  expect(pipeline?.status).toBe(compositeStatus(latest));
  console.info(`concurrency on ${label}: ${observed.length} operations by ${CLIENTS} clients`);
}

describe("concurrent cancel/retry/play/erase over HTTP", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it("on PGlite", async () => {
    const db = await openDemoDatabase();
    cleanup.push(() => db.close());
    const server = await startDemoServer({ db: db });
    cleanup.push(() => server.close());
    await race(db, [server], await createWorld(db), "pglite");
  });

  it.skipIf(!postgresUrl)("on PostgreSQL, two server processes sharing one database", async () => {
    const db = await openTestPostgres();
    cleanup.push(() => db.close());
    // A second pool on the same database: what a second server process would hold.
    const other = openPostgres({ connectionString: db.url });
    cleanup.push(() => other.close());
    const servers = [await startDemoServer({ db: db }), await startDemoServer({ db: other })];
    for (const s of servers) cleanup.push(() => s.close());
    await race(db, servers, await createWorld(db), "postgres");
  });
});
