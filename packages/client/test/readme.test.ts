import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { tsBlocks } from "../../../test-support/readme-code.js";
import { typeCheck } from "./typecheck.js";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const rootDir = resolve(packageDir, "../..");

const readmes = {
  "packages/client/README.md": join(packageDir, "README.md"),
  "README.md": join(rootDir, "README.md"),
  "packages/types/README.md": join(rootDir, "packages/types/README.md"),
};

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
