import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { DEMO_TOKENS, type DemoServer } from "../src/index.js";
import { serveForFile } from "./helpers/server.js";

/**
 * A GitLab client nobody on this project wrote: Debian's python3-gitlab (python-gitlab 3.x) drives every
 * Jobs method it has against the demo data (`python-gitlab/jobs.py`, one `ok`/`FAIL` line per call).
 * Never skipped: without the `gitlab` module the test fails and says what to install.
 */

const run = promisify(execFile);
const script = fileURLToPath(new URL("python-gitlab/jobs.py", import.meta.url));

let server: DemoServer;
serveForFile((_db, s) => {
  server = s;
});

/**
 * The first Python that imports `gitlab`: `$PYTHON`, then `python3` on the PATH, then Debian's own
 * (python3-gitlab installs for /usr/bin/python3, which a pyenv or venv `python3` does not see).
 */
async function pythonWithGitlab(): Promise<{ python?: string; tried: string[] }> {
  const candidates = [process.env.PYTHON, "python3", "/usr/bin/python3"].filter(
    (c, i, all): c is string => !!c && all.indexOf(c) === i,
  );
  const tried: string[] = [];
  for (const python of candidates) {
    try {
      const { stdout } = await run(python, ["-c", "import gitlab; print(gitlab.__version__)"]);
      return { python, tried: [...tried, `${python}: python-gitlab ${stdout.trim()}`] };
    } catch (error) {
      tried.push(`${python}: ${(error as Error).message.split("\n").slice(-2).join(" ").trim()}`);
    }
  }
  return { tried };
}

describe("python-gitlab (Debian's python3-gitlab) against the server", () => {
  it("gets from every Jobs method what GitLab would give it", { timeout: 120_000 }, async () => {
    const { python, tried } = await pythonWithGitlab();
    if (!python) {
      expect.fail(
        `python-gitlab is not installed: install Debian's python3-gitlab (apt-get install -y python3-gitlab; ` +
          `scripts/test-all.sh does it) or set PYTHON to a python3 that can import gitlab.\n${tried.join("\n")}`,
      );
    }
    // Asynchronous: the server answers from this same process while the script runs.
    const result = await run(python, [script, server.origin, DEMO_TOKENS.maintainer, DEMO_TOKENS.job], {
      timeout: 100_000,
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code?: number | string; stdout?: string; stderr?: string; message: string }) => ({
        code: error.code ?? error.message,
        stdout: error.stdout ?? "",
        stderr: error.stderr ?? "",
      }),
    );
    const output = `${result.stdout}${result.stderr ? `\nstderr:\n${result.stderr}` : ""}`;
    expect(result.code, `${python} ${script} exited ${result.code}:\n${output}`).toBe(0);
    expect(result.stdout).not.toMatch(/^FAIL /m);
    expect(result.stdout).toMatch(/^ok job\.play\(\)/m);
  });
});
