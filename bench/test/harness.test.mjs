// @ts-check
// Smoke test of the harness's parsing and statistics (never of timings): node --test bench/test/
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkRun, parseResult, parseWrk, resolveGenerator } from "../lib/load.mjs";
import { parseOptions, SUITES } from "../lib/options.mjs";
import { median, ratioOfRounds, rotation } from "../lib/stats.mjs";
import { summariseProfile } from "../profile.mjs";
import { parseSpecTimes } from "../suites/pipeline.mjs";

test("autocannon results are reduced to rates and latencies, and failures invalidate a run", () => {
  const raw = {
    duration: 2,
    "2xx": 400,
    non2xx: 0,
    errors: 0,
    timeouts: 0,
    requests: { total: 400 },
    throughput: { total: 400_000 },
    latency: { mean: 5, p50: 4, p99: 20 },
  };
  const run = parseResult(raw);
  assert.equal(run.rps, 200);
  assert.equal(run.bytesPerRequest, 1000);
  assert.equal(run.latencyP99, 20);
  assert.equal(checkRun(run, "ok"), run);
  assert.throws(() => checkRun(parseResult({ ...raw, non2xx: 1 }), "bad"), /non-2xx/);
  assert.throws(() => checkRun(parseResult({ ...raw, "2xx": 0 }), "none"), /results invalid/);
});

test("wrk's summary line is reduced to the same numbers, with its CPU time, and errors invalidate a run", () => {
  const raw = {
    requests: 1000,
    duration: 2_000_000,
    bytes: 500_000,
    connect: 0,
    read: 0,
    write: 0,
    status: 0,
    timeout: 0,
    mean: 1500,
    p50: 1200,
    p99: 9000,
    ticks: 30,
  };
  const run = parseWrk(raw, 100);
  assert.equal(run.rps, 500);
  assert.equal(run.seconds, 2);
  assert.equal(run.bytesPerRequest, 500);
  assert.equal(run.latencyMean, 1.5);
  assert.equal(run.latencyP99, 9);
  assert.equal(run.cpuMs, 300);
  assert.equal(checkRun(run, "ok"), run);
  // wrk counts answers of 400 and above as "status" errors; they are not answers the run may count.
  const refused = parseWrk({ ...raw, status: 10 }, 100);
  assert.equal(refused.ok, 990);
  assert.throws(() => checkRun(refused, "bad"), /10 non-2xx/);
  assert.throws(() => checkRun(parseWrk({ ...raw, read: 1 }, 100), "reset"), /1 errors/);
  assert.ok(Number.isNaN(parseWrk({ ...raw, ticks: -1 }, 100).cpuMs));
});

test("the load generator: auto picks one, an unknown one is refused", () => {
  assert.ok(["wrk", "autocannon"].includes(resolveGenerator("auto")));
  assert.equal(resolveGenerator("autocannon"), "autocannon");
  assert.throws(() => resolveGenerator("ab"), /unknown load generator ab/);
});

test("the spec pipeline's timing lines are parsed", () => {
  const out = "lint    0.46 s\nbundle  0.63 s\ntypes   0.08 s\ndocs    0.58 s\ntotal   1.75 s\n";
  assert.deepEqual(parseSpecTimes(out), { lint: 0.46, bundle: 0.63, types: 0.08, docs: 0.58, total: 1.75 });
});

test("medians, per-round ratios and rotations", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.equal(ratioOfRounds([2, 4, 9], [1, 2, 3]), 2);
  assert.deepEqual(rotation(["a", "b", "c"], 1), ["b", "c", "a"]);
  assert.deepEqual(rotation(["a", "b", "c"], 3), ["a", "b", "c"]);
});

test("options: defaults, quick mode, subsets and errors", () => {
  const d = parseOptions([], {});
  assert.deepEqual(d.sizes, [1000, 100000, 1000000]);
  assert.equal(d.rounds, 5);
  const q = parseOptions(["--quick", "--only=validation,client", "--sizes=1k,20k"], {});
  assert.deepEqual(q.only, ["validation", "client"]);
  assert.deepEqual(q.sizes, [1000, 20000]);
  assert.equal(q.duration, 0.5);
  assert.equal(parseOptions([], { BENCH_ROUNDS: "7" }).rounds, 7);
  assert.throws(() => parseOptions(["--only=nope"], {}), /unknown suite/);
  assert.throws(() => parseOptions(["--bogus"], {}), /unknown option/);
});

test("options: the soak runs only when named, with its own duration, interval and connections", () => {
  const d = parseOptions([], {});
  assert.deepEqual(
    d.only,
    SUITES.filter((s) => s !== "soak"),
  );
  assert.deepEqual(d.soak, { duration: 600, interval: 60, connections: 8 });
  assert.equal(d.jobs, 200);
  assert.ok(!parseOptions(["--quick"], {}).only.includes("workers"));
  const s = parseOptions(["--only=soak", "--duration=20", "--interval=5", "--db=postgres"], {});
  assert.deepEqual(s.only, ["soak"]);
  assert.deepEqual(s.soak, { duration: 20, interval: 5, connections: 8 });
  assert.deepEqual(s.db, ["postgres"]);
  assert.equal(parseOptions(["--connections=4"], {}).soak.connections, 4);
  assert.equal(parseOptions(["--quick", "--only=double"], {}).jobs, 50);
  assert.equal(parseOptions(["--jobs=30"], { BENCH_JOBS: "10" }).jobs, 30);
});

test("every suite of the list is a module of bench/suites exporting <name>Suite", async () => {
  for (const name of SUITES) {
    const module = await import(`../suites/${name}.mjs`);
    assert.equal(typeof module[`${name}Suite`], "function", name);
  }
});

test("CPU profiles are summarised by self time", () => {
  const profile = {
    nodes: [
      { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: -1 } },
      {
        id: 2,
        callFrame: { functionName: "validate", url: "file:///x/node_modules/ajv/dist/a.js", lineNumber: 0 },
      },
      {
        id: 3,
        callFrame: { functionName: "job", url: "file:///w/packages/server/dist/e.js", lineNumber: 9 },
      },
    ],
    samples: [2, 2, 3, 2],
    timeDeltas: [1000, 1000, 2000, 1000],
  };
  const s = summariseProfile(profile);
  assert.equal(s.totalMs, 5);
  assert.equal(s.packages[0].name, "ajv");
  assert.equal(s.packages[0].ms, 3);
  assert.equal(s.packages[1].name, "@jobs-api/server");
});
