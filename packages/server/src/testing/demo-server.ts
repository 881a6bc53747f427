import { extname } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { API_BASE, type AppOptions, createApp } from "../app.js";
import type { Database } from "../db/database.js";
import { openPglite } from "../db/pglite.js";
import { cachedTemplate } from "../db/template.js";
import { seedDemo } from "../seed/demo.js";
import { listen } from "../server.js";

/**
 * The test fixture of every package that talks to the reference server (the server's, the client's and
 * the conformance suite's tests): the demo data in a fresh in-memory PGlite, copied from a template built
 * once, and the app on an ephemeral loopback port.
 */

/** What the seeded data depends on: the demo file and the code that loads it (source under vitest, else dist). */
const extension = extname(fileURLToPath(import.meta.url));
const seedSources = [
  "../../fixtures/demo.yaml",
  `../seed/demo${extension}`,
  `../fixtures/load${extension}`,
  `../store/create${extension}`,
].map((path) => new URL(path, import.meta.url));

/** The demo data, loaded once into a cached template. */
const demoTemplate = () => cachedTemplate("server-template", seedSources, seedDemo);

/** A fresh in-memory PGlite with the schema and the demo data, in about a quarter of a second. */
export async function openDemoDatabase(): Promise<Database> {
  return openPglite({ loadDataDir: await demoTemplate() });
}

/** A PGlite data directory holding the demo database, for server processes to start on. */
export async function createDemoDataDir(dataDir: string): Promise<void> {
  const db = await openPglite({ dataDir, loadDataDir: await demoTemplate() });
  await db.close();
}

export interface DemoServer {
  /** `http://127.0.0.1:<port>/api/v4` */
  api: string;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  db: Database;
  /** Every log line written so far (JSON), unless a `logger` was given. */
  logs: string[];
  /** Stops the server, then closes the database if the fixture opened it. */
  close(): Promise<void>;
}

/**
 * The reference server on an ephemeral loopback port, with request and response validation on, logging
 * into memory; on a fresh copy of the demo data unless `db` is given.
 */
export async function startDemoServer(options: Partial<AppOptions> = {}): Promise<DemoServer> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const db = options.db ?? (await openDemoDatabase());
  const app = createApp({ logger: pino({ level: "info" }, sink), ...options, db });
  const running = await listen(app, { port: 0, host: "127.0.0.1" });
  return {
    api: `${running.url}${API_BASE}`,
    origin: running.url,
    db,
    logs,
    async close() {
      await running.close();
      if (!options.db) await db.close();
    },
  };
}
