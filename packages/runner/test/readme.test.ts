import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it, vi } from "vitest";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const rootDir = resolve(packageDir, "../..");
const readme = readFileSync(join(packageDir, "README.md"), "utf8");
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map(([, code = ""]) => code);

/**
 * Type-checks code blocks as modules of a project depending on the packages: `@jobs-api/runner` maps to
 * this package's source, the others resolve as for the tests.
 */
function typeCheck(code: string[]): string[] {
  const config = ts.readConfigFile(join(rootDir, "tsconfig.base.json"), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, rootDir);
  const compilerOptions: ts.CompilerOptions = {
    ...options,
    noEmit: true,
    composite: false,
    declaration: false,
    declarationMap: false,
    types: ["node"],
    paths: { "@jobs-api/runner": [join(packageDir, "src/index.ts")] },
  };
  const virtual = new Map(code.map((text, i) => [join(packageDir, "test", `readme-block-${i}.ts`), text]));
  const host = ts.createCompilerHost(compilerOptions);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (file) => virtual.has(file) || fileExists.call(host, file);
  host.readFile = (file) => virtual.get(file) ?? readFile.call(host, file);
  host.getSourceFile = (file, language, ...rest) => {
    const text = virtual.get(file);
    return text === undefined
      ? getSourceFile.call(host, file, language, ...rest)
      : ts.createSourceFile(file, text, language, true);
  };
  const program = ts.createProgram([...virtual.keys()], compilerOptions, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file
      ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`
      : "";
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
  });
}

describe("packages/runner/README.md", () => {
  it("has code blocks that type-check", () => {
    expect(blocks.length).toBeGreaterThan(1);
    expect(typeCheck(blocks)).toEqual([]);
  });

  it("catches a type error in a block (the check is not vacuous)", () => {
    const errors = typeCheck([
      'import { startRunner } from "@jobs-api/runner";\nawait startRunner({ url: 1 });\n',
    ]);
    expect(errors.join("\n")).toMatch(/readme-block-0.ts:2 .*not assignable/);
  });

  it("runs the GitLab double example: the followed log, then the failed job", async () => {
    const [example = ""] = blocks;
    expect(example).toContain("startDouble(");
    // Written beside the tests so that its imports resolve as this package's do; `@jobs-api/runner` is the source.
    const file = join(packageDir, "test", `.readme-example-${process.pid}.ts`);
    writeFileSync(file, example.replace('from "@jobs-api/runner"', 'from "../src/index.js"'));
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      await import(file);
      expect(log.mock.calls).toEqual([[true, "failed", "script_failure"]]);
    } finally {
      log.mockRestore();
      rmSync(file, { force: true });
    }
  });
});
