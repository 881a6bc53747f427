import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exitCodes, main, type Report } from "../src/index.js";
import { startFaultProxy } from "./fault-proxy.js";
import { referenceForAll } from "./reference.js";

describe("a failure a person can act on", () => {
  const served = referenceForAll("conformance-format-");

  it("shows the value, its path, the item, the rule and a curl, once per root cause", async () => {
    const listed = (await (
      await fetch(`${served.reference.baseUrl}/projects/${served.reference.project}/jobs?per_page=100`, {
        headers: { "private-token": served.reference.token },
      })
    ).json()) as Array<{ id: number }>;
    const target = listed[2]?.id;
    const proxy = await startFaultProxy(served.reference.baseUrl, {
      response(response) {
        if (!response.headers.get("content-type")?.includes("json")) return;
        const body = JSON.parse(response.body) as unknown;
        for (const job of Array.isArray(body) ? body : [body]) {
          if (typeof job === "object" && job !== null && (job as { id?: unknown }).id === target)
            (job as Record<string, unknown>).allow_failure = "false";
        }
        response.body = JSON.stringify(body);
      },
    });
    try {
      const json = join(served.dir, "report.json");
      const junit = join(served.dir, "report.xml");
      const out: string[] = [];
      const code = await main(
        [
          "--base-url",
          proxy.baseUrl,
          "--project",
          served.reference.project,
          "--only",
          "listProjectJobs,getJob",
          "--json",
          json,
          "--junit",
          junit,
        ],
        { out: (t) => out.push(t), err: (t) => out.push(t), env: { GITLAB_TOKEN: served.reference.token } },
      );
      expect(code).toBe(exitCodes.failed);
      const printed = out.join("");
      expect(printed).not.toContain(served.reference.token);
      // The value, its path, the item that holds it (not item 0), the rule, and a curl that reproduces it.
      expect(printed).toContain(
        `value:    /2/allow_failure = "false" in item 2 (id ${target}): must be boolean`,
      );
      expect(printed).toContain(
        `curl:     curl --silent --show-error --include --globoff --header "private-token: \${GITLAB_TOKEN}" "${proxy.baseUrl}/projects/${served.reference.project}/jobs?per_page=100"`,
      );
      expect(printed).toContain("rule:     the spec's listProjectJobs response for status 200");
      // Explained once: later checks with the same cause only name the first.
      expect(printed.match(/value: {4}\/2\/allow_failure/g)).toHaveLength(1);
      expect(printed).toContain("same root cause as listProjectJobs.projectJobsOnly");

      const report = JSON.parse(await readFile(json, "utf8")) as Report;
      const failed = report.results.filter((r) => r.status === "failed");
      expect(report.failureGroups).toHaveLength(1);
      const [group] = report.failureGroups;
      expect(group?.message).toBe("the answer does not match the spec: /allow_failure must be boolean");
      expect(group?.operations).toEqual(["listProjectJobs", "getJob"]);
      expect(group?.checks).toEqual(failed.map((r) => r.id));
      const first = failed[0]?.failure;
      expect(first?.violations).toEqual([
        { path: "/2/allow_failure", value: "false", rule: "must be boolean", item: { index: 2, id: target } },
      ]);
      expect(first?.curl).toContain(`"private-token: \${GITLAB_TOKEN}"`);
      expect(first?.rule).toBe("the spec's listProjectJobs response for status 200");
      expect(printed).toMatch(
        /Failed \(1 root cause\):\n {2}the answer does not match the spec: \/allow_failure must be boolean\n {6}checks: listProjectJobs\.projectJobsOnly, /,
      );

      const xml = await readFile(junit, "utf8");
      expect(xml).toContain(`/2/allow_failure = "false" in item 2 (id ${target}): must be boolean`);
      expect(xml).toContain("curl --silent");
      expect(xml).toContain("rule:     the spec's listProjectJobs response for status 200");
      expect(xml).not.toContain(served.reference.token);
    } finally {
      await proxy.close();
    }
  });
});
