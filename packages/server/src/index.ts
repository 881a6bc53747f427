export { type AdminOptions, API_BASE, type AppOptions, createApp, type RateLimitOptions } from "./app.js";
export {
  type Database,
  migrate,
  migrationsDir,
  type OpenDatabaseOptions,
  openDatabase,
  openPglite,
  openPostgres,
  PGLITE_V8_FLAGS,
  type PgliteOptions,
  type PostgresOptions,
  type Queryable,
} from "./db/index.js";
export { type Double, type DoubleOptions, startDouble } from "./fixtures/double.js";
export type * from "./fixtures/format.js";
export {
  type CheckedFixtures,
  checkFixtures,
  DatabaseNotEmptyError,
  type LoadedFixtures,
  loadFixtures,
  readFixtures,
  resetToFixtures,
} from "./fixtures/load.js";
export { FixtureError, fixturesSchemaUrl, parseFixtures } from "./fixtures/validate.js";
export { OFFSET_LIMIT } from "./http/pagination.js";
export {
  DEMO_IDS,
  DEMO_TOKENS,
  demoFixtures,
  demoFixturesUrl,
  type SeedOptions,
  seedDemo,
} from "./seed/demo.js";
export { type ListenOptions, listen, type RunningServer } from "./server.js";
export * as store from "./store/index.js";
export {
  createDemoDataDir,
  type DemoServer,
  openDemoDatabase,
  startDemoServer,
} from "./testing/demo-server.js";
