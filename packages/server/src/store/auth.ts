import { hash, timingSafeEqual } from "node:crypto";
import type { Queryable } from "../db/database.js";
import { projectRefMatch } from "./projects.js";
import type { ProjectRow, Role } from "./rows.js";
import { textPerShape } from "./texts.js";

/** Where a token came from decides which table it may match. */
export type TokenKind = "personal" | "oauth" | "job";

export interface Principal {
  userId: number;
  kind: TokenKind;
  /** The running job of a job token. */
  jobId: number | null;
  /** The project a job token is confined to. */
  jobProjectId: number | null;
  /** An access token's scopes; null for a job token, which has none (APIGuard does not check it). */
  scopes: readonly string[] | null;
}

/**
 * A token as the request presented it. `kinds` lists the token tables the transport allows
 * (`PRIVATE-TOKEN` takes personal tokens only; `Authorization: Bearer` takes OAuth and personal ones).
 */
export type Credential =
  | { token: string; kinds: readonly ("personal" | "oauth")[] }
  | { token: string; kinds: "job" };

/**
 * A token that exists but may no longer be used, which GitLab tells apart from an unknown one
 * (`AccessTokenValidationService`: expired is checked before revoked).
 */
export interface TokenRefusal {
  refused: "expired" | "revoked";
}

/** The project a request names, as its caller sees it. */
export interface ProjectTarget {
  /** The project's id or full path, as the request gave it. */
  ref: string;
  /** Null when no project has that id or path. */
  project: ProjectRow | null;
  /** The caller's membership role in it. */
  role: Role | null;
}

/** Tokens are stored and looked up only as SHA-256 digests, never in clear. */
export function digestToken(token: string): Buffer {
  // One-shot (Node 20.12+): no Hash object a request.
  return hash("sha256", token, "buffer");
}

/**
 * The index lookup already matched the digest; comparing again in constant time keeps the final
 * decision free of early-exit timing differences whatever the database does.
 */
export function sameDigest(stored: Uint8Array, digest: Buffer): boolean {
  return stored.length === digest.length && timingSafeEqual(stored, digest);
}

interface TokenRow {
  token_digest: Uint8Array;
  user_id: number;
  kind: TokenKind;
  job_id: number | null;
  job_project_id: number | null;
  project?: ProjectRow | null;
  role?: Role | null;
  /** When an access token expires (epoch milliseconds; null: never, or a job token). */
  expires_ms: number | null;
  revoked: boolean;
  scopes: string[] | null;
}

/**
 * The token lookup's statement for a shape: a job or an access token; no project, or the condition that
 * names it; the placeholder of the token kinds. Built once per shape (`textPerShape`).
 */
const lookUpText = textPerShape((job: boolean, project: string, kindsParam: number): string => {
  let sql = job
    ? `SELECT t.token_digest, j.user_id, 'job' AS kind, t.job_id, j.project_id AS job_project_id,
           NULL::float8 AS expires_ms, false AS revoked, NULL::text[] AS scopes`
    : `SELECT t.token_digest, t.user_id, t.kind, NULL::bigint AS job_id, NULL::bigint AS job_project_id,
           (extract(epoch FROM t.expires_at) * 1000)::float8 AS expires_ms, t.revoked_at IS NOT NULL AS revoked,
           t.scopes`;
  if (project !== "") sql += ", to_json(p) AS project, m.role";
  sql += job
    ? " FROM job_tokens t JOIN jobs j ON j.id = t.job_id JOIN users u ON u.id = j.user_id"
    : " FROM access_tokens t JOIN users u ON u.id = t.user_id";
  if (project !== "") {
    sql += ` LEFT JOIN projects p ON ${project}
      LEFT JOIN members m ON m.project_id = p.id AND m.user_id = u.id`;
  }
  sql += job
    ? " WHERE t.token_digest = $1 AND j.status = 'running' AND u.state = 'active'"
    : ` WHERE t.token_digest = $1 AND t.kind = ANY($${kindsParam}::text[]) AND u.state = 'active'`;
  return sql;
});

/**
 * The valid token's row (`u` is its user), and with `ref` the project it names and the user's role
 * there, in one statement. Expired, revoked and unknown tokens, tokens of blocked users and job tokens
 * of jobs no longer running match no row; an unknown project leaves `project` null.
 */
async function lookUp(db: Queryable, credential: Credential, ref?: string): Promise<TokenRow | null> {
  const digest = digestToken(credential.token);
  const params: unknown[] = [digest];
  // The condition naming the project; "" for a lookup without one.
  let project = "";
  if (ref !== undefined) {
    const match = projectRefMatch(ref, 2);
    if (match) params.push(match.value);
    project = match?.condition ?? "false";
  }
  const job = credential.kinds === "job";
  if (!job) params.push([...credential.kinds]);
  const sql = lookUpText(job, project, params.length);
  // Every project request runs this first: a handful of texts, prepared once. The answer depends only on
  // the token and the data (expiry is compared below, on the server's clock, as GitLab compares it in
  // Ruby: `Expirable`, `expires_at <= Time.current`), so it may come from the read cache until something
  // is written.
  const [row] = await db.query<TokenRow>(sql, params, { prepare: true, cache: true });
  return row && sameDigest(row.token_digest, digest) ? row : null;
}

/** `AccessTokenValidationService`: an expired token is told apart before a revoked one. */
function refusalOf(row: TokenRow): TokenRefusal["refused"] | null {
  if (row.expires_ms !== null && row.expires_ms <= Date.now()) return "expired";
  return row.revoked ? "revoked" : null;
}

const principalOf = (row: TokenRow): Principal => ({
  userId: row.user_id,
  kind: row.kind,
  jobId: row.job_id,
  jobProjectId: row.job_project_id,
  scopes: row.scopes,
});

/** The user behind an access token; a refusal for an expired or revoked one; null (unknown, blocked user). */
export async function authenticateAccessToken(
  db: Queryable,
  token: string,
  kinds: readonly ("personal" | "oauth")[],
): Promise<Principal | TokenRefusal | null> {
  const row = await lookUp(db, { token, kinds });
  const refused = row && refusalOf(row);
  if (refused) return { refused };
  return row && principalOf(row);
}

/** The job of a CI job token, which is valid only while that job runs. */
export async function authenticateJobToken(db: Queryable, token: string): Promise<Principal | null> {
  const row = await lookUp(db, { token, kinds: "job" });
  return row && principalOf(row);
}

/**
 * The caller and the project `ref` with the caller's role in it, in one round trip instead of three
 * (token, project, membership): every project request starts with these. Null when the token is not valid.
 * A revoked token is refused from the next request on (revoking is a write: the cache forgets), an expired
 * one from the moment it expires (compared on every request).
 */
export async function authenticateForProject(
  db: Queryable,
  credential: Credential,
  ref: string,
): Promise<(Principal & { target: ProjectTarget }) | TokenRefusal | null> {
  const row = await lookUp(db, credential, ref);
  const refused = row && refusalOf(row);
  if (refused) return { refused };
  return (
    row && { ...principalOf(row), target: { ref, project: row.project ?? null, role: row.role ?? null } }
  );
}
