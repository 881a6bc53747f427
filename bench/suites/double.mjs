// The GitLab double (issue 14): how fast startDouble() is ready from a fixture file, how fast reset() puts
// the fixtures back, and how many jobs a second the simulated runner takes through the runner protocol
// (requestJob, appendJobTrace, updateJob) against it. In-process, like the tests that use it; one process,
// so the first start (which may build the cached template) is shown apart.
//
//   node bench/suites/double.mjs [--rounds=N] [--jobs=N]      (after `pnpm run build`)
import { fileURLToPath } from "node:url";
import { startRunner } from "@jobs-api/runner";
import { demoFixturesUrl, startDouble } from "@jobs-api/server";
import { resultsTable } from "../lib/report.mjs";
import { summary } from "../lib/stats.mjs";

const runnerFixtures = fileURLToPath(
  new URL("../../packages/runner/test/fixtures/double.yaml", import.meta.url),
);

/** A project with `jobs` pending jobs of two echo lines each, and a runner that may take them all. */
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

async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

export async function doubleSuite({ options = {}, log = console.error } = {}) {
  const rounds = options.quick ? 2 : Math.max(options.rounds ?? 5, 3);
  const jobs = options.jobs ?? (options.quick ? 50 : 200);
  const ms = { firstStart: [], demoStart: [], runnerFixtureStart: [], demoReset: [] };
  const jobsPerSecond = { 1: [], 4: [] };

  const first = await timed(() => startDouble({ fixtures: demoFixturesUrl }));
  ms.firstStart.push(first.ms);
  await first.value.close();

  for (let round = 0; round < rounds; round++) {
    const demo = await timed(() => startDouble({ fixtures: demoFixturesUrl }));
    ms.demoStart.push(demo.ms);
    ms.demoReset.push((await timed(() => demo.value.reset())).ms);
    await demo.value.close();
    const small = await timed(() => startDouble({ fixtures: runnerFixtures }));
    ms.runnerFixtureStart.push(small.ms);
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
      jobsPerSecond[concurrency].push(jobs / (run.ms / 1000));
    }
    await queue.close();
    log(
      `  round ${round + 1}: demo start ${Math.round(ms.demoStart.at(-1))} ms, reset ${Math.round(ms.demoReset.at(-1))} ms, ` +
        `runner ${jobsPerSecond[1].at(-1).toFixed(1)} jobs/s (1 at a time), ${jobsPerSecond[4].at(-1).toFixed(1)} (4 at a time)`,
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
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const options = {};
  for (const arg of process.argv.slice(2)) {
    const match = /^--(rounds|jobs)=(\d+)$/.exec(arg) ?? /^--(quick)$/.exec(arg);
    if (!match) {
      console.error(
        `unknown argument ${arg}\nusage: node bench/suites/double.mjs [--rounds=N] [--jobs=N] [--quick]`,
      );
      process.exit(2);
    }
    options[match[1]] = match[2] === undefined ? true : Number(match[2]);
  }
  const { rows } = await doubleSuite({ options });
  console.log(resultsTable(rows));
}
