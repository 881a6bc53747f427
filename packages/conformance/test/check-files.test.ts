import { readdir } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import type { CheckDefinition } from "../src/checks/helpers.js";
import { checks } from "../src/index.js";

/**
 * One name per concept: each check lives in the file named after its operationId (its id's prefix), so
 * that `retryJob.onlyOnce` is found in checks/retryJob.ts. Files ending in `helpers` hold what checks share.
 */
describe("the check files", () => {
  it("are named by the operationId of every check they define, and define every check once", async () => {
    const dir = new URL("../src/checks/", import.meta.url);
    const files = (await readdir(dir)).filter((f) => f.endsWith(".ts") && !/helpers\.ts$/.test(f));
    const defined: string[] = [];
    for (const file of files) {
      const operationId = file.replace(/\.ts$/, "");
      const module = (await import(new URL(file, dir).href)) as Record<string, unknown>;
      const exported = Object.values(module).filter(Array.isArray).flat() as CheckDefinition[];
      expect(exported.length, file).toBeGreaterThan(0);
      for (const check of exported) expect(check.id.split(".")[0], file).toBe(operationId);
      defined.push(...exported.map((c) => c.id));
    }
    expect(defined.sort()).toEqual(checks.map((c) => c.id).sort());
  });
});
