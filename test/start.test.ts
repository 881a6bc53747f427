import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * `pnpm start` (scripts/start.mjs) on an up-to-date tree installs and builds nothing and serves; the server
 * stops on SIGINT or SIGTERM with exit 0. A Ctrl-C in a terminal reaches pnpm too, and pnpm 12 then prints
 * `ELIFECYCLE Command failed` whatever the script's exit code (pnpm/pnpm#9945): `node scripts/start.mjs`,
 * which has no such wrapper, is the quiet way, and is tested here through a real pseudo-terminal.
 */

const rootDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const docs = join(rootDir, "packages/types/docs/index.html");
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "jobs-api-start-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  output: () => string;
  url: string;
}

/** Starts a command in its own process group and waits for the server's "listening" line; 0 picks the port. */
async function start(command: string, args: string[]): Promise<Started> {
  const child = spawn(command, args, {
    cwd: rootDir,
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, PORT: "0", LOG_LEVEL: "info", LOG_FORMAT: "json" },
  });
  let text = "";
  const exited = once(child, "exit").then(([code]) => {
    throw new Error(`exited (${code}) before listening:\n${text}`);
  });
  const listening = new Promise<string>((done) => {
    const read = (chunk: Buffer) => {
      text += chunk.toString();
      const url = /"url":"(http:\/\/127\.0\.0\.1:\d+\/api\/v4)"[^\n]*"msg":"listening/.exec(text)?.[1];
      if (url) done(url);
    };
    child.stdout?.on("data", read);
    child.stderr?.on("data", read);
  });
  const url = await Promise.race([listening, exited]);
  return { child, output: () => text, url };
}

async function stopWith(started: Started, stop: () => void): Promise<number | null> {
  const exited = once(started.child, "exit");
  stop();
  const [code] = await exited;
  return code as number | null;
}

describe("pnpm start", () => {
  it("on an up-to-date tree installs and builds nothing, serves, and exits 0 when the server is stopped", async () => {
    const docsBefore = (await stat(docs)).mtimeMs;
    const data = join(dir, "pnpm");
    const started = await start("pnpm", ["start", "--data-dir", data]);
    expect((await fetch(`${started.url}/job`)).status).toBe(401);
    // The server runs in the process pnpm started (no shell or second node between them).
    const pid = Number(/"pid":(\d+)[^\n]*"msg":"listening/.exec(started.output())?.[1]);
    const code = await stopWith(started, () => process.kill(pid, "SIGINT"));
    expect(code).toBe(0);
    expect(started.output()).not.toContain("ELIFECYCLE");
    expect(started.output()).toMatch(/"signal":"SIGINT","msg":"shutting down"/);
    // Neither pnpm install nor the docs build ran.
    expect(started.output()).not.toMatch(/Already up to date|Packages:|build-docs/);
    expect((await stat(docs)).mtimeMs).toBe(docsBefore);
  });

  it("node scripts/start.mjs: Ctrl-C in a terminal stops it quietly with exit 0", async () => {
    const data = join(dir, "node");
    // script(1) gives it a pseudo-terminal; ^C written to the terminal is the terminal's SIGINT.
    const started = await start("script", [
      "-qec",
      `exec node scripts/start.mjs --data-dir ${data}`,
      "/dev/null",
    ]);
    const code = await stopWith(started, () => started.child.stdin?.write("\x03"));
    expect(code, started.output()).toBe(0);
    const lines = started.output().split(/\r?\n/);
    expect(lines.filter((line) => /error|ELIFECYCLE|failed/i.test(line))).toEqual([]);
    expect(started.output()).toMatch(/"signal":"SIGINT","msg":"shutting down"/);
  });
});
