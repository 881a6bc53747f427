// @ts-check
// Suite 5a: the spec pipeline (lint, bundle, types, docs), timed by scripts/spec.mjs itself.
// It runs a copy of scripts/spec.mjs in a scratch root (openapi/, redocly.yaml and node_modules are
// symlinked), so it measures exactly the project's pipeline without rewriting the committed bundle.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { target } from "../lib/report.mjs";
import { summary } from "../lib/stats.mjs";

const STEPS = ["lint", "bundle", "types", "docs", "total"];

export function parseSpecTimes(output) {
  const times = {};
  for (const line of output.split("\n")) {
    const m = /^(lint|bundle|types|docs|total)\s+([\d.]+) s$/.exec(line.trim());
    if (m) times[m[1]] = Number(m[2]);
  }
  return times;
}

export async function pipelineSuite({ root, rounds, log }) {
  const scratch = mkdtempSync(join(tmpdir(), "jobs-api-bench-spec-"));
  try {
    mkdirSync(join(scratch, "scripts"));
    copyFileSync(join(root, "scripts/spec.mjs"), join(scratch, "scripts/spec.mjs"));
    for (const entry of ["openapi", "node_modules", "redocly.yaml", "package.json"]) {
      symlinkSync(join(root, entry), join(scratch, entry));
    }
    /** @type {Record<string, number[]>} */
    const perStep = Object.fromEntries(STEPS.map((s) => [s, []]));
    for (let round = 0; round < rounds; round++) {
      const output = execFileSync(process.execPath, [join(scratch, "scripts/spec.mjs"), "all"], {
        cwd: scratch,
        encoding: "utf8",
        env: { ...process.env, REDOCLY_TELEMETRY: "off" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const times = parseSpecTimes(output);
      for (const s of STEPS) perStep[s].push(times[s]);
      log(`  pipeline round ${round + 1}: ${STEPS.map((s) => `${s} ${times[s]} s`).join(", ")}`);
    }
    const rows = STEPS.map((s) => ({ name: `spec pipeline: ${s}`, unit: "s", ...summary(perStep[s]) }));
    const total = summary(perStep.total).median;
    return { rows, totalSeconds: total, targets: [target("spec pipeline total (s)", total, "<=", 10)] };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
