/** Human and machine renderings of results: progress lines, the summary table, JUnit XML. */
import { createRequire } from "node:module";
import type { Builder } from "junit-report-builder";
import type { CheckResult, Failure, Report } from "./report.js";

/** The failure as indented lines: what was sent, expected, and what came back. */
export function failureLines(failure: Failure): string[] {
  const lines = [`because:  ${failure.message}`];
  if (failure.sent) lines.push(`sent:     ${failure.sent.method} ${failure.sent.url}`);
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

/** One line per check as it ends (with the failure's details below it). */
export function progressLine(result: CheckResult): string {
  if (result.status === "passed") return `  pass  ${result.id}  (${ms(result.durationMs)})`;
  if (result.status === "skipped") return `  skip  ${result.id}  (${result.reason})`;
  const details = result.failure ? failureLines(result.failure).map((l) => `          ${l}`) : [];
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
  const failed = report.results.filter((r) => r.status === "failed");
  if (failed.length > 0)
    out.push("", "Failed:", ...failed.map((r) => `  ${r.id}: ${r.failure?.message ?? ""}`));
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
