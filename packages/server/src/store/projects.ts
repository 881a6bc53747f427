import type { Queryable } from "../db/database.js";
import type { ProjectRow } from "./rows.js";

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
}

/** Agents a project's jobs may use: those configured in the project and those shared with it. */
export function allowedAgents(db: Queryable, projectId: number): Promise<AgentRow[]> {
  return db.query<AgentRow>(
    `SELECT a.id, to_json(p) AS config_project FROM agents a JOIN projects p ON p.id = a.project_id
     WHERE a.project_id = $1
        OR EXISTS (SELECT 1 FROM agent_authorizations z WHERE z.agent_id = a.id AND z.project_id = $1)
     ORDER BY a.id`,
    [projectId],
  );
}
