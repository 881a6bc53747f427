import { readFileSync } from "node:fs";

/** The package's version, shown in job logs and sent as the runner's `info.version`. */
export function version(): string {
  // package.json sits one level above both src/ (tests) and dist/ (the installed package).
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}
