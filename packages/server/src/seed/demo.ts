import type { Database } from "../db/database.js";
import {
  type CheckedFixtures,
  existingData,
  insertFixtures,
  readFixtures,
  underSeedLock,
} from "../fixtures/load.js";
import { digestToken } from "../store/auth.js";

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
  /** Authentication token of the runner `docker-runner` (runner 1): asks for jobs (`requestJob`). */
  runner: "glrt-demo-runner-token",
} as const;

/** Ids of the demo data that the README, the examples and tests refer to. */
export const DEMO_IDS = {
  project: 1,
  projectPath: "foo/bar",
  publicProject: 2,
  publicProjectPath: "diaspora/diaspora-client",
  privateProject: 3,
  /** `foo/cluster-management`, the configuration project of agent 2, which is shared with `foo/bar`. */
  agentProject: 4,
  pipeline: 6,
  downstreamPipeline: 5,
  /** Builds of GitLab's documentation examples, all in pipeline 6. */
  exampleJobs: [6, 7, 8],
  bridge: 9,
  runningJob: 10,
  manualJob: 11,
  /** The pending builds the demo runner picks (`requestJob`), in this order. */
  pendingJobs: [4, 17, 31, 45, 59, 73],
  /** A second bridge of pipeline 6 whose downstream pipeline does not exist yet. */
  createdBridge: 12,
  maintainerUser: 1,
} as const;

/** The demo data: a fixture file, the one source of every demo id and token. */
export const demoFixturesUrl = new URL("../../fixtures/demo.yaml", import.meta.url);

/** Name of the maintainer's personal token in the demo file, which `maintainerToken` replaces. */
const MAINTAINER_TOKEN_NAME = "demo-maintainer";

export interface SeedOptions {
  /** Token of the demo maintainer instead of `DEMO_TOKENS.maintainer` (`JOBS_API_DEMO_TOKEN`). */
  maintainerToken?: string;
}

/**
 * Loads the demo data (`fixtures/demo.yaml`) into an empty database and returns true; leaves a database
 * that has data as it is and returns false, except that `maintainerToken` always becomes the maintainer's
 * token. Runs under an advisory lock so that processes starting together seed once.
 */
export async function seedDemo(db: Database, options: SeedOptions = {}): Promise<boolean> {
  const maintainerToken = options.maintainerToken ?? DEMO_TOKENS.maintainer;
  return underSeedLock(db, async (tx) => {
    if (await existingData(tx)) {
      await tx.query("UPDATE access_tokens SET token_digest = $1 WHERE name = $2", [
        digestToken(maintainerToken),
        MAINTAINER_TOKEN_NAME,
      ]);
      return false;
    }
    // Read and validated only when it is loaded: a start on existing data does not pay for it.
    await insertFixtures(tx, await demoFixtures({ maintainerToken }), Date.now());
    return true;
  });
}

/** The demo data, read and validated, with `maintainerToken` (if given) as the maintainer's token. */
export async function demoFixtures(options: SeedOptions = {}): Promise<CheckedFixtures> {
  const demo = await readFixtures(demoFixturesUrl);
  const { maintainerToken } = options;
  if (maintainerToken === undefined) return demo;
  for (const user of demo.fixtures.users ?? []) {
    for (const token of user.tokens ?? []) {
      if (token.name === MAINTAINER_TOKEN_NAME) token.token = maintainerToken;
    }
  }
  return demo;
}

/** The demo tokens that open something: all but the expired, revoked and finished-job ones. */
const USABLE_DEMO_TOKENS = Object.entries(DEMO_TOKENS)
  .filter(([role]) => !["expired", "revoked", "finishedJob"].includes(role))
  .map(([, token]) => digestToken(token).toString("hex"));

/** Whether the database holds one of the public demo tokens, which anyone who reads the README can use. */
export async function demoTokensActive(db: Database): Promise<boolean> {
  const [row] = await db.query<{ active: boolean }>(
    `WITH demo AS (SELECT decode(hex, 'hex') AS digest FROM unnest($1::text[]) AS hex)
     SELECT EXISTS (SELECT 1 FROM access_tokens WHERE token_digest IN (SELECT digest FROM demo))
         OR EXISTS (SELECT 1 FROM job_tokens WHERE token_digest IN (SELECT digest FROM demo)) AS active`,
    [USABLE_DEMO_TOKENS],
  );
  return row?.active === true;
}
