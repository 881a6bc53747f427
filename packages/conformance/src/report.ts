/** The results of a conformance run, as the library returns them and the command stores them. */
import type { OperationId } from "@jobs-api/types";

export type CheckStatus = "passed" | "failed" | "skipped";

/** A check's name: the operation it exercises, then what it verifies, e.g. `retryJob.newJobPending`. */
export type CheckId = `${OperationId}.${string}`;

/** Why a check failed: what was sent, what the spec or GitLab's behaviour expects, and what came back. */
export interface Failure {
  message: string;
  expected: string;
  sent?: { method: string; url: string };
  got?: { status: number; contentType: string; body: string };
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

export interface Report {
  baseUrl: string;
  project: string;
  destructive: boolean;
  startedAt: string;
  durationMs: number;
  counts: Record<CheckStatus, number> & { total: number };
  results: CheckResult[];
}

export function countResults(results: readonly CheckResult[]): Report["counts"] {
  const counts = { passed: 0, failed: 0, skipped: 0, total: results.length };
  for (const r of results) counts[r.status] += 1;
  return counts;
}
