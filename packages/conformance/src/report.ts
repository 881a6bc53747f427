/** The results of a conformance run, as the library returns them and the command stores them. */
import type { JobStatus, OperationId } from "@jobs-api/types";

export type CheckStatus = "passed" | "failed" | "skipped";

/** A check's name: the operation it exercises, then what it verifies, e.g. `retryJob.newJobPending`. */
export type CheckId = `${OperationId}.${string}`;

/** One value of an answer that breaks the spec's schema. */
export interface Violation {
  /** JSON Pointer into the body (`/3/duration`), or `header <name>`. */
  path: string;
  /** The offending value as it came back; absent when the value is missing (a required field). */
  value?: unknown;
  /** The schema rule it breaks, as the validator words it (`must be number`). */
  rule: string;
  /** The list item that holds it, by index and, when it has one, id: the job to look at. */
  item?: { index: number; id?: number };
}

/** Why a check failed: what was sent, what the spec or GitLab's behaviour expects, and what came back. */
export interface Failure {
  message: string;
  expected: string;
  /**
   * The rule broken: for a schema failure the operation's schema, else the GitLab behaviour the check
   * verifies, with the GitLab source file it cites.
   */
  rule?: string;
  /** For a schema failure, each offending value. */
  violations?: Violation[];
  sent?: { method: string; url: string };
  /** The same request as a `curl` command, tokens as environment variables (`$GITLAB_TOKEN`). */
  curl?: string;
  got?: { status: number; contentType: string; body: string };
}

/**
 * Failures with one root cause: each schema violation (same field of the same kind of item, same rule)
 * once, with every check it failed; every other failure on its own.
 */
export interface FailureGroup {
  /** What went wrong, once. */
  message: string;
  rule?: string;
  /** The checks that failed with it, and the operations they exercise. */
  checks: CheckId[];
  operations: OperationId[];
}

export interface CheckResult {
  id: CheckId;
  operationId: OperationId;
  description: string;
  destructive: boolean;
  status: CheckStatus;
  durationMs: number;
  /** Why the check did not run: missing material, or not destructive. */
  reason?: string;
  failure?: Failure;
}

/** A job a destructive check took to act on (cancel, retry, play, erase), with its status when found. */
export interface UsedJob {
  id: number;
  status: JobStatus;
  check: CheckId;
}

export interface Report {
  baseUrl: string;
  project: string;
  destructive: boolean;
  startedAt: string;
  durationMs: number;
  counts: Record<CheckStatus, number> & { total: number };
  results: CheckResult[];
  /** The failed checks by root cause. */
  failureGroups: FailureGroup[];
  /** The jobs the destructive checks acted on, in the order they took them: what the run used up. */
  used: UsedJob[];
  /** Set when `maxFailures` stopped the run: how many checks did not run. */
  stopped?: { maxFailures: number; notRun: number };
}

export function countResults(results: readonly CheckResult[]): Report["counts"] {
  const counts = { passed: 0, failed: 0, skipped: 0, total: results.length };
  for (const r of results) counts[r.status] += 1;
  return counts;
}

/** A violation's place in the item that holds it (`/duration`), so that a list and a single job agree. */
function withinItem(v: Violation): string {
  return v.item ? v.path.replace(/^\/\d+/, "") || "/" : v.path;
}

/** The root cause of a failure: its schema violations by field and rule, or the failure itself. */
export function rootCause(result: CheckResult): { key: string; message: string } {
  const failure = result.failure;
  const violations = failure?.violations ?? [];
  if (violations.length === 0) return { key: `check ${result.id}`, message: failure?.message ?? "" };
  const causes = [...new Set(violations.map((v) => `${withinItem(v)} ${v.rule}`))].sort();
  return {
    key: `schema ${causes.join("; ")}`,
    message: `the answer does not match the spec: ${causes.join("; ")}`,
  };
}

export function groupFailures(results: readonly CheckResult[]): FailureGroup[] {
  const groups = new Map<string, FailureGroup>();
  for (const result of results) {
    if (result.status !== "failed") continue;
    const { key, message } = rootCause(result);
    const group = groups.get(key);
    if (!group) {
      const rule = result.failure?.violations?.length ? undefined : result.failure?.rule;
      groups.set(key, {
        message,
        ...(rule ? { rule } : {}),
        checks: [result.id],
        operations: [result.operationId],
      });
      continue;
    }
    group.checks.push(result.id);
    if (!group.operations.includes(result.operationId)) group.operations.push(result.operationId);
  }
  return [...groups.values()];
}
