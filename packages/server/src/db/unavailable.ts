/**
 * The database cannot be reached, or it went away in the middle of the work: a state that passes without
 * anyone changing the request, so it is answered 503 with `Retry-After`, not 500. The work was not done,
 * or (a COMMIT cut short) it is unknown whether it was: either way it was not acknowledged.
 */
export class DatabaseUnavailableError extends Error {
  constructor(cause: Error) {
    super(`database unavailable: ${cause.message}`, { cause });
  }
}

/** Socket errors: the server is not there (any more), or not reachable. */
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
]);

/**
 * SQLSTATEs of a server that cannot serve now: class 08 (connection exception), too many connections,
 * shut down by an administrator or a crash, starting up or shutting down (`cannot_connect_now`).
 */
function unavailableSqlState(code: string): boolean {
  return code.startsWith("08") || ["53300", "57P01", "57P02", "57P03"].includes(code);
}

/**
 * node-postgres reports a lost or timed-out connection as a plain Error without a code; these are its
 * messages (pg and pg-pool 8.x).
 */
const CLIENT_MESSAGES = [
  "Connection terminated",
  "timeout exceeded when trying to connect",
  "Query read timeout",
  "is not queryable",
  "Client has encountered a connection error",
];

/** Whether `error` says the database is unavailable, as opposed to a query the database refused. */
export function isUnavailable(error: unknown): error is Error {
  if (!(error instanceof Error)) return false;
  if (error instanceof DatabaseUnavailableError) return true;
  // A host name with several addresses (localhost: ::1 and 127.0.0.1) fails with one error per address.
  if (error instanceof AggregateError && error.errors.some(isUnavailable)) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (SOCKET_CODES.has(code)) return true;
    // A five-character code is PostgreSQL's SQLSTATE; other codes are Node's and not about the connection.
    if (/^[0-9A-Z]{5}$/.test(code)) return unavailableSqlState(code);
  }
  return CLIENT_MESSAGES.some((text) => error.message.includes(text));
}

/** `error` as a `DatabaseUnavailableError` when it is one of those, unchanged otherwise. */
export function classify(error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError || !isUnavailable(error)) return error;
  return new DatabaseUnavailableError(error);
}
