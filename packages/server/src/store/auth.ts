import { createHash, timingSafeEqual } from "node:crypto";
import type { Queryable } from "../db/database.js";

/** Where a token came from decides which table it may match. */
export type TokenKind = "personal" | "oauth" | "job";

export interface Principal {
  userId: number;
  kind: TokenKind;
  /** The running job of a job token. */
  jobId: number | null;
  /** The project a job token is confined to. */
  jobProjectId: number | null;
}

/** Tokens are stored and looked up only as SHA-256 digests, never in clear. */
export function digestToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/**
 * The index lookup already matched the digest; comparing again in constant time keeps the final
 * decision free of early-exit timing differences whatever the database does.
 */
function sameDigest(stored: Uint8Array, digest: Buffer): boolean {
  return stored.length === digest.length && timingSafeEqual(stored, digest);
}

/**
 * The user behind an access token. `kinds` lists the token tables the transport allows
 * (`PRIVATE-TOKEN` takes personal tokens only; `Authorization: Bearer` takes OAuth and personal ones).
 * Expired, revoked and unknown tokens, and tokens of blocked users, give null.
 */
export async function authenticateAccessToken(
  db: Queryable,
  token: string,
  kinds: readonly ("personal" | "oauth")[],
): Promise<Principal | null> {
  const digest = digestToken(token);
  const [row] = await db.query<{ token_digest: Uint8Array; user_id: number; kind: "personal" | "oauth" }>(
    `SELECT t.token_digest, t.user_id, t.kind FROM access_tokens t JOIN users u ON u.id = t.user_id
     WHERE t.token_digest = $1 AND t.kind = ANY($2::text[]) AND t.revoked_at IS NULL
       AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.state = 'active'`,
    [digest, [...kinds]],
  );
  if (!row || !sameDigest(row.token_digest, digest)) return null;
  return { userId: row.user_id, kind: row.kind, jobId: null, jobProjectId: null };
}

/** The job of a CI job token, which is valid only while that job runs. */
export async function authenticateJobToken(db: Queryable, token: string): Promise<Principal | null> {
  const digest = digestToken(token);
  const [row] = await db.query<{
    token_digest: Uint8Array;
    job_id: number;
    project_id: number;
    user_id: number;
  }>(
    `SELECT t.token_digest, t.job_id, j.project_id, j.user_id FROM job_tokens t
     JOIN jobs j ON j.id = t.job_id JOIN users u ON u.id = j.user_id
     WHERE t.token_digest = $1 AND j.status = 'running' AND u.state = 'active'`,
    [digest],
  );
  if (!row || !sameDigest(row.token_digest, digest)) return null;
  return { userId: row.user_id, kind: "job", jobId: row.job_id, jobProjectId: row.project_id };
}
