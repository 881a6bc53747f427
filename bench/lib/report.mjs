// @ts-check
// Plain-text tables of the results, and the JSON document written to bench/results/.
import { fmt } from "./stats.mjs";

export function table(headers, rows) {
  const cells = [headers, ...rows.map((r) => r.map((c) => String(c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

export function resultsTable(rows) {
  return table(
    ["measurement", "median", "min", "max", "unit", "rounds"],
    rows.map((r) => [r.name, fmt(r.median), fmt(r.min), fmt(r.max), r.unit, String(r.n)]),
  );
}

export function target(name, value, op, threshold, detail = "") {
  const met = Number.isFinite(value) ? (op === ">=" ? value >= threshold : value <= threshold) : null;
  return { name, value, op, threshold, met, detail };
}

export function targetsTable(targets) {
  return table(
    ["target", "value", "needed", "met"],
    targets.map((t) => [
      t.name,
      fmt(t.value),
      `${t.op} ${t.threshold}`,
      t.met === null ? "n/a" : t.met ? "yes" : "NO",
    ]),
  );
}
