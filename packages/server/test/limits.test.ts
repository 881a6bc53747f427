import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createApp,
  type Database,
  DEMO_TOKENS,
  type DemoServer,
  listen,
  type RunningServer,
} from "../src/index.js";
import { keepAliveAgent, sendRaw } from "./helpers/http.js";
import { serveForFile } from "./helpers/server.js";
import { checkExchange } from "./helpers/spec.js";

/** The inputs the fuzz test found answered with a 5xx, an HTML page or a bare status line, kept as cases. */

let db: Database;
let server: DemoServer;
const agent = keepAliveAgent();
const T = DEMO_TOKENS.maintainer;

serveForFile((d, s) => {
  db = d;
  server = s;
});
afterAll(() => {
  agent.destroy();
});

const send = (method: string, target: string, headers: Record<string, string> = { "PRIVATE-TOKEN": T }) =>
  sendRaw(server.origin, { method, target, headers }, agent);

/** Writes raw bytes on a fresh connection and resolves with everything the server sent until it closed. */
function rawExchange(origin: string, bytes: string): Promise<string> {
  const { port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1", () => socket.write(bytes, "latin1"));
    let received = "";
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(received));
  });
}

describe("inputs found by the fuzz test", () => {
  it("ids too long for a double are out of range (400), not a database error (500)", async () => {
    for (const [target, name] of [
      [`/api/v4/projects/1/jobs/${"9".repeat(400)}`, "job_id"],
      [`/api/v4/projects/1/jobs/${"9".repeat(400)}/cancel`, "job_id"],
      [`/api/v4/projects/1/pipelines/${"9".repeat(400)}/jobs`, "pipeline_id"],
      [`/api/v4/projects/1/jobs?per_page=${"9".repeat(400)}`, "per_page"],
      [`/api/v4/projects/1/jobs?x=?&page=${"9".repeat(400)}`, "page"],
    ] as const) {
      const ex = await send(target.endsWith("cancel") ? "POST" : "GET", target);
      expect(ex.status, target).toBe(400);
      expect(JSON.parse(ex.body)).toEqual({ error: `${name} does not have a valid value` });
    }
    // A project id that long is a path nobody has: 404, as for any unknown path.
    const project = await send("GET", `/api/v4/projects/${"9".repeat(400)}/jobs`);
    expect(project.status).toBe(404);
    expect(JSON.parse(project.body)).toEqual({ message: "404 Project Not Found" });
  });

  it("integers written as other number literals are invalid, as Grape's Integer finds them", async () => {
    for (const [target, name] of [
      ["/api/v4/projects/1/jobs/1e3", "job_id"],
      ["/api/v4/projects/1/jobs/0x8", "job_id"],
      ["/api/v4/projects/1/jobs/8.0", "job_id"],
      ["/api/v4/projects/1/jobs/1e309", "job_id"],
      ["/api/v4/projects/1/jobs/%38.0/trace", "job_id"],
      ["/api/v4/projects/1/jobs/1e1/cancel", "job_id"],
      ["/api/v4/projects/1/pipelines/6e0/jobs", "pipeline_id"],
      ["/api/v4/projects/1/jobs?per_page=2e1", "per_page"],
      ["/api/v4/projects/1/jobs?page=1e999", "page"],
      ["/api/v4/projects/1/jobs?page=1&per%5Fpage=0x14", "per_page"],
      // Out of range as Ajv reads them, but Grape refuses the text first.
      ["/api/v4/projects/1/jobs/-1e3", "job_id"],
      ["/api/v4/projects/1/jobs?per_page=1e9", "per_page"],
      // Only ASCII blanks around the digits, as Ruby's Integer(); a second `?` is part of the query.
      ["/api/v4/projects/1/jobs/%C2%A08", "job_id"],
      ["/api/v4/projects/1/jobs?x=?&per_page=0x14", "per_page"],
    ] as const) {
      const ex = await send(target.endsWith("cancel") ? "POST" : "GET", target);
      expect(ex.status, target).toBe(400);
      expect(JSON.parse(ex.body), target).toEqual({ error: `${name} is invalid` });
    }
    // Digits, with a sign or blanks around them as Ruby's Integer() allows, are integers.
    for (const target of ["/api/v4/projects/1/jobs/+8", "/api/v4/projects/1/jobs?per_page=%202%20"]) {
      const ex = await send("GET", target);
      expect(ex.status, target).toBe(200);
    }
  });

  // HandleMalformedStrings (handle_malformed_strings.rb:19): NUL in the path or in a value up to two levels down.
  it("NUL in a project path or a variable is refused, not sent to PostgreSQL", async () => {
    const path = await send("GET", "/api/v4/projects/foo%00bar/jobs");
    expect(path.status).toBe(400);
    expect(path.body).toBe("Bad Request");
    const play = await sendRaw(
      server.origin,
      {
        method: "POST",
        target: "/api/v4/projects/1/jobs/11/play",
        headers: { "PRIVATE-TOKEN": T, "Content-Type": "application/json" },
        body: JSON.stringify({
          job_variables_attributes: [
            { key: "OK", value: "a" },
            { key: "K", value: "a\u0000b" },
          ],
        }),
      },
      agent,
    );
    expect(play.status).toBe(400);
    expect(play.headers["content-type"]).toBe("text/plain");
    expect(play.body).toBe("Bad Request");
    const job = await send("GET", "/api/v4/projects/1/jobs/11");
    expect(JSON.parse(job.body)).toMatchObject({ status: "manual" });
  });

  it("routes are case-sensitive: /API/V4 is not the API (and does not skip validation)", async () => {
    const ex = await send("GET", "/API/V4/projects/1/jobs?per_page=1000");
    expect(ex.status).toBe(404);
    expect(JSON.parse(ex.body)).toEqual({ error: "404 Not Found" });
  });

  it("a raw # or \\ in the path is a bad request, whatever the method", async () => {
    for (const target of [
      "/api/v4/projects/a#b/jobs/8/erase",
      "/api/v4/projects/foo\\bar/jobs",
      "/api/v4/job#",
    ]) {
      for (const method of ["GET", "POST"]) {
        const ex = await send(method, target);
        expect(ex.status, `${method} ${target}`).toBe(400);
        expect(checkExchange(ex)).toEqual([]);
      }
    }
  });

  it("requests Node's parser refuses get GitLab's JSON error, and HEAD no body", async () => {
    const bad = await rawExchange(
      server.origin,
      "GET /api/v4/projects/\u00fc/jobs HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    expect(bad).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(bad).toContain("Content-Type: application/json");
    expect(bad.split("\r\n\r\n")[1]).toBe('{"error":"400 Bad Request"}');
    const head = await rawExchange(server.origin, "HEAD /api/v4/\u00fc HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(head.split("\r\n\r\n")[1]).toBe("");
    const huge = await rawExchange(
      server.origin,
      `GET /api/v4/job HTTP/1.1\r\nHost: x\r\nJOB-TOKEN: ${"x".repeat(20_000)}\r\n\r\n`,
    );
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
    expect(huge.split("\r\n\r\n")[1]).toBe('{"message":"431 Request Header Fields Too Large"}');
  });
});

describe("one client cannot hold the server", () => {
  let slow: RunningServer;
  beforeAll(async () => {
    slow = await listen(createApp({ db, logger: (await import("pino")).pino({ level: "silent" }) }), {
      port: 0,
      headersTimeoutMs: 300,
      requestTimeoutMs: 600,
    });
  });
  afterAll(() => slow?.close());

  it("answers 408 and closes the connection of a client too slow to send its headers", async () => {
    // The headers are never finished; the server must give up on its own (the test waits for the close).
    const answer = await rawExchange(slow.url, "GET /api/v4/job HTTP/1.1\r\nHost: x\r\n");
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer.split("\r\n\r\n")[1]).toBe('{"message":"408 Request Timeout"}');
  });

  it("answers 408 to a body that never ends", async () => {
    const answer = await rawExchange(
      slow.url,
      `POST /api/v4/projects/1/jobs/11/play HTTP/1.1\r\nHost: x\r\nPRIVATE-TOKEN: ${T}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("lets a client that keeps uploading a refused body read the 413, then reuse the connection", async () => {
    // The server answers once it has the headers; the body follows only after that answer, so a server
    // that closed the connection on answering would fail the upload (EPIPE/ECONNRESET) or the next request.
    const socket = connect(Number(new URL(server.origin).port), "127.0.0.1");
    let received = "";
    const receivedUntil = (pattern: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(received)) resolve();
        };
        socket.on("data", (chunk: Buffer) => {
          received += chunk.toString("latin1");
          check();
        });
        socket.once("error", reject);
        socket.once("close", () => reject(new Error(`connection closed after: ${received}`)));
        check();
      });
    const refused = receivedUntil(/Too Large"\}$/);
    socket.write(
      `POST /api/v4/projects/1/jobs/11/play HTTP/1.1\r\nHost: x\r\nPRIVATE-TOKEN: ${T}\r\nContent-Type: application/json\r\nContent-Length: 1100000\r\n\r\n`,
    );
    await refused;
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    expect(received).toContain('{"message":"413 Request Entity Too Large"}');

    received = "";
    socket.removeAllListeners();
    const answered = receivedUntil(/^HTTP\/1\.1 200 [\s\S]*"id":8,/);
    socket.write("x".repeat(1_100_000));
    socket.write(`GET /api/v4/projects/1/jobs/8 HTTP/1.1\r\nHost: x\r\nPRIVATE-TOKEN: ${T}\r\n\r\n`);
    await answered;
    socket.destroy();
  });

  it("refuses a body over the limit before reading it (413)", async () => {
    const answer = await rawExchange(
      slow.url,
      `POST /api/v4/projects/1/jobs/11/play HTTP/1.1\r\nHost: x\r\nPRIVATE-TOKEN: ${T}\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\nConnection: close\r\n\r\n{`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('{"message":"413 Request Entity Too Large"}');
  });
});
