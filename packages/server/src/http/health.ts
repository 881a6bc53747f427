import { type RequestHandler, Router } from "express";
import type { Database } from "../db/database.js";

/** GitLab's DbCheck gives the database 10 s to answer `SELECT 1`. */
const DB_CHECK_TIMEOUT_MS = 10_000;

interface CheckResult {
  status: "ok" | "failed";
  message?: string;
}

/** `SELECT 1` within the timeout: GitLab's `db_check`, with its messages for a timeout and a failure. */
async function dbCheck(db: Database): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), DB_CHECK_TIMEOUT_MS);
  });
  try {
    const answer = await Promise.race([db.query<{ ping: number }>("SELECT 1 AS ping"), timeout]);
    if (answer === "timeout") return { status: "failed", message: "Db check timed out" };
    return answer[0]?.ping === 1
      ? { status: "ok" }
      : { status: "failed", message: `unexpected Db check result: ${JSON.stringify(answer)}` };
  } catch (error) {
    return {
      status: "failed",
      message: `unexpected Db check result: ${error instanceof Error ? error.message : String(error)}`,
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * GitLab's health endpoints, outside the API (HealthController and the BasicHealthCheck middleware):
 * - `/-/health`: the process answers HTTP, `GitLab OK` as plain text, no dependency checked;
 * - `/-/liveness`: the same as JSON, `{"status":"ok"}`: a failing liveness probe restarts the process,
 *   which would not bring a database back;
 * - `/-/readiness`: whether requests can be served, 200 or 503 with one entry per check. GitLab checks its
 *   own process (`master_check`) and, with `?all=1`, its services: here the one service, the database
 *   (`db_check`). A probe that should take the server out of rotation while its database is gone asks
 *   `/-/readiness?all=1`, as it would ask GitLab.
 * `/health` stays as the older spelling of `/-/health`.
 */
export function healthRoutes(db: Database): Router {
  const router = Router({ caseSensitive: true });
  const health: RequestHandler = (_req, res) => {
    res.type("text/plain").send("GitLab OK");
  };
  router.get("/-/health", health);
  router.get("/health", health);
  router.get("/-/liveness", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/-/readiness", async (req, res) => {
    const master: CheckResult[] = [{ status: "ok" }];
    // GitLab's `params[:all] ? ALL_CHECKS : CHECKS`: any value, even `0`, asks for every check.
    const checks: Record<string, CheckResult[]> =
      req.query.all === undefined
        ? { master_check: master }
        : { master_check: master, db_check: [await dbCheck(db)] };
    const ok = Object.values(checks).every((results) => results.every((r) => r.status === "ok"));
    // GitLab asks Workhorse not to replace a failed probe's answer by its static error page.
    if (!ok) res.set("X-GitLab-Custom-Error", "1");
    res.status(ok ? 200 : 503).json({ status: ok ? "ok" : "failed", ...checks });
  });
  return router;
}
