import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { publint } from "publint";
import { beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const rootDir = resolve(packageDir, "../..");

describe("the published package", () => {
  beforeAll(async () => {
    // What is checked is what would be published: dist, built from the current source (incremental, so cheap).
    await run(process.execPath, [join(rootDir, "node_modules/typescript/bin/tsc"), "-b", packageDir]);
  }, 120_000);

  it("passes publint, suggestions included", async () => {
    const { messages } = await publint({
      pkgDir: packageDir,
      strict: true,
      level: "suggestion",
      pack: "pnpm",
    });
    expect(messages).toEqual([]);
  });

  it("passes arethetypeswrong for an ESM-only package", async () => {
    const attw = join(packageDir, "node_modules/.bin/attw");
    // attw exits non-zero on any problem; execFile then rejects with its report.
    const { stdout } = await run(attw, ["--pack", packageDir, "--profile", "esm-only", "--format", "json"], {
      cwd: packageDir,
    });
    const report = JSON.parse(stdout) as { analysis: { problems: unknown[] } };
    expect(report.analysis.problems.filter((p) => !isIgnoredByProfile(p))).toEqual([]);
  });

  it("imports nothing at run time but openapi-fetch and its own modules (browsers, Node 20+)", () => {
    const dist = join(packageDir, "dist");
    const specifiers = readdirSync(dist)
      .filter((file) => file.endsWith(".js"))
      .flatMap((file) => [
        ...readFileSync(join(dist, file), "utf8").matchAll(/^import .* from "([^"]+)";$/gm),
      ])
      .map(([, specifier]) => specifier);
    expect(new Set(specifiers)).toEqual(
      new Set(["openapi-fetch", "./errors.js", "./pagination.js", "./rate-limit.js", "./retry.js"]),
    );
  });
});

/** The esm-only profile ignores the node10 and node16-from-CJS resolutions: CommonJS consumers are not served. */
function isIgnoredByProfile(problem: unknown): boolean {
  const kind = (problem as { resolutionKind?: string }).resolutionKind;
  return kind === "node10" || kind === "node16-cjs";
}
