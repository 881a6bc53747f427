import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, extname, join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { API_BASE, type AppOptions, createApp } from "../app.js";
import type { Database } from "../db/database.js";
import { migrate, migrationsDir } from "../db/migrate.js";
import { openPglite } from "../db/pglite.js";
import { seedDemo } from "../seed/demo.js";
import { listen } from "../server.js";

/**
 * The test fixture of every package that talks to the reference server (the server's, the client's and
 * the conformance suite's tests): the demo data in a fresh in-memory PGlite, copied from a template built
 * once, and the app on an ephemeral loopback port.
 */

/** The seed module beside this one: its source under vitest, its build in dist. */
const seedModule = new URL(`../seed/demo${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/** The template changes whenever the migrations, the seed or PGlite change. */
async function templateKey(): Promise<string> {
  const hash = createHash("sha256");
  for (const name of (await readdir(migrationsDir)).sort())
    hash.update(await readFile(new URL(name, migrationsDir)));
  hash.update(await readFile(seedModule));
  // PGlite's entry point is `dist/index.*`; its package.json, one level up, names the version.
  const pglite = createRequire(import.meta.url).resolve("@electric-sql/pglite");
  hash.update(await readFile(join(dirname(pglite), "..", "package.json")));
  return hash.digest("hex").slice(0, 16);
}

let template: Promise<Blob> | undefined;

/**
 * A migrated, seeded PGlite data directory as a tarball under the OS temp dir, built once (about 3 s)
 * and reused by every test file and every run until its inputs change.
 */
function demoTemplate(): Promise<Blob> {
  template ??= (async () => {
    const file = join(tmpdir(), `jobs-api-server-template-${await templateKey()}.tar`);
    const exists = await stat(file).then(
      (s) => s.size > 0,
      () => false,
    );
    if (!exists) {
      const db = await openPglite();
      await migrate(db);
      await seedDemo(db);
      const dump = await db.dump();
      await db.close();
      // Parallel test files may build it at once; the rename makes whichever finishes last win atomically.
      const partial = `${file}.${randomUUID()}`;
      await writeFile(partial, Buffer.from(await dump.arrayBuffer()));
      await rename(partial, file);
    }
    return new Blob([await readFile(file)]);
  })();
  return template;
}

/** A fresh in-memory PGlite with the schema and the demo data, in about half a second. */
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
