import { randomBytes } from "node:crypto";
import { arch, platform } from "node:os";
import { type JobResult, runJob, type Sleep } from "./job.js";
import { createProtocol, type Protocol, type RunnerInfo, type RunnerJob } from "./protocol.js";
import { version } from "./version.js";

export interface RunnerOptions {
  /** GitLab's URL, with or without `/api/v4`: `https://gitlab.example.com`. */
  url: string;
  /** The runner's authentication token (`glrt-…`). */
  token: string;
  /** Jobs run at the same time (GitLab Runner's `concurrent`); default 1. */
  concurrency?: number;
  /** Milliseconds between two job requests that found nothing (GitLab Runner's `check_interval`); default 3000. */
  pollInterval?: number;
  /** How much faster than real time scripts' `sleep` runs: 10 makes `sleep 5` wait 0.5 s; default 1. */
  speed?: number;
  /** Replaces the timers (every wait of the runner); default real `setTimeout`. */
  sleep?: Sleep;
  /** The runner manager's system id (`s_` and 12 hex digits); default a new random one. */
  systemId?: string;
  /** The `fetch` to send requests with; `globalThis.fetch` by default. */
  fetch?: (request: Request) => Promise<Response>;
}

export interface RunnerEvents {
  /** A job was picked: it is now running on this runner. */
  job: RunnerJob;
  /** Part of a job's log reached GitLab: `size` bytes are there now. */
  trace: { job: RunnerJob; size: number };
  /** A job ended and was reported (or GitLab stopped it). */
  finished: JobResult;
  /** A problem the runner survives: a request that failed, a log piece that could not be sent. */
  error: Error;
  /** The runner stopped: on `stop()` (no error), or on an error it cannot go on with (its token was refused). */
  stopped: Error | undefined;
}

export interface Runner {
  /** The runner manager's system id sent with every request. */
  readonly systemId: string;
  /**
   * Asks for jobs at once, and resolves when a request made after this call found no job and none is
   * running: every job pending now has been run. Rejects if the runner stopped on an error.
   */
  idle(): Promise<void>;
  /**
   * Stops asking for jobs; jobs still running stop where they are and fail with
   * `runner_system_failure`, as when GitLab Runner is shut down. Resolves once each is reported.
   */
  stop(): Promise<void>;
  /** Listens to an event; returns the function that stops listening. */
  on<E extends keyof RunnerEvents>(event: E, listener: (value: RunnerEvents[E]) => void): () => void;
}

/** The runner cannot go on: its token was refused, or its options are wrong. */
export class RunnerError extends Error {
  override name = "RunnerError";
}

export const defaultPollInterval = 3000;

const realSleep: Sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });

/** `https://host` → `https://host/api/v4`; a URL that names the API root stays as it is. */
export function apiRoot(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RunnerError(`not a URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new RunnerError(`not an http(s) URL: ${JSON.stringify(url)}`);
  }
  const path = parsed.pathname.replace(/\/+$/, "");
  return `${parsed.origin}${path.endsWith("/api/v4") ? path : `${path}/api/v4`}`;
}

function positive(name: string, value: number | undefined, integer: boolean): void {
  if (value === undefined) return;
  if (!(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new RunnerError(`${name} must be a positive ${integer ? "integer" : "number"}, not ${value}`);
  }
}

/**
 * Starts a simulated GitLab Runner: it asks GitLab for jobs with its runner token (`requestJob`), runs
 * each job's script with a tiny shell (`echo`, `sleep`, `exit`, directives), sends the log as it grows
 * (`appendJobTrace`) and reports the outcome (`updateJob`). Resolves once the first request was answered,
 * so a refused token rejects here with a `RunnerError`.
 */
export async function startRunner(options: RunnerOptions): Promise<Runner> {
  const baseUrl = apiRoot(options.url);
  if (!options.token) throw new RunnerError("a runner token is required");
  positive("concurrency", options.concurrency, true);
  positive("pollInterval", options.pollInterval, false);
  positive("speed", options.speed, false);
  const concurrency = options.concurrency ?? 1;
  const pollInterval = options.pollInterval ?? defaultPollInterval;
  const speed = options.speed ?? 1;
  const sleep = options.sleep ?? realSleep;
  const systemId = options.systemId ?? `s_${randomBytes(6).toString("hex")}`;
  const info: RunnerInfo = {
    name: "jobs-api-runner",
    version: version(),
    executor: "shell",
    platform: platform(),
    architecture: arch(),
    // What this runner does as GitLab Runner does: it sends the log's checksum with the final state, and it
    // stops a job whose status turns `canceling` and still reports it.
    features: { trace_checksum: true, cancel_gracefully: true },
  };
  const protocol: Protocol = createProtocol({
    baseUrl,
    token: options.token,
    systemId,
    info,
    fetch: options.fetch,
  });

  const listeners: { [E in keyof RunnerEvents]: Set<(value: RunnerEvents[E]) => void> } = {
    job: new Set(),
    trace: new Set(),
    finished: new Set(),
    error: new Set(),
    stopped: new Set(),
  };
  function emit<E extends keyof RunnerEvents>(event: E, value: RunnerEvents[E]): void {
    for (const listener of listeners[event]) listener(value);
  }

  /** Aborted by `stop()`: ends the loop's request and wait, and every job's script. */
  const stopping = new AbortController();
  const running = new Set<Promise<void>>();
  let lastUpdate: string | undefined;
  let fatal: Error | undefined;
  /** Requests made so far; an `idle()` waits for one numbered after its call. */
  let requests = 0;
  const idleWaiters: { after: number; resolve: () => void; reject: (error: Error) => void }[] = [];
  /** Ends the loop's current pause early: a slot freed up, `idle()` was called, or the runner stops. */
  let wake: AbortController = new AbortController();
  /** A job ended since the last request was sent: its answer may have been "none" only because jobs ran. */
  let endedSinceAsk = false;

  function settleIdle(requestNumber: number): void {
    for (const waiter of [...idleWaiters]) {
      if (fatal) waiter.reject(fatal);
      else if (requestNumber > waiter.after) waiter.resolve();
      else continue;
      idleWaiters.splice(idleWaiters.indexOf(waiter), 1);
    }
  }

  async function pause(ms: number): Promise<void> {
    // An `idle()` caller waits for a request made after its call: make it now.
    if (idleWaiters.some((waiter) => waiter.after >= requests)) return;
    if (idleWaiters.length > 0 && endedSinceAsk) return;
    if (stopping.signal.aborted) return;
    wake = new AbortController();
    await sleep(ms, wake.signal, { kind: "poll" }).catch(() => {});
  }

  async function waitForSlot(): Promise<void> {
    if (stopping.signal.aborted) return;
    wake = new AbortController();
    const freed = wake.signal;
    await new Promise<void>((resolve) => freed.addEventListener("abort", () => resolve(), { once: true }));
  }

  /** Stops the runner's loop: ends its request, its pause, and every job's script. */
  function halt(): void {
    stopping.abort();
    wake.abort();
  }

  /** One job request and what follows from its answer; `true` when the loop may ask again at once. */
  async function ask(first = false): Promise<boolean> {
    const number = ++requests;
    endedSinceAsk = false;
    const answer = await protocol.requestJob(lastUpdate, stopping.signal);
    switch (answer.kind) {
      case "job":
        start(answer.job);
        return true;
      case "none":
        lastUpdate = answer.lastUpdate;
        if (running.size === 0) settleIdle(number);
        return false;
      case "conflict":
        return true;
      case "forbidden":
        throw new RunnerError(`${baseUrl}/jobs/request refused the runner token (403 Forbidden)`);
      case "error": {
        const problem = `${baseUrl}/jobs/request answered ${answer.status}: ${answer.body.slice(0, 200)}`;
        // At start it is most likely not a GitLab (or no runner API there): say so rather than retry forever.
        if (first) throw new RunnerError(problem);
        emit("error", new Error(problem));
        return false;
      }
    }
  }

  async function loop(askNow: boolean): Promise<void> {
    if (!askNow) await pause(pollInterval);
    while (!stopping.signal.aborted) {
      if (running.size >= concurrency) {
        await waitForSlot();
        continue;
      }
      let again: boolean;
      try {
        again = await ask();
      } catch (error) {
        if (stopping.signal.aborted) return;
        if (error instanceof RunnerError) {
          fatal = error;
          settleIdle(requests);
          halt();
          await Promise.all(running);
          emit("stopped", error);
          return;
        }
        emit(
          "error",
          new Error(`${baseUrl}/jobs/request failed: ${String((error as Error).message ?? error)}`),
        );
        again = false;
      }
      if (!again) await pause(pollInterval);
    }
  }

  function start(job: RunnerJob): void {
    // Run from the next turn of the event loop: a caller that listens right after `await startRunner()`
    // sees the events of a job picked by the first request too.
    const run: Promise<void> = new Promise((resolve) => setImmediate(resolve))
      .then(() => {
        emit("job", job);
        return runJob(job, {
          protocol,
          sleep,
          speed,
          signal: stopping.signal,
          info,
          systemId,
          onTrace: (size) => emit("trace", { job, size }),
        });
      })
      .then((result) => emit("finished", result))
      .catch((error: unknown) => emit("error", error instanceof Error ? error : new Error(String(error))))
      .finally(() => {
        running.delete(run);
        endedSinceAsk = true;
        wake.abort();
      });
    running.add(run);
  }

  // The first request before resolving, so that a refused token or an unreachable GitLab rejects at once.
  let askNow: boolean;
  try {
    askNow = await ask(true);
  } catch (error) {
    halt();
    if (error instanceof RunnerError) throw error;
    throw new RunnerError(
      `cannot reach ${baseUrl}/jobs/request: ${String((error as Error).message ?? error)}`,
    );
  }
  const looping = loop(askNow);

  return {
    systemId,
    idle() {
      if (fatal) return Promise.reject(fatal);
      const after = requests;
      const waiting = new Promise<void>((resolve, reject) => idleWaiters.push({ after, resolve, reject }));
      wake.abort();
      return waiting;
    },
    async stop() {
      const first = !stopping.signal.aborted;
      halt();
      await looping;
      await Promise.all(running);
      for (const waiter of idleWaiters.splice(0)) waiter.reject(new RunnerError("the runner was stopped"));
      if (first) emit("stopped", undefined);
    },
    on(event, listener) {
      listeners[event].add(listener);
      return () => listeners[event].delete(listener);
    },
  };
}
