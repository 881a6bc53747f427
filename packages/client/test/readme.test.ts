import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const rootDir = resolve(packageDir, "../..");

const readmes = {
  "packages/client/README.md": join(packageDir, "README.md"),
  "README.md": join(rootDir, "README.md"),
};

function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map(([, code = ""]) => code);
}

/**
 * Type-checks code blocks as if each were a module of a project depending on `@jobs-api/client`: the blocks
 * live in memory beside this file (so `@jobs-api/types` and Node's types resolve as for the tests) and
 * `@jobs-api/client` maps to the package's source, so no build is needed and what is checked is current.
 */
function typeCheck(blocks: string[]): string[] {
  const config = ts.readConfigFile(join(rootDir, "tsconfig.base.json"), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, rootDir);
  const compilerOptions: ts.CompilerOptions = {
    ...options,
    noEmit: true,
    composite: false,
    declaration: false,
    declarationMap: false,
    types: ["node"],
    paths: { "@jobs-api/client": [join(packageDir, "src/index.ts")] },
  };
  const virtual = new Map(blocks.map((code, i) => [join(packageDir, "test", `readme-block-${i}.ts`), code]));
  const host = ts.createCompilerHost(compilerOptions);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (file) => virtual.has(file) || fileExists.call(host, file);
  host.readFile = (file) => virtual.get(file) ?? readFile.call(host, file);
  host.getSourceFile = (file, language, ...rest) => {
    const code = virtual.get(file);
    return code === undefined
      ? getSourceFile.call(host, file, language, ...rest)
      : ts.createSourceFile(file, code, language, true);
  };
  const program = ts.createProgram([...virtual.keys()], compilerOptions, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file
      ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`
      : "";
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
  });
}

describe("README code", () => {
  it.each(Object.entries(readmes))("every ```ts block of %s type-checks", (_, path) => {
    const blocks = tsBlocks(readFileSync(path, "utf8"));
    expect(blocks.length).toBeGreaterThan(0);
    expect(typeCheck(blocks)).toEqual([]);
  });

  it("opens with a usage example under ten lines that imports createJobsClient", () => {
    const [example = ""] = tsBlocks(readFileSync(readmes["packages/client/README.md"], "utf8"));
    expect(example).toContain('import { createJobsClient, type Job } from "@jobs-api/client";');
    for (const call of ['paginate("listProjectJobs"', 'scope: ["failed"]', "retryJob(", "followJobTrace("]) {
      expect(example).toContain(call);
    }
    expect(example.trimEnd().split("\n").length).toBeLessThan(10);
  });

  it("catches a type error in a block (the check is not vacuous)", () => {
    const errors = typeCheck([
      'import { createJobsClient } from "@jobs-api/client";\ncreateJobsClient({ baseUrl: 1 });\n',
    ]);
    expect(errors.join("\n")).toMatch(/readme-block-0.ts:2 .*not assignable/);
  });
});
