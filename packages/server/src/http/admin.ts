import { createHash, timingSafeEqual } from "node:crypto";
import { Router } from "express";
import { unauthorized } from "../errors.js";

/**
 * The reference server's own administration, outside GitLab's API (`/-/…`, not under `/api/v4`) and absent
 * unless the server was given an admin token: a route nobody configured answers 404 like any unknown path.
 */
export interface AdminOptions {
  /** The secret a caller presents as `Authorization: Bearer <token>`. */
  token: string;
  /** Back to the data the server started from (its fixtures, or the demo data). */
  reset(): Promise<void>;
}

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();

/** `POST /-/reset`: 204 once the data is back to its start; 401 without the admin token. */
export function adminRoutes(options: AdminOptions): Router {
  const expected = digest(options.token);
  const router = Router({ caseSensitive: true });
  router.post("/-/reset", async (req, res) => {
    const presented = req.get("authorization")?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    // Digests have one length whatever was sent, so the comparison takes the same time for every guess.
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) throw unauthorized();
    await options.reset();
    res.status(204).end();
  });
  return router;
}
