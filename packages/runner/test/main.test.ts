import { describe, expect, it } from "vitest";
import { exitCodes, main } from "../src/main.js";

export function io(env: Record<string, string | undefined> = {}, signal?: AbortSignal) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env, signal },
  };
}

describe("jobs-api-runner, usage", () => {
  it.each([
    [
      [],
      {},
      "jobs-api-runner: --url is required\njobs-api-runner: a runner token is required: set JOBS_API_RUNNER_TOKEN",
    ],
    [
      ["--url", "http://127.0.0.1:1", "--concurrency", "0"],
      { JOBS_API_RUNNER_TOKEN: "t" },
      'jobs-api-runner: --concurrency must be a positive integer, not "0"',
    ],
    [
      ["--url", "http://127.0.0.1:1", "--speed", "fast"],
      { JOBS_API_RUNNER_TOKEN: "t" },
      'jobs-api-runner: --speed must be a positive number, not "fast"',
    ],
    [
      ["--url", "ftp://gitlab"],
      { JOBS_API_RUNNER_TOKEN: "t" },
      'jobs-api-runner: not an http(s) URL: "ftp://gitlab"',
    ],
    [["--bogus"], {}, "jobs-api-runner: Unknown option '--bogus'"],
  ])("%j exits 2 with one line per problem", async (argv, env, message) => {
    const run = io(env);
    expect(await main(argv, run.io)).toBe(exitCodes.usage);
    expect(run.err.join("").split("\n\nUsage:")[0]).toBe(message);
    expect(run.out).toEqual([]);
  });

  it("says when nothing listens at the URL, in one line", async () => {
    const run = io({ JOBS_API_RUNNER_TOKEN: "t" });
    expect(await main(["--url", "http://127.0.0.1:9"], run.io)).toBe(exitCodes.usage);
    expect(run.err.join("")).toMatch(
      /^jobs-api-runner: cannot reach http:\/\/127\.0\.0\.1:9\/api\/v4\/jobs\/request: .+\n$/,
    );
  });

  it("prints its help and version", async () => {
    const help = io();
    expect(await main(["--help"], help.io)).toBe(exitCodes.ok);
    expect(help.out.join("")).toContain("Usage: jobs-api-runner --url URL");
    const version = io();
    expect(await main(["--version"], version.io)).toBe(exitCodes.ok);
    expect(version.out).toEqual(["0.1.0\n"]);
  });
});
