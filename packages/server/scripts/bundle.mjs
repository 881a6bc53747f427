#!/usr/bin/env node
// Two ES modules bundled by esbuild from what `tsc -b` emitted, each with its linked source map:
//
// - dist/bundle/cli.js, the `jobs-api-server` command (dist/cli.js and its imports). Node resolves, reads
//   and compiles each of the ~580 module files the CLI loads one by one (express ~70 ms of imports,
//   express-openapi-validator ~55 ms); from one file, the server on an existing data directory, pinned to
//   one core, answered its first request in ~0.64 s instead of ~0.77 s. Left outside: PGlite (it reads its
//   .wasm and .data next to its own files), @jobs-api/types (it reads spec/openapi.json next to its own),
//   and what is optional or loaded only when asked (pg-native, pino-pretty).
// - dist/bundle/index.js, the library (createApp, startDouble, …): the package's own modules and
//   express-openapi-validator with its dependencies, every other dependency left to the installation. The
//   patch of express-openapi-validator (patches/) is applied by this workspace's pnpm only: a project that
//   installs the package gets the registry's copy, so the library carries the patched one itself, as the
//   CLI does. Its other dependencies (express, ajv, …) stay shared with the user's.
//
// The server's own paths relative to `import.meta.url` (`../../fixtures/…`, `../../migrations/`,
// `../../docs/`) are two levels up from dist/<dir>/<file>.js: the bundles are two levels down too, so they
// resolve to the same files.
//
// Run after `tsc -b` (the package's and the repository's `build`, `prepack`, `pnpm start`, the tests that
// spawn the CLI). Like `tsc -b`, it does nothing for a bundle newer than every file it was built from.
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const manifest = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"));
/** esbuild's list of the files a bundle was built from, relative to packageDir, for the next run. */
const inputsFileOf = (name) =>
  join(packageDir, `node_modules/.cache/jobs-api-server/bundle-inputs-${name}.json`);

const bundles = [
  {
    name: "cli",
    entry: "dist/cli.js",
    external: ["@electric-sql/pglite", "@jobs-api/types", "pg-native", "pino-pretty"],
    executable: true,
  },
  {
    name: "index",
    entry: "dist/index.js",
    // A package named here is external with its subpaths (`ajv/dist/…`): the patched validator's Ajv,
    // ajv-formats' and the server's are one copy, whose code objects they share.
    external: Object.keys(manifest.dependencies).filter((name) => name !== "express-openapi-validator"),
    executable: false,
  },
];

/** Modification time in ms, 0 when the file is missing. */
const mtime = (file) => statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0;

function upToDate({ name }) {
  const built = mtime(outfileOf(name));
  const inputsFile = inputsFileOf(name);
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

const outfileOf = (name) => join(packageDir, `dist/bundle/${name}.js`);

function writeAtomically(file, contents, executable = false) {
  const partial = `${file}.${process.pid}`;
  writeFileSync(partial, contents);
  if (executable) chmodSync(partial, 0o755);
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

for (const bundle of bundles.filter((b) => !upToDate(b))) {
  const { build } = await import("esbuild");
  const outfile = outfileOf(bundle.name);
  const result = await build({
    absWorkingDir: packageDir,
    entryPoints: [bundle.entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: bundle.external,
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
  for (const output of outputs)
    writeAtomically(output.path, output.contents, bundle.executable && output.path === outfile);
  const inputsFile = inputsFileOf(bundle.name);
  mkdirSync(dirname(inputsFile), { recursive: true });
  writeAtomically(inputsFile, JSON.stringify(Object.keys(result.metafile.inputs)));
}
