#!/usr/bin/env node
// @ts-check
// Summarises a V8 .cpuprofile (node --cpu-prof): top functions by self time, and self time by package.
//   node bench/profile.mjs <file.cpuprofile> [top=25]
import { readFileSync } from "node:fs";

export function summariseProfile(profile, top = 25) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dts = profile.timeDeltas ?? [];
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (dts[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0) || 1;
  const frames = new Map();
  const packages = new Map();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const where = url
      ? `${url.replace(/^file:\/\//, "").replace(/^.*\/node_modules\//, "")}:${lineNumber + 1}`
      : "";
    const key = `${functionName || "(anonymous)"} ${where}`.trim();
    frames.set(key, (frames.get(key) ?? 0) + us);
    const pkg = packageOf(url, functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
  }
  const sorted = (m) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: us / total }));
  return { totalMs: total / 1000, frames: sorted(frames), packages: sorted(packages) };
}

function packageOf(url, functionName) {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split("/");
    return rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith("node:")) return "node core";
  const pkg = /\/packages\/([^/]+)\//.exec(url);
  return pkg ? `@jobs-api/${pkg[1]}` : url;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: node bench/profile.mjs <file.cpuprofile> [top]");
    process.exit(2);
  }
  const s = summariseProfile(JSON.parse(readFileSync(file, "utf8")), Number(process.argv[3] ?? 25));
  const pct = (x) => `${(x * 100).toFixed(1)}%`.padStart(6);
  console.log(`total sampled ${s.totalMs.toFixed(0)} ms\n\nself time by package:`);
  for (const p of s.packages.slice(0, 12)) console.log(`${pct(p.share)}  ${p.name}`);
  console.log("\ntop frames by self time:");
  for (const f of s.frames) console.log(`${pct(f.share)}  ${f.name}`);
}
