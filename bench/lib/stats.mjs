// @ts-check
// Small statistics helpers. Every reported number is a median over alternating rounds.

export function median(values) {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const mid = Math.floor(xs.length / 2);
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

export function summary(values) {
  const xs = values.filter((v) => Number.isFinite(v));
  return {
    median: median(xs),
    min: xs.length ? Math.min(...xs) : Number.NaN,
    max: xs.length ? Math.max(...xs) : Number.NaN,
    n: xs.length,
    values: xs,
  };
}

/** Median of the per-round ratios a[i] / b[i]: rounds are adjacent in time, so they share the noise. */
export function ratioOfRounds(a, b) {
  const n = Math.min(a.length, b.length);
  const r = [];
  for (let i = 0; i < n; i++) if (b[i] > 0) r.push(a[i] / b[i]);
  return median(r);
}

/** The order of `items` for round `round`: rotated, so every item takes every position in turn. */
export function rotation(items, round) {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export function fmt(value, digits = 2) {
  if (typeof value !== "number") return String(value ?? "");
  if (!Number.isFinite(value)) return "n/a";
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en-US");
  return value.toFixed(digits);
}

/** Appends `value` to the list kept under `key` in `record`. */
export function push(record, key, value) {
  if (!record[key]) record[key] = [];
  record[key].push(value);
}
