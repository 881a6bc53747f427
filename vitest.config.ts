import { defineConfig } from "vitest/config";
import { PGLITE_V8_FLAGS } from "./packages/server/src/db/pglite-flags.ts";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "openapi/test/**/*.test.ts", "test/**/*.test.ts"],
    // Most test files open PGlite databases: V8 then compiles its WebAssembly when it is hot, not while
    // the first database of each test process is opened and seeded.
    execArgv: [...PGLITE_V8_FLAGS],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: process.env.CI ? ["default", "junit"] : ["default"],
    outputFile: { junit: "test-results/junit.xml" },
  },
});
