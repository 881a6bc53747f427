import { randomBytes, randomUUID } from "node:crypto";
import { expect } from "vitest";
import { type Database, store } from "../../src/index.js";
import { call } from "../helpers/server.js";

/**
 * Data for the oracle tests: one fresh private project per test, with the people GitLab's request specs
 * create (the caller `user` in a role of the test's choosing, a reporter, a guest and someone with no
 * role), a pipeline on a commit of its own, and helpers for the jobs and records each context needs.
 */

export interface Person {
  id: number;
  username: string;
  token: string;
}

export interface OracleProject {
  id: number;
  path: string;
  pipelineId: number;
  sha: string;
  ref: string;
  user: Person;
  reporter: Person;
  guest: Person;
  /** Has no role in the project. */
  stranger: Person;
}

export async function person(db: Database, name: string): Promise<Person> {
  const tag = randomUUID().slice(0, 8);
  const username = `${name}-${tag}`;
  const id = await store.createUser(db, { username });
  const token = `glpat-${name}-${tag}`;
  await store.createAccessToken(db, { userId: id, token });
  return { id, username, token };
}

export const randomSha = () => randomBytes(20).toString("hex");

export async function oracleProject(
  db: Database,
  options: { userRole?: store.Role; visibility?: store.Visibility } = {},
): Promise<OracleProject> {
  const tag = randomUUID().slice(0, 8);
  const path = `oracle-${tag}/project`;
  // jobs_spec.rb creates its project with `public_builds: false`: its guest contexts expect 403.
  const id = await store.createProject(db, {
    fullPath: path,
    visibility: options.visibility ?? "private",
    publicBuilds: false,
  });
  const user = await person(db, "user");
  const reporter = await person(db, "reporter");
  const guest = await person(db, "guest");
  const stranger = await person(db, "stranger");
  await store.addMember(db, id, user.id, options.userRole ?? "developer");
  await store.addMember(db, id, reporter.id, "reporter");
  await store.addMember(db, id, guest.id, "guest");
  const sha = randomSha();
  const ref = "master";
  const pipelineId = await store.createPipeline(db, { projectId: id, commit: { sha }, ref });
  return { id, path, pipelineId, sha, ref, user, reporter, guest, stranger };
}

/** GitLab's factories' timestamps: a job started two minutes before it finished, an hour ago. */
export const STARTED = new Date(Date.now() - 3_600_000);
export const FINISHED = new Date(STARTED.getTime() + 120_000);
export const IN_A_DAY = () => new Date(Date.now() + 86_400_000);

/** The records of `:trace_artifact, :artifacts, :test_reports`: a stored log and four artifacts. */
export const ARTIFACTS_AND_TRACE = [
  { file_type: "archive", size: 106_365, filename: "ci_build_artifacts.zip", file_format: "zip" },
  { file_type: "metadata", size: 4_612, filename: "ci_build_artifacts_metadata.gz", file_format: "gzip" },
  { file_type: "trace", size: 2_093, filename: "job.log", file_format: "raw" },
  { file_type: "junit", size: 1_102, filename: "junit.xml.gz", file_format: "gzip" },
] as const;

export async function addArtifactsAndTrace(db: Database, jobId: number): Promise<void> {
  await store.addArtifacts(db, jobId, ARTIFACTS_AND_TRACE);
  await store.setTrace(db, jobId, "Running with gitlab-runner\n$ rspec\nJob succeeded\n");
}

/**
 * The shared example "a job with artifacts and trace", for one job of an answer: the archive as
 * `artifacts_file` and every record of {@link ARTIFACTS_AND_TRACE} in `artifacts`, with nothing else.
 */
export function expectArtifactsAndTrace(job: Record<string, unknown> | undefined): void {
  expect(job).toBeDefined();
  const archive = ARTIFACTS_AND_TRACE[0];
  expect(job?.artifacts_file).toEqual({ filename: archive.filename, size: archive.size });
  const artifacts = job?.artifacts as Record<string, unknown>[];
  expect(artifacts).toHaveLength(ARTIFACTS_AND_TRACE.length);
  for (const artifact of artifacts) {
    const stored = ARTIFACTS_AND_TRACE.find((a) => a.file_type === artifact.file_type);
    expect(stored, String(artifact.file_type)).toBeDefined();
    expect(artifact).toEqual({
      file_type: stored?.file_type,
      size: stored?.size,
      filename: stored?.filename,
      file_format: stored?.file_format,
    });
  }
}

/** `:unarchived_trace_artifact`: the record of a log whose file was never stored. */
export const addTraceRecordWithoutFile = (db: Database, jobId: number) =>
  store.addArtifacts(db, jobId, [{ file_type: "trace", size: 0, filename: "job.log", file_format: "raw" }]);

/**
 * The spec's `get api(path, user)` and `post api(path, user)`: requests to the API at `base()` (read when the
 * request is made, after the file's server started) with a user's token, or none for an anonymous caller.
 */
export function userRequests(base: () => string) {
  return {
    get: (path: string, token?: string, headers: Record<string, string> = {}) =>
      call(`${base()}${path}`, { ...(token ? { token } : {}), headers }),
    post: (path: string, token?: string, body?: unknown) =>
      call(`${base()}${path}`, {
        method: "POST",
        ...(token ? { token } : {}),
        ...(body ? { json: body } : {}),
      }),
  };
}

/** `be_like_time`: the same instant within a second. */
export function expectLikeTime(actual: unknown, expected: Date): void {
  expect(typeof actual).toBe("string");
  expect(Math.abs(Date.parse(actual as string) - expected.getTime())).toBeLessThan(1000);
}

export const PAGINATION_HEADERS = [
  "x-total",
  "x-total-pages",
  "x-per-page",
  "x-page",
  "x-next-page",
  "x-prev-page",
  "link",
];
export const LIMITED_PAGINATION_HEADERS = ["x-per-page", "x-page", "x-next-page", "x-prev-page", "link"];

export function expectHeaders(headers: Headers, names: readonly string[]): void {
  for (const name of names) expect(headers.has(name), `header ${name}`).toBe(true);
}

export type Answer = Awaited<ReturnType<typeof call>>;

/** The JSON object of an answer (its body), for property checks. */
export const json = (answer: Answer) => answer.body as Record<string, unknown>;
export const list = (answer: Answer) => answer.body as Record<string, unknown>[];

/** GitLab's error bodies the request specs expect. */
export const UNAUTHORIZED = { message: "401 Unauthorized" };
export const FORBIDDEN = { message: "403 Forbidden" };
export const JOB_NOT_FOUND = { message: "404 Job Not Found" };
export const PROJECT_NOT_FOUND = { message: "404 Project Not Found" };
export const INVALID_SCOPE = { error: "scope does not have a valid value" };
