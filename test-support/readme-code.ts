import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const rootDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The ```ts blocks of a Markdown text, in order. */
export function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map(([, code = ""]) => code);
}

/**
 * A type-checker of code blocks as if each were a module of a project depending on `packageName`: the blocks
 * live in memory in the package's `test` folder (so `@jobs-api/*` and Node's types resolve as for its tests)
 * and `packageName` maps to the package's source, so no build is needed and what is checked is current.
 * The checker answers one line per diagnostic, `<file>:<line> <message>`, the file named `<name>-<index>.ts`.
 */
export function typeCheckerFor(
  packageDir: string,
  packageName: string,
): (blocks: string[], name?: string) => string[] {
  return (blocks, name = "readme-block") => {
    const config = ts.readConfigFile(join(rootDir, "tsconfig.base.json"), ts.sys.readFile);
    const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, rootDir);
    const compilerOptions: ts.CompilerOptions = {
      ...options,
      noEmit: true,
      composite: false,
      declaration: false,
      declarationMap: false,
      types: ["node"],
      paths: { [packageName]: [join(packageDir, "src/index.ts")] },
    };
    const virtual = new Map(blocks.map((code, i) => [join(packageDir, "test", `${name}-${i}.ts`), code]));
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
  };
}
