import pg from "pg";
import type { Database, Queryable, QueryOptions } from "./database.js";
import { statementName } from "./statement-name.js";

const INT8_OID = 20;
/** SQLSTATEs after which PostgreSQL asks the client to run the transaction again. */
const RETRYABLE = new Set(["40001", "40P01"]);
const MAX_ATTEMPTS = 5;

export interface PostgresOptions {
  connectionString: string;
  /** Pool size; several server processes may share one database, so keep it modest. */
  max?: number;
  /** Told when an idle connection is lost (the pool replaces it); by default such errors are dropped. */
  onConnectionError?: (error: Error) => void;
}

/** Ids are bigint columns; they stay far below 2^53, so parse them as numbers like PGlite does. */
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary"
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
};

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<T>(sql: string, params: readonly unknown[] = [], options: QueryOptions = {}) {
      // A named statement is prepared on each pooled connection the first time it runs there.
      const result = await client.query(
        options.prepare
          ? { name: statementName(sql), text: sql, values: [...params] }
          : { text: sql, values: [...params] },
      );
      return result.rows as T[];
    },
    async exec(sql: string) {
      await client.query(sql);
    },
  };
}

export function openPostgres(options: PostgresOptions): Database {
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.max ?? 10, types });
  // An idle client that loses its connection emits here; without a listener the process would crash.
  pool.on("error", (error) => options.onConnectionError?.(error));
  // Rows carry their timestamps as JSON text, written in the session's time zone; in UTC the store turns
  // them into GitLab's form without parsing them (store/timestamps.ts), whatever the cluster's default.
  pool.on("connect", (client) => {
    client.query("SET TimeZone = 'UTC'").catch((error: Error) => options.onConnectionError?.(error));
  });
  const root = wrap(pool);
  return {
    kind: "postgres",
    query: root.query,
    exec: root.exec,
    async transaction(fn) {
      for (let attempt = 1; ; attempt++) {
        const client = await pool.connect();
        // A connection whose ROLLBACK failed is in an unknown state: destroy it instead of pooling it.
        let broken: Error | undefined;
        try {
          await client.query("BEGIN");
          const result = await fn(wrap(client));
          await client.query("COMMIT");
          return result;
        } catch (error) {
          await client.query("ROLLBACK").catch((rollbackError: Error) => {
            broken = rollbackError;
          });
          const code = (error as { code?: unknown }).code;
          if (attempt < MAX_ATTEMPTS && typeof code === "string" && RETRYABLE.has(code)) continue;
          throw error;
        } finally {
          client.release(broken);
        }
      }
    },
    async close() {
      if (!pool.ended) await pool.end();
    },
  };
}
