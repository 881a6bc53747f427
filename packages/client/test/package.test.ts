import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { publint } from "publint";
import ts from "typescript";
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

  it("type-checks in a consumer with target ES2020, strict and no skipLibCheck", () => {
    // A module of a project that depends on the package: `@jobs-api/client` resolves, by the package's own
    // name and exports, to the built declarations; lib is ES2020's default (with DOM), no @types/node.
    const consumer = join(packageDir, "test", "es2020-consumer.ts");
    const code = `
      import { createJobsClient, JobsApiError, JobsApiNetworkError } from "@jobs-api/client";
      const gitlab = createJobsClient({ baseUrl: "https://gitlab.example.com/api/v4", retry: { maxRetries: 3 } });
      export async function main(): Promise<void> {
        try {
          for await (const job of gitlab.paginate("listProjectJobs", { id: 1 })) console.log(job.id);
        } catch (error) {
          if (error instanceof JobsApiError) console.log(error.status, error.retryAt?.toISOString());
          if (error instanceof JobsApiNetworkError) console.log(error.code, error.cause);
        }
      }
    `;
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2020,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      skipLibCheck: false,
      noEmit: true,
      types: [],
    };
    const host = ts.createCompilerHost(options);
    const { fileExists, readFile } = host;
    host.fileExists = (file) => file === consumer || fileExists.call(host, file);
    host.readFile = (file) => (file === consumer ? code : readFile.call(host, file));
    const program = ts.createProgram([consumer], options, host);
    const loaded = program.getSourceFiles().map((file) => file.fileName);
    expect(loaded).toContain(join(packageDir, "dist", "errors.d.ts"));
    const errors = ts
      .getPreEmitDiagnostics(program)
      .map((d) => `${d.file?.fileName ?? ""} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
    expect(errors).toEqual([]);
  });

  it("ships the sources its source maps point to", async () => {
    const { stdout } = await run("pnpm", ["pack", "--dry-run", "--json"], { cwd: packageDir });
    const packed = new Set(
      (JSON.parse(stdout) as { files: { path: string }[] }).files.map((file) => file.path),
    );
    const maps = [...packed].filter((path) => path.endsWith(".map"));
    expect(maps.length).toBeGreaterThan(0);
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(packageDir, map), "utf8")) as { sources: string[] };
      for (const source of sources) expect(packed).toContain(join(dirname(map), source));
    }
  });
});

/** The esm-only profile ignores the node10 and node16-from-CJS resolutions: CommonJS consumers are not served. */
function isIgnoredByProfile(problem: unknown): boolean {
  const kind = (problem as { resolutionKind?: string }).resolutionKind;
  return kind === "node10" || kind === "node16-cjs";
}
