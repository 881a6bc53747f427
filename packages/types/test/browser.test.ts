import { build } from "esbuild";
import { describe, expect, it } from "vitest";

describe("@jobs-api/types in a browser bundle", () => {
  it("bundles its values for the browser platform without Node modules", async () => {
    const result = await build({
      stdin: {
        contents: `import { jobStatusValues, operationTable, RUNNER_TAG } from "@jobs-api/types";
                   console.log(jobStatusValues.length, operationTable.getJob.path, RUNNER_TAG);`,
        resolveDir: import.meta.dirname,
      },
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
    });
    expect(result.errors).toEqual([]);
    const code = result.outputFiles[0]?.text ?? "";
    expect(code).toContain("/projects/{id}/jobs/{job_id}");
    expect(code).not.toMatch(/node:/);
  });
});
