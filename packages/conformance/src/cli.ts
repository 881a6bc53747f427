#!/usr/bin/env node
import { exitCodes, main } from "./main.js";

try {
  process.exitCode = await main(process.argv.slice(2), {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  });
} catch (error) {
  // A bug of the suite itself, not of the server: say so, and keep "1" for servers that fail checks.
  process.stderr.write(
    `jobs-api-conformance: internal error: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exitCode = exitCodes.usage;
}
