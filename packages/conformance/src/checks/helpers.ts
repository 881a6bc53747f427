import type { Job, JobStatus } from "@jobs-api/types";
import type { CheckContext } from "../context.js";
import type { Query } from "../http.js";
import type { CheckId } from "../report.js";

export interface CheckDefinition {
  id: CheckId;
  /** One line: what a passing server does. */
  description: string;
  /** Changes the server's data (cancel, retry, play, erase): runs only with `--destructive`. */
  destructive?: boolean;
  run(ctx: CheckContext): Promise<void>;
}

export const maxPerPage = 100;

type JobOp = "getJob" | "getJobTrace" | "cancelJob" | "retryJob" | "playJob" | "eraseJob";

/** `<op>.unknownJob`: a job id none of the discovered jobs has answers GitLab's 404. */
export function unknownJobCheck(
  op: JobOp,
  { description = 'an unknown job answers 404 {"message":"404 Not found"}', destructive = false } = {},
): CheckDefinition {
  return {
    id: `${op}.unknownJob`,
    description,
    destructive,
    async run(ctx: CheckContext) {
      const exchange = await ctx.call(op, { params: { job_id: unknownId(ids(ctx.material.jobs)) } });
      ctx.expectError(exchange, 404, { message: "404 Not found" });
    },
  };
}

export function ids(items: ReadonlyArray<{ id: number }>): number[] {
  return items.map((i) => i.id);
}

export function isNewestFirst(values: readonly number[]): boolean {
  return values.every((v, i) => i === 0 || (values[i - 1] ?? 0) > v);
}

/** Query values of a URL by name; `scope` and `scope[]` both count as `scope`. */
export function queryValues(url: string, name: string): string[] {
  const params = new URL(url).searchParams;
  return [...params.getAll(name), ...params.getAll(`${name}[]`)];
}

/** Statuses in the order of how many of `jobs` have them, most frequent first. */
export function statusesByFrequency(jobs: ReadonlyArray<{ status: JobStatus }>): JobStatus[] {
  const counts = new Map<JobStatus, number>();
  for (const j of jobs) counts.set(j.status, (counts.get(j.status) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([s]) => s);
}

/** The discovered jobs grouped by pipeline, pipelines with the most jobs first. */
export function pipelines(jobs: readonly Job[]): Array<{ id: number; jobs: Job[] }> {
  const byId = new Map<number, Job[]>();
  for (const j of jobs) byId.set(j.pipeline.id, [...(byId.get(j.pipeline.id) ?? []), j]);
  return [...byId.entries()]
    .map(([id, list]) => ({ id, jobs: list }))
    .sort((a, b) => b.jobs.length - a.jobs.length || b.id - a.id);
}

/** Whether a newer job of the same name in the same pipeline replaced this one (it was retried). */
export function wasRetried(job: Job, pool: readonly Job[]): boolean {
  return pool.some((o) => o.pipeline.id === job.pipeline.id && o.name === job.name && o.id > job.id);
}

/** An id above every one seen, yet small enough for any integer column: it cannot name an existing job. */
export function unknownId(seen: readonly number[]): number {
  const max = Math.max(0, ...seen);
  return max < 2_000_000_000 ? 2_000_000_000 : max + 1_000_000;
}

export const allPages: Query = [["per_page", String(maxPerPage)]];
