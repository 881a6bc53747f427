// @ts-check
// Suite 4: the client's per-call overhead against raw fetch + res.json() on the same server and requests,
// interleaved in alternating time blocks in one process; plus the same loop against an in-process canned
// fetch, which isolates the client's own CPU cost per call.
import { join } from "node:path";
import { spawnPinned, stop, waitForMessage } from "../lib/proc.mjs";
import { target } from "../lib/report.mjs";
import { startServer } from "../lib/servers.mjs";
import { ratioOfRounds, summary } from "../lib/stats.mjs";

export async function clientSuite({ options, here, cpu, log, profileDir }) {
  const server = await startServer({ label: "client suite", cpu: cpu.server, db: {}, profileDir });
  try {
    const rows = [];
    const targets = [];
    const perRound = {};
    for (const canned of [false, true]) {
      const mode = canned ? "canned fetch (client CPU only)" : "HTTP to the server";
      const args = {
        baseUrl: server.baseUrl,
        token: server.headers["PRIVATE-TOKEN"],
        project: server.project,
        jobId: server.jobId,
        seconds: canned ? Math.min(options.duration, 1) : options.duration,
        warmup: canned ? Math.min(options.warmup, 0.5) : options.warmup,
        rounds: options.rounds,
        canned,
      };
      const child = spawnPinned(
        cpu.load,
        process.execPath,
        [join(here, "lib/client-child.mjs"), JSON.stringify(args)],
        {
          stdio: ["ignore", "pipe", "pipe"],
          cwd: here,
        },
      );
      const result = await waitForMessage(child, "RESULT ", 600_000, "client bench");
      await stop(child);
      perRound[mode] = result;
      for (const [op, byVariant] of Object.entries(result)) {
        for (const [variant, us] of Object.entries(byVariant)) {
          rows.push({ name: `${op} via ${variant}, ${mode}`, unit: "µs/call", ...summary(us) });
        }
        const ratio = ratioOfRounds(byVariant.client, byVariant["raw fetch"]);
        rows.push({ name: `ratio ${op} client / raw fetch, ${mode}`, unit: "×", ...summary([ratio]) });
        if (!canned) targets.push(target(`client overhead ${op} (client / raw fetch)`, ratio, "<=", 1.1));
      }
      log(
        `  ${mode}: ${JSON.stringify(Object.fromEntries(Object.entries(result).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([a, b]) => [a, Math.round(summary(b).median)]))])))}`,
      );
    }
    return { rows, targets, perRound };
  } finally {
    await stop(server.child);
  }
}
