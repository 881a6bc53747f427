import { type Double, startDouble } from "@jobs-api/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exitCodes, main } from "../src/main.js";
import { io } from "./main.test.js";

describe("jobs-api-runner against the demo double", () => {
  let double: Double;
  beforeAll(async () => {
    double = await startDouble();
  });
  afterAll(async () => {
    await double?.close();
  });

  it("refuses a wrong token in one line, exit 2", async () => {
    const run = io({ JOBS_API_RUNNER_TOKEN: "glrt-wrong" });
    expect(await main(["--url", double.baseUrl, "--once"], run.io)).toBe(exitCodes.usage);
    expect(run.err).toEqual([
      `jobs-api-runner: ${double.baseUrl}/jobs/request refused the runner token (403 Forbidden)\n`,
    ]);
  });

  it("--once runs the pending jobs, one line each, then exits 0", async () => {
    const run = io({ JOBS_API_RUNNER_TOKEN: "glrt-demo-runner-token" });
    expect(
      await main(["--url", double.baseUrl.replace(/\/api\/v4$/, ""), "--once", "--speed", "1000"], run.io),
    ).toBe(exitCodes.ok);
    expect(run.err).toEqual([]);
    const lines = run.out.join("").trimEnd().split("\n");
    expect(lines[0]).toMatch(
      /^jobs-api-runner 0\.1\.0: http:\/\/127\.0\.0\.1:\d+, system id s_[0-9a-f]{12}$/,
    );
    // Each pending job of the demo data that the demo runner may take: a line when it starts, one when it ends.
    const jobs = lines.slice(1);
    for (const line of jobs) expect(line).toMatch(/^job \d+ \(.+\) (running|success)$/);
    expect(jobs).toContain("job 17 (pending:1) running");
    expect(jobs).toContain("job 17 (pending:1) success");
    expect(jobs.filter((line) => line.endsWith(" success")).length).toBe(jobs.length / 2);
  });

  it("stops on its signal", async () => {
    const stop = new AbortController();
    const run = io({ JOBS_API_RUNNER_TOKEN: "glrt-demo-runner-token" }, stop.signal);
    const running = main(["--url", double.baseUrl, "--poll-interval", "60000"], run.io);
    stop.abort();
    expect(await running).toBe(exitCodes.ok);
  });
});
