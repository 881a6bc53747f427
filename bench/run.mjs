#!/usr/bin/env node
// @ts-check
// `pnpm bench`: the benchmarks of issue 8. Servers run in child processes on 127.0.0.1 pinned to core 0,
// this process (the load generator) pins itself to core 1. Every comparison alternates its candidates over
// several rounds, each run right after a warm-up run, and reports medians and the median of per-round ratios.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveGenerator } from "./lib/load.mjs";
import { parseOptions, USAGE } from "./lib/options.mjs";
import { hasTaskset, killAll, pinSelf } from "./lib/proc.mjs";
import { resultsTable, targetsTable } from "./lib/report.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");

let options;
try {
  options = parseOptions(process.argv.slice(2), process.env);
  options.load = resolveGenerator(options.load);
} catch (error) {
  console.error(error.message);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}

const pinned = options.pin && hasTaskset && cpus().length >= 2 && pinSelf(1);
const cpu = { server: pinned ? 0 : null, load: pinned ? 1 : null };
const started = new Date();
const stamp = started.toISOString().replace(/[:.]/g, "-");
const resultsDir = join(here, "results");
mkdirSync(resultsDir, { recursive: true });
const profileDir = options.cpuProf ? join(resultsDir, `prof-${stamp}`) : null;
const log = (msg) => console.error(msg);

const machine = {
  nproc: cpus().length,
  cpu: cpus()[0]?.model ?? "unknown",
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  loadavgAtStart: loadavg().map((x) => Number(x.toFixed(2))),
  pinned,
  loadGenerator: options.load,
  commit: (() => {
    try {
      return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
    } catch {
      return null;
    }
  })(),
};

log(
  `jobs-api bench — ${machine.nproc} × ${machine.cpu}, node ${machine.node}, load avg ${machine.loadavgAtStart.join(" ")}`,
);
log(
  `rounds ${options.rounds}, ${options.duration} s a run, ${options.warmup} s warm-up, ${options.connections} connections (${options.load}), ` +
    (pinned ? "servers on core 0, load on core 1" : "not pinned"),
);

const ctx = { options, root, here, cpu, log, profileDir };
const suites = {
  validation: () => import("./suites/validation.mjs").then((m) => m.validationSuite(ctx)),
  scale: () => import("./suites/scale.mjs").then((m) => m.scaleSuite(ctx)),
  client: () => import("./suites/client.mjs").then((m) => m.clientSuite(ctx)),
  pipeline: () =>
    import("./suites/pipeline.mjs").then((m) =>
      m.pipelineSuite({ root, rounds: options.quick ? 1 : 3, log }),
    ),
  conformance: () => import("./suites/conformance.mjs").then((m) => m.conformanceSuite(ctx)),
  ready: () => import("./suites/ready.mjs").then((m) => m.readySuite(ctx)),
  workers: () => import("./suites/workers.mjs").then((m) => m.workersSuite(ctx)),
  double: () => import("./suites/double.mjs").then((m) => m.doubleSuite(ctx)),
  soak: () => import("./suites/soak.mjs").then((m) => m.soakSuite(ctx)),
};

/** @type {{ machine: object, options: object, started: string, suites: Record<string, object>, rows: object[],
 *   targets: object[], failures: { suite: string, error: string }[], finished?: string, seconds?: number }} */
const results = {
  machine,
  options,
  started: started.toISOString(),
  suites: {},
  rows: [],
  targets: [],
  failures: [],
};
for (const name of options.only) {
  log(`\n== ${name}`);
  const t0 = performance.now();
  try {
    const out = await suites[name]();
    results.suites[name] = out;
    results.rows.push(...out.rows.map((r) => ({ suite: name, ...r })));
    results.targets.push(...(out.targets ?? []));
  } catch (error) {
    log(`!! ${name} failed: ${error.stack ?? error}`);
    results.failures.push({ suite: name, error: String(error.message ?? error) });
  }
  log(`   (${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
killAll();

results.finished = new Date().toISOString();
results.seconds = (Date.parse(results.finished) - started.getTime()) / 1000;
const file = join(resultsDir, `${stamp}.json`);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);

console.log(`\n${resultsTable(results.rows)}`);
if (results.targets.length) console.log(`\n${targetsTable(results.targets)}`);
if (results.failures.length)
  console.log(`\nfailed suites: ${results.failures.map((f) => f.suite).join(", ")}`);
console.log(`\n${(results.seconds ?? 0).toFixed(0)} s; results in ${file.slice(root.length + 1)}`);
if (profileDir)
  console.log(`CPU profiles in ${profileDir.slice(root.length + 1)} (node bench/profile.mjs <file>)`);
process.exit(results.failures.length ? 1 : 0);
