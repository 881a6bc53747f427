import type { IncomingMessage, ServerResponse } from "node:http";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { listen, type RunningServer } from "../src/index.js";

const running: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});

/** An app answering with what Express's own request and response prototypes give it. */
function probeApp() {
  const app = express();
  app.get("/probe", (req, res) => {
    res
      .status(201)
      .json({ app: req.app === app, path: req.path, query: req.query, header: req.get("X-Probe") });
  });
  return app;
}

/** The prototypes each request and response had before the app saw them. */
function prototypesOnArrival(server: RunningServer) {
  const seen: [object | null, object | null][] = [];
  server.server.prependListener("request", (req: IncomingMessage, res: ServerResponse) => {
    seen.push([Object.getPrototypeOf(req), Object.getPrototypeOf(res)]);
  });
  return seen;
}

describe("listen", () => {
  it("makes each request and response with the app's prototypes, so Express has none to change", async () => {
    const app = probeApp();
    const server = await listen(app, { port: 0 });
    running.push(server);
    const seen = prototypesOnArrival(server);

    const res = await fetch(`${server.url}/probe?a=1`, { headers: { "X-Probe": "yes" } });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ app: true, path: "/probe", query: { a: "1" }, header: "yes" });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.[0]).toBe(app.request);
    expect(seen[0]?.[1]).toBe(app.response);
  });

  it("serves one app from two servers with the same prototypes", async () => {
    const app = probeApp();
    const first = await listen(app, { port: 0 });
    const second = await listen(app, { port: 0 });
    running.push(first, second);
    const seen = [prototypesOnArrival(first), prototypesOnArrival(second)];

    for (const server of [first, second]) {
      const res = await fetch(`${server.url}/probe`);
      expect(await res.json()).toMatchObject({ app: true, path: "/probe" });
    }
    for (const arrivals of seen) {
      expect(arrivals).toHaveLength(1);
      expect(arrivals[0]?.[0]).toBe(app.request);
      expect(arrivals[0]?.[1]).toBe(app.response);
    }
  });
});
