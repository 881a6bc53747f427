// @ts-check
// Command-line flags (and BENCH_* environment variables) of `pnpm bench`.
import { parseArgs } from "node:util";

export const SUITES = [
  "validation",
  "scale",
  "client",
  "pipeline",
  "conformance",
  "ready",
  "workers",
  "double",
  "soak",
];

/** Suites that run only when named in --only: the soak takes 10 minutes and measures memory, not speed. */
const ON_REQUEST = ["soak"];

export const USAGE = `usage: pnpm bench [-- options]   (or: node bench/run.mjs [options])
  --quick                smoke run of every suite: 0.5 s runs (1 s with wrk), 2 rounds, sizes 1k and 10k
  --only=a,b             suites to run: ${SUITES.join(", ")}
                         (default: all but ${ON_REQUEST.join(", ")}; quick: also without workers)
  --rounds=N             alternating rounds per comparison (default 5; quick 2)
  --duration=S           seconds per measured load run (default 4; quick 0.5; wrk rounds up to whole
                         seconds); the soak's whole run (default 600; quick 20)
  --warmup=S             seconds of warm-up before every measured run (default 2; quick 0.25)
  --connections=N        connections for throughput runs (default 10; the soak's 8)
  --sizes=1000,100000    job counts for the scale suite (default 1000,100000,1000000)
  --db=pglite,postgres   databases for the validation, scale and soak suites (default pglite; postgres needs
                         PostgreSQL installed)
  --jobs=N               pending jobs the simulated runner takes in the double suite (default 200; quick 50)
  --interval=S           seconds between the soak's memory samples (default 60; quick 5)
  --baseline=PATH        also run another build's CLI (e.g. a copy of packages/server/dist/cli.js made before a
                         change) in the validation and ready suites: before/after in the same run
  --load=auto            load generator: wrk, autocannon, or auto (wrk when installed: apt-get install wrk)
  --cpu-prof             run server children under node --cpu-prof (profiles in bench/results/)
  --no-pin               do not pin server and load generator to separate cores
Environment: BENCH_QUICK=1, BENCH_ONLY, BENCH_ROUNDS, BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS,
BENCH_SIZES, BENCH_DB, BENCH_JOBS, BENCH_INTERVAL, BENCH_BASELINE, BENCH_LOAD, BENCH_CPU_PROF=1, BENCH_NO_PIN=1.`;

const FLAGS = /** @type {const} */ ({
  quick: { type: "boolean" },
  only: { type: "string" },
  rounds: { type: "string" },
  duration: { type: "string" },
  warmup: { type: "string" },
  connections: { type: "string" },
  sizes: { type: "string" },
  db: { type: "string" },
  jobs: { type: "string" },
  interval: { type: "string" },
  baseline: { type: "string" },
  load: { type: "string" },
  "cpu-prof": { type: "boolean" },
  "no-pin": { type: "boolean" },
  help: { type: "boolean" },
});

/**
 * @typedef {object} Options
 * @property {boolean} help
 * @property {boolean} quick
 * @property {string[]} only
 * @property {number} rounds
 * @property {number} duration seconds per measured run
 * @property {number} warmup seconds of warm-up before every measured run
 * @property {number} connections
 * @property {number[]} sizes
 * @property {string[]} db
 * @property {number} jobs pending jobs of the double suite's runner throughput
 * @property {{ duration: number, interval: number, connections: number }} soak seconds of the whole soak,
 *   seconds between its memory samples, its connections
 * @property {string|null} baseline
 * @property {string} load the load generator asked for: "auto", "wrk" or "autocannon" (run.mjs resolves "auto")
 * @property {boolean} cpuProf
 * @property {boolean} pin
 */

/** @param {string[]} argv */
function readFlags(argv) {
  try {
    return parseArgs({ args: argv.filter((a) => a !== "--"), options: FLAGS, strict: true }).values;
  } catch (error) {
    throw new Error(`unknown option: ${error.message}\n${USAGE}`);
  }
}

/**
 * The command line (node:util parseArgs) over the BENCH_* environment variables.
 * @param {string[]} argv
 * @param {Record<string, string|undefined>} env
 * @returns {Options}
 */
export function parseOptions(argv, env = {}) {
  const flags = readFlags(argv);
  /** @param {keyof typeof FLAGS} name @param {string} envName */
  const get = (name, envName) => {
    const v = flags[name];
    return v === undefined ? env[envName] : String(v);
  };
  /** @param {string|undefined} v */
  const truthy = (v) => v !== undefined && v !== "0" && v !== "false" && v !== "";
  const quick = truthy(get("quick", "BENCH_QUICK"));
  /** @param {string|undefined} v @param {number} fallback */
  const num = (v, fallback) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`not a positive number: ${v}`);
    return n;
  };
  /** @param {string|undefined} v */
  const list = (v) =>
    v
      ?.split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  const only =
    list(get("only", "BENCH_ONLY")) ??
    SUITES.filter((s) => !ON_REQUEST.includes(s) && (s !== "workers" || !quick));
  for (const s of only)
    if (!SUITES.includes(s)) throw new Error(`unknown suite ${s}; known: ${SUITES.join(", ")}`);
  const sizes = (
    list(get("sizes", "BENCH_SIZES")) ?? (quick ? ["1000", "10000"] : ["1000", "100000", "1000000"])
  ).map((s) => {
    const n = Number(s.replace(/k$/i, "e3").replace(/m$/i, "e6"));
    if (!Number.isInteger(n) || n < 100) throw new Error(`bad size ${s} (at least 100 jobs)`);
    return n;
  });
  const db = list(get("db", "BENCH_DB")) ?? ["pglite"];
  for (const d of db) if (!["pglite", "postgres"].includes(d)) throw new Error(`unknown db ${d}`);
  const duration = get("duration", "BENCH_DURATION");
  const connections = get("connections", "BENCH_CONNECTIONS");
  return {
    help: flags.help === true,
    quick,
    only,
    rounds: Math.max(2, Math.round(num(get("rounds", "BENCH_ROUNDS"), quick ? 2 : 5))),
    duration: num(duration, quick ? 0.5 : 4),
    warmup: num(get("warmup", "BENCH_WARMUP"), quick ? 0.25 : 2),
    connections: Math.round(num(connections, 10)),
    sizes,
    db,
    jobs: Math.round(num(get("jobs", "BENCH_JOBS"), quick ? 50 : 200)),
    soak: {
      duration: num(duration, quick ? 20 : 600),
      interval: num(get("interval", "BENCH_INTERVAL"), quick ? 5 : 60),
      connections: Math.round(num(connections, 8)),
    },
    baseline: get("baseline", "BENCH_BASELINE") ?? null,
    load: get("load", "BENCH_LOAD") ?? "auto",
    cpuProf: truthy(get("cpu-prof", "BENCH_CPU_PROF")),
    pin: !truthy(get("no-pin", "BENCH_NO_PIN")),
  };
}
