import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_IDS, DEMO_TOKENS } from "../src/index.js";
import { postgresUrl } from "./helpers/db.js";
import { buildServer, startTwoWorkers } from "./helpers/process.js";

beforeAll(() => buildServer());

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

interface JobJson {
  id: number;
  status: string;
}

describe.skipIf(!postgresUrl)("read cache across workers (PostgreSQL)", () => {
  it("answers every read with the writes made through the other worker before it", async () => {
    const cli = await startTwoWorkers(cleanup);
    const api = `${cli.origin}/api/v4/projects/${DEMO_IDS.project}`;
    // A new connection for every request: the workers are dealt connections in turn, so of the two reads
    // after each write one is served by the worker that did not write, with its cache warm.
    const call = async (method: string, path: string) => {
      const res = await fetch(`${api}${path}`, {
        method,
        headers: { "PRIVATE-TOKEN": DEMO_TOKENS.maintainer, Connection: "close" },
      });
      expect(res.status, `${method} ${path}`).toBeLessThan(300);
      return (await res.json()) as unknown;
    };
    const readTwice = async (path: string) => [await call("GET", path), await call("GET", path)];

    const [finished] = (await call("GET", "/jobs?scope=success&per_page=1")) as JobJson[];
    if (!finished) throw new Error("the demo data has no successful job");
    await readTwice("/jobs?per_page=5");
    let retryable = finished.id;
    for (let round = 0; round < 3; round++) {
      const created = (await call("POST", `/jobs/${retryable}/retry`)) as JobJson;
      for (const read of await readTwice("/jobs?per_page=5")) {
        expect((read as JobJson[])[0]?.id).toBe(created.id);
      }
      for (const read of await readTwice(`/jobs/${created.id}`)) {
        expect((read as JobJson).status).toBe("pending");
      }
      await call("POST", `/jobs/${created.id}/cancel`);
      for (const read of await readTwice(`/jobs/${created.id}`)) {
        expect((read as JobJson).status).toBe("canceled");
      }
      for (const read of await readTwice("/jobs?per_page=5")) {
        expect((read as JobJson[])[0]).toMatchObject({ id: created.id, status: "canceled" });
      }
      retryable = created.id;
    }
    const pids = new Set(
      cli.lines
        .map((line) => JSON.parse(line) as { pid: number; req?: unknown })
        .filter((line) => line.req)
        .map((line) => line.pid),
    );
    expect(pids.size).toBe(2);
    cli.child.kill("SIGTERM");
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  });
});
