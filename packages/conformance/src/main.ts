/** The `jobs-api-conformance` command, as a function of its arguments so that tests can run it in-process. */
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { CheckDefinition } from "./checks/helpers.js";
import { SetupError } from "./discovery.js";
import { junitXml, progressLine, summary } from "./format.js";
import { NetworkError } from "./http.js";
import { runConformance, selectChecks } from "./run.js";

export const exitCodes = { passed: 0, failed: 1, usage: 2 } as const;

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Replaces the global fetch, e.g. to put a proxy in front of the server. */
  fetch?: typeof fetch;
}

export const usage = `Usage: jobs-api-conformance --base-url URL --token TOKEN [options]

Tells whether a server implements GitLab's CI Jobs API (v4) as the jobs-api spec describes it.

  --base-url URL      API root, e.g. https://gitlab.example.com/api/v4
  --token TOKEN       personal access token (Developer or more in the project)
  --project ID        numeric id or full path of the project to examine
                      (default: the project of --job-token's job)
  --job-token TOKEN   CI job token of a running job, for GET /job and /job/allowed_agents
  --destructive       also cancel, retry, play and erase jobs (changes the server's data)
  --only IDS          comma-separated check ids or operation ids, e.g. retryJob,getJob.unknownJob
  --junit FILE        write a JUnit XML report
  --json FILE         write the full report as JSON
  --list              list the checks and exit
  -h, --help          show this help

Exit codes: 0 every check passed (or was skipped), 1 some check failed, 2 usage or connection error.`;

export async function main(argv: string[], io: Io): Promise<number> {
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse(argv).values;
  } catch (error) {
    io.err(`${error instanceof Error ? error.message : String(error)}\n\n${usage}\n`);
    return exitCodes.usage;
  }
  if (values.help) {
    io.out(`${usage}\n`);
    return exitCodes.passed;
  }
  const only = values.only
    ?.split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (values.list) {
    let listed: CheckDefinition[];
    try {
      listed = selectChecks(only);
    } catch (error) {
      if (!(error instanceof SetupError)) throw error;
      io.err(`jobs-api-conformance: ${error.message}\n`);
      return exitCodes.usage;
    }
    for (const c of listed)
      io.out(`${c.id.padEnd(44)} ${c.destructive ? "[destructive] " : ""}${c.description}\n`);
    return exitCodes.passed;
  }
  const problems = [
    values["base-url"] === undefined ? "--base-url is required" : undefined,
    values.token === undefined ? "--token is required" : undefined,
    values["base-url"] !== undefined && !/^https?:\/\/[^/]/.test(values["base-url"])
      ? `--base-url must be an http(s) URL, not ${JSON.stringify(values["base-url"])}`
      : undefined,
  ].filter((p) => p !== undefined);
  if (problems.length > 0 || values["base-url"] === undefined || values.token === undefined) {
    io.err(`${problems.join("\n")}\n\n${usage}\n`);
    return exitCodes.usage;
  }
  io.out(`jobs-api-conformance: ${values["base-url"]}\n`);
  try {
    const report = await runConformance({
      baseUrl: values["base-url"],
      token: values.token,
      project: values.project,
      jobToken: values["job-token"],
      destructive: values.destructive,
      only,
      fetch: io.fetch,
      onResult: (result) => io.out(`${progressLine(result)}\n`),
    });
    io.out(`\n${summary(report)}\n`);
    if (values.junit) await writeFile(values.junit, junitXml(report));
    if (values.json) await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
    return report.counts.failed > 0 ? exitCodes.failed : exitCodes.passed;
  } catch (error) {
    if (error instanceof SetupError || error instanceof NetworkError) {
      io.err(`jobs-api-conformance: ${error.message}\n`);
      return exitCodes.usage;
    }
    throw error;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      "base-url": { type: "string" },
      token: { type: "string" },
      project: { type: "string" },
      "job-token": { type: "string" },
      destructive: { type: "boolean" },
      only: { type: "string" },
      junit: { type: "string" },
      json: { type: "string" },
      list: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}
