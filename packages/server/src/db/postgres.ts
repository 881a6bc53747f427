import pg from "pg";
import type { Database, Queryable, QueryOptions } from "./database.js";
import { withReadCache } from "./read-cache.js";
import { statementName } from "./statement-name.js";
import { classify, isUnavailable } from "./unavailable.js";

const INT8_OID = 20;
/** SQLSTATEs after which PostgreSQL asks the client to run the transaction again. */
const RETRYABLE = new Set(["40001", "40P01"]);
const MAX_ATTEMPTS = 5;
/** The data version all processes share (migration 0004, db/read-cache.ts). */
const DATA_VERSION = "SELECT sum(version)::bigint AS version FROM data_version";

export interface PostgresOptions {
  connectionString: string;
  /** Pool size; several server processes may share one database, so keep it modest. */
  max?: number;
  /** Told when an idle connection is lost (the pool replaces it); by default such errors are dropped. */
  onConnectionError?: (error: Error) => void;
  /**
   * How long a request waits for a connection (a new one, or a free one of a busy pool) before it is
   * answered 503. Default 5 s: a server that cannot be reached must not hold requests until the client gives up.
   */
  connectTimeoutMs?: number;
  /**
   * How long one statement may wait for its answer before the connection is given up (503). Default 30 s:
   * it bounds the wait on a server that stopped answering without closing the connection.
   */
  queryTimeoutMs?: number;
}

/** Ids are bigint columns; they stay far below 2^53, so parse them as numbers like PGlite does. */
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary"
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
};

/** Errors that say the database is unavailable become `DatabaseUnavailableError` (answered 503). */
function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<T>(sql: string, params: readonly unknown[] = [], options: QueryOptions = {}) {
      // A named statement is prepared on each pooled connection the first time it runs there.
      const result = await client
        .query(
          options.prepare
            ? { name: statementName(sql), text: sql, values: [...params] }
            : { text: sql, values: [...params] },
        )
        .catch((error: unknown) => {
          throw classify(error);
        });
      return result.rows as T[];
    },
    async exec(sql: string) {
      await client.query(sql).catch((error: unknown) => {
        throw classify(error);
      });
    },
  };
}

export function openPostgres(options: PostgresOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    types,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    query_timeout: options.queryTimeoutMs ?? 30_000,
    // Notices a peer that vanished (a host that went down, a cut network) on idle connections too.
    keepAlive: true,
    // Rows carry their timestamps as JSON text, written in the session's time zone; in UTC the store turns
    // them into GitLab's form without parsing them (store/timestamps.ts), whatever the cluster's default.
    // Set at connection start: a `SET` sent after connecting would race the connection's first query.
    options: "-c TimeZone=UTC",
  });
  // An idle client that loses its connection emits here; without a listener the process would crash.
  pool.on("error", (error) => options.onConnectionError?.(error));
  const root = wrap(pool);
  const db: Database = {
    kind: "postgres",
    query: root.query,
    exec: root.exec,
    async transaction(fn) {
      for (let attempt = 1; ; attempt++) {
        const client = await pool.connect().catch((error: unknown) => {
          throw classify(error);
        });
        // A connection whose ROLLBACK failed is in an unknown state: destroy it instead of pooling it.
        let broken: Error | undefined;
        // The pool listens for errors of idle connections only; one lost while checked out emits here,
        // and without a listener the process would crash. The statement under way fails on its own.
        const lost = (error: Error) => {
          broken = error;
        };
        client.on("error", lost);
        try {
          await client.query("BEGIN");
          const result = await fn(wrap(client));
          // A COMMIT cut short throws like any statement: the caller answers 503, never a success it
          // cannot vouch for.
          await client.query("COMMIT");
          return result;
        } catch (error) {
          if (isUnavailable(error)) {
            // The connection is gone or stuck: PostgreSQL rolls back a transaction whose connection
            // closes, so the connection is destroyed rather than asked for a ROLLBACK it would wait on.
            broken = error;
            throw classify(error);
          }
          await client.query("ROLLBACK").catch((rollbackError: Error) => {
            broken = rollbackError;
          });
          const code = (error as { code?: unknown }).code;
          if (attempt < MAX_ATTEMPTS && typeof code === "string" && RETRYABLE.has(code)) continue;
          throw error;
        } finally {
          client.removeListener("error", lost);
          client.release(broken);
        }
      }
    },
    async close() {
      if (!pool.ended) await pool.end();
    },
  };
  // The data version every process shares (migration 0004): one prepared single-row round trip.
  const sharedVersion = async () => {
    const [row] = await root.query<{ version: number | null }>(DATA_VERSION, [], { prepare: true });
    return row?.version ?? null;
  };
  return withReadCache(db, { sharedVersion });
}
