import { randomUUID } from "node:crypto";
import { type JobStatus, jobStatusValues } from "@jobs-api/types";
import type { Database } from "../../src/index.js";
import { store } from "../../src/index.js";

export interface World {
  projectId: number;
  path: string;
  pipelineId: number;
  /** Personal tokens by role; `outsider` has no role in the project. */
  tokens: Record<store.Role | "outsider", string>;
  users: Record<store.Role | "outsider", number>;
  /** Builds by status, one each. */
  jobs: Record<JobStatus, number>;
  manualJob: number;
  bridge: number;
  runningJobToken: string;
}

/** A project of its own for one test: users of every role with tokens, one pipeline, a job in every status. */
export async function createWorld(
  db: Database,
  options: Pick<
    store.NewProject,
    "visibility" | "archived" | "publicBuilds" | "featureFlags" | "pipelineVariablesMinimumOverrideRole"
  > = {},
): Promise<World> {
  const tag = randomUUID().slice(0, 8);
  const path = `team-${tag}/app`;
  const projectId = await store.createProject(db, {
    ...options,
    fullPath: path,
    visibility: options.visibility ?? "private",
  });
  const roles = ["guest", "reporter", "developer", "maintainer", "owner", "outsider"] as const;
  const users = {} as World["users"];
  const tokens = {} as World["tokens"];
  for (const role of roles) {
    users[role] = await store.createUser(db, { username: `${role}-${tag}` });
    tokens[role] = `glpat-${role}-${tag}`;
    await store.createAccessToken(db, { userId: users[role], token: tokens[role] });
    if (role !== "outsider") await store.addMember(db, projectId, users[role], role);
  }
  const pipelineId = await store.createPipeline(db, { projectId, commit: { sha: "a".repeat(40) } });
  const jobs = {} as World["jobs"];
  for (const status of jobStatusValues) {
    const finished = ["success", "failed", "canceled"].includes(status);
    jobs[status] = await store.createJob(db, {
      pipelineId,
      name: `job-${status}`,
      status,
      userId: users.developer,
      ...(status === "failed" ? { failureReason: "script_failure" } : {}),
      ...(status === "manual" ? { when: "manual" as const } : {}),
      ...(status === "scheduled" ? { when: "delayed" as const } : {}),
      ...(finished || status === "running" ? { startedAt: new Date(Date.now() - 60_000) } : {}),
      ...(finished ? { finishedAt: new Date() } : {}),
    });
    if (finished) await store.setTrace(db, jobs[status], `log of ${status}\n`);
  }
  await store.addArtifacts(db, jobs.success, [
    { file_type: "archive", size: 10, filename: "artifacts.zip", file_format: "zip" },
  ]);
  const manualJob = await store.createJob(db, {
    pipelineId,
    name: "deploy",
    status: "manual",
    when: "manual",
  });
  const downstream = await store.createPipeline(db, { projectId, commit: { sha: "b".repeat(40) } });
  const bridge = await store.createJob(db, {
    pipelineId,
    type: "bridge",
    name: "trigger",
    status: "success",
    userId: users.maintainer,
    downstreamPipelineId: downstream,
  });
  const runningJobToken = `glcbt-${tag}`;
  await store.createJobToken(db, jobs.running, runningJobToken);
  return { projectId, path, pipelineId, tokens, users, jobs, manualJob, bridge, runningJobToken };
}
