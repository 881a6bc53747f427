import { createHash } from "node:crypto";

/** Names by statement text: a server prepares a few dozen texts and names one on every query. */
const names = new Map<string, string>();

/**
 * The name a statement is prepared under: derived from its text, so one text always gets one name and
 * two texts never share one (node-postgres refuses to reuse a name for another text).
 */
export function statementName(sql: string): string {
  let name = names.get(sql);
  if (name === undefined) {
    name = `s_${createHash("sha1").update(sql).digest("hex").slice(0, 24)}`;
    names.set(sql, name);
  }
  return name;
}
