import { type OperationId, operationTable, type SecuritySchemeName } from "@jobs-api/types";
import type { Request } from "express";
import type { Queryable } from "../db/database.js";
import { invalidToken, notFound, unauthorized } from "../errors.js";
import {
  authenticateAccessToken,
  authenticateForProject,
  authenticateJobToken,
  type Credential,
  type Principal,
  type TokenRefusal,
} from "../store/auth.js";
import { findProject } from "../store/projects.js";
import type { ProjectRow, Role } from "../store/rows.js";

/** A single string value of a header or query parameter; repeated or odd values count as absent. */
function single(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

/** The parts of a request authentication reads, whatever the route's parameter types. */
export type CallerRequest = Pick<Request, "get"> & { query: object };

/** The query parameters a token may come in: authentication reads them, request logs redact them. */
export const TOKEN_QUERY_PARAMS = {
  privateTokenQuery: "private_token",
  accessTokenQuery: "access_token",
  jobTokenQuery: "job_token",
  // The `token` parameter: a runner's token on the runner routes, a job token there and on the routes that
  // take job tokens.
  runnerToken: "token",
  jobTokenParam: "token",
} as const satisfies Partial<Record<SecuritySchemeName, string>>;

const ACCESS_KINDS = ["oauth", "personal"] as const;

/**
 * The token a request presents, read only from the places the operation's security schemes name (a job
 * token elsewhere authenticates nobody, as on GitLab's routes without `job_token_allowed`), as the
 * interpretations to try in turn; empty when it presents none. As in GitLab the first kind present decides,
 * and an invalid one is not rescued by another: access tokens (`PRIVATE-TOKEN`, then `Authorization:
 * Bearer`), then job tokens. On routes that take job tokens, a Bearer token is tried as one first.
 */
function presented(req: CallerRequest, security: readonly SecuritySchemeName[]): Credential[] {
  const accepts = (scheme: SecuritySchemeName) => security.includes(scheme);
  const query = req.query as Record<string, unknown>;
  const privateToken =
    (accepts("privateTokenHeader") ? single(req.get("private-token")) : undefined) ??
    (accepts("privateTokenQuery") ? single(query[TOKEN_QUERY_PARAMS.privateTokenQuery]) : undefined);
  if (privateToken) return [{ token: privateToken, kinds: ["personal"] }];
  const jobTokens = accepts("jobTokenHeader") || accepts("jobTokenQuery");
  const bearer = accepts("bearerToken")
    ? req.get("authorization")?.match(/^Bearer\s+(\S+)\s*$/i)?.[1]
    : undefined;
  if (bearer) {
    const access: Credential = { token: bearer, kinds: ACCESS_KINDS };
    return jobTokens ? [{ token: bearer, kinds: "job" }, access] : [access];
  }
  const accessToken = accepts("accessTokenQuery")
    ? single(query[TOKEN_QUERY_PARAMS.accessTokenQuery])
    : undefined;
  if (accessToken) return [{ token: accessToken, kinds: ACCESS_KINDS }];
  // AuthFinders' order: the `job_token` parameter, the `token` parameter, then the `JOB-TOKEN` header.
  const jobToken =
    (accepts("jobTokenQuery") ? single(query[TOKEN_QUERY_PARAMS.jobTokenQuery]) : undefined) ??
    (accepts("jobTokenParam") ? single(query[TOKEN_QUERY_PARAMS.jobTokenParam]) : undefined) ??
    (accepts("jobTokenHeader") ? single(req.get("job-token")) : undefined);
  return jobToken ? [{ token: jobToken, kinds: "job" }] : [];
}

/** APIGuard's answers to a token that exists but may no longer be used (`ExpiredError`, `RevokedError`). */
const refusal = ({ refused }: TokenRefusal) =>
  invalidToken(
    refused === "expired"
      ? "Token is expired. You can either do re-authorization or token refresh."
      : "Token was revoked. You have to re-authorize from the user.",
  );

/** A request to a project endpoint: `:id` is the project's id or full path. */
type ProjectCallerRequest = CallerRequest & { params: { id: number | string } };

/** A project endpoint's caller (null: anonymous), with the project the request names and the caller's role. */
export interface ProjectCaller {
  principal: Principal | null;
  project: ProjectRow | null;
  role: Role | null;
}

/**
 * The caller of project operation `operationId` and the project the request names (read in the same query
 * as the token). Tokens the operation does not take are not read. An invalid, expired or revoked token:
 * 401. No token: anonymous on operations whose security allows it, else 401.
 */
export async function authenticateProjectCaller(
  db: Queryable,
  req: ProjectCallerRequest,
  operationId: OperationId,
): Promise<ProjectCaller> {
  const { security, anonymous } = operationTable[operationId];
  const ref = String(req.params.id);
  const credentials = presented(req, security);
  if (credentials.length === 0) {
    if (!anonymous) throw unauthorized();
    return { principal: null, project: await findProject(db, ref), role: null };
  }
  for (const credential of credentials) {
    const caller = await authenticateForProject(db, credential, ref);
    if (caller && "refused" in caller) throw refusal(caller);
    if (caller) {
      const { target, ...principal } = caller;
      return { principal, project: target.project, role: target.role };
    }
  }
  throw unauthorized();
}

/**
 * The running job behind a CI job token, for `/job` and `/job/allowed_agents`. A valid token of another
 * kind authenticates its user, who has no job: 404 Job Not Found.
 */
export async function authenticateJobCaller(
  db: Queryable,
  req: CallerRequest,
  operationId: OperationId,
): Promise<Principal & { jobId: number }> {
  for (const credential of presented(req, operationTable[operationId].security)) {
    const principal =
      credential.kinds === "job"
        ? await authenticateJobToken(db, credential.token)
        : await authenticateAccessToken(db, credential.token, credential.kinds);
    if (principal && "refused" in principal) throw refusal(principal);
    if (principal?.jobId != null) return { ...principal, jobId: principal.jobId };
    if (principal) throw notFound("Job");
  }
  throw unauthorized();
}

const RANK: Record<Role, number> = { guest: 10, reporter: 20, developer: 30, maintainer: 40, owner: 50 };

export const atLeast = (role: Role | null, minimum: Role): boolean =>
  role !== null && RANK[role] >= RANK[minimum];

interface ProjectAccess {
  project: ProjectRow;
  role: Role | null;
  /**
   * GitLab's `read_build` on the project (reading jobs): Reporter, or, where the project has "Public
   * pipelines" (`public_builds`, on by default), anyone who can see it, Guests included.
   */
  canRead: boolean;
  /**
   * GitLab's `read_pipeline` on the project: Reporter, anyone with public access (a public project, an
   * internal one when signed in), or a Guest where the project has `public_builds`.
   */
  canReadPipelines: boolean;
}

/**
 * The project of the request as its caller may see it. Invisible and unknown projects both answer 404
 * Project Not Found; a job token reaches only its own job's project; anonymous callers see public projects
 * only. What may be read follows GitLab's project_policy.rb: `rule { public_builds }.policy { enable
 * :read_build }`, `rule { public_builds & can?(:guest_access) }.policy { enable :read_pipeline }`, and
 * `read_pipeline` for `can?(:public_access)`.
 */
export function projectAccess(caller: ProjectCaller): ProjectAccess {
  const { project, role, principal } = caller;
  if (!project || (principal?.jobProjectId != null && principal.jobProjectId !== project.id)) {
    throw notFound("Project");
  }
  const visible =
    project.visibility === "public" || (principal !== null && project.visibility === "internal");
  if (role === null && !visible) throw notFound("Project");
  const reporter = atLeast(role, "reporter");
  // Guest access: a member, or someone signed in who can see the project (`public_user_access`).
  const guest = role !== null || principal !== null;
  return {
    project,
    role,
    canRead: reporter || project.public_builds,
    canReadPipelines: reporter || visible || (project.public_builds && guest),
  };
}
