import { type Artifact, type JobStatus, jobStatusValues } from "@jobs-api/types";
import type { Database, Queryable } from "../db/database.js";
import { digestToken } from "../store/auth.js";
import {
  addArtifacts,
  addMember,
  createAccessToken,
  createAgent,
  createEnvironment,
  createGroup,
  createJob,
  createJobToken,
  createPipeline,
  createProject,
  createRunner,
  createRunnerManager,
  createUser,
  follow,
  type NewJob,
  resetSequences,
  setTrace,
} from "../store/create.js";

/**
 * Fixed tokens of the demo data, documented in the README. They are public on purpose: never seed a
 * database that is reachable by anyone else.
 */
export const DEMO_TOKENS = {
  /** `root` (user 1), Maintainer of `foo/bar` (project 1). `JOBS_API_DEMO_TOKEN` replaces it. */
  maintainer: "glpat-demo-maintainer-token",
  /** The same user as an OAuth bearer token. */
  oauth: "demo-oauth-maintainer-token",
  /** `developer`, Developer of `foo/bar`. */
  developer: "glpat-demo-developer-token",
  /** `reporter`, Reporter of `foo/bar`: may read, not act. */
  reporter: "glpat-demo-reporter-token",
  /** `guest`, Guest of `foo/bar`: sees the project, may not read its jobs. */
  guest: "glpat-demo-guest-token",
  /** `outsider`: no role in `foo/bar`, Owner of the private `secret/hidden`. */
  outsider: "glpat-demo-outsider-token",
  /** A personal token of `root` that expired. */
  expired: "glpat-demo-expired-token",
  /** A personal token of `root` that was revoked. */
  revoked: "glpat-demo-revoked-token",
  /** CI job token of the running job `DEMO_IDS.runningJob`. */
  job: "glcbt-demo-running-job-token",
  /** CI job token of a finished job: no longer valid. */
  finishedJob: "glcbt-demo-finished-job-token",
} as const;

/** Ids of the demo data that the README, the examples and tests refer to. */
export const DEMO_IDS = {
  project: 1,
  projectPath: "foo/bar",
  publicProject: 2,
  publicProjectPath: "diaspora/diaspora-client",
  privateProject: 3,
  pipeline: 6,
  downstreamPipeline: 5,
  /** Builds of GitLab's documentation examples, all in pipeline 6. */
  exampleJobs: [6, 7, 8],
  bridge: 9,
  runningJob: 10,
  manualJob: 11,
  /** A second bridge of pipeline 6 whose downstream pipeline does not exist yet. */
  createdBridge: 12,
  maintainerUser: 1,
} as const;

const SEED_LOCK = 7_210_005;

const at = (iso: string) => new Date(iso);

const EXAMPLE_ARTIFACTS: Artifact[] = [
  { file_type: "archive", size: 1000, filename: "artifacts.zip", file_format: "zip" },
  { file_type: "metadata", size: 186, filename: "metadata.gz", file_format: "gzip" },
  { file_type: "trace", size: 1500, filename: "job.log", file_format: "raw" },
  { file_type: "junit", size: 750, filename: "junit.xml.gz", file_format: "gzip" },
];

const log = (name: string, outcome: string) =>
  `Running with gitlab-runner 17.5.0 (8ec0d7b0)\n  on docker-runner\nExecuting "step_script" stage of the job script\n$ make ${name}\n${outcome}\n`;

export interface SeedOptions {
  /** Token of the demo maintainer instead of `DEMO_TOKENS.maintainer` (`JOBS_API_DEMO_TOKEN`). */
  maintainerToken?: string;
}

/**
 * Loads the demo data into an empty database (no users yet) and returns true; leaves a database that
 * has data as it is and returns false, except that `maintainerToken` always becomes the maintainer's token.
 * Runs under an advisory lock so that processes starting together seed once.
 */
export function seedDemo(db: Database, options: SeedOptions = {}): Promise<boolean> {
  const maintainerToken = options.maintainerToken ?? DEMO_TOKENS.maintainer;
  return db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [SEED_LOCK]);
    const [existing] = await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM users");
    if ((existing?.n ?? 0) > 0) {
      await tx.query("UPDATE access_tokens SET token_digest = $1 WHERE name = 'demo-maintainer'", [
        digestToken(maintainerToken),
      ]);
      return false;
    }
    await seed(tx, maintainerToken);
    return true;
  });
}

async function seed(db: Queryable, maintainerToken: string): Promise<void> {
  const root = await createUser(db, {
    id: 1,
    username: "root",
    name: "Administrator",
    avatarUrl: "http://www.gravatar.com/avatar/e64c7d89f26bd1972efa854d13d7dd61?s=80&d=identicon",
    webUrl: "http://gitlab.dev/root",
    createdAt: at("2015-12-21T13:14:24.077Z"),
  });
  const developer = await createUser(db, {
    id: 2,
    username: "developer",
    name: "Dev Eloper",
    organization: "Example Corp",
    jobTitle: "Software Engineer",
    pronouns: "they/them",
    discord: "123456789012345678",
    timezone: "Europe/Berlin",
  });
  const reporter = await createUser(db, { id: 3, username: "reporter", name: "Rep Orter" });
  const guest = await createUser(db, { id: 4, username: "guest", name: "Gue St" });
  // A private profile: others see neither when the account was created nor its follow counts.
  const outsider = await createUser(db, {
    id: 5,
    username: "outsider",
    name: "John Doe",
    privateProfile: true,
  });
  await follow(db, developer, root);
  await follow(db, reporter, root);
  await follow(db, root, developer);

  await createAccessToken(db, { userId: root, token: maintainerToken, name: "demo-maintainer" });
  await createAccessToken(db, { userId: root, token: DEMO_TOKENS.oauth, kind: "oauth" });
  await createAccessToken(db, { userId: developer, token: DEMO_TOKENS.developer });
  await createAccessToken(db, { userId: reporter, token: DEMO_TOKENS.reporter });
  await createAccessToken(db, { userId: guest, token: DEMO_TOKENS.guest });
  await createAccessToken(db, { userId: outsider, token: DEMO_TOKENS.outsider });
  await createAccessToken(db, {
    userId: root,
    token: DEMO_TOKENS.expired,
    expiresAt: at("2020-01-01T00:00:00Z"),
  });
  await createAccessToken(db, {
    userId: root,
    token: DEMO_TOKENS.revoked,
    revokedAt: at("2020-01-01T00:00:00Z"),
  });

  // Each project's namespace is a group of that name (`project.groups` of the allowed-agents answer).
  const [foo, diaspora, secret] = [
    await createGroup(db, { id: 1, path: "foo" }),
    await createGroup(db, { id: 2, path: "diaspora" }),
    await createGroup(db, { id: 3, path: "secret" }),
  ];
  const project = await createProject(db, {
    id: DEMO_IDS.project,
    groupId: foo,
    fullPath: DEMO_IDS.projectPath,
    visibility: "private",
    description: "The project of GitLab's Jobs API examples.",
    createdAt: at("2015-12-21T13:14:24.077Z"),
  });
  const client = await createProject(db, {
    id: DEMO_IDS.publicProject,
    fullPath: DEMO_IDS.publicProjectPath,
    visibility: "public",
    name: "Diaspora Client",
    groupId: diaspora,
  });
  const hidden = await createProject(db, {
    id: DEMO_IDS.privateProject,
    fullPath: "secret/hidden",
    groupId: secret,
  });
  await addMember(db, project, root, "maintainer");
  await addMember(db, project, developer, "developer");
  await addMember(db, project, reporter, "reporter");
  await addMember(db, project, guest, "guest");
  await addMember(db, client, outsider, "owner");
  await addMember(db, hidden, outsider, "owner");

  const runner = await createRunner(db, {
    description: "docker runner",
    name: "docker-runner",
    ipAddress: "127.0.0.1",
    creatorId: root,
    createdAt: at("2015-12-21T13:20:00.000Z"),
  });
  const manager = await createRunnerManager(db, {
    runnerId: runner,
    systemId: "s_0e6850b2bce1",
    version: "17.5.0",
    revision: "8ec0d7b0",
    platform: "linux",
    architecture: "amd64",
    ipAddress: "127.0.0.1",
    createdAt: at("2015-12-21T13:20:00.000Z"),
    contactedAt: new Date(),
  });
  const review = await createEnvironment(db, {
    projectId: project,
    name: "review/main",
    slug: "review-main-8dyme2",
    tier: "development",
  });
  const production = await createEnvironment(db, {
    projectId: project,
    name: "production",
    slug: "production",
    tier: "production",
  });

  // The downstream pipeline of the documented bridge, in the public project, with a few jobs of its own.
  const downstream = await createPipeline(db, {
    id: DEMO_IDS.downstreamPipeline,
    projectId: client,
    commit: { sha: "f62a4b2fb89754372a346f24659212eb8da13601", title: "Build the client" },
    status: "pending",
    source: "pipeline",
    createdAt: at("2015-12-24T17:54:27.722Z"),
    updatedAt: at("2015-12-24T17:58:27.896Z"),
  });
  const downstreamJobs: [string, JobStatus][] = [
    ["compile", "success"],
    ["unit", "success"],
    ["lint", "failed"],
    ["integration", "pending"],
    ["package", "created"],
  ];
  for (const [i, [name, status]] of downstreamJobs.entries()) {
    await createJob(db, {
      id: i + 1,
      pipelineId: downstream,
      name,
      status,
      userId: outsider,
      ...(status === "failed" ? { failureReason: "script_failure" } : {}),
      createdAt: at("2015-12-24T17:54:28.000Z"),
    });
  }

  // Pipeline 6 and its jobs, exactly as GitLab's Jobs API page shows them.
  const pipeline = await createPipeline(db, {
    id: DEMO_IDS.pipeline,
    projectId: project,
    commit: {
      sha: "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd",
      title: "Test the CI integration.",
      authorName: "Administrator",
      authorEmail: "admin@example.com",
      createdAt: at("2015-12-24T16:51:14.000+01:00"),
    },
    status: "pending",
    userId: root,
    createdAt: at("2015-12-24T15:50:16.123Z"),
    updatedAt: at("2015-12-24T18:00:44.432Z"),
  });
  const example = (
    id: number,
    name: string,
    tags: string[],
    times: [string, string, string, number],
    failure: string,
    keepArtifacts = false,
  ) =>
    createJob(db, {
      id,
      pipelineId: pipeline,
      name,
      status: "failed",
      failureReason: failure,
      userId: root,
      tagList: ["docker runner", ...tags],
      createdAt: at(times[0]),
      startedAt: at(times[1]),
      finishedAt: at(times[2]),
      queuedAt: new Date(at(times[1]).getTime() - times[3]),
      // The page's dates have long passed: an archive that should still show (GitLab's `artifacts?`) was kept.
      ...(keepArtifacts ? {} : { artifactsExpireAt: new Date(at(times[2]).getTime() + 30 * 86_400_000) }),
    });
  await example(
    6,
    "rspec:other",
    ["win10-2004"],
    ["2015-12-24T15:51:21.727Z", "2015-12-24T17:54:24.729Z", "2015-12-24T17:54:24.921Z", 23],
    "stuck_or_timeout_failure",
  );
  const teaspoon = await example(
    7,
    "teaspoon",
    ["ubuntu18"],
    ["2015-12-24T15:51:21.802Z", "2015-12-24T17:54:27.722Z", "2015-12-24T17:54:27.895Z", 10],
    "script_failure",
    true,
  );
  await addArtifacts(db, teaspoon, EXAMPLE_ARTIFACTS);
  await setTrace(db, teaspoon, log("teaspoon", "ERROR: Job failed: exit code 1"));
  await example(
    8,
    "rubocop",
    ["macos-10.15"],
    ["2015-12-24T15:51:21.880Z", "2015-12-24T17:54:30.733Z", "2015-12-24T17:54:31.198Z", 10],
    "script_failure",
  );
  await createJob(db, {
    id: DEMO_IDS.bridge,
    pipelineId: pipeline,
    type: "bridge",
    name: "trigger:client",
    status: "pending",
    userId: root,
    createdAt: at("2015-12-24T15:51:21.802Z"),
    queuedAt: at("2015-12-24T17:54:27.599Z"),
    startedAt: at("2015-12-24T17:54:27.722Z"),
    finishedAt: at("2015-12-24T17:58:27.722Z"),
    downstreamPipelineId: downstream,
  });

  // A running job with a valid job token, and a manual job to play.
  const running = await createJob(db, {
    id: DEMO_IDS.runningJob,
    pipelineId: pipeline,
    name: "deploy:review",
    stage: "deploy",
    status: "running",
    userId: root,
    runnerId: runner,
    runnerManagerId: manager,
    environmentId: review,
    tagList: ["docker runner"],
    createdAt: new Date(Date.now() - 70_000),
    queuedAt: new Date(Date.now() - 60_000),
    startedAt: new Date(Date.now() - 50_000),
  });
  await createJobToken(db, running, DEMO_TOKENS.job);
  await setTrace(db, running, log("deploy", "Deploying to review…"));
  await createJob(db, {
    id: DEMO_IDS.manualJob,
    pipelineId: pipeline,
    name: "deploy:production",
    stage: "deploy",
    status: "manual",
    when: "manual",
    allowFailure: true,
    environmentId: production,
  });
  await createJob(db, {
    id: DEMO_IDS.createdBridge,
    pipelineId: pipeline,
    type: "bridge",
    name: "trigger:docs",
    stage: "deploy",
    status: "created",
    userId: root,
  });
  await createAgent(db, { projectId: project, name: "demo-agent" });
  await createAgent(db, {
    projectId: client,
    name: "shared-agent",
    sharedWith: [{ projectId: project, config: { access_as: { ci_job: {} } } }],
  });

  await resetSequences(db);
  await generated(db, { project, root, developer, runner, manager });

  const hiddenPipeline = await createPipeline(db, {
    projectId: hidden,
    commit: { sha: "b83d6e391c22777fca1ed3012fce84f633d7fed0" },
  });
  for (const status of ["success", "running"] as const) {
    await createJob(db, { pipelineId: hiddenPipeline, name: `secret-${status}`, status, userId: outsider });
  }
}

const FINISHED = new Set<JobStatus>(["success", "failed", "canceled", "skipped"]);
const STARTED = new Set<JobStatus>(["running", "success", "failed", "canceling", "canceled"]);

/** Five more pipelines on `main`, each with one job in every status, some retried, with logs and artifacts. */
async function generated(
  db: Queryable,
  ids: { project: number; root: number; developer: number; runner: number; manager: number },
): Promise<void> {
  const day = 86_400_000;
  for (let n = 0; n < 5; n++) {
    const base = Date.UTC(2024, 0, 1 + n, 9);
    const pipeline = await createPipeline(db, {
      projectId: ids.project,
      commit: {
        sha: (n + 1).toString(16).repeat(40),
        title: `Change ${n + 1}`,
        message: `Change ${n + 1}\n\nGenerated demo data.\n\nSigned-off-by: Administrator <admin@example.com>`,
        createdAt: new Date(base - 3_600_000),
        authoredAt: new Date(base - 7_200_000),
        parentIds: [n === 0 ? "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd" : n.toString(16).repeat(40)],
        trailers: { "Signed-off-by": ["Administrator <admin@example.com>"] },
      },
      status: "failed",
      userId: ids.root,
      createdAt: new Date(base),
      updatedAt: new Date(base + 600_000),
    });
    for (const [i, status] of jobStatusValues.entries()) {
      const started = STARTED.has(status);
      const finished = FINISHED.has(status) && status !== "skipped";
      const job: NewJob = {
        pipelineId: pipeline,
        name: `${status.replaceAll("_", "-")}:${n + 1}`,
        stage: i < 6 ? "build" : "test",
        status,
        userId: n % 2 ? ids.developer : ids.root,
        tagList: ["docker runner"],
        createdAt: new Date(base + i * 1000),
        ...(status === "manual" ? { when: "manual" as const } : {}),
        ...(status === "scheduled" ? { when: "delayed" as const } : {}),
        ...(status === "failed" ? { failureReason: "script_failure" } : {}),
        ...(status === "pending" || started ? { queuedAt: new Date(base + i * 1000 + 500) } : {}),
        ...(started
          ? {
              startedAt: new Date(base + i * 1000 + 2000),
              runnerId: ids.runner,
              runnerManagerId: ids.manager,
            }
          : {}),
        ...(finished ? { finishedAt: new Date(base + i * 1000 + 62_000 + n * 1500) } : {}),
        ...(status === "success" ? { coverage: 80 + n, artifactsExpireAt: new Date(base + 30 * day) } : {}),
      };
      // A failed attempt that was retried, so `include_retried` has something to show; linked to its
      // retry as the retry action links them, so that every retried job has exactly one retry.
      let retryOfId: number | undefined;
      if (status === "success") {
        const { coverage: _, artifactsExpireAt: __, ...attempt } = job;
        retryOfId = await createJob(db, {
          ...attempt,
          status: "failed",
          failureReason: "script_failure",
          retried: true,
        });
      }
      const id = await createJob(db, retryOfId === undefined ? job : { ...job, retryOfId });
      if (started) await setTrace(db, id, log(job.name, finished ? `Job ${status}` : "…"));
      if (status === "success") {
        await addArtifacts(db, id, [
          { file_type: "archive", size: 2048 + n, filename: "artifacts.zip", file_format: "zip" },
          { file_type: "metadata", size: 160, filename: "metadata.gz", file_format: "gzip" },
        ]);
      }
      if (status === "failed" && n === 0) await createJobToken(db, id, DEMO_TOKENS.finishedJob);
    }
  }
}
