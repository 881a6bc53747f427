import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll } from "vitest";
import { type AppOptions, createApp, type Database, listen } from "../../src/index.js";
import { openTestPglite } from "./db.js";

export interface TestServer {
  /** `http://127.0.0.1:<port>/api/v4` */
  api: string;
  origin: string;
  /** Every log line written so far (JSON). */
  logs: string[];
  close(): Promise<void>;
}

/** The app on an ephemeral port, with request and response validation on, logging into memory. */
export async function startServer(db: Database, options: Partial<AppOptions> = {}): Promise<TestServer> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const app = createApp({ db, logger: pino({ level: "info" }, sink), ...options });
  const running = await listen(app, { port: 0, host: "127.0.0.1" });
  return { api: `${running.url}/api/v4`, origin: running.url, logs, close: running.close };
}

/**
 * A test file's seeded database and its server, opened before the file's tests and closed after them;
 * `ready` receives both (and may build the file's shared data).
 */
export function serveForFile(ready: (db: Database, server: TestServer) => void | Promise<void>): void {
  let db: Database | undefined;
  let server: TestServer | undefined;
  beforeAll(async () => {
    db = await openTestPglite();
    server = await startServer(db);
    await ready(db, server);
  });
  afterAll(async () => {
    await server?.close();
    await db?.close();
  });
}

/** `fetch` with a `PRIVATE-TOKEN`, answering status, headers and the parsed JSON (or text). */
export async function call(
  url: string,
  init: RequestInit & { token?: string; json?: unknown } = {},
): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("PRIVATE-TOKEN", init.token);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(init.json);
  }
  const res = await fetch(url, { ...init, headers, body: body ?? null });
  const text = await res.text();
  const isJson = res.headers.get("content-type")?.includes("json") ?? false;
  return { status: res.status, headers: res.headers, body: isJson && text ? JSON.parse(text) : text, text };
}
