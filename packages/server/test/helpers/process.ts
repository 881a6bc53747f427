import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createEmptyPostgresDatabase } from "./db.js";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
/** `jobs-api-server` as published: the bundle of the CLI (scripts/bundle.mjs). */
export const cliPath = fileURLToPath(new URL("../../dist/bundle/cli.js", import.meta.url));

/**
 * Brings `dist/` up to date with `src/`, the CLI's bundle included (both incremental: a fraction of a second
 * when nothing changed).
 */
export function buildServer(): void {
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, "-b", "packages/server"], {
    cwd: root,
    stdio: "inherit",
  });
  execFileSync(process.execPath, [`${root}packages/server/scripts/bundle.mjs`], { stdio: "inherit" });
}

/** Runs `jobs-api-server` to its end with exactly `env`: the exit code and what it wrote on stderr. */
export async function runCliToEnd(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [cliPath, ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stderr };
}

export interface CliProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** Every stdout line so far (pino JSON). */
  lines: string[];
  /** Everything written on stderr so far. */
  stderr(): string;
  /** Resolves with the `count`-th (default first) stdout line that contains `text`. */
  waitForLine(text: string, count?: number): Promise<string>;
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `jobs-api-server` on a free port and resolves once it logs that it listens. */
export async function startCli(args: string[], env: Record<string, string> = {}): Promise<CliProcess> {
  const child = spawn(process.execPath, [cliPath, "--port", "0", ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = once(child, "exit").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const lines: string[] = [];
  const waiting: { text: string; left: number; resolve: (line: string) => void }[] = [];
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    lines.push(line);
    for (const w of waiting.filter((w) => line.includes(w.text))) {
      w.left--;
      if (w.left > 0) continue;
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve(line);
    }
  });
  const waitForLine = (text: string, count = 1) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.filter((line) => line.includes(text));
      const wanted = seen[count - 1];
      if (wanted !== undefined) return resolve(wanted);
      waiting.push({ text, left: count - seen.length, resolve });
      void exited.then(({ code, signal }) =>
        reject(new Error(`server exited (${code ?? signal}) before "${text}": ${stderr}`)),
      );
    });
  const listening = JSON.parse(await waitForLine("listening on")) as { url: string };
  return { child, origin: new URL(listening.url).origin, lines, stderr: () => stderr, waitForLine, exited };
}

/**
 * `jobs-api-server --workers 2` on a fresh PostgreSQL database with the demo data, once both workers
 * listen (the second starts after the first has seeded). `cleanup` gets the steps that undo it.
 */
export async function startTwoWorkers(cleanup: (() => Promise<unknown>)[]): Promise<CliProcess> {
  const db = await createEmptyPostgresDatabase();
  cleanup.push(() => db.drop());
  const cli = await startCli(["--workers", "2", "--database-url", db.url, "--seed-demo"]);
  cleanup.push(async () => {
    if (cli.child.exitCode === null) cli.child.kill("SIGKILL");
  });
  await cli.waitForLine("listening on", 2);
  return cli;
}
