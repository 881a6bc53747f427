import { PGlite, parse, protocol } from "@electric-sql/pglite";
import type { Database, QueryOptions } from "./database.js";
import { lockDataDir } from "./lock.js";
import { withReadCache } from "./read-cache.js";
import { statementName } from "./statement-name.js";

export interface PgliteOptions {
  /** A directory for a persistent database, or `memory://` (the default) for an in-memory one. */
  dataDir?: string;
  /** A tarball from `dumpPglite()` to start from instead of running initdb (about 3 s saved). */
  loadDataDir?: Blob;
}

const { serialize } = protocol;

/**
 * PostgreSQL's default 128 MB of shared buffers cost ~45 ms of every start (setting them up in PGlite's
 * WebAssembly memory) and hold a second copy of pages that are in memory already: an in-memory database's
 * files are in this process, a data directory's in the OS page cache, a read away (PGlite reads them
 * through Node's `fs`). 16 MB holds the pages a request touches, even on the benchmark's 1M-job
 * directory (its first and deepest pages answer as fast).
 */
const START_PARAMS = [...PGlite.defaultStartParams, "-c", "shared_buffers=16MB"];

function concat(messages: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(messages.reduce((n, m) => n + m.length, 0));
  let at = 0;
  for (const m of messages) {
    out.set(m, at);
    at += m.length;
  }
  return out;
}

/**
 * PGlite is one single-user PostgreSQL backend: its `transaction()` holds a mutex, so transactions
 * never interleave and row locks are trivially honoured.
 */
export async function openPglite(options: PgliteOptions = {}): Promise<Database & { dump(): Promise<Blob> }> {
  const dataDir = options.dataDir ?? "memory://";
  const inMemory = dataDir.startsWith("memory://");
  // One writer per data directory; an in-memory database is private to its process anyway.
  const unlock = inMemory ? () => {} : lockDataDir(dataDir);
  let pg: PGlite;
  try {
    pg = await PGlite.create({
      dataDir,
      ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
      startParams: START_PARAMS,
    });
    // One writer, whose writes the read cache counts in memory: the shared data version (migration 0004)
    // is not kept, which spares every writing transaction its bump.
    await pg.exec("SET jobs_api.data_version_counted = on");
  } catch (error) {
    unlock();
    throw error;
  }

  /** Parameter type oids of the statements prepared on the backend, by statement name. */
  const prepared = new Map<string, number[]>();

  /**
   * PGlite's `query()` sends Parse of an unnamed statement on every call, so PostgreSQL parses and
   * plans the query every time. A named statement is parsed once; each call then sends only Bind,
   * Describe, Execute and Sync, in one message, as `query()` would send them (same serialisers and
   * parsers). The caller holds PGlite's query lock, and outside a transaction its transaction lock.
   */
  async function runPrepared<T>(sql: string, params: readonly unknown[], inTransaction: boolean) {
    const name = statementName(sql);
    let types = prepared.get(name);
    if (!types) {
      const described = await pg.execProtocol(
        concat([
          serialize.parse({ name, text: sql }),
          serialize.describe({ type: "S", name }),
          serialize.sync(),
        ]),
        { syncToFs: false },
      );
      types = parse.parseDescribeStatementResults(described.messages);
      prepared.set(name, types);
    }
    const oids = types;
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null;
      const oid = oids[i];
      const serializer = oid === undefined ? undefined : pg.serializers[oid];
      return serializer ? serializer(value) : String(value);
    });
    const result = await pg.execProtocol(
      concat([
        serialize.bind({ statement: name, values }),
        serialize.describe({ type: "P" }),
        serialize.execute({}),
        serialize.sync(),
      ]),
      // As `query()`: a statement outside a transaction is persisted at once, inside one at COMMIT.
      { syncToFs: !inTransaction },
    );
    return (parse.parseResults(result.messages, pg.parsers)[0]?.rows ?? []) as T[];
  }

  return withReadCache({
    kind: "pglite",
    async query<T>(sql: string, params: readonly unknown[] = [], options: QueryOptions = {}) {
      if (!options.prepare) return (await pg.query<T>(sql, [...params])).rows;
      // The same two locks `query()` takes: no statement runs inside another caller's transaction.
      return pg._runExclusiveTransaction(() => pg.runExclusive(() => runPrepared<T>(sql, params, false)));
    },
    async exec(sql: string) {
      await pg.exec(sql);
    },
    transaction(fn) {
      return pg.transaction((tx) =>
        fn({
          async query<T>(sql: string, params: readonly unknown[] = [], options: QueryOptions = {}) {
            if (!options.prepare) return (await tx.query<T>(sql, [...params])).rows;
            // This transaction holds the transaction lock already; take the query lock as `tx.query` does.
            return pg.runExclusive(() => runPrepared<T>(sql, params, true));
          },
          async exec(sql: string) {
            await tx.exec(sql);
          },
        }),
      );
    },
    async close() {
      if (!pg.closed) {
        await pg.close();
        unlock();
      }
    },
    dump: () => pg.dumpDataDir("none"),
  });
}
