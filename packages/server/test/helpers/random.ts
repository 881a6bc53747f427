/** The seed of a randomised test: fixed by default so runs are repeatable, `random` to explore, a number to replay. */
export function seedFrom(envName: string, fixed: number): number {
  const fromEnv = process.env[envName];
  if (fromEnv === undefined) return fixed;
  return fromEnv === "random" ? Date.now() % 2 ** 31 : Number(fromEnv);
}

/**
 * A seeded generator (mulberry32) for the randomised tests: the seed comes from `seedFrom(envName)`, so a
 * failure can be replayed, and is printed either way.
 */
export function seededRandom(envName: string, label: string) {
  const seed = seedFrom(envName, 20_261_125);
  console.info(`${label}: seed ${seed} (replay: ${envName}=${seed})`);
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return {
    seed,
    next,
    /** An integer in [0, n). */
    below: (n: number) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
  };
}
