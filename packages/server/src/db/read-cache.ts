import type { Database, Queryable, QueryOptions } from "./database.js";

/** Distinct reads kept per data version: the pages and jobs being read at the moment, not the database. */
const MAX_ENTRIES = 2_000;

/**
 * Statements that cannot change data: a plain SELECT (or SHOW) with no write, sequence or locking
 * clause. Anything else counts as a write; a read taken for a write only costs a cache miss.
 */
const READ = /^\s*(?:SELECT|SHOW)\b/i;
const WRITE_WORDS =
  /\b(?:INSERT|UPDATE|DELETE|MERGE|TRUNCATE|INTO|nextval|setval|FOR\s+(?:NO\s+KEY\s+)?(?:UPDATE|SHARE|KEY\s+SHARE))\b/i;

function isRead(sql: string): boolean {
  return READ.test(sql) && !WRITE_WORDS.test(sql);
}

/** Byte columns (`bytea`) cannot be frozen: a typed array with elements refuses `Object.freeze`. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/**
 * The answers of `cache: true` reads, reused until the data changes. For a database only this process
 * writes to (PGlite: one writer per data directory, held by a lock): every write goes through the wrapper,
 * and a data version bumped before and after each one (transaction, script, or statement that is not a
 * plain read) tells whether a cached answer is still the database's. A read is kept only if no write began
 * or ended while it ran, so a page read across a commit is never kept. Cached rows are frozen: a caller that
 * changed one would change every later answer. Only statements whose answer depends on nothing but their
 * parameters and the data may ask for it: no `now()` (durations are computed when the row is sent).
 */
export function withReadCache<D extends Database>(db: D): D {
  let version = 0;
  let writing = 0;
  let cache = new Map<string, unknown[]>();
  let cachedVersion = 0;

  const bump = () => {
    version++;
  };
  async function write<T>(run: () => Promise<T>): Promise<T> {
    writing++;
    bump();
    try {
      return await run();
    } finally {
      bump();
      writing--;
    }
  }

  async function query<T>(sql: string, params: readonly unknown[] = [], options: QueryOptions = {}) {
    if (!isRead(sql)) return write(() => db.query<T>(sql, params, options));
    if (!options.cache || writing > 0) return db.query<T>(sql, params, options);
    if (cachedVersion !== version) {
      cache = new Map();
      cachedVersion = version;
    }
    const key = `${sql}\0${JSON.stringify(params, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))}`;
    const hit = cache.get(key);
    if (hit) return hit as T[];
    const started = version;
    const rows = await db.query<T>(sql, params, options);
    if (version === started && writing === 0 && cachedVersion === started) {
      if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
      cache.set(key, deepFreeze(rows));
    }
    return rows;
  }

  return {
    ...db,
    query,
    exec: (sql: string) => write(() => db.exec(sql)),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) => write(() => db.transaction(fn)),
    close: () => db.close(),
  };
}
