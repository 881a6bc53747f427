import type { Protocol, RunnerInfo, RunnerJob } from "./protocol.js";
import { type Command, parseLine, ScriptSyntaxError } from "./script.js";
import { JobAborted, JobLog } from "./trace.js";

/** What a wait is for, so that a test's `sleep` can tell a script's `sleep` from the pause between polls. */
export type WaitReason =
  | { kind: "poll" }
  | { kind: "script"; jobId: number }
  /** Between two keep-alives of a long script `sleep`, or before sending a 202-answered update again. */
  | { kind: "update"; jobId: number };

/**
 * Waits `ms` milliseconds; settles early (either way) when `signal` aborts. Every wait of the runner goes
 * through it, so tests can run scripts' sleeps without real waiting.
 */
export type Sleep = (ms: number, signal: AbortSignal, reason: WaitReason) => Promise<void>;

export interface JobResult {
  job: RunnerJob;
  /**
   * `success` or `failed` as reported with `updateJob`; `aborted` when GitLab stopped the job first
   * (canceled, erased, or otherwise no longer running: see `jobStatus`).
   */
  state: "success" | "failed" | "aborted";
  failureReason?: string;
  exitCode?: number;
  /** The job's status as GitLab last gave it (`Job-Status`). */
  jobStatus?: string;
}

/** What a job needs from its runner. */
export interface JobContext {
  protocol: Protocol;
  sleep: Sleep;
  /** How much faster than real time scripts' `sleep` runs. */
  speed: number;
  /** Aborted when the runner stops: ends the script, which fails with `runner_system_failure`. */
  signal: AbortSignal;
  /** Named in the log's first lines, as GitLab Runner names itself. */
  info: RunnerInfo;
  systemId: string;
  /** Part of the log reached GitLab: `size` bytes are there now. */
  onTrace: (size: number) => void;
}

/** Seconds between two keep-alives of a long script `sleep` when GitLab gave no interval (its own default). */
const defaultUpdateInterval = 60;
/** Sends of a final state answered 202 before the runner gives up on the job, as GitLab Runner does. */
const maxUpdateTries = 10;

/** How a job's script ended. */
type Outcome =
  | { state: "success" }
  | { state: "failed"; failureReason: string; exitCode?: number; message: string };

const success: Outcome = { state: "success" };

/** A command exited with `code`: `script_failure`, as GitLab Runner reports a script's non-zero exit. */
function failedWith(code: number): Outcome {
  return { state: "failed", failureReason: "script_failure", exitCode: code, message: `exit code ${code}` };
}

/** Waits `ms` of a script's `sleep`, with keep-alives so that a cancel on GitLab's side is noticed. */
async function scriptSleep(ctx: JobContext, job: RunnerJob, log: JobLog, ms: number): Promise<void> {
  let left = ms;
  while (left > 0 && !ctx.signal.aborted) {
    const step = Math.min(left, (log.updateInterval ?? defaultUpdateInterval) * 1000);
    await ctx.sleep(step, ctx.signal, { kind: "script", jobId: job.id });
    left -= step;
    if (left > 0 && !ctx.signal.aborted) {
      const answer = await ctx.protocol.updateJob(job, { state: "running" });
      log.check(answer);
      log.updateInterval = answer.updateInterval ?? log.updateInterval;
    }
  }
}

async function runCommand(
  ctx: JobContext,
  job: RunnerJob,
  log: JobLog,
  command: Command,
  clock: { seconds: number; timeout: number },
): Promise<Outcome | "next" | "exit0" | "false"> {
  switch (command.kind) {
    case "echo":
      log.line(command.text);
      return "next";
    case "sleep": {
      const left = clock.timeout - clock.seconds;
      const seconds = Math.min(command.seconds, left);
      await log.flush();
      await scriptSleep(ctx, job, log, (seconds * 1000) / ctx.speed);
      clock.seconds += seconds;
      if (command.seconds > left) {
        return {
          state: "failed",
          failureReason: "job_execution_timeout",
          message: `execution took longer than ${clock.timeout} seconds`,
        };
      }
      return "next";
    }
    case "exit":
      return command.code === 0 ? "exit0" : failedWith(command.code);
    case "false":
      return "false";
    case "fail":
      return { state: "failed", failureReason: command.reason, message: command.reason };
    case "run":
      return "next";
  }
}

/** Runs one step's lines; resolves to how it ended. */
async function runStep(
  ctx: JobContext,
  job: RunnerJob,
  log: JobLog,
  lines: string[],
  variables: ReadonlyMap<string, string>,
  clock: { seconds: number; timeout: number },
): Promise<Outcome> {
  for (const entry of lines) {
    for (const line of entry.split("\n")) {
      if (ctx.signal.aborted) {
        return {
          state: "failed",
          failureReason: "runner_system_failure",
          message: "the runner was stopped",
        };
      }
      log.line(`$ ${line}`);
      let steps: ReturnType<typeof parseLine>;
      try {
        steps = parseLine(line, variables);
      } catch (error) {
        if (!(error instanceof ScriptSyntaxError)) throw error;
        log.line(error.message);
        return failedWith(2);
      }
      let lastFailed: Outcome | undefined;
      for (const { command, after } of steps) {
        if ((after === "&&" && lastFailed) || (after === "||" && !lastFailed)) continue;
        const result = await runCommand(ctx, job, log, command, clock);
        if (result === "next") lastFailed = undefined;
        else if (result === "exit0") return success;
        else if (result === "false") lastFailed = failedWith(1);
        else return result;
      }
      if (lastFailed) return lastFailed;
    }
  }
  return success;
}

/**
 * Runs one job picked by `requestJob` the way GitLab Runner does: its steps with the tiny shell, the log sent as
 * it grows, the outcome reported with `updateJob`.
 */
export async function runJob(job: RunnerJob, ctx: JobContext): Promise<JobResult> {
  const log = new JobLog(ctx.protocol, job, ctx.onTrace);
  // GitLab sends `null` for a variable without a value (a project's empty CI_PROJECT_DESCRIPTION); GitLab
  // Runner decodes it into Go's string, the empty one.
  const variables = new Map(job.variables.map((v) => [v.key, v.value ?? ""]));
  const clock = { seconds: 0, timeout: job.runner_info.timeout };
  try {
    log.line(`Running with ${ctx.info.name} ${ctx.info.version}`);
    log.line(`  on ${ctx.info.name} ${ctx.systemId}`);
    let outcome: Outcome = success;
    let canceling = false;
    for (const step of job.steps) {
      const runs =
        step.when === "always" ||
        (!canceling &&
          (step.when === "on_success" ? outcome.state === "success" : outcome.state === "failed"));
      if (!runs) continue;
      log.line(
        step.name === "script" ? `Executing "step_script" stage of the job script` : `Running ${step.name}`,
      );
      let result: Outcome;
      try {
        result = await runStep(ctx, job, log, step.script, variables, clock);
      } catch (error) {
        // `canceling`: GitLab lets the runner stop the script, run after_script and report (the job ends canceled).
        if (!(error instanceof JobAborted && error.jobStatus === "canceling") || canceling) throw error;
        canceling = true;
        log.canceling = true;
        result = { state: "failed", failureReason: "job_canceled", message: "canceled" };
      }
      // after_script's failures are only logged, as on GitLab.
      if (step.name === "after_script") {
        if (result.state === "failed" && !canceling)
          log.line(`WARNING: after_script failed: ${result.message}`);
      } else if (outcome.state === "success") {
        outcome = result;
      }
    }
    log.line(outcome.state === "success" ? "Job succeeded" : `ERROR: Job failed: ${outcome.message}`);
    await log.flush();
    return await report(ctx, job, log, outcome);
  } catch (error) {
    if (error instanceof JobAborted) {
      return {
        job,
        state: "aborted",
        ...(error.jobStatus === undefined ? {} : { jobStatus: error.jobStatus }),
      };
    }
    throw error;
  }
}

/** The final `updateJob`, sent again while GitLab answers 202 (it is still storing the log). */
async function report(ctx: JobContext, job: RunnerJob, log: JobLog, outcome: Outcome): Promise<JobResult> {
  const update =
    outcome.state === "success"
      ? { state: "success", output: log.output }
      : {
          state: "failed",
          failure_reason: outcome.failureReason,
          ...(outcome.exitCode === undefined ? {} : { exit_code: outcome.exitCode }),
          output: log.output,
        };
  for (let tries = 1; ; tries++) {
    const answer = await ctx.protocol.updateJob(job, update);
    if (answer.status === 200) {
      return {
        job,
        state: outcome.state,
        ...(outcome.state === "failed"
          ? {
              failureReason: outcome.failureReason,
              ...(outcome.exitCode === undefined ? {} : { exitCode: outcome.exitCode }),
            }
          : {}),
        ...(answer.jobStatus === undefined ? {} : { jobStatus: answer.jobStatus }),
      };
    }
    if (answer.status === 403) {
      return {
        job,
        state: "aborted",
        ...(answer.jobStatus === undefined ? {} : { jobStatus: answer.jobStatus }),
      };
    }
    if (tries === maxUpdateTries) {
      throw new Error(`job ${job.id}: updateJob answered ${answer.status} ${tries} times; giving up`);
    }
    await ctx.sleep((answer.updateInterval ?? 3) * 1000, ctx.signal, { kind: "update", jobId: job.id });
  }
}
