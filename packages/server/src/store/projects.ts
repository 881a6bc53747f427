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
 * Agents a project's jobs may use: those configured in the project (GitLab's `ImplicitAuthorization`, whose
 * `config` is always `{}`) and those shared with it (with the configuration of that authorization).
 */
export function allowedAgents(db: Queryable, projectId: number): Promise<AgentRow[]> {
  return db.query<AgentRow>(
    `SELECT a.id, to_json(p) AS config_project,
       CASE WHEN a.project_id = $1 THEN '{}'::json ELSE z.config END AS config
     FROM agents a JOIN projects p ON p.id = a.project_id
     LEFT JOIN agent_authorizations z ON z.agent_id = a.id AND z.project_id = $1
     WHERE a.project_id = $1 OR z.agent_id IS NOT NULL
     ORDER BY a.id`,
    [projectId],
  );
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
