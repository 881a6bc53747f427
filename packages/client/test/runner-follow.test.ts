import { DEMO_IDS, DEMO_TOKENS, startDemoServer } from "@jobs-api/server";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createJobsClient } from "../src/index.js";

/**
 * What a runner writes through the runner protocol (`requestJob`, `appendJobTrace`, `updateJob`), followed
 * with `followJobTrace` against the reference server: each of the client's sleeps is where the runner does
 * its next step, so the test depends on no clock.
 */

describe("followJobTrace on a job a runner runs", () => {
  it("yields each piece the runner sends and ends when the runner reports success", async () => {
    const server = await startDemoServer({ logger: pino({ level: "silent" }) });
    try {
      const runner = (path: string, init: RequestInit) => fetch(`${server.api}${path}`, init);
      const picked = await runner("/jobs/request", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: DEMO_TOKENS.runner }),
      });
      const job = (await picked.json()) as { id: number; token: string; job_info: { project_id: number } };
      expect(job.id).toBe(DEMO_IDS.pendingJobs[0]);
      let sent = 0;
      const patch = async (text: string) => {
        const res = await runner(`/jobs/${job.id}/trace`, {
          method: "PATCH",
          headers: {
            "JOB-TOKEN": job.token,
            "Content-Range": `${sent}-${sent + Buffer.byteLength(text) - 1}`,
          },
          body: text,
        });
        expect(res.status).toBe(202);
        sent += Buffer.byteLength(text);
      };
      const steps = [
        () => patch('$ echo "integration tests"\n'),
        () => patch("integration tests\n"),
        async () => {
          await patch("Job succeeded\n");
          const done = await runner(`/jobs/${job.id}`, {
            method: "PUT",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ token: job.token, state: "success" }),
          });
          expect(done.status).toBe(200);
        },
      ];
      await patch("Running with gitlab-runner\n");

      const gitlab = createJobsClient({ baseUrl: server.api, token: DEMO_TOKENS.maintainer });
      const chunks: string[] = [];
      const follow = gitlab.followJobTrace(
        { id: job.job_info.project_id, job_id: job.id },
        { sleep: async () => void (await steps.shift()?.()) },
      );
      for await (const chunk of follow) chunks.push(chunk);
      expect(chunks).toEqual([
        "Running with gitlab-runner\n",
        '$ echo "integration tests"\n',
        "integration tests\n",
        "Job succeeded\n",
      ]);
      const finished = await gitlab.getJob({ id: job.job_info.project_id, job_id: job.id });
      expect(finished.status).toBe("success");
      expect(finished.runner?.id).toBe(1);
    } finally {
      await server.close();
    }
  });
});
