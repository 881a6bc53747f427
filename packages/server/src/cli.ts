#!/usr/bin/env node
import cluster from "node:cluster";
import { mkdir } from "node:fs/promises";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { API_BASE, createApp, setUpValidator } from "./app.js";
import {
  checkDatabaseUrl,
  checkDataDir,
  checkLogFormat,
  checkLogLevel,
  checkPortFree,
  isLoopback,
  seedsDemo,
  UsageError,
} from "./config.js";
import { DataDirInUseError } from "./db/lock.js";
import { openDatabase } from "./db/open.js";
import { PGLITE_V8_FLAGS } from "./db/pglite-flags.js";
import {
  checkFixtures,
  DatabaseNotEmptyError,
  loadFixtures,
  readFixtures,
  resetToFixtures,
} from "./fixtures/load.js";
import { FixtureError } from "./fixtures/validate.js";
import { createLogger } from "./http/logging.js";
import { demoFixtures, demoTokensActive, seedDemo } from "./seed/demo.js";
import { listen } from "./server.js";
import { runWorkers } from "./workers.js";

const HELP = `Usage: jobs-api-server [options]

Reference server of GitLab's CI Jobs API (v4).

Options (environment variable in brackets):
  --port <n>                 port to listen on [PORT] (default 3000; 0 picks a free one)
  --host <addr>              address to listen on [HOST] (default 127.0.0.1)
  --database-url <url>       postgres://… to use a PostgreSQL server [DATABASE_URL]
  --data-dir <dir>           embedded database directory (default ./.data/pglite, memory:// with --fixtures)
  --log-level <level>        pino level: fatal, error, warn, info, debug, trace, silent [LOG_LEVEL] (default info)
  --log-format <format>      json or pretty [LOG_FORMAT] (default pretty on a terminal, json otherwise)
  --no-response-validation   do not validate responses against the spec (faster)
  --rate-limit <n>           answer 429 beyond n requests per minute and client [RATE_LIMIT] (default off)
  --external-url <origin>    origin of the URLs in Link headers, e.g. https://jobs.example.com [EXTERNAL_URL]
                             (default: the scheme and Host of each request)
  --no-seed                  do not load the demo data into an empty embedded database
  --seed-demo                load the demo data into an empty PostgreSQL database too (by default a
                             PostgreSQL database is never seeded: it is for your data)
  --workers <n>              server processes sharing the port, PostgreSQL only [WORKERS] (default 1)
  --fixtures <file>          load this fixture file (YAML or JSON) instead of the demo data; the database
                             must be empty: exits 2, changing nothing, if it has data or the file is invalid
  --admin-token <token>      serve POST /-/reset (Authorization: Bearer <token>): empties the database and
                             loads the fixtures (or the demo data) again [JOBS_API_ADMIN_TOKEN] (default off)
  -h, --help                 show this help

The demo data's tokens are public (see the README): to serve your own users and tokens, start on an
empty database with --fixtures. JOBS_API_DEMO_TOKEN sets the demo maintainer's personal access token.

Exit codes: 0 stopped by SIGTERM/SIGINT, 2 a configuration to fix (one line on stderr), 1 any other failure.`;

/** The origin of an http(s) URL; anything else is a usage error. */
function originOf(url: string): string {
  const parsed = URL.canParse(url) ? new URL(url) : null;
  if (!parsed || !["http:", "https:"].includes(parsed.protocol) || parsed.pathname !== "/") {
    throw new UsageError(
      `invalid external URL: ${url} (scheme, host and optional port, e.g. https://jobs.example.com)`,
    );
  }
  return parsed.origin;
}

/**
 * A fixture file or database the user must fix ends the process with the place of every problem, one a
 * line, no stack, and exit code 2 (a usage error); other errors go on to the generic handler.
 */
function refuse(file: string): (error: unknown) => never {
  return (error) => {
    if (!(error instanceof FixtureError || error instanceof DatabaseNotEmptyError)) throw error;
    const lines = error instanceof FixtureError ? error.problems : [error.message];
    process.stderr.write(`jobs-api-server: cannot load ${file}:\n${lines.map((l) => `  ${l}\n`).join("")}`);
    process.exit(2);
  };
}

async function main(): Promise<void> {
  const values = readOptions();
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const env = process.env;
  const port = Number(values.port ?? env.PORT ?? 3000);
  const rateText = values["rate-limit"] ?? env.RATE_LIMIT;
  const rate = rateText === undefined ? undefined : Number(rateText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new UsageError(`invalid port: ${values.port ?? env.PORT} (0 to 65535)`);
  const host = values.host ?? env.HOST ?? "127.0.0.1";
  // Before the database is built and seeded (seconds), not after; by the process that owns the port (one
  // server, or the primary of --workers). A worker's probe would go through the primary: it listened, then
  // dropped the port, and a connection accepted in between stayed unanswered for good (node:cluster keeps
  // it in the dropped round-robin handle, nodejs/node#21746).
  if (!cluster.isWorker) await checkPortFree(port, host);
  if (await runWorkers(values, env)) return;
  const externalUrlText = values["external-url"] ?? env.EXTERNAL_URL;
  const externalUrl = externalUrlText === undefined ? undefined : originOf(externalUrlText);
  if (rate !== undefined && !(Number.isInteger(rate) && rate > 0))
    throw new UsageError(`invalid rate limit: ${rateText} (a whole number of requests per minute)`);
  const adminToken = values["admin-token"] ?? env.JOBS_API_ADMIN_TOKEN;
  if (adminToken !== undefined && !/^\S+$/.test(adminToken))
    throw new UsageError("invalid admin token: empty or with blanks (--admin-token or JOBS_API_ADMIN_TOKEN)");
  const fixturesFile = values.fixtures;
  const seed = seedsDemo({
    seedDemo: values["seed-demo"] === true,
    noSeed: values["no-seed"] === true,
    fixtures: fixturesFile !== undefined,
    postgres: (values["database-url"] ?? env.DATABASE_URL) !== undefined,
  });
  // Before opening the database: an invalid file is refused without touching it.
  const fixtures =
    fixturesFile === undefined ? undefined : await readFixtures(fixturesFile).catch(refuse(fixturesFile));
  const level = checkLogLevel(
    values["log-level"] ?? env.LOG_LEVEL ?? "info",
    values["log-level"] === undefined && env.LOG_LEVEL !== undefined ? "LOG_LEVEL" : "log level",
  );
  const logFormat = checkLogFormat(
    values["log-format"] ?? env.LOG_FORMAT,
    values["log-format"] === undefined && env.LOG_FORMAT !== undefined ? "LOG_FORMAT" : "log format",
    process.stdout.isTTY === true,
  );
  const logger = await createLogger(level, logFormat);
  const demo = env.JOBS_API_DEMO_TOKEN ? { maintainerToken: env.JOBS_API_DEMO_TOKEN } : {};

  const started = performance.now();
  const databaseUrl =
    values["database-url"] !== undefined
      ? checkDatabaseUrl(values["database-url"], "--database-url")
      : env.DATABASE_URL !== undefined
        ? checkDatabaseUrl(env.DATABASE_URL, "DATABASE_URL")
        : undefined;
  // Before PGlite's module is compiled (db/pglite-flags.ts).
  if (!databaseUrl) for (const flag of PGLITE_V8_FLAGS) setFlagsFromString(flag);
  // Fixtures describe a whole world to start from: by default in memory, so that every start gets it afresh.
  const dataDir = values["data-dir"] ?? (fixtures ? "memory://" : "./.data/pglite");
  if (!databaseUrl && !dataDir.startsWith("memory://")) {
    checkDataDir(dataDir);
    await mkdir(dataDir, { recursive: true });
  }
  const db = await openDatabase(
    databaseUrl
      ? {
          databaseUrl,
          onConnectionError: (error) =>
            logger.warn({ reason: error.message }, "lost an idle PostgreSQL connection"),
        }
      : { dataDir },
  );
  if (fixtures) {
    await loadFixtures(db, fixtures).catch(async (error: unknown) => {
      await db.close();
      return refuse(fixturesFile ?? "")(error);
    });
    logger.info({ fixtures: fixturesFile }, "loaded the fixtures");
  } else if (seed) {
    const seeded = await seedDemo(db, demo);
    if (seeded) logger.info("loaded the demo data");
  }
  // The demo tokens are in the README: on an address others can reach, anyone could use them.
  if (!isLoopback(host) && (await demoTokensActive(db))) {
    process.stderr.write(
      `jobs-api-server: warning: the demo data's public tokens are active and the server listens on ${host}: anyone who can reach it can use them (start on an empty database with --fixtures <file> for your own)\n`,
    );
  }
  const app = createApp({
    db,
    logger,
    validateResponses: !values["no-response-validation"],
    ...(rate ? { rateLimit: { limit: rate, windowMs: 60_000 } } : {}),
    ...(externalUrl ? { externalUrl } : {}),
    ...(adminToken === undefined
      ? {}
      : {
          admin: {
            token: adminToken,
            // Back to what this start loaded: the fixture file, the demo data, or (--no-seed) nothing.
            reset: async () => {
              const start = fixtures ?? (seed ? await demoFixtures(demo) : checkFixtures({ version: 1 }));
              await resetToFixtures(db, start);
              logger.info("reset the data to its start");
            },
          },
        }),
  });
  // Before listening, so that the first caller does not wait for it.
  await setUpValidator(app);
  const running = await listen(app, { port, host });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    try {
      await running.close();
      await db.close();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, "shutdown failed");
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  // After the handlers: a Ctrl-C sent as soon as this line shows (a script, a test) must find them, not
  // Node's default, which ends the process with 130.
  logger.info(
    { url: `${running.url}${API_BASE}`, storage: databaseUrl ? "postgres" : `pglite ${dataDir}` },
    `listening on ${running.url}${API_BASE} (ready in ${Math.round(performance.now() - started)} ms)`,
  );
}

const OPTIONS = {
  port: { type: "string" },
  host: { type: "string" },
  "database-url": { type: "string" },
  "data-dir": { type: "string" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  "no-response-validation": { type: "boolean" },
  "rate-limit": { type: "string" },
  "external-url": { type: "string" },
  "no-seed": { type: "boolean" },
  "seed-demo": { type: "boolean" },
  fixtures: { type: "string" },
  "admin-token": { type: "string" },
  workers: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The command line; unknown or malformed options are usage errors. */
function readOptions() {
  try {
    return parseArgs({ options: OPTIONS }).values;
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)} (see --help)`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`jobs-api-server: ${error instanceof Error ? error.message : String(error)}\n`);
  // What the user must change (options, environment, a data directory in use) exits 2; failures, 1.
  process.exit(error instanceof UsageError || error instanceof DataDirInUseError ? 2 : 1);
});
