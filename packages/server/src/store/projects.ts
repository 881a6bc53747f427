import type { Queryable } from "../db/database.js";
import type { ProjectRow, Role } from "./rows.js";

/** bigint's range: longer digit strings cannot be an id, and must not reach the database as one. */
const NUMERIC_ID = /^[1-9][0-9]{0,17}$/;

/**
 * How `ref`, a numeric id or a full path (case-insensitive, as GitLab resolves paths), selects the
 * project row `p`, with `$param` its value; null when no project can have it.
 */
export function projectRefMatch(
  ref: string,
  param: number,
): { condition: string; value: number | string } | null {
  // PostgreSQL text cannot hold NUL, so no path contains one; sent as a parameter it is an encoding error.
  if (ref.includes("\0")) return null;
  return NUMERIC_ID.test(ref)
    ? { condition: `p.id = $${param}`, value: Number(ref) }
    : { condition: `lower(p.full_path) = lower($${param})`, value: ref };
}

/** A project by numeric id or by full path. */
export async function findProject(db: Queryable, ref: string): Promise<ProjectRow | null> {
  const match = projectRefMatch(ref, 1);
  if (!match) return null;
  const [row] = await db.query<ProjectRow>(
    `SELECT * FROM projects p WHERE ${match.condition}`,
    [match.value],
    {
      prepare: true,
    },
  );
  return row ?? null;
}

export interface AgentRow {
  id: number;
  config_project: ProjectRow;
  /** The `ci_access` configuration of the authorization. */
  config: Record<string, unknown>;
}

/**
 * `with_available_ci_access_fields` (ci_access/config_scopes.rb) of GitLab Premium for the authorizations `z`:
 * no `access_as`, `{}`, or one naming `agent`, `ci_job`, `ci_user` or `impersonate`.
 */
const AVAILABLE_CI_ACCESS = `(z.config->'access_as' IS NULL OR z.config::jsonb->'access_as' = '{}'
  OR z.config::jsonb->'access_as' ?| array['agent', 'ci_job', 'ci_user', 'impersonate'])`;

/** The path of project `p`'s namespace (its group's, or the user's of a personal project). */
const NAMESPACE_PATH = (p: string) => `regexp_replace(${p}.full_path, '/[^/]+$', '')`;

/**
 * Agents a job may use, in GitLab's order (app/finders/clusters/agents/authorizations/ci_access/finder.rb:12-16):
 * first those shared with the job's project (`ProjectAuthorization`, with the `ci_access` configuration of that
 * authorization) by an agent whose project is under the same top-level group, or for a personal project in the
 * same namespace (finder.rb:29-39), then those configured in the project (`ImplicitAuthorization`, whose
 * `config` is always `{}`), then those shared with the project's group or one of its ancestors (`GroupAuthorization`, finder.rb:41-70),
 * by agent id, each with the configuration of its closest group, and only for an agent whose project is under
 * the same top-level group as the job's (`all_namespace_ids`, finder.rb:60,73-75). An agent authorized several
 * ways is listed once, by the first of them (`uniq(&:agent_id)`). Only the authorizations whose `access_as`
 * GitLab Premium accepts are taken (`with_available_ci_access_fields`, before that choice), and the ones kept are
 * then filtered as `FilterService` does (`ciAccessFilter`) by the job's environment and whether its pipeline's
 * ref is protected: an agent whose chosen authorization is filtered out is not listed, whatever its others say.
 */
export async function allowedAgents(db: Queryable, jobId: number): Promise<AgentRow[]> {
  const rows = await db.query<AgentRow & { environment: string | null; protected_ref: boolean }>(
    `WITH RECURSIVE job AS (
       SELECT j.project_id, p.group_id, ${NAMESPACE_PATH("p")} AS namespace_path, e.name AS environment,
         pl.protected AS protected_ref
       FROM jobs j JOIN pipelines pl ON pl.id = j.pipeline_id JOIN projects p ON p.id = j.project_id
       LEFT JOIN environments e ON e.id = j.environment_id
       WHERE j.id = $1
     ),
     -- The project's group (0), its parent (1), up to the top-level group.
     ancestors (id, parent_id, depth) AS (
       SELECT g.id, g.parent_id, 0 FROM groups g JOIN job ON g.id = job.group_id
       UNION ALL
       SELECT g.id, g.parent_id, a.depth + 1 FROM groups g JOIN ancestors a ON g.id = a.parent_id
     ),
     -- The top-level group and all its subgroups.
     hierarchy (id) AS (
       SELECT id FROM ancestors WHERE parent_id IS NULL
       UNION ALL
       SELECT g.id FROM groups g JOIN hierarchy h ON g.parent_id = h.id
     ),
     authorizations AS (
       SELECT z.agent_id, z.config, 0 AS kind, 0 AS depth FROM agent_authorizations z JOIN job USING (project_id)
       JOIN agents a ON a.id = z.agent_id JOIN projects ap ON ap.id = a.project_id
       WHERE ${AVAILABLE_CI_ACCESS} AND CASE WHEN job.group_id IS NULL
         THEN ap.group_id IS NULL AND ${NAMESPACE_PATH("ap")} = job.namespace_path
         ELSE ap.group_id IN (SELECT id FROM hierarchy) END
       UNION ALL
       SELECT own.id, '{}'::json, 1, 0 FROM agents own JOIN job USING (project_id)
       UNION ALL
       SELECT z.agent_id, z.config, 2, an.depth FROM agent_group_authorizations z
       JOIN ancestors an ON an.id = z.group_id
       JOIN agents a ON a.id = z.agent_id JOIN projects ap ON ap.id = a.project_id
       WHERE ap.group_id IN (SELECT id FROM hierarchy) AND ${AVAILABLE_CI_ACCESS}
     ),
     chosen AS (
       SELECT DISTINCT ON (agent_id) agent_id, config, kind FROM authorizations ORDER BY agent_id, kind, depth
     )
     SELECT a.id, to_json(p) AS config_project, z.config, job.environment, job.protected_ref
     FROM job CROSS JOIN chosen z JOIN agents a ON a.id = z.agent_id JOIN projects p ON p.id = a.project_id
     ORDER BY z.kind, a.id`,
    [jobId],
  );
  const [first] = rows;
  if (!first) return [];
  return ciAccessFilter(rows, { environment: first.environment, protectedRef: first.protected_ref });
}

/**
 * GitLab's `Clusters::Agents::Authorizations::CiAccess::FilterService` as `/job/allowed_agents` calls it (always
 * with both filters): an authorization listing `environments` stays only when one of them matches the job's
 * environment (none matches a job without one); one with `protected_branches_only` stays only for a protected ref.
 */
export function ciAccessFilter(
  agents: readonly AgentRow[],
  job: { environment: string | null; protectedRef: boolean },
): AgentRow[] {
  return agents.filter((a) => {
    const patterns = a.config.environments;
    if (Array.isArray(patterns) && patterns.length > 0) {
      const { environment } = job;
      if (environment === null) return false;
      if (!patterns.some((p) => typeof p === "string" && environmentMatches(p, environment))) return false;
    }
    return job.protectedRef || !a.config.protected_branches_only;
  });
}

/**
 * `Gitlab::Ci::EnvironmentMatcher#match?` (lib/gitlab/ci/environment_matcher.rb): the name itself, or, for a
 * pattern with `*`, the pattern as an unanchored regular expression with each `*` made `.*` (its other
 * characters keep their regular-expression meaning, as in GitLab, so `review/*` also matches `old-review/x`).
 */
function environmentMatches(pattern: string, environment: string): boolean {
  if (pattern === "") return false;
  if (pattern === environment) return true;
  if (!pattern.includes("*")) return false;
  try {
    return new RegExp(pattern.replaceAll("*", ".*")).test(environment);
  } catch {
    // No regular expression: GitLab's request fails (RegexpError); the double drops the authorization instead.
    return false;
  }
}

/** What the allowed-agents answer tells of a job's project and user. */
export interface AgentContext {
  projectId: number;
  /** The project's group, then its ancestors up to the top-level group. */
  groupIds: number[];
  userId: number;
  username: string;
  /** The user's role in the project; null when not a member. */
  role: Role | null;
}

export async function agentContext(
  db: Queryable,
  projectId: number,
  userId: number,
): Promise<AgentContext | null> {
  const [row] = await db.query<{ group_ids: number[]; username: string; role: Role | null }>(
    `WITH RECURSIVE lineage (id, parent_id, depth) AS (
       SELECT g.id, g.parent_id, 0 FROM groups g JOIN projects p ON p.group_id = g.id WHERE p.id = $1
       UNION ALL
       SELECT g.id, g.parent_id, l.depth + 1 FROM groups g JOIN lineage l ON g.id = l.parent_id
     )
     SELECT coalesce((SELECT array_agg(id ORDER BY depth) FROM lineage), '{}') AS group_ids, u.username,
       (SELECT m.role FROM members m WHERE m.project_id = $1 AND m.user_id = u.id) AS role
     FROM users u WHERE u.id = $2 AND EXISTS (SELECT 1 FROM projects WHERE id = $1)`,
    [projectId, userId],
  );
  if (!row) return null;
  return {
    projectId,
    groupIds: row.group_ids.map(Number),
    userId,
    username: row.username,
    role: row.role,
  };
}
