// @ts-check
// The one throughput loop of the suites: rounds that run every request against every target, the order of the
// targets rotated each round, so that each round's candidates share that round's noise; each measured run
// right after a warm-up run of its own.
import { checkRun, load } from "./load.mjs";
import { push, rotation } from "./stats.mjs";

/**
 * @typedef {{ name: string, baseUrl: string, headers?: Record<string, string> }} Target
 * @typedef {{ op: string, path: string }} Request
 * @typedef {{ rps: Record<string, number[]>, p99: Record<string, number[]>, meanMs: Record<string, number[]>,
 *   generatorCores: Record<string, number[]>, targetCores: Record<string, number[]> }} Measured
 */

/**
 * @template {Target} T
 * @template {Request} R
 * @param {{ targets: T[], requests: R[], rounds: number, warmup: number, duration: number,
 *   connections: number, log: (msg: string) => void, suffix?: string, urlOf?: (t: T, r: R) => string,
 *   load?: string, cpuOf?: (t: T) => number, firstRound?: number, into?: Measured }} o  load: the generator
 *   (options.load, resolved by run.mjs); cpuOf: a target's CPU seconds so far, to report the cores it used
 *   during each run; firstRound and into: to go on with earlier rounds (on other processes), numbering and
 *   rotating as their continuation and adding to their results
 * @returns {Promise<Measured>} requests a second, p99 latencies (ms) and mean latencies (run time / answers,
 *   ms; autocannon's histogram has 1 ms resolution) and the generator's own CPU (cores: CPU time / run time) by `"<op> <target name>"`,
 *   one a round
 */
export async function alternate(o) {
  const { targets, requests, rounds, warmup, duration, connections, log, suffix = "" } = o;
  const generator = o.load === "wrk" ? "wrk" : "autocannon";
  const urlOf = o.urlOf ?? ((t, r) => `${t.baseUrl}${r.path}`);
  /** @param {T} t @param {R} r @param {number} seconds */
  const run = (t, r, seconds) =>
    load({ url: urlOf(t, r), headers: t.headers ?? {}, connections, duration: seconds, generator });
  /** @type {Measured} */
  const out = o.into ?? { rps: {}, p99: {}, meanMs: {}, generatorCores: {}, targetCores: {} };
  const first = o.firstRound ?? 0;
  for (let round = first; round < first + rounds; round++) {
    for (const r of requests) {
      for (const t of rotation(targets, round)) {
        const key = `${r.op} ${t.name}`;
        // A target waits idle while the others run (half a minute in the validation suite), and V8's
        // memory reducer uses that idle time to shrink the heap: without this warm-up, the next run paid
        // for growing it back (the server's CPU per answer +40-50 %, getJob 147 against 210 µs; BENCHMARKS.md).
        if (warmup > 0) await run(t, r, warmup);
        const cpuBefore = o.cpuOf?.(t) ?? 0;
        const result = checkRun(await run(t, r, duration), key);
        if (o.cpuOf) push(out.targetCores, key, (o.cpuOf(t) - cpuBefore) / result.seconds);
        push(out.rps, key, result.rps);
        push(out.p99, key, result.latencyP99);
        push(out.meanMs, key, (result.seconds * 1000) / result.ok);
        push(out.generatorCores, key, result.cpuMs / (result.seconds * 1000));
      }
    }
    const last = Object.entries(out.rps).map(([k, v]) => `${k} ${Math.round(v.at(-1) ?? Number.NaN)}`);
    log(`  round ${round + 1}${suffix}: ${last.join(", ")}`);
  }
  return out;
}
