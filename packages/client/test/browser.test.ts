import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createApp,
  type Database,
  DEMO_IDS,
  DEMO_TOKENS,
  listen,
  openDatabase,
  seedDemo,
} from "@jobs-api/server";
import { pino } from "pino";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../../../test-support/chromium.js";

/**
 * The client as a web page uses it: its ES modules loaded by Chromium through an import map, from another
 * origin than the API's. Pagination reads `Link`, errors read the body: both need the CORS headers GitLab's
 * `Rack::Cors` sends (`Access-Control-Allow-Origin: *`, exposed pagination headers).
 */

const clientDist = join(dirname(fileURLToPath(import.meta.url)), "../dist");
const openapiFetch = createRequire(join(clientDist, "index.js")).resolve("openapi-fetch");
const openapiFetchModule = join(dirname(openapiFetch), "index.mjs");

let db: Database;
let api: { url: string; close: () => Promise<void> };
let page: Server;
let pageOrigin: string;
let browser: Browser;

/** The page: the API's base URL and a token in its query, the client from `/client/`. */
const html = `<!doctype html>
<script type="importmap">{"imports":{"@jobs-api/client":"/client/index.js","openapi-fetch":"/openapi-fetch.mjs"}}</script>
<script type="module">
  import { createJobsClient, JobsApiError } from "@jobs-api/client";
  const params = new URLSearchParams(location.search);
  const gitlab = createJobsClient({ baseUrl: params.get("api"), token: params.get("token") });
  try {
    const failed = [];
    for await (const job of gitlab.paginate("listProjectJobs", { id: "foo/bar", scope: ["failed"], per_page: 2 })) {
      failed.push(job.id);
    }
    const job = await gitlab.getJob({ id: "foo/bar", job_id: 7 });
    const trace = await gitlab.getJobTrace({ id: 1, job_id: 7 });
    const retried = await gitlab.retryJob({ id: 1, job_id: 7 });
    let refused = null;
    try {
      await createJobsClient({ baseUrl: params.get("api"), token: "glpat-wrong" }).getJob({ id: 1, job_id: 7 });
    } catch (error) {
      refused = error instanceof JobsApiError ? { status: error.status, message: error.apiMessage } : String(error);
    }
    window.result = { failed, job: job.id, trace: trace.length, retried: { id: retried.id, name: retried.name }, refused };
  } catch (error) {
    window.result = { error: String(error) };
  }
</script>`;

function servePage(): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://page").pathname;
    const send = (type: string, body: string | Buffer) => {
      res.writeHead(200, { "Content-Type": type });
      res.end(body);
    };
    if (path === "/") return send("text/html", html);
    if (path === "/favicon.ico") return res.writeHead(204).end();
    if (path === "/openapi-fetch.mjs") return send("text/javascript", readFileSync(openapiFetchModule));
    const file = normalize(join(clientDist, path.replace(/^\/client\//, "")));
    if (path.startsWith("/client/") && file.startsWith(clientDist) && existsSync(file)) {
      return send("text/javascript", readFileSync(file));
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

beforeAll(async () => {
  db = await openDatabase({ dataDir: "memory://" });
  await seedDemo(db);
  api = await listen(createApp({ db, logger: pino({ level: "silent" }) }), { port: 0, host: "127.0.0.1" });
  page = await servePage();
  // `localhost` and `127.0.0.1` are different origins: every API call from the page is cross-origin.
  pageOrigin = `http://localhost:${(page.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => page?.close(resolve));
  await api?.close();
  await db?.close();
});

describe("the client in a browser, from another origin", () => {
  it("lists, paginates, reads a log, retries and reports GitLab's errors", async () => {
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    const query = new URLSearchParams({ api: `${api.url}/api/v4`, token: DEMO_TOKENS.maintainer });
    await tab.goto(`${pageOrigin}/?${query}`);
    await tab.waitForFunction(() => "result" in window, undefined, { timeout: 20_000 });
    const result = await tab.evaluate(() => (window as unknown as { result: unknown }).result);
    // The one failed load is the refused call the page makes on purpose.
    expect(errors).toEqual([
      "Failed to load resource: the server responded with a status of 401 (Unauthorized)",
    ]);
    expect(result).toMatchObject({
      job: 7,
      retried: { name: "teaspoon" },
      refused: { status: 401, message: "401 Unauthorized" },
    });
    const { failed, trace } = result as { failed: number[]; trace: number };
    // More failed jobs than one page holds: the pages were followed through the exposed Link header.
    expect(failed.length).toBeGreaterThan(2);
    expect(new Set(failed).size).toBe(failed.length);
    // Job 7 of GitLab's documentation examples failed.
    expect(failed).toContain(DEMO_IDS.exampleJobs[1]);
    expect(trace).toBeGreaterThan(0);
  });
});
