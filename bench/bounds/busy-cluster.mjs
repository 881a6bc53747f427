#!/usr/bin/env node
// @ts-check
// The machine's own ceiling for the workers target: N node:cluster processes (as the server's --workers),
// each answering every request after a fixed stretch of CPU work, with no database. Measured 1 against N in
// the same run as the server: what N processes of pure CPU work gain on this machine, load generator and
// all, is the most the server's workers could gain.
//   node bench/bounds/busy-cluster.mjs --port N --workers W --busy-us U
import cluster from "node:cluster";
import { createServer } from "node:http";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { port: { type: "string" }, workers: { type: "string" }, "busy-us": { type: "string" } },
});
const workers = Number(values.workers ?? 1);
const busyUs = Number(values["busy-us"] ?? 250);
/** CPU time, not wall time: a process the scheduler sets aside mid-request must still do all its work. */
const cpuUs = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};
if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on("SIGTERM", () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill("SIGTERM");
    process.exit(0);
  });
} else {
  const body = JSON.stringify({ busy: true });
  const server = createServer((_req, res) => {
    const end = cpuUs() + busyUs;
    while (cpuUs() < end);
    res.writeHead(200, { "content-type": "application/json" }).end(body);
  }).listen(Number(values.port), "127.0.0.1");
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}
