/** The `jobs-api-conformance` command, as a function of its arguments so that tests can run it in-process. */
import { readFileSync } from "node:fs";
import { access, constants, stat, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { CheckDefinition } from "./checks/helpers.js";
import { SetupError } from "./discovery.js";
import { junitXml, progressLine, summary } from "./format.js";
import { NetworkError } from "./http.js";
import { type CheckResult, rootCause } from "./report.js";
import { runConformance, selectChecks } from "./run.js";

export const exitCodes = { passed: 0, failed: 1, usage: 2 } as const;

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Replaces the global fetch, e.g. to put a proxy in front of the server. */
  fetch?: typeof fetch;
  /** The environment tokens are read from; `process.env` when absent. */
  env?: Readonly<Record<string, string | undefined>>;
}

export const usage = `Usage: jobs-api-conformance --base-url URL [options]

Tells whether a server implements GitLab's CI Jobs API (v4) as the jobs-api spec describes it.

  --base-url URL        API root, e.g. https://gitlab.example.com/api/v4
  --project ID          numeric id or full path of the project to examine
                        (default: the project of the job token's job)
  --destructive         also cancel, retry, play and erase jobs (changes the server's data;
                        needs the Developer role, read-only runs need Reporter)
  --only IDS            comma-separated check ids or operation ids, e.g. retryJob,getJob.unknownJob
  --junit FILE          write a JUnit XML report
  --json FILE           write the full report as JSON
  --header 'NAME: VALUE'
                        send this header with every request (repeatable); shown as is in reports
  --timeout MS          per request, in milliseconds (default 30000)
  --max-failures N      stop after N failed checks
  --list                list the checks and exit
  --version             print the version and exit
  -h, --help            show this help

Tokens, from the environment so that they stay out of shell history:
  GITLAB_TOKEN          personal access token (scope read_api, or api with --destructive)
  GITLAB_JOB_TOKEN      CI job token of a running job, for GET /job and /job/allowed_agents (optional)
  --token-env NAME      read the personal token from NAME instead of GITLAB_TOKEN
  --job-token-env NAME  read the job token from NAME instead of GITLAB_JOB_TOKEN
  --token TOKEN, --job-token TOKEN
                        the same on the command line (kept for scripts; ends up in shell history)
Reports name the variables ($GITLAB_TOKEN), never the values.

A GitLab with a certificate from a private CA: NODE_EXTRA_CA_CERTS=/path/to/ca.pem jobs-api-conformance …

Exit codes: 0 every check passed (or was skipped), 1 some check failed,
2 a problem of the run's inputs (options, URL, tokens, role, report paths) or of the connection.`;

function version(): string {
  // package.json sits one level above both src/ (tests) and dist/ (the installed command).
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/** A token from the command line or the environment, or the one line that says why there is none. */
function token(
  given: string | undefined,
  envName: string | undefined,
  fallback: string,
  env: Readonly<Record<string, string | undefined>>,
): { value: string | undefined; env: string } | string {
  if (given !== undefined) return { value: given, env: envName ?? fallback };
  const name = envName ?? fallback;
  const value = env[name];
  if (envName !== undefined && !value) return `the environment variable ${name} is not set`;
  return { value: value || undefined, env: name };
}

/** `Name: value` → [name, value], or undefined when it is not a header. */
function header(text: string): [string, string] | undefined {
  const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*)$/.exec(text);
  return match?.[1] && match[2] !== undefined ? [match[1], match[2].trim()] : undefined;
}

/** Why a report cannot be written to `path`, checked before anything runs. */
async function unwritable(path: string): Promise<string | undefined> {
  const file = resolve(path);
  try {
    if ((await stat(file)).isDirectory()) return "it is a directory";
    await access(file, constants.W_OK);
    return undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") return (error as Error).message;
  }
  try {
    await access(dirname(file), constants.W_OK);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT"
      ? `the directory ${dirname(file)} does not exist`
      : `the directory ${dirname(file)} is not writable`;
  }
}

function positiveInteger(name: string, text: string | undefined): number | string | undefined {
  if (text === undefined) return undefined;
  return /^[1-9]\d*$/.test(text)
    ? Number(text)
    : `${name} must be a positive integer, not ${JSON.stringify(text)}`;
}

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
  if (values.version) {
    io.out(`${version()}\n`);
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
  const env = io.env ?? process.env;
  const personal = token(values.token, values["token-env"], "GITLAB_TOKEN", env);
  const job = token(values["job-token"], values["job-token-env"], "GITLAB_JOB_TOKEN", env);
  const headers = (values.header ?? []).map((h) => header(h) ?? h);
  const timeout = positiveInteger("--timeout", values.timeout);
  const maxFailures = positiveInteger("--max-failures", values["max-failures"]);
  const baseUrl = values["base-url"];
  const problems = [
    baseUrl === undefined ? "--base-url is required" : undefined,
    baseUrl !== undefined && !/^https?:\/\/[^/]/.test(baseUrl)
      ? `--base-url must be an http(s) URL, not ${JSON.stringify(baseUrl)}`
      : undefined,
    typeof personal === "string"
      ? personal
      : personal.value === undefined
        ? "a token is required: set GITLAB_TOKEN (or --token-env NAME)"
        : undefined,
    typeof job === "string" ? job : undefined,
    ...headers.map((h) =>
      typeof h === "string" ? `--header must be 'Name: value', not ${JSON.stringify(h)}` : undefined,
    ),
    typeof timeout === "string" ? timeout : undefined,
    typeof maxFailures === "string" ? maxFailures : undefined,
  ].filter((p) => p !== undefined);
  if (
    problems.length > 0 ||
    baseUrl === undefined ||
    typeof personal === "string" ||
    personal.value === undefined ||
    typeof job === "string" ||
    typeof timeout === "string" ||
    typeof maxFailures === "string"
  ) {
    io.err(`${problems.join("\n")}\n\n${usage}\n`);
    return exitCodes.usage;
  }
  for (const [option, path] of [
    ["--junit", values.junit],
    ["--json", values.json],
  ] as const) {
    const why = path === undefined ? undefined : await unwritable(path);
    if (why !== undefined) {
      io.err(`jobs-api-conformance: cannot write the ${option} report to ${path}: ${why}\n`);
      return exitCodes.usage;
    }
  }
  io.out(`jobs-api-conformance: ${baseUrl}\n`);
  const firstOfCause = new Map<string, string>();
  const progress = (result: CheckResult) => {
    const cause = result.status === "failed" ? rootCause(result).key : undefined;
    const sameAs = cause === undefined ? undefined : firstOfCause.get(cause);
    if (cause !== undefined && sameAs === undefined) firstOfCause.set(cause, result.id);
    io.out(`${progressLine(result, sameAs)}\n`);
  };
  try {
    const report = await runConformance({
      baseUrl,
      token: personal.value,
      tokenEnv: personal.env,
      project: values.project,
      jobToken: job.value,
      jobTokenEnv: job.env,
      destructive: values.destructive,
      only,
      fetch: io.fetch,
      headers: headers.filter((h) => typeof h !== "string"),
      timeoutMs: timeout,
      maxFailures,
      onResult: progress,
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
      "token-env": { type: "string" },
      project: { type: "string" },
      "job-token": { type: "string" },
      "job-token-env": { type: "string" },
      destructive: { type: "boolean" },
      only: { type: "string" },
      junit: { type: "string" },
      json: { type: "string" },
      header: { type: "string", multiple: true },
      timeout: { type: "string" },
      "max-failures": { type: "string" },
      list: { type: "boolean" },
      version: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}
