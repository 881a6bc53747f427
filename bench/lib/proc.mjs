// @ts-check
// Child processes for servers and load: pinned to a core with taskset when available, killed on exit.
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";

const children = new Set();

export const hasTaskset =
  process.platform === "linux" && spawnSync("taskset", ["-V"], { stdio: "ignore" }).status === 0;

/** Pin every thread of this process to `cpu` (the load generator's core). */
export function pinSelf(cpu) {
  if (!hasTaskset) return false;
  return (
    spawnSync("taskset", ["-a", "-cp", String(cpu), String(process.pid)], { stdio: "ignore" }).status === 0
  );
}

/**
 * Runs `fn` with this process on every core, so that the children it starts unpinned (they inherit the
 * affinity) share the machine with it; then puts it back on the load generator's core.
 * @template T
 * @param {{ load: number|null }} cpu
 * @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
export async function unpinned(cpu, fn) {
  if (cpu.load !== null) pinSelf(`0-${cpus().length - 1}`);
  try {
    return await fn();
  } finally {
    if (cpu.load !== null) pinSelf(cpu.load);
  }
}

/** Spawn `command args` pinned to `cpu` (or unpinned when cpu is null or taskset is missing). */
export function spawnPinned(cpu, command, args, options = {}) {
  const pinned = hasTaskset && cpu !== null && cpu !== undefined;
  const child = pinned
    ? spawn("taskset", ["-c", String(cpu), command, ...args], options)
    : spawn(command, args, options);
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

export function killAll() {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {}
  }
}

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}
process.on("exit", killAll);

export async function stop(child, timeoutMs = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const done = await Promise.race([exited.then(() => true), sleep(timeoutMs).then(() => false)]);
  if (!done) {
    child.kill("SIGKILL");
    await exited;
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves with the first JSON object printed on a line starting with `prefix` by the child. */
export function waitForMessage(child, prefix, timeoutMs = 120_000, label = "child") {
  return new Promise((resolve, reject) => {
    let buffer = "";
    let stderr = "";
    const timer = setTimeout(() => {
      reject(new Error(`${label}: no ${prefix} line within ${timeoutMs} ms\n${stderr.slice(-2000)}`));
    }, timeoutMs);
    const onData = (chunk) => {
      buffer += chunk;
      let nl = buffer.indexOf("\n");
      while (nl >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith(prefix)) {
          clearTimeout(timer);
          child.stdout.off("data", onData);
          child.stdout.resume();
          resolve(JSON.parse(line.slice(prefix.length)));
          return;
        }
        nl = buffer.indexOf("\n");
      }
    };
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", onData);
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d) => {
      stderr = (stderr + d).slice(-8000);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${code ?? signal}) before ${prefix}\n${stderr.slice(-2000)}`));
    });
  });
}

/** Polls `url` until it answers (any HTTP status), e.g. for Prism, whose logs we do not read. */
export async function waitForHttp(url, timeoutMs = 60_000, headers = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url, { headers });
      await res.arrayBuffer();
      return res.status;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`${url} not answering after ${timeoutMs} ms: ${error.message}`);
      await sleep(100);
    }
  }
}

/**
 * Resident memory (MiB) of a process and all its descendants (workers, PostgreSQL backends are not
 * descendants), from /proc; null where /proc is missing.
 * @param {number|undefined} pid
 * @returns {number|null}
 */
export function rssMiB(pid) {
  if (pid === undefined || process.platform !== "linux") return null;
  let kib = 0;
  for (const p of processTree(pid)) {
    try {
      kib += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // Exited meanwhile.
    }
  }
  return kib / 1024;
}

/**
 * CPU seconds (user and system, every thread) of `pid` and all its descendants (Linux; NaN elsewhere).
 * @param {number|undefined} pid
 */
export function cpuSeconds(pid) {
  if (pid === undefined || process.platform !== "linux") return Number.NaN;
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      // The fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
      const fields = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
    } catch {
      // Exited meanwhile.
    }
  }
  return ticks / CLOCK_TICKS;
}

/** Clock ticks a second, the unit of /proc's CPU times. */
export const CLOCK_TICKS = (() => {
  const n = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
})();

/** @param {number} pid @returns {number[]} the process and its descendants that are alive */
function processTree(pid) {
  const all = [];
  const pending = [pid];
  while (pending.length) {
    const p = /** @type {number} */ (pending.pop());
    all.push(p);
    try {
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const children = readFileSync(`/proc/${p}/task/${task}/children`, "utf8").trim();
        if (children) pending.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // Exited meanwhile.
    }
  }
  return all;
}
