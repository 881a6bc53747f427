// @ts-check
// The GitLab double (issue 14): how fast startDouble() is ready from a fixture file, how fast reset() puts
// the fixtures back, and how many jobs a second the simulated runner takes through the runner protocol
// (requestJob, appendJobTrace, updateJob) against it. In-process, like the tests that use it; one process,
// so the first start (which may build the cached template) is shown apart. Not lib/measure.mjs's loop:
// that one measures HTTP rates of fixed URLs with autocannon; these are the times of calls and of a
// runner's whole queue, alternated the same way (the order of the concurrencies flips each round).
import { fileURLToPath } from "node:url";
import { startRunner } from "@jobs-api/runner";
import { demoFixturesUrl, startDouble } from "@jobs-api/server";
import { unpinned } from "../lib/proc.mjs";
import { target } from "../lib/report.mjs";
import { push, summary } from "../lib/stats.mjs";

const runnerFixtures = fileURLToPath(
  new URL("../../packages/runner/test/fixtures/double.yaml", import.meta.url),
);

/**
 * A project with `jobs` pending jobs of two echo lines each, and a runner that may take them all.
 * @param {number} jobs
 * @returns {import("@jobs-api/server").Fixtures}
 */
function queueFixtures(jobs) {
  return {
    users: [{ username: "bench", tokens: [{ token: "glpat-bench", name: "bench" }] }],
    runners: [{ name: "bench-runner", token: "glrt-bench" }],
    projects: [
      {
        path: "bench/queue",
        members: [{ user: "bench", role: "maintainer" }],
        pipelines: [
          {
            status: "pending",
            jobs: Array.from({ length: jobs }, (_, i) => ({
              name: `job ${i + 1}`,
              status: "pending",
              script: [`echo "job ${i + 1}"`, "echo done"],
            })),
          },
        ],
      },
    ],
  };
}

/**
 * @template T
 * @param {() => Promise<T>} fn
 * @returns {Promise<{ ms: number, value: T }>}
 */
async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/**
 * Unpinned, as the tests that use the double run: server and runner share this process, whose helper
 * threads (garbage collection, file reads) would otherwise share the load generator's core.
 * @param {{ options: import("../lib/options.mjs").Options, cpu: { load: number|null },
 *   log: (msg: string) => void }} ctx
 */
export function doubleSuite({ options, cpu, log }) {
  return unpinned(cpu, () => doubleOn({ options, log }));
}

/**
 * @param {{ options: import("../lib/options.mjs").Options, log: (msg: string) => void }} ctx
 */
async function doubleOn({ options, log }) {
  const rounds = options.quick ? 2 : Math.max(options.rounds, 3);
  const { jobs } = options;
  /** @type {Record<string, number[]>} milliseconds by measurement */
  const ms = {};
  /** @type {Record<string, number[]>} jobs a second by concurrency */
  const jobsPerSecond = {};
  /** @param {Record<string, number[]>} record @param {string} key */
  const lastOf = (record, key) => record[key][record[key].length - 1];

  const first = await timed(() => startDouble({ fixtures: demoFixturesUrl }));
  push(ms, "firstStart", first.ms);
  await first.value.close();

  for (let round = 0; round < rounds; round++) {
    const demo = await timed(() => startDouble({ fixtures: demoFixturesUrl }));
    push(ms, "demoStart", demo.ms);
    push(ms, "demoReset", (await timed(() => demo.value.reset())).ms);
    await demo.value.close();
    const small = await timed(() => startDouble({ fixtures: runnerFixtures }));
    push(ms, "runnerFixtureStart", small.ms);
    await small.value.close();

    const queue = await startDouble({ fixtures: queueFixtures(jobs) });
    for (const concurrency of round % 2 ? [4, 1] : [1, 4]) {
      await queue.reset();
      let finished = 0;
      const run = await timed(async () => {
        const runner = await startRunner({ url: queue.baseUrl, token: "glrt-bench", concurrency });
        runner.on("finished", (result) => {
          if (result.state === "success") finished++;
        });
        await runner.idle();
        await runner.stop();
      });
      if (finished !== jobs) throw new Error(`the runner finished ${finished} of ${jobs} jobs`);
      push(jobsPerSecond, String(concurrency), jobs / (run.ms / 1000));
    }
    await queue.close();
    log(
      `  round ${round + 1}: demo start ${Math.round(lastOf(ms, "demoStart"))} ms, reset ${Math.round(lastOf(ms, "demoReset"))} ms, ` +
        `runner ${lastOf(jobsPerSecond, "1").toFixed(1)} jobs/s (1 at a time), ${lastOf(jobsPerSecond, "4").toFixed(1)} (4 at a time)`,
    );
  }
  return {
    rows: [
      { name: "startDouble, demo fixtures, first of the process", unit: "ms", ...summary(ms.firstStart) },
      { name: "startDouble, demo fixtures", unit: "ms", ...summary(ms.demoStart) },
      { name: "startDouble, the runner tests' fixtures", unit: "ms", ...summary(ms.runnerFixtureStart) },
      { name: "reset(), demo fixtures", unit: "ms", ...summary(ms.demoReset) },
      {
        name: `runner throughput, ${jobs} two-line jobs, concurrency 1`,
        unit: "jobs/s",
        ...summary(jobsPerSecond[1]),
      },
      {
        name: `runner throughput, ${jobs} two-line jobs, concurrency 4`,
        unit: "jobs/s",
        ...summary(jobsPerSecond[4]),
      },
    ],
    // Issue 18: a fresh in-memory instance from the cached template (not the first of a process, which
    // also compiles PGlite's WebAssembly and sets up the spec validator).
    targets: [target("startDouble (s), demo fixtures", summary(ms.demoStart).median / 1000, "<=", 0.3)],
    perRound: { ms, jobsPerSecond },
  };
}
