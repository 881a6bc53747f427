import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checks, runConformance } from "../src/index.js";
import { type AnswerCache, startFaultProxy } from "./fault-proxy.js";
import { faultCases, toleratedCases } from "./faults.js";
import { type Reference, startReference } from "./reference.js";

/**
 * Each fault is put in front of the reference server and the suite is run through it. Faults of reads
 * are run with every read-only check against one shared server, whose data those checks never change,
 * so its answers are replayed from a cache. Faults of the actions are run with the action checks
 * (destructive) against a fresh server each.
 */
const actions = ["cancelJob", "retryJob", "playJob", "eraseJob"];

describe("faults injected in front of the reference server", () => {
  let shared: Reference;
  const cache: AnswerCache = new Map();
  beforeAll(async () => {
    shared = await startReference();
  });
  afterAll(async () => {
    await shared?.close();
  });

  it("has at least twelve different faults, each caught by some check", () => {
    expect(new Set(faultCases.map((f) => f.name)).size).toBe(faultCases.length);
    expect(faultCases.length).toBeGreaterThanOrEqual(12);
    for (const f of faultCases) expect(f.caughtBy, f.name).not.toEqual([]);
  });

  it("is counted right in the README", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8").replace(/\s+/g, " ");
    expect(/has (\d+) checks/.exec(readme)?.[1]).toBe(String(checks.length));
    expect(/put (\d+) different faults/.exec(readme)?.[1]).toBe(String(faultCases.length));
    expect(/and (\d+) variations/.exec(readme)?.[1]).toBe(String(toleratedCases.length));
  });

  it("passes through the proxy when it injects nothing", async () => {
    const proxy = await startFaultProxy(shared.baseUrl, {}, cache);
    try {
      const report = await runConformance({ ...options(shared), baseUrl: proxy.baseUrl });
      expect(report.results.filter((r) => r.status === "failed").map((r) => r.id)).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  for (const variation of toleratedCases) {
    it(`passes "${variation.name}": ${variation.what}`, async () => {
      const reference = variation.destructive ? await startReference() : shared;
      const proxy = await startFaultProxy(
        reference.baseUrl,
        variation.make(reference.token),
        variation.destructive ? undefined : cache,
      );
      try {
        const report = await runConformance({
          ...options(reference),
          baseUrl: proxy.baseUrl,
          destructive: variation.destructive,
          ...(variation.destructive ? { only: actions } : {}),
        });
        const failed = report.results
          .filter((r) => r.status === "failed")
          .map((r) => `${r.id}: ${JSON.stringify(r.failure)}`);
        expect(failed).toEqual([]);
        const passed = report.results.filter((r) => r.status === "passed").map((r) => r.id);
        expect(variation.exercises.filter((id) => !passed.includes(id))).toEqual([]);
      } finally {
        await proxy.close();
        if (reference !== shared) await reference.close();
      }
    });
  }

  for (const fault of faultCases) {
    it(`catches "${fault.name}": ${fault.what}`, async () => {
      const reference = fault.destructive ? await startReference() : shared;
      const proxy = await startFaultProxy(
        reference.baseUrl,
        fault.make(reference.token),
        fault.destructive ? undefined : cache,
      );
      try {
        const report = await runConformance({
          ...options(reference),
          baseUrl: proxy.baseUrl,
          destructive: fault.destructive,
          ...(fault.destructive ? { only: actions } : {}),
        });
        const failed = report.results.filter((r) => r.status === "failed").map((r) => r.id);
        expect(failed).toEqual(fault.caughtBy);
      } finally {
        await proxy.close();
        if (reference !== shared) await reference.close();
      }
    });
  }
});

function options(reference: Reference) {
  return {
    baseUrl: reference.baseUrl,
    token: reference.token,
    jobToken: reference.jobToken,
    project: reference.project,
  };
}
