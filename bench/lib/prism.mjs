// @ts-check
// Prism in mock mode on the bundled spec: what a user would run instead of the reference server.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DEMO_IDS } from "@jobs-api/server";
import { freePort, spawnPinned, waitForHttp } from "./proc.mjs";

const require = createRequire(import.meta.url);

export function prismEntry() {
  const pkg = require.resolve("@stoplight/prism-cli/package.json");
  const { bin } = require(pkg);
  return join(dirname(pkg), typeof bin === "string" ? bin : bin.prism);
}

/** Starts `prism mock <spec>` on 127.0.0.1 with its default options; its per-request logs go to /dev/null. */
export async function startPrism({ spec, cpu, token }) {
  const port = await freePort();
  const started = performance.now();
  const child = spawnPinned(
    cpu,
    process.execPath,
    [prismEntry(), "mock", "-h", "127.0.0.1", "-p", String(port), spec],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitForHttp(`${baseUrl}/projects/${DEMO_IDS.project}/jobs`, 60_000, { "PRIVATE-TOKEN": token });
  return {
    name: "prism",
    kind: "prism",
    child,
    baseUrl,
    headers: { "PRIVATE-TOKEN": token },
    readyMs: performance.now() - started,
  };
}
