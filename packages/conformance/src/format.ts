/** Human and machine renderings of results: progress lines, the summary table, JUnit XML. */
import { createRequire } from "node:module";
import type { Builder } from "junit-report-builder";
import type { CheckResult, Failure, Report, Violation } from "./report.js";

/** `/3/duration = "12.5" in item 3 (id 1234): must be number`. */
export function violationLine(v: Violation): string {
  const value = "value" in v ? ` = ${JSON.stringify(v.value)}` : "";
  const item = v.item ? ` in item ${v.item.index}${v.item.id === undefined ? "" : ` (id ${v.item.id})`}` : "";
  return `${v.path}${value}${item}: ${v.rule}`;
}

/** The failure as indented lines: what was sent, expected, and what came back, and how to send it again. */
export function failureLines(failure: Failure): string[] {
  const lines = [`because:  ${failure.message}`];
  for (const v of failure.violations ?? []) lines.push(`value:    ${violationLine(v)}`);
  if (failure.rule) lines.push(`rule:     ${failure.rule}`);
  if (failure.sent) lines.push(`sent:     ${failure.sent.method} ${failure.sent.url}`);
  if (failure.curl) lines.push(`curl:     ${failure.curl}`);
  lines.push(`expected: ${failure.expected}`);
  if (failure.got) {
    const body = failure.got.body ? ` ${failure.got.body}` : " (empty body)";
    lines.push(`got:      ${failure.got.status} ${failure.got.contentType || "(no content type)"}${body}`);
  }
  return lines;
}

function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

/**
 * One line per check as it ends, with the failure's details below it; a failure with the same root cause as
 * an earlier check's (`sameAs`) only names that check, so that one cause is explained once.
 */
export function progressLine(result: CheckResult, sameAs?: string): string {
  if (result.status === "passed") return `  pass  ${result.id}  (${ms(result.durationMs)})`;
  if (result.status === "skipped") return `  skip  ${result.id}  (${result.reason})`;
  const details =
    sameAs !== undefined
      ? [`          same root cause as ${sameAs}`]
      : result.failure
        ? failureLines(result.failure).map((l) => `          ${l}`)
        : [];
  return [`  FAIL  ${result.id}  (${ms(result.durationMs)})`, ...details].join("\n");
}

/** Counts per operation, the failed checks, and how long the run took. */
export function summary(report: Report): string {
  const rows = new Map<string, Record<CheckResult["status"], number>>();
  for (const r of report.results) {
    const row = rows.get(r.operationId) ?? { passed: 0, failed: 0, skipped: 0 };
    row[r.status] += 1;
    rows.set(r.operationId, row);
  }
  const width = Math.max(9, ...[...rows.keys()].map((k) => k.length));
  const line = (name: string, passed: number | string, failed: number | string, skipped: number | string) =>
    `${name.padEnd(width)}  ${String(passed).padStart(6)}  ${String(failed).padStart(6)}  ${String(skipped).padStart(7)}`;
  const out = [line("operation", "passed", "failed", "skipped"), "-".repeat(width + 25)];
  for (const [name, row] of rows) out.push(line(name, row.passed, row.failed, row.skipped));
  out.push("-".repeat(width + 25));
  out.push(line("total", report.counts.passed, report.counts.failed, report.counts.skipped));
  if (report.failureGroups.length > 0) {
    const causes = report.failureGroups.length;
    out.push("", `Failed (${causes} root cause${causes === 1 ? "" : "s"}):`);
    for (const group of report.failureGroups) {
      out.push(`  ${group.message}`, `      checks: ${group.checks.join(", ")}`);
      if (group.operations.length > 1) out.push(`      operations: ${group.operations.join(", ")}`);
    }
  }
  if (report.used.length > 0) {
    const byStatus = new Map<string, number>();
    for (const job of report.used) byStatus.set(job.status, (byStatus.get(job.status) ?? 0) + 1);
    const counts = [...byStatus].map(([status, n]) => `${n} ${status}`).join(", ");
    out.push(
      "",
      `Used up by --destructive: ${report.used.length} jobs (as found: ${counts}), ids ${report.used.map((j) => j.id).join(", ")}`,
    );
  }
  if (report.stopped) {
    out.push(
      "",
      `Stopped after ${report.stopped.maxFailures} failed checks (--max-failures): ${report.stopped.notRun} checks did not run.`,
    );
  }
  out.push(
    "",
    `${report.counts.total} checks against ${report.baseUrl} (project ${report.project}${report.destructive ? ", destructive" : ""}) in ${ms(report.durationMs)}`,
  );
  return out.join("\n");
}

// The package is CommonJS (`module.exports = builder`) while its typings declare an ES default export,
// which NodeNext would resolve to a `.default` that does not exist at run time.
const junit = createRequire(import.meta.url)("junit-report-builder") as Builder;

/** Seconds with millisecond precision, as JUnit readers show them. */
const seconds = (ms: number) => Math.round(ms) / 1000;

export function junitXml(report: Report): string {
  const builder = junit.newBuilder();
  const suite = builder
    .testSuite()
    .name("jobs-api-conformance")
    .timestamp(report.startedAt)
    .time(seconds(report.durationMs))
    .property("baseUrl", report.baseUrl)
    .property("project", report.project)
    .property("destructive", String(report.destructive));
  for (const r of report.results) {
    const testCase = suite.testCase().className(r.operationId).name(r.id).time(seconds(r.durationMs));
    if (r.status === "skipped") testCase.skipped().standardOutput(`skipped: ${r.reason ?? ""}`);
    if (r.status === "failed" && r.failure) {
      testCase.failure(r.failure.message, "conformance").stacktrace(failureLines(r.failure).join("\n"));
    }
  }
  return builder.build();
}
