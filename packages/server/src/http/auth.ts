import type { Request } from "express";
import type { Queryable } from "../db/database.js";
import { notFound, unauthorized } from "../errors.js";
import {
  authenticateAccessToken,
  authenticateForProject,
  authenticateJobToken,
  type Credential,
  type Principal,
  type ProjectTarget,
} from "../store/auth.js";
import type { ProjectRow, Role } from "../store/rows.js";

/** A single string value of a header or query parameter; repeated or odd values count as absent. */
function single(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

interface Credentials {
  privateToken?: string | undefined;
  bearer?: string | undefined;
  jobToken?: string | undefined;
}

/** The parts of a request authentication reads, whatever the route's parameter types. */
export type CallerRequest = Pick<Request, "get"> & { query: object };

/** The query parameters a token may come in: authentication reads them, request logs redact them. */
export const TOKEN_QUERY_PARAMS = {
  privateToken: "private_token",
  bearer: "access_token",
  jobToken: "job_token",
} as const;

function credentials(req: CallerRequest): Credentials {
  const query = req.query as Record<string, unknown>;
  const authorization = req.get("authorization");
  const bearer = authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  return {
    privateToken: single(req.get("private-token")) ?? single(query[TOKEN_QUERY_PARAMS.privateToken]),
    bearer: bearer ?? single(query[TOKEN_QUERY_PARAMS.bearer]),
    jobToken: single(req.get("job-token")) ?? single(query[TOKEN_QUERY_PARAMS.jobToken]),
  };
}

/** A request to a project endpoint: `:id` is the project's id or full path. */
type ProjectCallerRequest = CallerRequest & { params: { id: number | string } };

/** A project endpoint's caller, with the project of the request as this caller sees it. */
type ProjectCaller = Principal & { target: ProjectTarget };

/**
 * The caller of a project endpoint, and the project the request names (read in the same query; see
 * `projectAccess`). As in GitLab, the first kind of token present decides: an invalid one is not rescued
 * by another. No token, or an invalid, expired or revoked one: 401.
 */
export async function authenticateProjectCaller(
  db: Queryable,
  req: ProjectCallerRequest,
): Promise<ProjectCaller> {
  const c = credentials(req);
  let credential: Credential | undefined;
  if (c.privateToken) credential = { token: c.privateToken, kinds: ["personal"] };
  else if (c.bearer) credential = { token: c.bearer, kinds: ["oauth", "personal"] };
  else if (c.jobToken) credential = { token: c.jobToken, kinds: "job" };
  const caller = credential && (await authenticateForProject(db, credential, String(req.params.id)));
  if (!caller) throw unauthorized();
  return caller;
}

/**
 * The running job behind a CI job token, for `/job` and `/job/allowed_agents`. `bearerIsJobToken`
 * (only `/job`) lets `Authorization: Bearer` carry the job token. A valid token of another kind: 404 Job Not Found.
 */
export async function authenticateJobCaller(
  db: Queryable,
  req: CallerRequest,
  bearerIsJobToken: boolean,
): Promise<Principal & { jobId: number }> {
  const c = credentials(req);
  const jobToken = c.jobToken ?? (bearerIsJobToken ? c.bearer : undefined);
  if (jobToken) {
    const principal = await authenticateJobToken(db, jobToken);
    if (principal?.jobId != null) return { ...principal, jobId: principal.jobId };
    if (c.jobToken || !c.bearer) throw unauthorized();
  }
  const other = c.privateToken
    ? await authenticateAccessToken(db, c.privateToken, ["personal"])
    : c.bearer
      ? await authenticateAccessToken(db, c.bearer, ["oauth", "personal"])
      : null;
  throw other ? notFound("Job") : unauthorized();
}

const RANK: Record<Role, number> = { guest: 10, reporter: 20, developer: 30, maintainer: 40, owner: 50 };

export const atLeast = (role: Role | null, minimum: Role): boolean =>
  role !== null && RANK[role] >= RANK[minimum];

interface ProjectAccess {
  project: ProjectRow;
  role: Role | null;
  /** Reading jobs: Reporter, or anyone who can see a public or internal project. */
  canRead: boolean;
}

/**
 * The project of the request as its caller may see it, from the caller's authentication (which read it
 * in the same query). Invisible and unknown projects both answer 404 Project Not Found, and a job token
 * reaches only its own job's project.
 */
export function projectAccess(caller: ProjectCaller): ProjectAccess {
  const { project, role } = caller.target;
  if (!project || (caller.jobProjectId !== null && caller.jobProjectId !== project.id)) {
    throw notFound("Project");
  }
  if (role === null && project.visibility === "private") throw notFound("Project");
  return { project, role, canRead: atLeast(role, "reporter") || project.visibility !== "private" };
}
