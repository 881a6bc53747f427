import cluster, { type Worker } from "node:cluster";
import { checkWorkers, UsageError } from "./config.js";

export interface WorkerOptions {
  workers?: string | undefined;
  "database-url"?: string | undefined;
}

/**
 * The arguments of the workers started after the first: it has migrated and loaded the demo data or the
 * fixtures, so they must find the database as it left it, not load anything again.
 */
export function laterWorkerArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--fixtures") i++;
    else if (!arg.startsWith("--fixtures=") && arg !== "--no-seed" && arg !== "--seed-demo") out.push(arg);
  }
  return [...out, "--no-seed"];
}

/**
 * `--workers N` (N > 1): this process becomes the primary of N server processes sharing one port
 * (node:cluster), each with its own pool to the same PostgreSQL database, and never returns; otherwise
 * (one worker, or in a worker) it returns and the caller runs the server itself. Refused on PGlite: a
 * data directory has one writer. The first worker starts alone (it migrates and seeds); the others start
 * once it listens. A worker that exits ends the whole server with its exit code, as one process would.
 */
export async function runWorkers(
  values: WorkerOptions,
  env: NodeJS.ProcessEnv,
  args: readonly string[] = process.argv.slice(2),
): Promise<boolean> {
  if (cluster.isWorker) return false;
  const source = values.workers !== undefined ? "--workers" : "WORKERS";
  const count = checkWorkers(values.workers ?? env.WORKERS, source);
  if (count === 1) return false;
  if ((values["database-url"] ?? env.DATABASE_URL) === undefined) {
    throw new UsageError(
      `${source} ${count} needs PostgreSQL (--database-url or DATABASE_URL): the embedded database has a single writer`,
    );
  }
  const workers = new Set<Worker>();
  let stopping = false;
  const stopAll = (code: number) => {
    if (stopping) return;
    stopping = true;
    process.exitCode = code;
    for (const w of workers) w.process.kill("SIGTERM");
  };
  const fork = () => {
    const worker = cluster.fork();
    workers.add(worker);
    worker.on("exit", (code, signal) => {
      workers.delete(worker);
      // A worker ending on its own (a crash, a bad configuration) ends the server.
      if (!stopping) stopAll(code ?? (signal ? 1 : 0));
    });
    return worker;
  };
  // Stopping the primary stops every worker, each finishing its requests as one process would.
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => stopAll(0));
  cluster.setupPrimary({ args: [...args] });
  const first = fork();
  await new Promise<void>((resolve) => {
    first.once("listening", () => resolve());
    first.once("exit", () => resolve());
  });
  if (!stopping) {
    cluster.setupPrimary({ args: laterWorkerArgs(args) });
    for (let i = 1; i < count; i++) fork();
  }
  return true;
}
