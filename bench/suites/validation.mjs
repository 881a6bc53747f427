// Suites 1 and 2: listProjectJobs (20 a page) and getJob on the reference server with full validation,
// with response validation off, with request logs off, and on Prism's mock of the same bundled spec.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pgliteDataset } from "../lib/dataset.mjs";
import { checkRun, load } from "../lib/load.mjs";
import { startPrism } from "../lib/prism.mjs";
import { stop } from "../lib/proc.mjs";
import { target } from "../lib/report.mjs";
import { startServer } from "../lib/servers.mjs";
import { push, ratioOfRounds, rotation, summary } from "../lib/stats.mjs";

export async function validationSuite({ options, root, cpu, log, profileDir }) {
  // The server's only validation switch is --no-response-validation: request validation also coerces and
  // defaults the parameters the handlers rely on, so it cannot be turned off. The third variant shows
  // what the per-request log line costs (--log-level warn).
  const variants = [
    { name: "full validation", validation: "full" },
    { name: "responses unvalidated", validation: "requests" },
    { name: "full, request logs off", validation: "full", logLevel: "warn" },
  ];
  // Each server gets its own copy of a prepared demo database: opening a data dir takes about 1 s, while a
  // fresh in-memory database takes 3 s of initdb and seeding per server.
  const demo = await pgliteDataset({ root, n: 0, log });
  const scratch = mkdtempSync(join(tmpdir(), "jobs-api-bench-validation-"));
  const dirs = variants.map((_, i) => {
    const dir = join(scratch, String(i));
    cpSync(demo.dataDir, dir, { recursive: true });
    return dir;
  });
  const started = await Promise.all([
    ...variants.map((v) =>
      startServer({
        label: v.name,
        cpu: cpu.server,
        validation: v.validation,
        logLevel: v.logLevel,
        db: { dataDir: dirs[variants.indexOf(v)] },
        profileDir,
      }),
    ),
    startPrism({ spec: join(root, "packages/types/spec/openapi.json"), cpu: cpu.server, token: "bench" }),
  ]);
  const targets = started.map((s, i) => ({ ...s, name: variants[i]?.name ?? "prism" }));
  try {
    const server = targets[0];
    const requests = [
      { op: "listProjectJobs", path: `/projects/${server.project}/jobs?per_page=20`, items: 20 },
      { op: "getJob", path: `/projects/${server.project}/jobs/${server.jobId}` },
    ];
    // Correctness first: every target answers 200 with the expected shape before anything is timed.
    const shapes = {};
    for (const t of targets) {
      for (const r of requests) {
        const res = await fetch(urlOf(t, r), { headers: t.headers });
        const body = await res.json();
        if (res.status !== 200)
          throw new Error(`${t.name} ${r.op}: HTTP ${res.status} ${JSON.stringify(body)}`);
        const items = Array.isArray(body) ? body.length : null;
        if (r.items && t.kind === "server" && items !== r.items) {
          throw new Error(`${t.name} ${r.op}: ${items} items, expected ${r.items}`);
        }
        shapes[`${t.name} ${r.op}`] = { items, bytes: JSON.stringify(body).length };
      }
    }
    log(`  response shapes: ${JSON.stringify(shapes)}`);

    for (const r of requests) {
      for (const t of targets)
        await load({
          url: urlOf(t, r),
          headers: t.headers,
          connections: options.connections,
          duration: options.warmup,
        });
    }
    const rps = {};
    const lat = {};
    for (let round = 0; round < options.rounds; round++) {
      for (const r of requests) {
        for (const t of rotation(targets, round)) {
          const key = `${r.op} ${t.name}`;
          const run = checkRun(
            await load({
              url: urlOf(t, r),
              headers: t.headers,
              connections: options.connections,
              duration: options.duration,
            }),
            key,
          );
          push(rps, key, run.rps);
          push(lat, key, run.latencyP99);
        }
      }
      log(
        `  round ${round + 1}: ${Object.entries(rps)
          .map(([k, v]) => `${k} ${Math.round(v.at(-1))}`)
          .join(", ")}`,
      );
    }
    const rows = [];
    for (const r of requests) {
      for (const t of targets) {
        const key = `${r.op} ${t.name}`;
        rows.push({ name: `${key} (${options.connections} conn)`, unit: "req/s", ...summary(rps[key]) });
        rows.push({ name: `${key} p99 latency`, unit: "ms", ...summary(lat[key]) });
      }
    }
    const ratios = {};
    for (const r of requests) {
      const full = rps[`${r.op} full validation`];
      ratios[`${r.op} full / responses unvalidated`] = ratioOfRounds(
        full,
        rps[`${r.op} responses unvalidated`],
      );
      ratios[`${r.op} full / full without request logs`] = ratioOfRounds(
        full,
        rps[`${r.op} full, request logs off`],
      );
      ratios[`${r.op} full / prism`] = ratioOfRounds(full, rps[`${r.op} prism`]);
    }
    for (const [name, value] of Object.entries(ratios))
      rows.push({ name: `ratio ${name}`, unit: "×", ...summary([value]) });
    return {
      rows,
      ratios,
      shapes,
      perRound: { rps, p99: lat },
      targets: [
        target("list: full validation / Prism", ratios["listProjectJobs full / prism"], ">=", 2),
        target(
          "list: full validation / validation off",
          ratios["listProjectJobs full / responses unvalidated"],
          ">=",
          0.85,
        ),
        target(
          "get: full validation / validation off",
          ratios["getJob full / responses unvalidated"],
          ">=",
          0.85,
        ),
      ],
    };
  } finally {
    await Promise.all(targets.map((t) => stop(t.child)));
    rmSync(scratch, { recursive: true, force: true });
  }
}

function urlOf(t, r) {
  return `${t.baseUrl}${r.path}`;
}
