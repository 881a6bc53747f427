/**
 * A small HTTP proxy that puts one deliberate fault in front of a server: it forwards each request with
 * fetch and may rewrite the request on the way in and the answer on the way out. The conformance suite
 * is pointed at the proxy and must notice the fault.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export interface ProxiedRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: string | undefined;
}

export interface ProxiedResponse {
  status: number;
  headers: Headers;
  body: string;
}

/** What a fault may ask the real server while rewriting an answer (e.g. a job's log before it is erased). */
export type Upstream = (method: string, path: string, headers: Headers) => Promise<ProxiedResponse>;

export interface Fault {
  request?(request: ProxiedRequest): void;
  response?(response: ProxiedResponse, request: ProxiedRequest, upstream: Upstream): void | Promise<void>;
}

export interface Proxy {
  /** The proxy's API root, standing in for the server's. */
  baseUrl: string;
  close(): Promise<void>;
}

/** Hop-by-hop headers and those fetch has already acted on (it decodes and de-chunks bodies). */
const dropped = [
  "connection",
  "content-length",
  "content-encoding",
  "transfer-encoding",
  "keep-alive",
  "host",
];

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length > 0 ? Buffer.concat(chunks).toString("utf8") : undefined;
}

/**
 * Upstream answers to GET requests, shared by proxies in front of one server whose data does not change:
 * replaying them keeps each fault's run from paying the server's time again.
 */
export type AnswerCache = Map<string, ProxiedResponse>;

export async function startFaultProxy(
  serverBaseUrl: string,
  fault: Fault = {},
  cache?: AnswerCache,
): Promise<Proxy> {
  const upstreamOrigin = new URL(serverBaseUrl).origin;
  let proxyOrigin = "";

  const fetchUpstream = async (request: ProxiedRequest): Promise<ProxiedResponse> => {
    const answer = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body ?? null,
      redirect: "manual",
    });
    const headers = new Headers();
    for (const [name, value] of answer.headers) if (!dropped.includes(name)) headers.set(name, value);
    return { status: answer.status, headers, body: await answer.text() };
  };

  const forward = async (request: ProxiedRequest): Promise<ProxiedResponse> => {
    const credentials = ["private-token", "job-token", "authorization"].map((h) => request.headers.get(h));
    const key = `${request.url.href} ${JSON.stringify(credentials)}`;
    let answer = request.method === "GET" ? cache?.get(key) : undefined;
    if (!answer) {
      answer = await fetchUpstream(request);
      if (request.method === "GET") cache?.set(key, answer);
    }
    // A copy: faults rewrite the answer they are given.
    return { status: answer.status, headers: new Headers(answer.headers), body: answer.body };
  };

  const upstream: Upstream = (method, path, headers) =>
    forward({ method, url: new URL(path, upstreamOrigin), headers, body: undefined });

  const server = createServer(async (req, res) => {
    try {
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (!dropped.includes(name) && typeof value === "string") headers.set(name, value);
      }
      const request: ProxiedRequest = {
        method: req.method ?? "GET",
        url: new URL(req.url ?? "/", upstreamOrigin),
        headers,
        body: await readBody(req),
      };
      fault.request?.(request);
      const response = await forward(request);
      // The server names itself in Link URLs; the client must be sent back to the proxy.
      const link = response.headers.get("link");
      if (link) response.headers.set("link", link.replaceAll(upstreamOrigin, proxyOrigin));
      await fault.response?.(response, request, upstream);
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(response.body);
    } catch (error) {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`fault proxy: ${String(error)}`);
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  proxyOrigin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const basePath = new URL(serverBaseUrl).pathname.replace(/\/+$/, "");
  return {
    baseUrl: `${proxyOrigin}${basePath}`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}
