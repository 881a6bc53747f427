import { createHash } from "node:crypto";

/**
 * The name a statement is prepared under: derived from its text, so one text always gets one name and
 * two texts never share one (node-postgres refuses to reuse a name for another text).
 */
export function statementName(sql: string): string {
  return `s_${createHash("sha1").update(sql).digest("hex").slice(0, 24)}`;
}
