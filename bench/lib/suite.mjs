// @ts-check
// Suites that run once for each database of --db (validation, scale, soak) and report them together.

/**
 * Runs `suiteOn` for each of `engines` in turn and merges the answers: rows and targets one after the
 * other, every other field by database.
 * @template {{ rows: object[], targets: object[] }} R
 * @param {string[]} engines
 * @param {(engine: string) => Promise<R>} suiteOn
 */
export async function perDatabase(engines, suiteOn) {
  /** @type {{ rows: object[], targets: object[], [field: string]: unknown }} every other field: by database */
  const out = { rows: [], targets: [] };
  for (const engine of engines) {
    const { rows, targets, ...byEngine } = await suiteOn(engine);
    out.rows.push(...rows);
    out.targets.push(...targets);
    for (const [field, value] of Object.entries(byEngine)) {
      const record = /** @type {Record<string, unknown>} */ (out[field] ?? {});
      record[engine] = value;
      out[field] = record;
    }
  }
  return out;
}
