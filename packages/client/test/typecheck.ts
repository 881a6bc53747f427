import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const rootDir = resolve(packageDir, "../..");

/**
 * Type-checks code blocks as if each were a module of a project depending on `@jobs-api/client`: the blocks
 * live in memory beside this file (so `@jobs-api/types` and Node's types resolve as for the tests) and
 * `@jobs-api/client` maps to the package's source, so no build is needed and what is checked is current.
 */
export function typeCheck(blocks: string[], name = "readme-block"): string[] {
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
}
