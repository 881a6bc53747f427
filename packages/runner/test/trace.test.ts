import type { RunnerJob } from "@jobs-api/types";
import { describe, expect, it } from "vitest";
import type { AppendAnswer, Protocol } from "../src/protocol.js";
import { JobAborted, JobLog } from "../src/trace.js";

/** Just what JobLog reads of a job. */
const job = {
  id: 7,
  token: "glcbt-test",
  variables: [
    { key: "SECRET", value: "s3cr3t-value", public: false, masked: true },
    { key: "SHORT", value: "short", public: false, masked: true },
    // GitLab sends null for a variable without a value (Gitlab::Ci::Variables::Collection::Item accepts nil).
    { key: "EMPTY", value: null, public: false, masked: true },
  ],
} as RunnerJob;

/** A log server in memory, answering as GitLab's `appendJobTrace` does; `answers` overrides some answers. */
function fakeServer(answers: Partial<AppendAnswer>[] = []) {
  let stored = Buffer.alloc(0);
  const ranges: string[] = [];
  const protocol: Protocol = {
    requestJob: () => Promise.reject(new Error("not used")),
    updateJob: () => Promise.reject(new Error("not used")),
    async appendJobTrace(_job, offset, bytes) {
      ranges.push(`${offset}-${offset + bytes.length - 1}`);
      const forced = answers.shift();
      if (forced)
        return {
          status: 202,
          size: stored.length,
          jobStatus: "running",
          updateInterval: undefined,
          ...forced,
        };
      if (offset !== stored.length) {
        return { status: 416, size: stored.length, jobStatus: undefined, updateInterval: undefined };
      }
      stored = Buffer.concat([stored, bytes]);
      return { status: 202, size: stored.length, jobStatus: "running", updateInterval: 3 };
    },
  };
  return { protocol, ranges, text: () => stored.toString() };
}

describe("JobLog", () => {
  it("sends only what is new, with Content-Range in bytes, and masks masked values of 8 characters or more", async () => {
    const server = fakeServer();
    const sizes: number[] = [];
    const log = new JobLog(server.protocol, job, (size) => sizes.push(size));
    log.line("héllo s3cr3t-value short");
    await log.flush();
    log.line("more");
    await log.flush();
    await log.flush();
    expect(server.text()).toBe("héllo [MASKED] short\nmore\n");
    expect(server.ranges).toEqual(["0-21", "22-26"]);
    expect(sizes).toEqual([22, 27]);
    expect(log.updateInterval).toBe(3);
    expect(log.output).toEqual({ checksum: expect.stringMatching(/^crc32:[0-9a-f]{8}$/), bytesize: 27 });
  });

  it("starts again from the server's end after a 416", async () => {
    // The server says it took the first piece (Range 0-2) but lost it: the next piece is refused with 416
    // and Range 0-0, so the runner sends everything again from there.
    const server = fakeServer([{ status: 202, size: 2 }]);
    const log = new JobLog(server.protocol, job);
    log.write("ab");
    await log.flush();
    log.write("cd");
    await log.flush();
    log.write("ef");
    await log.flush();
    expect(server.ranges).toEqual(["0-1", "2-3", "0-3", "4-5"]);
    expect(server.text()).toBe("abcdef");
  });

  it("stops the job on 403 or when the job no longer runs, and lets canceling through once asked to", async () => {
    const refused = new JobLog(fakeServer([{ status: 403, jobStatus: "canceled" }]).protocol, job);
    refused.write("x");
    await expect(refused.flush()).rejects.toEqual(new JobAborted("canceled", "the job is canceled (403)"));

    const canceling = new JobLog(
      fakeServer([{ jobStatus: "canceling" }, { jobStatus: "canceling" }]).protocol,
      job,
    );
    canceling.write("x");
    await expect(canceling.flush()).rejects.toMatchObject({ jobStatus: "canceling" });
    canceling.canceling = true;
    canceling.write("y");
    await expect(canceling.flush()).resolves.toBeUndefined();
  });

  it("gives up after five tries of the same piece", async () => {
    const failing = Array.from({ length: 5 }, () => ({ status: 500, jobStatus: undefined }));
    const log = new JobLog(fakeServer(failing).protocol, job);
    log.write("x");
    await expect(log.flush()).rejects.toThrow("the log could not be sent after 5 tries");
  });
});
