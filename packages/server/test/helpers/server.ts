import { afterAll, beforeAll } from "vitest";
import { type Database, type DemoServer, startDemoServer } from "../../src/index.js";

/**
 * A test file's server on a fresh copy of the demo data, started before the file's tests and closed after
 * them; `ready` receives its database and the server (and may build the file's shared data).
 */
export function serveForFile(ready: (db: Database, server: DemoServer) => void | Promise<void>): void {
  let server: DemoServer | undefined;
  beforeAll(async () => {
    server = await startDemoServer();
    await ready(server.db, server);
  });
  afterAll(async () => {
    await server?.close();
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
