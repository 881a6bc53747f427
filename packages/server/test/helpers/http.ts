import { Agent, request } from "node:http";
import type { Exchange } from "./spec.js";

export interface RawRequest {
  method: string;
  /** Sent as is: may hold raw `%`, latin-1 bytes and anything else `fetch` would normalise away. */
  target: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/**
 * One request over node:http, without the URL normalisation of `fetch` (no dot-segment removal, no
 * re-encoding), so that the server sees exactly the hostile target. Keep-alive connections are reused,
 * as a real client's would be.
 */
export function sendRaw(origin: string, req: RawRequest, agent: Agent): Promise<Exchange> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    // Node's client sends a DELETE's (or OPTIONS') body without a length unless told one: the server would
    // then read the body as the next request on the connection.
    const headers =
      req.body === undefined ||
      Object.keys(req.headers ?? {}).some((h) => h.toLowerCase() === "content-length")
        ? (req.headers ?? {})
        : { ...req.headers, "Content-Length": String(Buffer.byteLength(req.body)) };
    const r = request(
      { host: hostname, port, method: req.method, path: req.target, headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            method: req.method,
            target: req.target,
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    r.on("error", reject);
    r.end(req.body);
  });
}

export const keepAliveAgent = () => new Agent({ keepAlive: true, maxSockets: 64 });
