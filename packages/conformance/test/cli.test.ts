import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { checks, exitCodes, main, type Report } from "../src/index.js";
import { startFaultProxy } from "./fault-proxy.js";
import { faultCases } from "./faults.js";
import { referenceForAll } from "./reference.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

/** A port on which nothing listens: bound by a server that is then closed. */
async function deadPort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}

describe("jobs-api-conformance usage", () => {
  it("prints help and exits 0", async () => {
    const { io, out } = capture();
    expect(await main(["--help"], io)).toBe(exitCodes.passed);
    expect(out.join("")).toContain("--base-url URL");
  });

  it("documents every option of its help in the README's table", async () => {
    const { io, out } = capture();
    await main(["--help"], io);
    const options = new Set(out.join("").match(/--[a-z][a-z-]+/g));
    const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
    const table = readme.slice(readme.indexOf("### Options"), readme.indexOf("### Preflight"));
    const rows = table.split("\n").filter((line) => line.startsWith("| `"));
    const undocumented = [...options].filter(
      (option) => !rows.some((row) => new RegExp(`\`${option}( [A-Z'][^\`]*)?\``).test(row)),
    );
    expect(options.size).toBeGreaterThan(10);
    expect(undocumented).toEqual([]);
  });

  it("exits 2 with the reason when a required option is missing or unknown", async () => {
    const missing = capture();
    expect(await main(["--token", "t"], missing.io)).toBe(exitCodes.usage);
    expect(missing.err.join("")).toContain("--base-url is required");
    const unknown = capture();
    expect(
      await main(["--base-url", "http://127.0.0.1:1/api/v4", "--token", "t", "--bogus"], unknown.io),
    ).toBe(exitCodes.usage);
    expect(unknown.err.join("")).toContain("--bogus");
  });

  it("lists the checks, only those --only names", async () => {
    const all = capture();
    expect(await main(["--list"], all.io)).toBe(exitCodes.passed);
    expect(all.out.join("").split("\n").filter(Boolean)).toHaveLength(checks.length);
    const some = capture();
    expect(await main(["--list", "--only", "getJob,retryJob.onlyOnce"], some.io)).toBe(exitCodes.passed);
    const listed = some.out.map((line) => line.split(" ")[0]);
    expect(listed).toEqual(
      checks.map((c) => c.id).filter((id) => id.startsWith("getJob.") || id === "retryJob.onlyOnce"),
    );
    const unknown = capture();
    expect(await main(["--list", "--only", "noSuchCheck"], unknown.io)).toBe(exitCodes.usage);
    expect(unknown.err.join("")).toContain("unknown check or operation: noSuchCheck");
  });

  it("exits 2 when nothing listens at the base URL", async () => {
    const port = await deadPort();
    const { io, err } = capture();
    const code = await main(
      ["--base-url", `http://127.0.0.1:${port}/api/v4`, "--token", "t", "--project", "1"],
      io,
    );
    expect(code).toBe(exitCodes.usage);
    expect(err.join("")).toMatch(/connection refused \(nothing is listening/);
  });
});

describe("jobs-api-conformance against the reference server", () => {
  const served = referenceForAll("conformance-cli-");

  const args = () => [
    "--base-url",
    served.reference.baseUrl,
    "--token",
    served.reference.token,
    "--project",
    served.reference.project,
  ];

  it("exits 0 when every check passes, and writes JUnit XML and JSON reports", async () => {
    const junit = join(served.dir, "pass.xml");
    const json = join(served.dir, "pass.json");
    const { io, out } = capture();
    const code = await main(
      [...args(), "--only", "listProjectJobs,getJob", "--junit", junit, "--json", json],
      io,
    );
    expect(out.join(""), out.join("")).not.toContain("FAIL");
    expect(code).toBe(exitCodes.passed);
    const report = JSON.parse(await readFile(json, "utf8")) as Report;
    expect(report.counts.failed).toBe(0);
    expect(report.counts.passed).toBeGreaterThan(10);
    const xml = await readFile(junit, "utf8");
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>/);
    expect(xml).toContain(`tests="${report.counts.total}"`);
    expect(xml).toContain('failures="0"');
    expect(countTags(xml, "testcase")).toBe(report.counts.total);
    expect(XMLValidator.validate(xml)).toBe(true);
  });

  it("exits 1 when a check fails, and the reports say what was sent, expected and received", async () => {
    const fault = faultCases.find((f) => f.name === "wrong order");
    if (!fault) throw new Error("the wrong-order fault is missing");
    const proxy = await startFaultProxy(served.reference.baseUrl, fault.make(served.reference.token));
    try {
      const junit = join(served.dir, "fail.xml");
      const json = join(served.dir, "fail.json");
      const { io, out } = capture();
      const code = await main(
        [
          "--base-url",
          proxy.baseUrl,
          "--token",
          served.reference.token,
          "--project",
          served.reference.project,
          "--only",
          "listProjectJobs.orderNewestFirst,getJob.unknownJob",
          "--junit",
          junit,
          "--json",
          json,
        ],
        io,
      );
      expect(code).toBe(exitCodes.failed);
      const printed = out.join("");
      expect(printed).toContain("FAIL  listProjectJobs.orderNewestFirst");
      expect(printed).toMatch(
        /sent: +GET http:\/\/127\.0\.0\.1:\d+\/api\/v4\/projects\/\d+\/jobs\?per_page=100/,
      );
      expect(printed).toContain("expected: ids strictly descending (newest first)");
      // A failure that breaks GitLab's behaviour, not the schema, names the behaviour as its rule.
      expect(printed).toContain("rule:     orders jobs by id, newest first");
      expect(printed).toMatch(/got: +200 application\/json/);
      expect(printed).not.toContain(served.reference.token);
      const report = JSON.parse(await readFile(json, "utf8")) as Report;
      expect(report.results.map((r) => [r.id, r.status])).toEqual([
        ["listProjectJobs.orderNewestFirst", "failed"],
        ["getJob.unknownJob", "passed"],
      ]);
      const xml = await readFile(junit, "utf8");
      expect(XMLValidator.validate(xml)).toBe(true);
      expect(xml).toContain('failures="1"');
      expect(xml).toMatch(/<failure message="ids in this order: [\d, ]+" type="conformance">/);
      expect(xml).toContain("rule:     orders jobs by id, newest first");
      expect(xml).toContain(`"private-token: \${GITLAB_TOKEN}"`);
      expect(report.results[0]?.failure?.rule).toBe("orders jobs by id, newest first");
      expect(report.results[0]?.failure?.curl).toContain(`"private-token: \${GITLAB_TOKEN}"`);
    } finally {
      await proxy.close();
    }
  });
});

function countTags(xml: string, tag: string): number {
  return xml.match(new RegExp(`<${tag}[\\s>]`, "g"))?.length ?? 0;
}
