// @ts-check
// One bounded load run against one URL, by wrk (when installed) or autocannon. Any answer of 4xx/5xx or
// socket error invalidates the run.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { CLOCK_TICKS } from "./proc.mjs";

/**
 * @typedef {{ rps: number, requests: number, ok: number, non2xx: number, errors: number, timeouts: number,
 *   latencyMean: number, latencyP50: number, latencyP99: number, bytesPerRequest: number, seconds: number,
 *   cpuMs: number }} Run  latencies in ms; cpuMs: the generator's own CPU time during the run
 * @typedef {"wrk" | "autocannon"} Generator
 */

export const GENERATORS = /** @type {const} */ (["wrk", "autocannon"]);

/**
 * "auto": wrk when it is on PATH, else autocannon. wrk (C, one epoll thread) spends a few percent of a core
 * where autocannon (JavaScript) spends a tenth or more: that matters where the generator shares the cores
 * with what it measures (the workers suite).
 * @param {string} requested "auto", "wrk" or "autocannon"
 * @returns {Generator}
 */
export function resolveGenerator(requested) {
  const hasWrk = spawnSync("wrk", ["--version"], { stdio: "ignore" }).error === undefined;
  if (requested === "auto") return hasWrk ? "wrk" : "autocannon";
  if (requested === "wrk" && !hasWrk)
    throw new Error("--load=wrk: wrk is not installed (apt-get install wrk)");
  if (requested === "wrk" || requested === "autocannon") return requested;
  throw new Error(`unknown load generator ${requested}; known: auto, ${GENERATORS.join(", ")}`);
}

/**
 * @param {{ url: string, headers?: Record<string,string>, connections: number, duration: number,
 *   generator?: Generator }} opts duration in seconds (fractions allowed; wrk rounds up to whole seconds)
 * @returns {Promise<Run>}
 */
export function load({ generator = "autocannon", ...opts }) {
  return generator === "wrk" ? loadWrk(opts) : loadAutocannon(opts);
}

/** @param {{ url: string, headers?: Record<string,string>, connections: number, duration: number }} o */
function loadAutocannon({ url, headers = {}, connections, duration }) {
  // autocannon runs in this process: its CPU time is this process's over the run.
  const before = process.cpuUsage();
  return new Promise((resolve, reject) => {
    autocannon(
      { url, headers, connections, pipelining: 1, duration, timeout: 10, bailout: 100 },
      (error, result) => {
        if (error) return reject(error);
        const used = process.cpuUsage(before);
        resolve({ ...parseResult(result), cpuMs: (used.user + used.system) / 1000 });
      },
    );
  });
}

/** The numbers we keep from an autocannon result (exported for the harness smoke test). */
export function parseResult(result) {
  const seconds = result.duration > 0 ? result.duration : Number.NaN;
  const ok = result["2xx"] ?? 0;
  return {
    rps: ok / seconds,
    requests: result.requests.total,
    ok,
    non2xx: result.non2xx ?? 0,
    errors: result.errors ?? 0,
    timeouts: result.timeouts ?? 0,
    latencyMean: result.latency.mean,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
    bytesPerRequest: result.requests.total > 0 ? result.throughput.total / result.requests.total : 0,
    seconds,
    cpuMs: Number.NaN,
  };
}

/**
 * wrk's `done` hook prints one JSON line: its summary (microseconds), its errors (`status`: answers of 400
 * and above) and its own CPU time from /proc/self/stat (utime and stime, fields 14 and 15, in clock ticks).
 */
const WRK_SCRIPT = `
done = function(s, latency, requests)
  local f = io.open("/proc/self/stat")
  local stat = f and f:read("*a") or ""
  if f then f:close() end
  local fields = {}
  for v in stat:gsub("^.*%) ", ""):gmatch("%S+") do fields[#fields + 1] = v end
  local ticks = (tonumber(fields[12]) or -1) + (tonumber(fields[13]) or 0)
  io.write(string.format('WRK {"requests":%d,"duration":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"mean":%.1f,"p50":%d,"p99":%d,"ticks":%d}\\n',
    s.requests, s.duration, s.bytes, s.errors.connect, s.errors.read, s.errors.write, s.errors.status,
    s.errors.timeout, latency.mean, latency:percentile(50), latency:percentile(99), ticks))
end
`;

/** @type {string | undefined} */
let scriptPath;

/** wrk reads its script from a file (a pipe on stdin cannot be opened by name): one per run of the bench. */
function wrkScript() {
  if (!scriptPath) {
    const dir = mkdtempSync(join(tmpdir(), "jobs-api-bench-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    scriptPath = join(dir, "summary.lua");
    writeFileSync(scriptPath, WRK_SCRIPT);
  }
  return scriptPath;
}

/** @param {{ url: string, headers?: Record<string,string>, connections: number, duration: number }} o */
function loadWrk({ url, headers = {}, connections, duration }) {
  const args = ["-t1", `-c${connections}`, `-d${Math.max(1, Math.ceil(duration))}s`, "--timeout", "10s"];
  for (const [name, value] of Object.entries(headers)) args.push("-H", `${name}: ${value}`);
  args.push("-s", wrkScript(), url);
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("WRK "));
      if (code !== 0 || !line) return reject(new Error(`wrk exited ${code}: ${err.trim() || out.trim()}`));
      resolve(parseWrk(JSON.parse(line.slice(4)), CLOCK_TICKS));
    });
  });
}

/**
 * The numbers we keep from wrk's summary line (exported for the harness smoke test).
 * @param {{ requests: number, duration: number, bytes: number, connect: number, read: number, write: number,
 *   status: number, timeout: number, mean: number, p50: number, p99: number, ticks: number }} s
 * @param {number} ticksPerSecond
 * @returns {Run}
 */
export function parseWrk(s, ticksPerSecond) {
  const seconds = s.duration > 0 ? s.duration / 1e6 : Number.NaN;
  const errors = s.connect + s.read + s.write;
  const ok = s.requests - s.status;
  return {
    rps: ok / seconds,
    requests: s.requests,
    ok,
    non2xx: s.status,
    errors,
    timeouts: s.timeout,
    latencyMean: s.mean / 1000,
    latencyP50: s.p50 / 1000,
    latencyP99: s.p99 / 1000,
    bytesPerRequest: s.requests > 0 ? s.bytes / s.requests : 0,
    seconds,
    cpuMs: s.ticks >= 0 ? (s.ticks / ticksPerSecond) * 1000 : Number.NaN,
  };
}

/** @param {Run} run @param {string} label */
export function checkRun(run, label) {
  if (run.non2xx > 0 || run.errors > 0 || run.timeouts > 0 || run.ok === 0) {
    throw new Error(
      `${label}: ${run.ok} ok, ${run.non2xx} non-2xx, ${run.errors} errors, ${run.timeouts} timeouts — results invalid`,
    );
  }
  return run;
}
