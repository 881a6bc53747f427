import { PGlite } from "@electric-sql/pglite";
import type { Database } from "./database.js";

export interface PgliteOptions {
  /** A directory for a persistent database, or `memory://` (the default) for an in-memory one. */
  dataDir?: string;
  /** A tarball from `dumpPglite()` to start from instead of running initdb (about 3 s saved). */
  loadDataDir?: Blob;
}

/**
 * PGlite is one single-user PostgreSQL backend: its `transaction()` holds a mutex, so transactions
 * never interleave and row locks are trivially honoured.
 */
export async function openPglite(options: PgliteOptions = {}): Promise<Database & { dump(): Promise<Blob> }> {
  const pg = await PGlite.create({
    dataDir: options.dataDir ?? "memory://",
    ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
  });
  return {
    kind: "pglite",
    async query<T>(sql: string, params: readonly unknown[] = []) {
      return (await pg.query<T>(sql, [...params])).rows;
    },
    async exec(sql: string) {
      await pg.exec(sql);
    },
    transaction(fn) {
      return pg.transaction((tx) =>
        fn({
          async query<T>(sql: string, params: readonly unknown[] = []) {
            return (await tx.query<T>(sql, [...params])).rows;
          },
          async exec(sql: string) {
            await tx.exec(sql);
          },
        }),
      );
    },
    async close() {
      if (!pg.closed) await pg.close();
    },
    dump: () => pg.dumpDataDir("none"),
  };
}
