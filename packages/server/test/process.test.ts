import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDemoDataDir, DEMO_TOKENS, openPglite, openPostgres } from "../src/index.js";
import { createEmptyPostgresDatabase, postgresUrl } from "./helpers/db.js";
import { buildServer, type CliProcess, cliPath, runCliToEnd, startCli } from "./helpers/process.js";
import { seededRandom } from "./helpers/random.js";
import { verifyWrites as verify, type Write } from "./helpers/writes.js";

/**
 * The real `jobs-api-server` process: killed with SIGKILL in the middle of a stream of state changes, then
 * restarted on the same data, it must still hold every change it answered with 2xx, and nothing half-done;
 * stopped with SIGTERM, it finishes the requests under way, refuses new ones and exits 0.
 */

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 2);
const CHAINS = 6;
const T = DEMO_TOKENS.maintainer;

const cleanup: (() => Promise<unknown>)[] = [];
beforeAll(() => buildServer());
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

const post = (cli: CliProcess, jobId: number, action: string) =>
  fetch(`${cli.origin}/api/v4/projects/1/jobs/${jobId}/${action}`, {
    method: "POST",
    headers: { "PRIVATE-TOKEN": T },
  });

/** Finished jobs of the demo project, split between the rounds so that each round starts from its own. */
async function startingJobs(cli: CliProcess, round: number): Promise<number[]> {
  const r = await fetch(
    `${cli.origin}/api/v4/projects/1/jobs?scope[]=success&scope[]=failed&scope[]=canceled&per_page=100`,
    { headers: { "PRIVATE-TOKEN": T } },
  );
  expect(r.status).toBe(200);
  const ids = ((await r.json()) as { id: number }[]).map((j) => j.id).sort((a, b) => a - b);
  return ids.filter((_, i) => i % ROUNDS === round).slice(0, CHAINS);
}

/**
 * Chains of erase → retry → cancel of the new job → retry of that one … run in parallel; the process is
 * killed once `killAfter` changes have been answered, with the other chains' requests still under way.
 */
async function streamUntilKilled(cli: CliProcess, starts: number[], killAfter: number): Promise<Write[]> {
  const acked: Write[] = [];
  let killed = false;
  const ack = (write: Write) => {
    if (killed) return;
    acked.push(write);
    if (acked.length >= killAfter) {
      killed = true;
      cli.child.kill("SIGKILL");
    }
  };
  const chain = async (start: number) => {
    let job = start;
    try {
      if ((await post(cli, job, "erase")).status === 201) ack({ type: "erase", id: job });
      while (!killed) {
        const retry = await post(cli, job, "retry");
        if (retry.status !== 201) return;
        const to = ((await retry.json()) as { id: number }).id;
        ack({ type: "retry", from: job, to });
        if ((await post(cli, to, "cancel")).status !== 201) return;
        ack({ type: "cancel", id: to });
        job = to;
      }
    } catch (error) {
      // Only the kill may cut a request short.
      if (!killed) throw error;
    }
  };
  await Promise.all(starts.map(chain));
  expect(killed).toBe(true);
  expect(await cli.exited).toEqual({ code: null, signal: "SIGKILL" });
  return acked;
}

async function crashRounds(label: string, start: () => Promise<CliProcess>): Promise<Write[]> {
  const random = seededRandom("CRASH_SEED", `crash on ${label}`);
  const writes: Write[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const cli = await start();
    const killAfter = 5 + random.below(30);
    writes.push(...(await streamUntilKilled(cli, await startingJobs(cli, round), killAfter)));
  }
  console.info(`crash on ${label}: ${ROUNDS} kills survived, ${writes.length} acknowledged writes checked`);
  return writes;
}

describe("SIGKILL in the middle of a stream of changes, then restart", () => {
  it("loses nothing on the embedded database (data directory)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jobs-api-crash-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await createDemoDataDir(dir);
    const start = () => startCli(["--data-dir", dir, "--log-level", "info"]);
    const writes = await crashRounds("pglite", start);
    // The last restart must come up healthy; then it is stopped cleanly so that the data can be read.
    const cli = await start();
    expect((await fetch(`${cli.origin}/-/health`)).status).toBe(200);
    cli.child.kill("SIGTERM");
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    const db = await openPglite({ dataDir: dir });
    try {
      await verify(db, writes);
    } finally {
      await db.close();
    }
  });

  it.skipIf(!postgresUrl)("loses nothing on PostgreSQL", async () => {
    const empty = await createEmptyPostgresDatabase();
    cleanup.push(() => empty.drop());
    // The first start migrates and seeds the empty database.
    const start = () => startCli(["--database-url", empty.url, "--seed-demo", "--log-level", "info"]);
    const writes = await crashRounds("postgres", start);
    const cli = await start();
    expect((await fetch(`${cli.origin}/-/health`)).status).toBe(200);
    cli.child.kill("SIGTERM");
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    const db = openPostgres({ connectionString: empty.url });
    try {
      await verify(db, writes);
    } finally {
      await db.close();
    }
  });
});

/** Runs the CLI to its end on a free port: exit code and what it wrote on stderr. */
const runCli = (args: string[], env: Record<string, string>) =>
  runCliToEnd(args, { ...process.env, PORT: "0", ...env });

describe("configuration checked before any work", () => {
  it("refuses each bad configuration with exit 2 and one line saying what is expected", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jobs-api-config-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, "a-file");
    await writeFile(file, "");
    const busy = await startCli(["--data-dir", "memory://"]);
    const busyPort = new URL(busy.origin).port;
    const cases: [string, string[], Record<string, string>, string][] = [
      [
        "DATABASE_URL not a URL",
        [],
        { DATABASE_URL: "notaurl" },
        "invalid DATABASE_URL: notaurl (expected postgres://",
      ],
      [
        "DATABASE_URL of another database",
        [],
        { DATABASE_URL: "mysql://db/x" },
        "invalid DATABASE_URL: mysql://db/x",
      ],
      [
        "--database-url without a host",
        ["--database-url", "postgres://"],
        {},
        "invalid --database-url: postgres://",
      ],
      [
        "LOG_LEVEL unknown",
        ["--data-dir", "memory://"],
        { LOG_LEVEL: "verbose" },
        "invalid LOG_LEVEL: verbose (one of trace, debug, info, warn, error, fatal, silent)",
      ],
      ["port out of range", ["--port", "70000"], {}, "invalid port: 70000 (0 to 65535)"],
      [
        "port in use",
        ["--port", busyPort, "--data-dir", "memory://"],
        {},
        `cannot listen on 127.0.0.1:${busyPort}: already in use`,
      ],
      [
        "data dir is a file",
        ["--data-dir", file],
        {},
        `invalid data directory ${file}: ${file} is not a directory`,
      ],
      [
        "data dir under a file",
        ["--data-dir", join(file, "x")],
        {},
        `invalid data directory ${join(file, "x")}: ${file} is not a directory`,
      ],
      ["unknown option", ["--prot", "1"], {}, "Unknown option '--prot'"],
      ["rate limit not a number", ["--rate-limit", "many"], {}, "invalid rate limit: many"],
      [
        "LOG_FORMAT unknown",
        ["--data-dir", "memory://"],
        { LOG_FORMAT: "xml" },
        "invalid LOG_FORMAT: xml (json or pretty)",
      ],
      [
        "--seed-demo with --no-seed",
        ["--seed-demo", "--no-seed"],
        {},
        "--seed-demo and --no-seed exclude each other",
      ],
    ];
    try {
      for (const [name, args, env, line] of cases) {
        const { code, stderr } = await runCli(args, env);
        expect(code, name).toBe(2);
        expect(stderr.trimEnd().split("\n"), name).toHaveLength(1);
        expect(stderr, name).toContain(line);
      }
    } finally {
      busy.child.kill("SIGTERM");
      await busy.exited;
    }
  });
});

describe("one server per data directory", () => {
  it("refuses a second server on a data directory in use, naming the holder, and frees it on exit", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jobs-api-lock-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await createDemoDataDir(dir);
    const first = await startCli(["--data-dir", dir]);
    await expect(startCli(["--data-dir", dir])).rejects.toThrow(
      `data directory ${dir} is in use by process ${first.child.pid}`,
    );
    expect((await fetch(`${first.origin}/-/health`)).status).toBe(200);
    first.child.kill("SIGTERM");
    expect(await first.exited).toEqual({ code: 0, signal: null });
    const next = await startCli(["--data-dir", dir]);
    // A lock left by a process killed with SIGKILL names a dead pid: the next start takes it over.
    next.child.kill("SIGKILL");
    await next.exited;
    const after = await startCli(["--data-dir", dir]);
    expect((await fetch(`${after.origin}/-/health`)).status).toBe(200);
    after.child.kill("SIGTERM");
    expect(await after.exited).toEqual({ code: 0, signal: null });
  });

  it("refuses a second embedded database on one directory within a process too", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jobs-api-lock-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const db = await openPglite({ dataDir: dir });
    try {
      await expect(openPglite({ dataDir: dir })).rejects.toThrow(`in use by process ${process.pid}`);
    } finally {
      await db.close();
    }
    const again = await openPglite({ dataDir: dir });
    await again.close();
  });
});

describe("SIGTERM", () => {
  it("finishes the request under way, refuses new connections and exits 0", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jobs-api-term-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await createDemoDataDir(dir);
    const cli = await startCli(["--data-dir", dir]);
    const { port } = new URL(cli.origin);

    // A play request whose body is held back: the server has its headers (it said 100 Continue), so
    // the request is under way when the signal comes.
    const socket = connect(Number(port), "127.0.0.1");
    const body = JSON.stringify({ job_variables_attributes: [{ key: "AT", value: "shutdown" }] });
    let received = "";
    const continued = new Promise<void>((resolve) => {
      socket.on("data", (chunk: Buffer) => {
        received += chunk.toString();
        if (received.includes("100 Continue")) resolve();
      });
    });
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.write(
      `POST /api/v4/projects/1/jobs/11/play HTTP/1.1\r\nHost: 127.0.0.1\r\nPRIVATE-TOKEN: ${T}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`,
    );
    await continued;

    cli.child.kill("SIGTERM");
    await cli.waitForLine("shutting down");
    // New connections are refused once the listener is closed (polled: the signal handler runs async).
    let refused = false;
    for (let attempt = 0; attempt < 100 && !refused; attempt++) {
      refused = await fetch(`${cli.origin}/-/health`).then(
        () => false,
        () => true,
      );
    }
    expect(refused).toBe(true);

    socket.write(body);
    await closed;
    const [head = "", json = ""] = received.slice(received.lastIndexOf("HTTP/1.1 200")).split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(JSON.parse(json)).toMatchObject({ id: 11, status: "pending" });
    expect(await cli.exited).toEqual({ code: 0, signal: null });

    // The change it finished before exiting is in the database.
    const db = await openPglite({ dataDir: dir });
    try {
      const vars = await db.query("SELECT key, value FROM job_variables WHERE job_id = 11");
      expect(vars).toEqual([{ key: "AT", value: "shutdown" }]);
    } finally {
      await db.close();
    }
  });
});

describe("jobs-api-server options", () => {
  it("is the package's bin, the file these tests run, and prints its usage with --help", async () => {
    const manifest = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")) as {
      bin: Record<string, string>;
    };
    const bin = manifest.bin["jobs-api-server"];
    expect(fileURLToPath(new URL(`../${bin}`, import.meta.url))).toBe(cliPath);
    const help = spawnSync(process.execPath, [cliPath, "--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: jobs-api-server \[options\]\n/);
    expect(help.stderr).toBe("");
  });

  it("rate limits when asked (--rate-limit), answering 429 with Retry-After, and not by default", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jobs-api-rate-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await createDemoDataDir(dir);
    for (const [args, limited] of [
      [["--rate-limit", "3"], true],
      [[], false],
    ] as const) {
      const cli = await startCli(["--data-dir", dir, ...args]);
      try {
        const statuses: number[] = [];
        let retryAfter: string | null = null;
        for (let i = 0; i < 5; i++) {
          const r = await fetch(`${cli.origin}/api/v4/projects/1/jobs/8`, {
            headers: { "PRIVATE-TOKEN": T },
          });
          statuses.push(r.status);
          if (r.status === 429) retryAfter = r.headers.get("retry-after");
        }
        expect(statuses).toEqual(limited ? [200, 200, 200, 429, 429] : [200, 200, 200, 200, 200]);
        if (limited) expect(Number(retryAfter)).toBeGreaterThan(0);
      } finally {
        cli.child.kill("SIGTERM");
        expect(await cli.exited).toEqual({ code: 0, signal: null });
      }
    }
  });
});
