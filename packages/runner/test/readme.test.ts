import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { tsBlocks, typeCheckerFor } from "../../../test-support/readme-code.js";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const readme = readFileSync(join(packageDir, "README.md"), "utf8");
const blocks = tsBlocks(readme);

/** Code blocks type-checked as modules of a project depending on `@jobs-api/runner` (this package's source). */
const typeCheck = typeCheckerFor(packageDir, "@jobs-api/runner");

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
