import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { exitCodes, main } from "../src/index.js";
import { knownFault } from "./faults.js";
import { referencePerTest } from "./reference.js";

/**
 * The `curl` a failure prints is run as a person would run it: copied from the report into a shell that
 * has the token's variable set (and nothing else of the suite's), with the real curl. Its answer must
 * show the fault the check reported.
 */
const run = promisify(execFile);

/** Runs the suite through a fault and returns the first printed `curl:` command. */
async function printedCurl(args: string[], env: Record<string, string>): Promise<string> {
  const out: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => out.push(t), env });
  expect(code).toBe(exitCodes.failed);
  const line = out
    .join("")
    .split("\n")
    .map((l) => /^\s*curl: {5}(curl .*)$/.exec(l)?.[1])
    .find((c) => c !== undefined);
  if (!line) throw new Error(`no curl printed in:\n${out.join("")}`);
  for (const value of Object.values(env)) expect(line).not.toContain(value);
  return line;
}

/** The command in `sh`, with only PATH and the given variables: the answer, split into head and body. */
async function runCurl(
  command: string,
  env: Record<string, string>,
): Promise<{ head: string; body: string }> {
  const { stdout } = await run("sh", ["-c", command], { env: { PATH: process.env.PATH ?? "", ...env } });
  const [head = "", body = ""] = stdout.split(/\r\n\r\n/, 2);
  return { head, body };
}

describe("the curl of a failure, run with curl", () => {
  const served = referencePerTest();

  it("reproduces a field of the wrong type (GET), with the token from the --token-env variable", async () => {
    const { reference } = served;
    const proxy = await served.behindFault(knownFault("field with the wrong type"));
    const env = { CONFORMANCE_TOKEN: reference.token };
    const command = await printedCurl(
      [
        "--base-url",
        proxy.baseUrl,
        "--project",
        reference.project,
        "--token-env",
        "CONFORMANCE_TOKEN",
        "--only",
        "getJob.idsMatchUrl",
      ],
      env,
    );
    expect(command).toContain(`"private-token: \${CONFORMANCE_TOKEN}"`);

    const answer = await runCurl(command, env);
    expect(answer.head).toMatch(/^HTTP\/1\.1 200 OK/);
    // The fault, as the report described it: a boolean served as a string.
    expect((JSON.parse(answer.body) as { allow_failure: unknown }).allow_failure).toBeTypeOf("string");

    // Without the variable, the same command is refused: the token really comes from it.
    const refused = await runCurl(command, {});
    expect(refused.head).toMatch(/^HTTP\/1\.1 401 /);
  });

  it("reproduces an action's wrong answer (POST) with the token from GITLAB_TOKEN", async () => {
    const { reference } = served;
    const proxy = await served.behindFault(knownFault("cancel changes finished jobs"));
    const env = { GITLAB_TOKEN: reference.token };
    const command = await printedCurl(
      [
        "--base-url",
        proxy.baseUrl,
        "--project",
        reference.project,
        "--destructive",
        "--only",
        "cancelJob.finishedUnchanged",
      ],
      env,
    );
    expect(command).toContain("--request POST");
    const jobId = /\/jobs\/(\d+)\/cancel"$/.exec(command)?.[1];
    expect(jobId).toBeDefined();

    const answer = await runCurl(command, env);
    expect(answer.head).toMatch(/^HTTP\/1\.1 201 /);
    // The fault: the finished job is answered canceled…
    expect((JSON.parse(answer.body) as { status: string }).status).toBe("canceled");
    // …while the server left it finished.
    const stored = await fetch(`${reference.baseUrl}/projects/${reference.project}/jobs/${jobId}`, {
      headers: { "private-token": reference.token },
    });
    expect(["success", "failed"]).toContain(((await stored.json()) as { status: string }).status);
  });
});
