import { once } from "node:events";
import { createServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseUnavailableError } from "../src/db/unavailable.js";
import { DEMO_TOKENS, openPostgres, startDemoServer } from "../src/index.js";
import { type OwnCluster, startOwnCluster } from "./helpers/cluster.js";
import { createEmptyPostgresDatabase, postgresUrl } from "./helpers/db.js";
import { buildServer, type CliProcess, startCli } from "./helpers/process.js";
import { verifyWrites, type Write } from "./helpers/writes.js";

/**
 * PostgreSQL stopped under load, then started again: the server answers 503 in GitLab's shape with
 * Retry-After while it is gone (never a 500, never a hang), readiness fails while liveness holds, it
 * recovers without a restart, and every change it acknowledged is in the database, applied once.
 * It needs a cluster of its own to stop (scripts/test-postgres.sh), so it runs where the PostgreSQL
 * variants do (JOBS_API_TEST_DATABASE_URL set); the shared cluster is left alone.
 */

const T = DEMO_TOKENS.maintainer;
const WRITERS = 4;
const READERS = 2;
const READS = ["/projects/1/jobs/8", "/projects/1/jobs?per_page=20", "/projects/1/jobs/7/trace"];

let cluster: OwnCluster | undefined;
let cli: CliProcess | undefined;
beforeAll(async () => {
  if (!postgresUrl) return;
  buildServer();
  cluster = await startOwnCluster();
  cli = await startCli(["--database-url", cluster.url, "--seed-demo"]);
});
afterAll(async () => {
  if (cli && cli.child.exitCode === null) {
    cli.child.kill("SIGKILL");
    await cli.exited;
  }
  await cluster?.remove();
});

/** The load: what it saw, and promises for the moments the test waits for. */
class Load {
  finished = false;
  readonly acked: Write[] = [];
  readonly statuses = new Map<number, number>();
  readonly wrong: string[] = [];
  unavailable = 0;
  private readonly waiting: { ready: () => boolean; resolve: () => void }[] = [];

  constructor(private readonly origin: string) {}

  /** Resolves once `ready()` holds, checked after every answer. */
  until(ready: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      if (ready()) resolve();
      else this.waiting.push({ ready, resolve });
    });
  }

  private seen(): void {
    for (const w of this.waiting.filter((w) => w.ready())) {
      this.waiting.splice(this.waiting.indexOf(w), 1);
      w.resolve();
    }
  }

  /** One request; anything but 200, 201 or a well-formed 503 is noted as wrong. */
  async request(method: "GET" | "POST", path: string): Promise<Response> {
    const r = await fetch(`${this.origin}/api/v4${path}`, { method, headers: { "PRIVATE-TOKEN": T } });
    const text = await r.text();
    this.statuses.set(r.status, (this.statuses.get(r.status) ?? 0) + 1);
    if (r.status === 503) {
      this.unavailable++;
      if (text !== '{"message":"503 Service Unavailable"}' || r.headers.get("retry-after") !== "5")
        this.wrong.push(`${method} ${path}: 503 ${r.headers.get("retry-after")} ${text}`);
    } else if (r.status !== 200 && r.status !== 201) {
      this.wrong.push(`${method} ${path}: ${r.status} ${text}`);
    }
    this.seen();
    return new Response(text, { status: r.status });
  }

  ack(write: Write): void {
    this.acked.push(write);
    this.seen();
  }

  async reader(): Promise<void> {
    for (let i = 0; !this.finished; i++) await this.request("GET", READS[i % READS.length] ?? "");
  }

  /**
   * Chains of retry → cancel of the new job → retry of that one …, from finished jobs of its own. A change
   * answered 503 may or may not have been made: the chain reads until the database answers again, then
   * goes on from its next finished job, so that every change it asks for has a known outcome.
   */
  async writer(starts: number[]): Promise<void> {
    let job = starts.shift();
    let i = 0;
    while (!this.finished) {
      if (job === undefined) {
        const read = await this.request("GET", READS[i++ % READS.length] ?? "");
        if (read.status === 200) job = starts.shift();
        if (starts.length === 0 && job === undefined) return this.reader();
        continue;
      }
      const retry = await this.request("POST", `/projects/1/jobs/${job}/retry`);
      if (retry.status !== 201) {
        job = undefined;
        continue;
      }
      const to = ((await retry.json()) as { id: number }).id;
      this.ack({ type: "retry", from: job, to });
      const cancel = await this.request("POST", `/projects/1/jobs/${to}/cancel`);
      if (cancel.status !== 201) {
        job = undefined;
        continue;
      }
      this.ack({ type: "cancel", id: to });
      job = to;
    }
  }
}

describe("PostgreSQL stopped under load, then started again", () => {
  it.skipIf(!postgresUrl)(
    "answers 503 with Retry-After while it is down, fails readiness only, recovers, and loses no write",
    async () => {
      if (!cluster || !cli) throw new Error("no cluster");
      const { origin } = cli;
      const list = await fetch(
        `${origin}/api/v4/projects/1/jobs?scope[]=success&scope[]=failed&scope[]=canceled&per_page=100`,
        { headers: { "PRIVATE-TOKEN": T } },
      );
      // One job per name and pipeline: a retry marks the pipeline's other jobs of that name retried (as on
      // GitLab), which would make another chain's next retry a 403 that no outage caused.
      const seen = new Set<string>();
      const finished = ((await list.json()) as { id: number; name: string; pipeline: { id: number } }[])
        .filter((j) => !seen.has(`${j.pipeline.id} ${j.name}`) && seen.add(`${j.pipeline.id} ${j.name}`))
        .map((j) => j.id);
      expect(finished.length).toBeGreaterThanOrEqual(WRITERS * 3);
      const load = new Load(origin);
      const workers = [
        ...Array.from({ length: WRITERS }, (_, w) =>
          load.writer(finished.filter((_, i) => i % WRITERS === w)),
        ),
        ...Array.from({ length: READERS }, () => load.reader()),
      ];

      await load.until(() => load.acked.length >= 20);
      await cluster.stop();
      const before = load.unavailable;
      await load.until(() => load.unavailable >= before + 20);

      const ready = await fetch(`${origin}/-/readiness?all=1`);
      const readiness = (await ready.json()) as { status: string; db_check: { status: string }[] };
      expect([ready.status, readiness.status, readiness.db_check[0]?.status]).toEqual([
        503,
        "failed",
        "failed",
      ]);
      const live = await fetch(`${origin}/-/liveness`);
      expect([live.status, await live.json()]).toEqual([200, { status: "ok" }]);

      await cluster.start();
      // pg_ctl -w returned once it accepts connections: the pool connects anew at once.
      expect((await fetch(`${origin}/-/readiness?all=1`)).status).toBe(200);
      const recovered = load.acked.length;
      await load.until(() => load.acked.length >= recovered + 20);
      load.finished = true;
      await Promise.all(workers);

      expect(load.wrong).toEqual([]);
      expect([...load.statuses.keys()].sort()).toEqual([200, 201, 503]);
      console.info(
        `outage: ${JSON.stringify(Object.fromEntries(load.statuses))}, ${load.acked.length} acknowledged writes checked`,
      );
      cli.child.kill("SIGTERM");
      expect(await cli.exited).toEqual({ code: 0, signal: null });
      const db = openPostgres({ connectionString: cluster.url });
      try {
        await verifyWrites(db, load.acked);
      } finally {
        await db.close();
      }
    },
    120_000,
  );
});

describe("a transaction whose connection is lost", () => {
  it.skipIf(!postgresUrl)(
    "fails as DatabaseUnavailableError (answered 503) when its COMMIT cannot be sent, and writes nothing",
    async () => {
      const empty = await createEmptyPostgresDatabase();
      const db = openPostgres({ connectionString: empty.url });
      const admin = openPostgres({ connectionString: empty.url });
      try {
        await db.exec("CREATE TABLE t (x int)");
        const attempt = db.transaction(async (tx) => {
          await tx.query("INSERT INTO t VALUES (1)");
          const [own] = await tx.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
          // Waits (up to 5 s) until the backend is gone: the COMMIT that follows meets a closed connection.
          await admin.query("SELECT pg_terminate_backend($1, 5000)", [own?.pid]);
        });
        await expect(attempt).rejects.toBeInstanceOf(DatabaseUnavailableError);
        // The pool replaced the connection; the insert was rolled back with it.
        expect(await db.query("SELECT count(*)::int AS n FROM t")).toEqual([{ n: 0 }]);
      } finally {
        await db.close();
        await admin.close();
        await empty.drop();
      }
    },
  );
});

describe("a database that accepts connections and never answers", () => {
  it("is answered 503 within the connect timeout instead of holding the request", async () => {
    // A blackhole: the TCP handshake succeeds, the PostgreSQL one never does (a hung server, a stuck proxy).
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket)).listen(0, "127.0.0.1");
    await once(silent, "listening");
    const { port } = silent.address() as { port: number };
    const db = openPostgres({ connectionString: `postgres://u@127.0.0.1:${port}/db`, connectTimeoutMs: 200 });
    const server = await startDemoServer({ db });
    try {
      const r = await fetch(`${server.api}/projects/1/jobs/8`, { headers: { "PRIVATE-TOKEN": T } });
      expect([r.status, r.headers.get("retry-after"), await r.json()]).toEqual([
        503,
        "5",
        { message: "503 Service Unavailable" },
      ]);
      const ready = await fetch(`${server.origin}/-/readiness?all=1`);
      expect(ready.status).toBe(503);
      expect((await fetch(`${server.origin}/-/liveness`)).status).toBe(200);
    } finally {
      await server.close();
      await db.close();
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it.skipIf(!postgresUrl)(
    "a statement without an answer within the query timeout is answered 503",
    async () => {
      const db = openPostgres({ connectionString: postgresUrl ?? "", queryTimeoutMs: 200 });
      try {
        await expect(db.query("SELECT pg_sleep(3)")).rejects.toBeInstanceOf(DatabaseUnavailableError);
        // The pool gave that connection up and answers on a new one.
        expect(await db.query("SELECT 1 AS one")).toEqual([{ one: 1 }]);
      } finally {
        await db.close();
      }
    },
  );
});
