export type { Database, Queryable } from "./database.js";
export { migrate, migrationsDir } from "./migrate.js";
export { type OpenDatabaseOptions, openDatabase } from "./open.js";
export { openPglite, type PgliteOptions } from "./pglite.js";
export { PGLITE_V8_FLAGS } from "./pglite-flags.js";
export { openPostgres, type PostgresOptions } from "./postgres.js";
export { DatabaseUnavailableError, isUnavailable } from "./unavailable.js";
