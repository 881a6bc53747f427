export interface QueryOptions {
  /**
   * Prepare the statement once per connection, under a name derived from its text, and from then on
   * only bind and execute it: PostgreSQL parses it once and, after five executions, may keep a generic
   * plan instead of planning every call. For the statements every request runs; their texts must come
   * from a small fixed set (each distinct text stays prepared for the life of the connection).
   */
  prepare?: boolean;
  /**
   * A read whose answer depends only on its parameters and the data (no `now()`): the database may
   * answer it from memory while nothing was written since (db/read-cache.ts), by any process.
   */
  cache?: boolean;
}

/** What the store needs from a connection: parameterised queries and multi-statement scripts. */
export interface Queryable {
  query<T>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<T[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly kind: "pglite" | "postgres";
  /** Runs `fn` in a transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /**
   * A view for one request that writes nothing: its cached reads share one data-version read, begun when
   * the first of them asks, so after the request arrived (db/read-cache.ts). Absent where the version costs
   * nothing to know (a database this process alone writes to). A wrapper that replaces `query` must
   * replace this too (or leave it out): the view reads through the database it came from.
   */
  forRequest?(): Queryable;
}
