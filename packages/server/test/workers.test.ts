import { once } from "node:events";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_IDS, DEMO_TOKENS } from "../src/index.js";
import { laterWorkerArgs } from "../src/workers.js";
import { createEmptyPostgresDatabase, postgresUrl } from "./helpers/db.js";
import { buildServer, runCliToEnd, startCli, startTwoWorkers } from "./helpers/process.js";

beforeAll(() => buildServer());

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

/**
 * A free port below Linux's ephemeral range (32768 and up by default): a client that connects again and
 * again to a port nothing listens on yet can, within that range, be given the same port as its own end
 * and connect to itself.
 */
async function freePort(): Promise<number> {
  for (let port = 20_000 + Math.floor(Math.random() * 10_000); ; port++) {
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (!bound) continue;
    server.close();
    await once(server, "close");
    return port;
  }
}

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

    it("answers every request sent while it starts: none is held unanswered", async () => {
      const db = await createEmptyPostgresDatabase();
      cleanup.push(() => db.drop());
      const port = await freePort();
      const url = `http://127.0.0.1:${port}/api/v4/projects/${DEMO_IDS.project}/jobs/${DEMO_IDS.exampleJobs[0]}`;
      const timedOut: number[] = [];
      const afterListening: string[] = [];
      let listening = false;
      let up = false;
      // One request after another from before the start until well after both workers listen: a worker's
      // early check of the port once left a request accepted in that instant unanswered for good. One the
      // server accepted and never answered ends in the timeout.
      const poll = (async () => {
        for (let attempt = 0, answered = 0; answered < 50; attempt++) {
          const seenListening = listening;
          try {
            const res = await fetch(url, {
              headers: { "PRIVATE-TOKEN": DEMO_TOKENS.maintainer },
              signal: AbortSignal.timeout(10_000),
            });
            await res.arrayBuffer();
            if (seenListening) afterListening.push(String(res.status));
          } catch (error) {
            if ((error as Error).name === "TimeoutError") timedOut.push(attempt);
            else if (seenListening) afterListening.push(String(error));
            // Nothing listens yet (refused): the next attempt in the next turn of the event loop.
            else await new Promise((resolve) => setImmediate(resolve));
          }
          if (up) answered++;
        }
      })();
      const cli = await startCli([
        "--port",
        String(port),
        "--workers",
        "2",
        "--database-url",
        db.url,
        "--seed-demo",
      ]);
      listening = true;
      cleanup.push(async () => {
        if (cli.child.exitCode === null) cli.child.kill("SIGKILL");
      });
      await cli.waitForLine("listening on", 2);
      up = true;
      await poll;
      cli.child.kill("SIGTERM");
      expect(await cli.exited).toEqual({ code: 0, signal: null });
      expect(timedOut).toEqual([]);
      expect(afterListening.filter((o) => o !== "200")).toEqual([]);
    });
  });
});
