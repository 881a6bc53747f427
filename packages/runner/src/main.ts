/** The `jobs-api-runner` command, as a function of its arguments so that tests can run it in-process. */
import { parseArgs } from "node:util";
import type { JobResult } from "./job.js";
import { apiRoot, type Runner, RunnerError, startRunner } from "./runner.js";
import { version } from "./version.js";

export const exitCodes = { ok: 0, failed: 1, usage: 2 } as const;

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** The environment the token is read from; `process.env` when absent. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Aborted to stop the runner (the command aborts it on SIGINT and SIGTERM). */
  signal?: AbortSignal;
  /** Replaces the global fetch. */
  fetch?: (request: Request) => Promise<Response>;
}

export const usage = `Usage: jobs-api-runner --url URL [options]

A simulated GitLab Runner: takes jobs with a runner token, runs their scripts with a tiny shell
(echo, sleep, exit; anything else is shown as run) and sends their logs and states to GitLab.

  --url URL             GitLab's URL, e.g. https://gitlab.example.com (/api/v4 may be included)
  --once                run the jobs pending now, then exit
  --concurrency N       jobs run at the same time (default 1)
  --poll-interval MS    pause between two requests that found no job (default 3000)
  --speed F             run scripts' sleeps F times faster (default 1; 100 makes \`sleep 60\` 0.6 s)
  --token TOKEN         the runner token on the command line (ends up in shell history)
  --version             print the version and exit
  -h, --help            show this help

The runner's authentication token (glrt-…) comes from JOBS_API_RUNNER_TOKEN.
Script directive: a line \`# jobs-api-runner: fail <failure_reason>\` fails the job with that reason.

Exit codes: 0 stopped (signal, or --once done), 1 the runner stopped on an error,
2 a problem of the options, the token or the connection at start.`;

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      url: { type: "string" },
      once: { type: "boolean" },
      concurrency: { type: "string" },
      "poll-interval": { type: "string" },
      speed: { type: "string" },
      token: { type: "string" },
      version: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}

/** `text` as a positive number, or the line that says why not. */
function positive(option: string, text: string | undefined, integer: boolean): number | string | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  return text.trim() !== "" && value > 0 && Number.isFinite(value) && (!integer || Number.isInteger(value))
    ? value
    : `${option} must be a positive ${integer ? "integer" : "number"}, not ${JSON.stringify(text)}`;
}

function urlProblem(url: string): string | undefined {
  try {
    apiRoot(url);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function describe(result: JobResult): string {
  const { job } = result;
  const name = `job ${job.id} (${job.job_info.name})`;
  switch (result.state) {
    case "success":
      return `${name} success`;
    case "failed":
      return `${name} failed: ${result.failureReason}${result.exitCode === undefined ? "" : ` (exit code ${result.exitCode})`}`;
    case "aborted":
      return `${name} stopped by GitLab: ${result.jobStatus ?? "no longer running"}`;
  }
}

export async function main(argv: string[], io: Io): Promise<number> {
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse(argv).values;
  } catch (error) {
    io.err(`jobs-api-runner: ${error instanceof Error ? error.message : String(error)}\n\n${usage}\n`);
    return exitCodes.usage;
  }
  if (values.help) {
    io.out(`${usage}\n`);
    return exitCodes.ok;
  }
  if (values.version) {
    io.out(`${version()}\n`);
    return exitCodes.ok;
  }
  const env = io.env ?? process.env;
  const token = values.token ?? env.JOBS_API_RUNNER_TOKEN;
  const concurrency = positive("--concurrency", values.concurrency, true);
  const pollInterval = positive("--poll-interval", values["poll-interval"], false);
  const speed = positive("--speed", values.speed, false);
  const problems = [
    values.url === undefined ? "--url is required" : urlProblem(values.url),
    token ? undefined : "a runner token is required: set JOBS_API_RUNNER_TOKEN",
    ...[concurrency, pollInterval, speed].filter((v) => typeof v === "string"),
  ].filter((p) => p !== undefined);
  if (
    problems.length > 0 ||
    values.url === undefined ||
    !token ||
    typeof concurrency === "string" ||
    typeof pollInterval === "string" ||
    typeof speed === "string"
  ) {
    io.err(`${problems.map((p) => `jobs-api-runner: ${p}`).join("\n")}\n\n${usage}\n`);
    return exitCodes.usage;
  }

  let runner: Runner;
  try {
    runner = await startRunner({ url: values.url, token, concurrency, pollInterval, speed, fetch: io.fetch });
  } catch (error) {
    if (!(error instanceof RunnerError)) throw error;
    io.err(`jobs-api-runner: ${error.message}\n`);
    return exitCodes.usage;
  }
  io.out(`jobs-api-runner ${version()}: ${values.url}, system id ${runner.systemId}\n`);
  runner.on("job", (job) => io.out(`job ${job.id} (${job.job_info.name}) running\n`));
  runner.on("finished", (result) => io.out(`${describe(result)}\n`));
  runner.on("error", (error) => io.err(`jobs-api-runner: ${error.message}\n`));

  const stopped = new Promise<Error | undefined>((resolve) => runner.on("stopped", resolve));
  const signalled = new Promise<undefined>((resolve) => {
    if (io.signal?.aborted) resolve(undefined);
    io.signal?.addEventListener("abort", () => resolve(undefined), { once: true });
  });
  const done = values.once
    ? runner.idle().then(
        () => undefined,
        (error: Error) => error,
      )
    : new Promise<never>(() => {});
  const error = await Promise.race([stopped, signalled, done]);
  await runner.stop();
  if (error) {
    io.err(`jobs-api-runner: ${error.message}\n`);
    return exitCodes.failed;
  }
  return exitCodes.ok;
}
