import { type OperationId, operationTable, type SecuritySchemeName } from "@jobs-api/types";
import type { Request } from "express";
import type { Queryable } from "../db/database.js";
import { HttpError, insufficientScope, invalidToken, notFound, unauthorized } from "../errors.js";
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
import { authenticateRunner } from "../store/runner.js";
import { untypedJsonBodies } from "./grape.js";
import { isHash } from "./rack.js";

/** The parts of a request authentication reads, whatever the route's parameter types. */
export type CallerRequest = Pick<Request, "get"> & { query: object; body?: unknown };

/**
 * The parameters a token may come in: authentication reads them (from the query string and the body alike),
 * request logs redact them.
 */
export const TOKEN_QUERY_PARAMS = {
  privateTokenQuery: "private_token",
  accessTokenQuery: "access_token",
  bearerTokenQuery: "bearer_token",
  jobTokenQuery: "job_token",
  // The `token` parameter: a runner's token on the runner routes, a job token there and on the routes that
  // take job tokens.
  runnerToken: "token",
  jobTokenParam: "token",
} as const satisfies Partial<Record<SecuritySchemeName, string>>;

const ACCESS_KINDS = ["oauth", "personal"] as const;

/** `Ci::Build::TOKEN_PREFIX`: AuthFinders' `find_personal_access_token` skips such a token on API routes. */
const JOB_TOKEN_PREFIX = "glcbt-";

/**
 * Parameter `name` as Rails' `request.params` has it, which AuthFinders and Doorkeeper read:
 * `request_parameters.merge(query_parameters)`, so the query string's key wins over the body's, even
 * with an empty value. A body read as JSON only for want of a Content-Type carries none: Rails (Rack's
 * `form_data?`) reads such a body as a form, where a JSON text names no token parameter.
 */
function railsParam(req: CallerRequest, name: string): unknown {
  const query = req.query as Record<string, unknown>;
  if (Object.hasOwn(query, name)) return query[name];
  const { body } = req;
  return isHash(body) && !untypedJsonBodies.has(body) ? body[name] : undefined;
}

/**
 * Ruby's `presence` on a header or parameter: a text with something besides blanks, else absent. A list or
 * hash (`private_token[]=…`) is present too, and matches no token: GitLab looks up its `to_s` (401) or calls
 * a String method on it (500); both are a refusal.
 */
function given(value: unknown): string | undefined {
  if (typeof value === "string") return /^\s*$/.test(value) ? undefined : value;
  if (value === null || value === undefined || value === "") return undefined;
  if (Array.isArray(value) ? value.length === 0 : isHash(value) && Object.keys(value).length === 0) {
    return undefined;
  }
  throw unauthorized();
}

/**
 * The tokens a request presents, as GitLab tries them (`API::APIGuard#find_user_from_sources`): `tries`
 * in turn, one not found passed over; then `decisive`, which must be found (401). Both empty: the request
 * presents no token. Only the places the operation's security schemes name are read (a job token elsewhere
 * authenticates nobody, as on GitLab's routes without `job_token_allowed`). The order:
 * 1. Doorkeeper's token (`access_token_methods :from_access_token_param, :from_bearer_authorization,
 *    :from_bearer_param`: the first present of `access_token`, `Authorization: Bearer`, `bearer_token`),
 *    on the routes that take job tokens as a running job's token (`find_user_from_job_bearer_token`);
 * 2. that token as an OAuth token (`find_oauth_access_token`; not found is rescued);
 * 3. `private_token`, else `PRIVATE-TOKEN`, else that token, as an access token
 *    (`extract_personal_access_token`); a job token there is skipped, anything else decides;
 * 4. on the routes that take job tokens, `job_token`, else `token`, else `JOB-TOKEN`, which decides
 *    (`find_user_from_job_token_query_params_or_header`).
 * Without `jobBearer`, step 1 is left out (Rack::Attack's `RequestAuthenticator`, which does not call it).
 */
function presented(
  req: CallerRequest,
  security: readonly SecuritySchemeName[],
  jobBearer = true,
): { tries: Credential[]; decisive: Credential | null } {
  const accepts = (scheme: SecuritySchemeName) => security.includes(scheme);
  const param = (scheme: keyof typeof TOKEN_QUERY_PARAMS) =>
    accepts(scheme) ? given(railsParam(req, TOKEN_QUERY_PARAMS[scheme])) : undefined;
  const header = (scheme: SecuritySchemeName, name: string) =>
    accepts(scheme) ? given(req.get(name)) : undefined;
  // Doorkeeper's `from_bearer_authorization`: the text after `Bearer ` as it is (`gsub(/^Bearer /i, '')`).
  const authorization = accepts("bearerToken") ? req.get("authorization") : undefined;
  const bearer = authorization?.match(/^Bearer /i) ? given(authorization.slice(7)) : undefined;
  const oauth = param("accessTokenQuery") ?? bearer ?? param("bearerTokenQuery");
  const jobTokens = accepts("jobTokenHeader") || accepts("jobTokenQuery") || accepts("jobTokenParam");
  const tries: Credential[] = [];
  if (oauth !== undefined && jobTokens && jobBearer) tries.push({ token: oauth, kinds: "job" });
  const access = param("privateTokenQuery") ?? header("privateTokenHeader", "private-token") ?? oauth;
  if (access !== undefined && !access.startsWith(JOB_TOKEN_PREFIX)) {
    // The same text as OAuth then personal token: one lookup of both kinds.
    if (access === oauth) return { tries, decisive: { token: access, kinds: ACCESS_KINDS } };
    if (oauth !== undefined) tries.push({ token: oauth, kinds: ["oauth"] });
    return { tries, decisive: { token: access, kinds: ["personal"] } };
  }
  if (oauth !== undefined) tries.push({ token: oauth, kinds: ["oauth"] });
  const jobToken = jobTokens
    ? (param("jobTokenQuery") ?? param("jobTokenParam") ?? header("jobTokenHeader", "job-token"))
    : undefined;
  return { tries, decisive: jobToken === undefined ? null : { token: jobToken, kinds: "job" } };
}

/** APIGuard's answers to a token that exists but may no longer be used (`ExpiredError`, `RevokedError`). */
const refusal = ({ refused }: TokenRefusal) =>
  invalidToken(
    refused === "expired"
      ? "Token is expired. You can either do re-authorization or token refresh."
      : "Token was revoked. You have to re-authorize from the user.",
  );

/**
 * The first of the presented tokens `lookUp` finds, in GitLab's order; an expired or revoked one is
 * refused there (401), as is a decisive one not found. Null: the request presents no usable token.
 */
async function firstFound<T extends object>(
  { tries, decisive }: ReturnType<typeof presented>,
  lookUp: (credential: Credential) => Promise<T | TokenRefusal | null>,
): Promise<T | null> {
  for (const credential of decisive ? [...tries, decisive] : tries) {
    const found = await lookUp(credential);
    if (found && "refused" in found) throw refusal(found);
    if (found) return found;
  }
  if (decisive) throw unauthorized();
  return null;
}

/**
 * The scopes every operation here registers, in the order `scopes_registered_for_endpoint` lists them: the
 * route class's (jobs.rb:11 and pipelines.rb `allow_access_with_scope :ai_workflows`, GET and HEAD only),
 * then API::API's (api.rb:38-39: `api`, and `read_api` for GET and HEAD only).
 */
const REGISTERED_SCOPES = ["ai_workflows", "api", "read_api"] as const;
const WRITE_SCOPES: readonly string[] = ["api"];

/**
 * `API::Helpers#current_user` → `validate_and_save_access_token!(scopes: scopes_registered_for_endpoint)`:
 * an access token must hold one of the registered scopes whose `if:` the request satisfies
 * (`AccessTokenValidationService#include_any_scope?`), else `InsufficientScopeError` (403). Checked once the
 * token is found, before the route looks at anything else; a job token is not checked (`return if
 * @current_authenticated_job.present?`). GET covers HEAD (Express answers HEAD with the GET route).
 */
function checkScopes(principal: Principal, operationId: OperationId): void {
  if (principal.scopes === null) return;
  const allowed = operationTable[operationId].method === "get" ? REGISTERED_SCOPES : WRITE_SCOPES;
  if (!principal.scopes.some((scope) => allowed.includes(scope))) throw insufficientScope(REGISTERED_SCOPES);
}

/** Every place a token may come in, as the spec's operations name them: Rack::Attack reads them all on any API path. */
const EVERY_SCHEME: readonly SecuritySchemeName[] = [
  ...new Set(Object.values(operationTable).flatMap((op): readonly SecuritySchemeName[] => op.security)),
];

/**
 * Who Rack::Attack's API throttles count a request against (lib/gitlab/rack_attack/request.rb): `user:<id>`
 * for a user found by `Gitlab::Auth::RequestAuthenticator#find_authenticated_requester([:api])`, `runner`
 * for a request that names no user but a runner's token in `token` (`authenticated_runner_id`: neither
 * `unauthenticated?` nor `throttled_identifer`, so no API throttle counts it), null for an unauthenticated
 * one (counted per address). The authenticator reads the tokens as APIGuard does, on every API path
 * (`job_token_allowed: api_request?`), without the job token as a Bearer token
 * (`find_user_from_any_authentication_method`); any authentication error (a token not found, expired,
 * revoked) makes the request unauthenticated, never a refusal (`find_sessionless_user` rescues it).
 */
export async function throttledIdentifier(db: Queryable, req: CallerRequest): Promise<string | null> {
  try {
    const principal = await firstFound(presented(req, EVERY_SCHEME, false), (credential) =>
      credential.kinds === "job"
        ? authenticateJobToken(db, credential.token)
        : authenticateAccessToken(db, credential.token, credential.kinds),
    );
    if (principal) return `user:${principal.userId}`;
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
  }
  const runnerToken = railsParam(req, TOKEN_QUERY_PARAMS.runnerToken);
  return typeof runnerToken === "string" &&
    given(runnerToken) !== undefined &&
    (await authenticateRunner(db, runnerToken))
    ? "runner"
    : null;
}

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
  const caller = await firstFound(presented(req, security), (credential) =>
    authenticateForProject(db, credential, ref),
  );
  if (caller) {
    const { target, ...principal } = caller;
    checkScopes(principal, operationId);
    return { principal, project: target.project, role: target.role };
  }
  if (!anonymous) throw unauthorized();
  return { principal: null, project: await findProject(db, ref), role: null };
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
  const principal = await firstFound(presented(req, operationTable[operationId].security), (credential) =>
    credential.kinds === "job"
      ? authenticateJobToken(db, credential.token)
      : authenticateAccessToken(db, credential.token, credential.kinds),
  );
  if (!principal) throw unauthorized();
  checkScopes(principal, operationId);
  if (principal.jobId === null) throw notFound("Job");
  return { ...principal, jobId: principal.jobId };
}

const RANK: Record<Role, number> = { guest: 10, reporter: 20, developer: 30, maintainer: 40, owner: 50 };

export const atLeast = (role: Role | null, minimum: Role): boolean =>
  role !== null && RANK[role] >= RANK[minimum];

/**
 * GitLab's `set_pipeline_variables` on the project: project_policy.rb enables it for
 * `user_defined_variables_allowed`, i.e. project_ci_cd_setting.rb `override_pipeline_variables_allowed?`:
 * nobody under `no_one_allowed`, else the caller's role at least the minimum (Developer 30 < Maintainer 40 <
 * Owner 50, its `role_map_pipeline_variables_minimum_override_role`).
 */
export const maySetPipelineVariables = (project: ProjectRow, role: Role | null): boolean =>
  project.pipeline_variables_minimum_override_role !== "no_one_allowed" &&
  atLeast(role, project.pipeline_variables_minimum_override_role);

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
