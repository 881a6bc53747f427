import { readFileSync } from "node:fs";
import { RUNNER_TAG } from "@jobs-api/types";
import { specPath } from "@jobs-api/types/files";
import { describe, expect, it } from "vitest";
import { typeCheck } from "./typecheck.js";

interface CodeSample {
  lang: string;
  label: string;
  source: string;
}
const spec = JSON.parse(readFileSync(specPath, "utf8")) as {
  paths: Record<
    string,
    Record<string, { operationId: string; tags: string[]; "x-codeSamples"?: CodeSample[] }>
  >;
};
const samples = Object.values(spec.paths)
  .flatMap((item) => Object.values(item))
  // The runner protocol's operations are for runners, not methods of the client.
  .filter((op) => !op.tags.includes(RUNNER_TAG))
  .map((op) => ({
    operationId: op.operationId,
    source: op["x-codeSamples"]?.find((s) => s.lang === "TypeScript")?.source ?? "",
  }));

describe("the docs' TypeScript samples", () => {
  it("exist for every operation and call it with createJobsClient from @jobs-api/client", () => {
    expect(samples).toHaveLength(11);
    for (const { operationId, source } of samples) {
      expect(source, operationId).toContain('import { createJobsClient } from "@jobs-api/client";');
      expect(source, operationId).toContain('baseUrl: "https://gitlab.example.com/api/v4"');
      expect(source, operationId).toContain(`gitlab.${operationId}(`);
    }
  });

  it("type-check as modules of a project depending on @jobs-api/client", () => {
    expect(
      typeCheck(
        samples.map((s) => s.source),
        "code-sample",
      ),
    ).toEqual([]);
  });

  it("fail to type-check when a sample calls the client wrongly (the check is not vacuous)", () => {
    const broken = samples[0]?.source.replace(/id: 1/, "id: { project: 1 }") ?? "";
    expect(broken).not.toBe(samples[0]?.source);
    expect(typeCheck([broken], "code-sample").join("\n")).toMatch(/code-sample-0\.ts:\d+ /);
  });
});
