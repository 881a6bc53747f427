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

/** The answer for each statement text seen: the store's texts are a small set, tested on every query. */
const readTexts = new Map<string, boolean>();
const MAX_TEXTS = 1_000;

function isRead(sql: string): boolean {
  let read = readTexts.get(sql);
  if (read === undefined) {
    read = READ.test(sql) && !WRITE_WORDS.test(sql);
    if (readTexts.size >= MAX_TEXTS) readTexts.clear();
    readTexts.set(sql, read);
  }
  return read;
}

/** Byte columns (`bytea`) cannot be frozen: a typed array with elements refuses `Object.freeze`. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

const withBigints = (_key: string, value: unknown) => (typeof value === "bigint" ? `${value}n` : value);

/**
 * A parameter in a cache key, tagged with its kind so that `1`, `"1"` and `1n` never share an entry. Token
 * digests (bytes) in hex: as JSON a Buffer is an array of numbers, and with a replacer every value goes
 * through a call (the key was 3% of a cached request's samples).
 */
function keyPart(value: unknown): string {
  if (value instanceof Uint8Array) {
    return `x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex")}`;
  }
  if (typeof value === "bigint") return `n${value}`;
  if (typeof value === "object" && value !== null) return `o${JSON.stringify(value, withBigints)}`;
  return `j${JSON.stringify(value)}`;
}

// JSON never holds a raw NUL, so the separators cannot be confused with a parameter's text.
const keyOf = (params: readonly unknown[]) => params.map(keyPart).join("\0");

/**
 * The answers stored under one data version, by statement and then by parameters; a newer version empties
 * it. Two levels, because a statement's text is the same string every time (its hash is computed once),
 * while a key made of text and parameters was a new string of a kilobyte or more to hash on every read.
 */
class Entries {
  private map = new Map<string, Map<string, unknown[]>>();
  private size = 0;
  version = 0;

  /** Makes `version` the current one if it is newer; answers whether it is the current one. */
  at(version: number): boolean {
    if (version > this.version) {
      this.clear();
      this.version = version;
    }
    return version === this.version;
  }

  private clear() {
    this.map = new Map();
    this.size = 0;
  }

  get(sql: string, key: string): unknown[] | undefined {
    return this.map.get(sql)?.get(key);
  }

  set(sql: string, key: string, rows: unknown[]) {
    // Full: start again. The bound is for memory: one version rarely sees this many distinct reads.
    if (this.size >= MAX_ENTRIES) this.clear();
    let bySql = this.map.get(sql);
    if (!bySql) {
      bySql = new Map();
      this.map.set(sql, bySql);
    }
    if (!bySql.has(key)) this.size++;
    bySql.set(key, deepFreeze(rows));
  }
}

export interface ReadCacheOptions {
  /**
   * Reads the data version that every process writing to the database shares (PostgreSQL: the sum of
   * the `data_version` counters, migration 0004). Without it the version is this process's own, which is
   * right only for a database no other process writes to (PGlite: one writer per data directory).
   * `null` (the counters are gone): nothing is cached.
   */
  sharedVersion?: () => Promise<number | null>;
}

/**
 * The answers of `cache: true` reads, reused until the data changes. Cached rows are frozen: a caller that
 * changed one would change every later answer. Only statements whose answer depends on nothing but their
 * parameters and the data may ask for it: no `now()` (durations are computed when the row is sent).
 * Reads inside a transaction are never cached (`transaction` hands `fn` the connection as it is).
 */
export function withReadCache<D extends Database>(db: D, options: ReadCacheOptions = {}): D {
  return options.sharedVersion ? sharedCache(db, options.sharedVersion) : localCache(db);
}

/**
 * For a database only this process writes to: every write goes through the wrapper, and a data version
 * bumped before and after each one (transaction, script, or statement that is not a plain read) tells
 * whether a cached answer is still the database's, without asking the database. A read is kept only if no
 * write began or ended while it ran, so a page read across a commit is never kept.
 */
function localCache<D extends Database>(db: D): D {
  let version = 0;
  let writing = 0;
  const entries = new Entries();

  async function write<T>(run: () => Promise<T>): Promise<T> {
    writing++;
    version++;
    try {
      return await run();
    } finally {
      version++;
      writing--;
    }
  }

  async function query<T>(sql: string, params: readonly unknown[] = [], options: QueryOptions = {}) {
    if (!isRead(sql)) return write(() => db.query<T>(sql, params, options));
    if (!options.cache || writing > 0) return db.query<T>(sql, params, options);
    const started = version;
    entries.at(started);
    const key = keyOf(params);
    const hit = entries.get(sql, key);
    if (hit) return hit as T[];
    const rows = await db.query<T>(sql, params, options);
    if (version === started && writing === 0 && entries.version === started) entries.set(sql, key, rows);
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

const ignore = () => undefined;

/**
 * Shares one call of `read` among the callers that arrive while it is under way, with a condition: a caller
 * is answered only by a call that began after it arrived. A caller arriving while a call runs waits for the
 * next one, which begins when the running one ends, once for every caller that arrived in between. So each
 * answer is one a call of its own would have given (the version read begins after the query asking for it),
 * and a busy process sends one version read per round trip instead of one per cached read.
 */
export function coalesce<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let next: Promise<T> | undefined;
  const begin = () => {
    const call = read();
    running = call;
    const end = () => {
      if (running === call) running = undefined;
    };
    call.then(end, end);
    return call;
  };
  return () => {
    if (!running) return begin();
    if (!next) {
      const ended = running.then(ignore, ignore);
      next = ended.then(() => {
        next = undefined;
        return begin();
      });
    }
    return next;
  };
}

/**
 * For a database other processes write to as well (other workers, other servers, psql): each cached read
 * first reads the shared version (by a read that begins after it; concurrent ones share it, `coalesce`; the
 * reads of one request share one, `forRequest`), and is answered from memory only if the answer was stored
 * under that same version. A write anywhere is seen by the next read, or request, to start after its
 * commit, in any process.
 *
 * Why an answer is never staler than the version it is stored under: the version is read first, by its own
 * statement, and the cached query is sent only once that answer is back. Each runs on its own, outside any
 * transaction (so as under READ COMMITTED, whatever the default isolation): it sees every transaction
 * committed before it began. The version is bumped in the transaction that writes the data, so the query
 * sees at least every write the version counts; a write committed in between makes the answer newer
 * than its version, never older. A later read that finds a newer version ignores it; one that read the same
 * version before that write committed may get the newer answer, which it could have got from the database
 * too (its request overlaps the write). Reading the version after the query instead could store data
 * older than the version under it, and serve that stale answer until the next write.
 */
function sharedCache<D extends Database>(db: D, readVersion: () => Promise<number | null>): D {
  const entries = new Entries();
  const sharedVersion = coalesce(readVersion);

  async function cached<T>(
    sql: string,
    params: readonly unknown[],
    options: QueryOptions,
    version: () => Promise<number | null>,
  ): Promise<T[]> {
    if (!options.cache || !isRead(sql)) return db.query<T>(sql, params, options);
    const at = await version();
    // An older version than the one stored (a read that began before another's) neither uses nor stores.
    if (at === null || !entries.at(at)) return db.query<T>(sql, params, options);
    const key = keyOf(params);
    const hit = entries.get(sql, key);
    if (hit) return hit as T[];
    const rows = await db.query<T>(sql, params, options);
    if (entries.version === at) entries.set(sql, key, rows);
    return rows;
  }

  /**
   * One request's reads share the version read of the first that asks. It began after the request arrived,
   * which is all a read needs: every write acknowledged before the request is counted. A write through the
   * view forgets it once the write is done, so that the request's later reads see its own write.
   */
  function forRequest(): Queryable {
    let version: Promise<number | null> | undefined;
    const once = () => {
      version ??= sharedVersion();
      return version;
    };
    const forget = () => {
      version = undefined;
    };
    return {
      query: <T>(sql: string, params: readonly unknown[] = [], options: QueryOptions = {}) =>
        isRead(sql)
          ? cached<T>(sql, params, options, once)
          : db.query<T>(sql, params, options).finally(forget),
      exec: (sql: string) => db.exec(sql).finally(forget),
    };
  }

  return {
    ...db,
    query: <T>(sql: string, params: readonly unknown[] = [], options: QueryOptions = {}) =>
      cached<T>(sql, params, options, sharedVersion),
    forRequest,
  };
}
