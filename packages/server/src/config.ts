import { accessSync, constants, statSync } from "node:fs";
import { createServer, isIPv4 } from "node:net";
import { dirname } from "node:path";
import { levels } from "pino";

/** A configuration the user must fix: one line saying what is wrong and what is expected; exit code 2. */
export class UsageError extends Error {}

/** `postgres://` or `postgresql://` with a host: what node-postgres can connect to. */
export function checkDatabaseUrl(url: string, source: string): string {
  const parsed = URL.canParse(url) ? new URL(url) : null;
  if (!parsed || !["postgres:", "postgresql:"].includes(parsed.protocol) || parsed.hostname === "") {
    throw new UsageError(`invalid ${source}: ${url} (expected postgres://user:password@host:5432/database)`);
  }
  return url;
}

/** One of pino's levels, or `silent`. */
export function checkLogLevel(level: string, source: string): string {
  if (level !== "silent" && !Object.hasOwn(levels.values, level)) {
    throw new UsageError(
      `invalid ${source}: ${level} (one of ${[...Object.keys(levels.values), "silent"].join(", ")})`,
    );
  }
  return level;
}

/**
 * A data directory the server can own: an existing writable directory, or a path whose nearest existing
 * parent is a writable directory (the server creates the rest).
 */
export function checkDataDir(dir: string): string {
  let at = dir;
  for (;;) {
    let stats: ReturnType<typeof statSync> | undefined;
    try {
      stats = statSync(at);
    } catch {
      // Missing: its parent decides whether it can be created.
    }
    if (stats) {
      if (!stats.isDirectory()) {
        throw new UsageError(`invalid data directory ${dir}: ${at} is not a directory`);
      }
      try {
        accessSync(at, constants.W_OK | constants.X_OK);
      } catch {
        throw new UsageError(`invalid data directory ${dir}: ${at} is not writable by this user`);
      }
      return dir;
    }
    const parent = dirname(at);
    if (parent === at) throw new UsageError(`invalid data directory ${dir}: no part of it exists`);
    at = parent;
  }
}

/** Whether `port` on `host` can be listened on, before the database is opened and seeded. */
export function checkPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => {
      const why = error.code === "EADDRINUSE" ? "already in use" : (error.code ?? error.message);
      reject(new UsageError(`cannot listen on ${host}:${port}: ${why} (choose another --port or PORT)`));
    });
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

/** How log lines are written: one JSON object a line (for machines), or pino-pretty's lines (for people). */
export type LogFormat = "json" | "pretty";

/** `LOG_FORMAT`/`--log-format` when given, else pretty on a terminal and JSON anywhere else (files, pipes, collectors). */
export function checkLogFormat(format: string | undefined, source: string, isTTY: boolean): LogFormat {
  if (format === undefined) return isTTY ? "pretty" : "json";
  if (format !== "json" && format !== "pretty") {
    throw new UsageError(`invalid ${source}: ${format} (json or pretty)`);
  }
  return format;
}

export interface SeedingOptions {
  /** `--seed-demo` */
  seedDemo: boolean;
  /** `--no-seed` */
  noSeed: boolean;
  /** `--fixtures <file>` given */
  fixtures: boolean;
  /** A PostgreSQL server (`DATABASE_URL`) rather than the embedded database. */
  postgres: boolean;
}

/**
 * Whether the demo data (public tokens) is loaded into an empty database. The embedded database is the
 * server's own, made for trying it out: seeded unless `--no-seed`. A PostgreSQL server holds the user's
 * data: seeded only when asked with `--seed-demo`. `--fixtures` brings one's own data instead.
 */
export function seedsDemo(options: SeedingOptions): boolean {
  if (options.seedDemo && options.noSeed)
    throw new UsageError("--seed-demo and --no-seed exclude each other");
  if (options.fixtures && options.noSeed) throw new UsageError("--fixtures and --no-seed exclude each other");
  if (options.fixtures && options.seedDemo)
    throw new UsageError("--fixtures and --seed-demo exclude each other");
  if (options.fixtures || options.noSeed) return false;
  return options.postgres ? options.seedDemo : true;
}

/** Whether only this machine can connect to `host`: `localhost`, 127.0.0.0/8 or `::1`. */
export function isLoopback(host: string): boolean {
  const ip = host.replace(/^\[|\]$/g, "").replace(/^::ffff:/i, "");
  return ip === "localhost" || ip === "::1" || (isIPv4(ip) && ip.startsWith("127."));
}

/** `--workers`: how many server processes share the port; a whole number from 1 (the default) to 64. */
export function checkWorkers(text: string | undefined, source: string): number {
  if (text === undefined) return 1;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 1 || n > 64)
    throw new UsageError(`invalid ${source}: ${text} (a whole number of server processes, 1 to 64)`);
  return n;
}
