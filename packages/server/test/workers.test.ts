import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_IDS, DEMO_TOKENS } from "../src/index.js";
import { laterWorkerArgs } from "../src/workers.js";
import { postgresUrl } from "./helpers/db.js";
import { buildServer, runCliToEnd, startTwoWorkers } from "./helpers/process.js";

beforeAll(() => buildServer());

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

/** Runs the CLI to its end on a free port, without the environment's DATABASE_URL. */
function runCli(args: string[], env: Record<string, string> = {}) {
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  return runCliToEnd(["--port", "0", ...args], { ...inherited, ...env });
}

describe("--workers", () => {
  it("later workers load neither the demo data nor the fixtures the first one loaded", () => {
    expect(laterWorkerArgs(["--workers", "2", "--fixtures", "f.yml", "--port=1"])).toEqual([
      "--workers",
      "2",
      "--port=1",
      "--no-seed",
    ]);
    expect(laterWorkerArgs(["--fixtures=f.yml", "--no-seed"])).toEqual(["--no-seed"]);
    // The first worker seeds: --seed-demo with the --no-seed of the others would be refused.
    expect(laterWorkerArgs(["--seed-demo", "--port=1"])).toEqual(["--port=1", "--no-seed"]);
  });

  it("is refused on the embedded database (one writer) and for counts that are not 1 to 64, with exit 2", async () => {
    const pglite = await runCli(["--workers", "2", "--data-dir", "memory://"]);
    expect(pglite.code).toBe(2);
    expect(pglite.stderr).toBe(
      "jobs-api-server: --workers 2 needs PostgreSQL (--database-url or DATABASE_URL): the embedded database has a single writer\n",
    );
    const zero = await runCli(["--workers", "0"]);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toBe(
      "jobs-api-server: invalid --workers: 0 (a whole number of server processes, 1 to 64)\n",
    );
    const env2 = await runCli([], { WORKERS: "two" });
    expect(env2.code).toBe(2);
    expect(env2.stderr).toMatch(/^jobs-api-server: invalid WORKERS: two \(/);
  });

  describe.skipIf(!postgresUrl)("on PostgreSQL", () => {
    it("serves one port from several processes, the data seeded once, and stops them all on SIGTERM", async () => {
      const cli = await startTwoWorkers(cleanup);
      expect(cli.lines.filter((l) => l.includes("loaded the demo data"))).toHaveLength(1);
      const url = `${cli.origin}/api/v4/projects/${DEMO_IDS.project}/jobs`;
      const headers = { "PRIVATE-TOKEN": DEMO_TOKENS.maintainer, Connection: "close" };
      // New connections are dealt to the workers in turn.
      for (let i = 0; i < 6; i++) {
        const res = await fetch(url, { headers });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }
      // Many long lines at once from both workers, written in batches to the stdout pipe they share: each
      // still one whole JSON object (each write is at most PIPE_BUF of whole lines), none lost at exit.
      const long = `${url}?per_page=1&note=${"x".repeat(1500)}`;
      await Promise.all(
        Array.from({ length: 120 }, async () => {
          const res = await fetch(long, { headers: { "PRIVATE-TOKEN": DEMO_TOKENS.maintainer } });
          expect(res.status).toBe(200);
          await res.arrayBuffer();
        }),
      );
      cli.child.kill("SIGTERM");
      expect(await cli.exited).toEqual({ code: 0, signal: null });
      const stdout = cli.child.stdout;
      // Every line read: the pipe closes after the process exits.
      if (stdout && !stdout.closed) await once(stdout, "close");
      const requests = cli.lines
        .map((l) => JSON.parse(l) as { pid: number; req?: { url: string } })
        .filter((l) => l.req);
      expect(requests.filter((l) => l.req?.url.includes("note=x"))).toHaveLength(120);
      expect(new Set(requests.map((l) => l.pid)).size).toBe(2);
    });
  });
});
