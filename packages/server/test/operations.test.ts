import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkLogFormat, isLoopback, type SeedingOptions, seedsDemo } from "../src/config.js";
import { createDemoDataDir, DEMO_TOKENS } from "../src/index.js";
import { createEmptyPostgresDatabase, postgresUrl } from "./helpers/db.js";
import { buildServer, type CliProcess, cliPath, startCli } from "./helpers/process.js";

/**
 * Operating rules of `jobs-api-server`: whose data a database holds (the demo data only where it is the
 * server's own), the warning when public demo tokens are reachable from other machines, and log formats.
 */

const scenario = fileURLToPath(new URL("data/scenario.yaml", import.meta.url));
const running: CliProcess[] = [];
const dirs: string[] = [];
beforeAll(() => buildServer());
afterAll(async () => {
  for (const cli of running) {
    cli.child.kill("SIGTERM");
    await cli.exited;
  }
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function start(args: string[]): Promise<CliProcess> {
  const cli = await startCli(args, { LOG_FORMAT: "json" });
  running.push(cli);
  return cli;
}

const jobs = (cli: CliProcess, token: string) =>
  fetch(`${cli.origin}/api/v4/projects/1/jobs`, { headers: { "PRIVATE-TOKEN": token } });

describe("seeding rules", () => {
  const none: SeedingOptions = { seedDemo: false, noSeed: false, fixtures: false, postgres: false };
  it.each<[string, Partial<SeedingOptions>, boolean | string]>([
    ["embedded database, no option", {}, true],
    ["embedded database, --no-seed", { noSeed: true }, false],
    ["embedded database, --seed-demo", { seedDemo: true }, true],
    ["embedded database, --fixtures", { fixtures: true }, false],
    ["PostgreSQL, no option", { postgres: true }, false],
    ["PostgreSQL, --seed-demo", { postgres: true, seedDemo: true }, true],
    ["PostgreSQL, --no-seed", { postgres: true, noSeed: true }, false],
    ["PostgreSQL, --fixtures", { postgres: true, fixtures: true }, false],
    [
      "--seed-demo with --no-seed",
      { seedDemo: true, noSeed: true },
      "--seed-demo and --no-seed exclude each other",
    ],
    [
      "--fixtures with --no-seed",
      { fixtures: true, noSeed: true },
      "--fixtures and --no-seed exclude each other",
    ],
    [
      "--fixtures with --seed-demo",
      { postgres: true, fixtures: true, seedDemo: true },
      "--fixtures and --seed-demo exclude each other",
    ],
  ])("%s → %s", (_name, options, expected) => {
    const seeds = () => seedsDemo({ ...none, ...options });
    if (typeof expected === "string") expect(seeds).toThrow(expected);
    else expect(seeds()).toBe(expected);
  });

  it.skipIf(!postgresUrl)("leaves a PostgreSQL database empty unless --seed-demo is given", async () => {
    const empty = await createEmptyPostgresDatabase();
    try {
      const plain = await start(["--database-url", empty.url]);
      expect((await jobs(plain, DEMO_TOKENS.maintainer)).status).toBe(401);
      expect(plain.lines.some((l) => l.includes("loaded the demo data"))).toBe(false);
      plain.child.kill("SIGTERM");
      await plain.exited;
      const seeded = await start(["--database-url", empty.url, "--seed-demo"]);
      expect((await jobs(seeded, DEMO_TOKENS.maintainer)).status).toBe(200);
      seeded.child.kill("SIGTERM");
      await seeded.exited;
    } finally {
      await empty.drop();
    }
  });
});

describe("warning about public demo tokens", () => {
  const WARNING =
    "jobs-api-server: warning: the demo data's public tokens are active and the server listens on";
  const DEMO = "demo data directory";
  it.each<[string, boolean, string[]]>([
    ["demo data on every address", true, ["--data-dir", DEMO, "--host", "0.0.0.0"]],
    ["demo data on loopback", false, ["--data-dir", DEMO, "--host", "127.0.0.1"]],
    ["own fixtures on every address", false, ["--fixtures", scenario, "--host", "0.0.0.0"]],
    ["empty database on every address", false, ["--data-dir", "memory://", "--no-seed", "--host", "0.0.0.0"]],
  ])("%s: warned %s", async (_name, warned, args) => {
    // A copy of the demo database (made once, copied in a fraction of the seconds of seeding it).
    const dir = await mkdtemp(join(tmpdir(), "jobs-api-warn-"));
    dirs.push(dir);
    if (args.includes(DEMO)) await createDemoDataDir(dir);
    const cli = await start(args.map((arg) => (arg === DEMO ? dir : arg)));
    const lines = cli.stderr().split("\n").filter(Boolean);
    expect(lines).toEqual(warned ? [expect.stringContaining(WARNING)] : []);
  });

  it.each([
    ["localhost", true],
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["::1", true],
    ["[::1]", true],
    ["::ffff:127.0.0.1", true],
    ["0.0.0.0", false],
    ["::", false],
    ["192.168.1.10", false],
    ["jobs.example.com", false],
  ])("%s is loopback: %s", (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });
});

describe("log formats", () => {
  it.each<[string | undefined, boolean, string]>([
    [undefined, true, "pretty"],
    [undefined, false, "json"],
    ["json", true, "json"],
    ["pretty", false, "pretty"],
  ])("LOG_FORMAT %s on a terminal %s → %s", (format, isTTY, expected) => {
    expect(checkLogFormat(format, "LOG_FORMAT", isTTY)).toBe(expected);
  });

  it("refuses another format", () => {
    expect(() => checkLogFormat("xml", "LOG_FORMAT", false)).toThrow(
      "invalid LOG_FORMAT: xml (json or pretty)",
    );
  });

  it("writes one JSON object a request with LOG_FORMAT=json: id, method, redacted URL, address, status; no headers", async () => {
    const child = spawn(process.execPath, [cliPath, "--port", "0", "--data-dir", "memory://"], {
      env: { ...process.env, LOG_FORMAT: "json" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const lines = () => out.split("\n").filter((l) => l.startsWith("{"));
    const listening = new Promise<string>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        for (const line of lines()) {
          const origin = /listening on (http:\/\/[^/\s]+)/.exec(JSON.parse(line).msg ?? "")?.[1];
          if (origin) resolve(origin);
        }
      });
    });
    try {
      const origin = await listening;
      const r = await fetch(
        `${origin}/api/v4/projects/1/jobs?per_page=2&private_token=${DEMO_TOKENS.maintainer}`,
        {
          headers: { "X-Secret": "not-for-logs" },
        },
      );
      const id = r.headers.get("x-request-id") ?? "";
      const line = await new Promise<string>((resolve) => {
        const check = () => {
          const found = lines().find((l) => l.includes(id));
          if (found) resolve(found);
        };
        check();
        child.stdout.on("data", check);
      });
      const logged = JSON.parse(line);
      expect(logged).toMatchObject({
        msg: "request completed",
        req: {
          id,
          method: "GET",
          url: "/api/v4/projects/1/jobs?per_page=2&private_token=[REDACTED]",
          remoteAddress: "127.0.0.1",
        },
        res: { statusCode: 200 },
      });
      expect(Object.keys(logged.req).sort()).toEqual(["id", "method", "remoteAddress", "url"]);
      expect(line).not.toContain("not-for-logs");
    } finally {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  });

  it("writes one human-readable line a request with LOG_FORMAT=pretty, with the request id", async () => {
    const child = spawn(process.execPath, [cliPath, "--port", "0", "--data-dir", "memory://"], {
      env: { ...process.env, LOG_FORMAT: "pretty", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const listening = new Promise<string>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const origin = /listening on (http:\/\/[^/\s]+)/.exec(out)?.[1];
        if (origin) resolve(origin);
      });
    });
    try {
      const origin = await listening;
      const r = await fetch(`${origin}/api/v4/projects/1/jobs/8?private_token=${DEMO_TOKENS.maintainer}`);
      const id = r.headers.get("x-request-id") ?? "";
      const line = await new Promise<string>((resolve) => {
        const check = () => {
          const found = out.split("\n").find((l) => l.includes(id));
          if (found) resolve(found);
        };
        check();
        child.stdout.on("data", check);
      });
      expect(line).toMatch(
        new RegExp(
          `^\\[\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\] INFO: \\[${id}\\] request completed GET /api/v4/projects/1/jobs/8\\?private_token=\\[REDACTED\\] 200 \\d+ms$`,
        ),
      );
      expect(out).not.toContain('{"level"');
    } finally {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  });
});
