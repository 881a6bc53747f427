#!/usr/bin/env node
// The `jobs-api-server` command as one ES module, dist/bundle/cli.js (and its linked source map), bundled by
// esbuild from what `tsc -b` emitted (dist/cli.js and its imports). Why: Node resolves, reads and compiles
// each of the ~580 module files the CLI loads one by one (express ~70 ms of imports, express-openapi-validator
// ~55 ms); from one file, the server on an existing data directory, pinned to one core, answered its first
// request in ~0.64 s instead of ~0.77 s. The library (dist/index.js: createApp, startDouble, …) stays unbundled.
//
// Left outside the bundle, loaded from node_modules as before: PGlite (it reads its .wasm and .data next to
// its own files), @jobs-api/types (it reads spec/openapi.json next to its own), and what is optional or
// loaded only when asked (pg-native, pino-pretty). The server's own paths relative to `import.meta.url`
// (`../../fixtures/…`, `../../migrations/`, `../../docs/`) are two levels up from dist/<dir>/<file>.js: the
// bundle is two levels down too, so they resolve to the same files.
//
// Run after `tsc -b` (the package's and the repository's `build`, `prepack`, `pnpm start`, the tests that
// spawn the CLI). Like `tsc -b`, it does nothing when the bundle is newer than every file it was built from.
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = join(packageDir, "dist/bundle/cli.js");
// esbuild's list of the files it read, relative to packageDir: what the next run compares the bundle with.
const inputsFile = join(packageDir, "node_modules/.cache/jobs-api-server/bundle-inputs.json");

/** Modification time in ms, 0 when the file is missing. */
const mtime = (file) => statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0;

function upToDate() {
  const built = mtime(outfile);
  const inputs = mtime(inputsFile) > 0 ? JSON.parse(readFileSync(inputsFile, "utf8")) : null;
  if (built === 0 || !inputs) return false;
  // This script; the package's node_modules (its links change when a dependency is added, removed or
  // installed at another version); every input, which must still exist (an input gone means a dependency
  // moved: pnpm's paths carry the version).
  const files = [fileURLToPath(import.meta.url), join(packageDir, "node_modules"), ...inputs];
  return files.every((file) => {
    const time = mtime(resolve(packageDir, file));
    return time > 0 && time <= built;
  });
}

function writeAtomically(file, contents) {
  const partial = `${file}.${process.pid}`;
  writeFileSync(partial, contents);
  if (file === outfile) chmodSync(partial, 0o755);
  renameSync(partial, file);
}

/**
 * JSON files (mime-db's 190 KB table of media types, which express loads at start, and those of
 * dependencies loaded only when asked) as one string that `JSON.parse` reads, not as an object literal:
 * V8 scans a string literal much faster than it parses a literal of that size, and `JSON.parse` builds the
 * object faster than the literal's code.
 */
const jsonAsParse = {
  name: "json-as-parse",
  setup(build) {
    build.onLoad({ filter: /\.json$/ }, (args) => {
      const text = JSON.stringify(JSON.parse(readFileSync(args.path, "utf8")));
      return { contents: `module.exports = JSON.parse(${JSON.stringify(text)});`, loader: "js" };
    });
  },
};

if (!upToDate()) {
  const { build } = await import("esbuild");
  const result = await build({
    absWorkingDir: packageDir,
    entryPoints: ["dist/cli.js"],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["@electric-sql/pglite", "@jobs-api/types", "pg-native", "pino-pretty"],
    // CommonJS dependencies (express and most of its) call require(): in an ES module it is not defined.
    banner: {
      js: 'import { createRequire } from "node:module";\nconst require = createRequire(import.meta.url);',
    },
    // Read only under `node --enable-source-maps` (not the default: it costs start time), through tsc's own
    // maps back to src/*.ts. Positions only: with the sources' text the map was 5.3 MB instead of 1.8 MB.
    sourcemap: "linked",
    sourcesContent: false,
    metafile: true,
    write: false,
    plugins: [jsonAsParse],
    logLevel: "warning",
  });
  // Test files run in parallel may build at once while others start the CLI: each file is written under a
  // name of its own and renamed over the last (atomic), the map before the code that names it.
  mkdirSync(dirname(outfile), { recursive: true });
  const outputs = result.outputFiles.sort((a, b) => Number(a.path === outfile) - Number(b.path === outfile));
  for (const output of outputs) writeAtomically(output.path, output.contents);
  mkdirSync(dirname(inputsFile), { recursive: true });
  writeAtomically(inputsFile, JSON.stringify(Object.keys(result.metafile.inputs)));
}
