import { crc32 } from "node:zlib";
import type { Protocol, RunnerJob } from "./protocol.js";

/** Why a job stops before its script ends: GitLab said it no longer runs (canceled, erased, finished). */
export class JobAborted extends Error {
  override name = "JobAborted";
  constructor(
    /** The job's status as GitLab gave it (`Job-Status`), when it did. */
    readonly jobStatus: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** GitLab masks values of at least 8 characters; shorter ones are refused as masked variables. */
const minMaskedLength = 8;

/** Tries of one piece of the log before the job is given up (416 resyncs and server errors). */
const maxTries = 5;

/**
 * A job's log as the runner writes it: appended locally, then sent incrementally with `appendJobTrace`
 * (`Content-Range: start-end`), starting again from the server's size after a 416, as GitLab Runner does.
 */
export class JobLog {
  #bytes: Buffer = Buffer.alloc(0);
  /** What the server holds: the start of the next patch. */
  #sent = 0;
  #masked: string[];
  /** `X-GitLab-Trace-Update-Interval` of the last answer, in seconds. */
  updateInterval: number | undefined;
  /** Set once the runner handles a cancel: `canceling` no longer stops the job (it finishes its after_script). */
  canceling = false;

  constructor(
    private readonly protocol: Protocol,
    private readonly job: RunnerJob,
    /** Called after each piece GitLab took, with the log's size there. */
    private readonly onSent: (size: number) => void = () => {},
  ) {
    this.#masked = job.variables.flatMap((v) =>
      v.masked && v.value !== null && v.value.length >= minMaskedLength ? [v.value] : [],
    );
  }

  /** Adds text to the log, masked variables' values replaced by `[MASKED]` as the runner does. */
  write(text: string): void {
    let shown = text;
    for (const value of this.#masked) shown = shown.replaceAll(value, "[MASKED]");
    this.#bytes = Buffer.concat([this.#bytes, Buffer.from(shown)]);
  }

  line(text: string): void {
    this.write(`${text}\n`);
  }

  get size(): number {
    return this.#bytes.length;
  }

  /** The log's CRC32 and size, as the final `updateJob` carries them. */
  get output(): { checksum: string; bytesize: number } {
    return { checksum: `crc32:${crc32(this.#bytes).toString(16).padStart(8, "0")}`, bytesize: this.size };
  }

  /** Sends what the server does not have yet; throws `JobAborted` when GitLab says the job stopped. */
  async flush(): Promise<void> {
    for (let tries = 0; this.#sent < this.#bytes.length; tries++) {
      if (tries === maxTries) {
        throw new JobAborted(undefined, `the log could not be sent after ${maxTries} tries`);
      }
      const piece = this.#bytes.subarray(this.#sent);
      const answer = await this.protocol.appendJobTrace(this.job, this.#sent, piece);
      this.updateInterval = answer.updateInterval ?? this.updateInterval;
      if (answer.status === 202) {
        this.#sent = answer.size ?? this.#sent + piece.length;
        this.onSent(this.#sent);
      }
      this.check(answer);
      if (answer.status === 416 && answer.size !== undefined) {
        // The server holds another length than we thought: go on from its end (at most ours).
        this.#sent = Math.min(answer.size, this.#bytes.length);
      }
      // Anything else (a 5xx, a 429) is tried again, up to `maxTries`.
    }
  }

  /**
   * Throws `JobAborted` when an answer about the job says it no longer runs: 403, or a `Job-Status` other
   * than `running` (and `canceling` once the cancel is being handled), as GitLab Runner reads them.
   */
  check(answer: { status: number; jobStatus: string | undefined }): void {
    const { status, jobStatus } = answer;
    if (status === 403) {
      throw new JobAborted(jobStatus, `the job is ${jobStatus ?? "no longer running"} (403)`);
    }
    if (
      jobStatus !== undefined &&
      jobStatus !== "running" &&
      !(jobStatus === "canceling" && this.canceling)
    ) {
      throw new JobAborted(jobStatus, `the job is ${jobStatus}`);
    }
  }
}
