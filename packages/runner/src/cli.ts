#!/usr/bin/env node
import { exitCodes, main } from "./main.js";

const stopping = new AbortController();
// The first signal stops gracefully (running jobs are reported as failed); a second one exits at once.
for (const name of ["SIGINT", "SIGTERM"] as const) {
  process.on(name, () => {
    if (stopping.signal.aborted) process.exit(130);
    stopping.abort();
  });
}

try {
  process.exitCode = await main(process.argv.slice(2), {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    signal: stopping.signal,
  });
} catch (error) {
  process.stderr.write(
    `jobs-api-runner: internal error: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exitCode = exitCodes.usage;
}
