import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import type { Fault } from "./fault-proxy.js";
import { knownFault } from "./faults.js";
import { type Reference, referencePerTest } from "./reference.js";

/**
 * The Arazzo workflows of openapi/workflows, run by the command their README documents (Redocly's
 * `respect`), against a fresh reference server each: green as it is, red through a fault that breaks
 * each workflow, at the step that sees it.
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL("../../../", import.meta.url));
const workflowsReadme = join(root, "openapi/workflows/README.md");
const workflowsFile = "openapi/workflows/jobs-lifecycle.arazzo.yaml";
const redocly = join(root, "node_modules/.bin/redocly");
/** Each run starts Redocly's CLI (about a second alone); generous for a loaded machine. */
const respectTimeout = 120_000;
const quiet = { REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" };

/** The one `redocly respect` command line of the README's shell block. */
async function documentedCommand(): Promise<string> {
  const readme = await readFile(workflowsReadme, "utf8");
  const lines = readme.split("\n").filter((line) => line.startsWith("pnpm exec redocly respect "));
  expect(lines).toHaveLength(1);
  return lines[0] as string;
}

interface Step {
  stepId: string;
  status: string;
  checks: Array<{ name: string; passed: boolean; severity: string; condition?: string }>;
}
interface RespectReport {
  status: string;
  files: Record<
    string,
    { executedWorkflows: Array<{ workflowId: string; status: string; executedSteps: Step[] }> }
  >;
}

interface Outcome {
  exitCode: number;
  /** Each workflow's status. */
  workflows: Record<string, string>;
  /** The steps that failed, with the criteria they failed on. */
  failedSteps: Array<{ workflow: string; step: string; criteria: string[] }>;
}

/** Runs the documented command with its variables set, plus a JSON report, and reads the report. */
async function respect(baseUrl: string, reference: Reference, extra = ""): Promise<Outcome> {
  const dir = await mkdtemp(join(tmpdir(), "workflows-"));
  const json = join(dir, "respect.json");
  const env = {
    ...process.env,
    ...quiet,
    GITLAB_API_URL: baseUrl,
    GITLAB_PROJECT: reference.project,
    GITLAB_TOKEN: reference.token,
  };
  let exitCode = 0;
  try {
    await run("sh", ["-c", `${await documentedCommand()} -J "${json}" ${extra}`], {
      cwd: root,
      env,
      // Respect prints every schema check it skips, with the answer: megabytes for a run.
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    exitCode = (error as { code?: number }).code ?? -1;
  }
  try {
    const report = JSON.parse(await readFile(json, "utf8")) as RespectReport;
    const executed = Object.values(report.files).flatMap((f) => f.executedWorkflows);
    return {
      exitCode,
      workflows: Object.fromEntries(executed.map((w) => [w.workflowId, w.status])),
      failedSteps: executed.flatMap((w) =>
        w.executedSteps
          .filter((s) => s.status === "error")
          .map((s) => ({
            workflow: w.workflowId,
            step: s.stepId,
            criteria: s.checks
              .filter((c) => !c.passed && c.severity === "error")
              .map((c) => c.condition ?? c.name),
          })),
      ),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** An action that changes nothing: the POST is sent as a GET of the job, answered with the action's status. */
function actionIgnored(action: "cancel" | "play", status: number): Fault {
  const path = new RegExp(`/jobs/\\d+/${action}$`);
  const ignored = new WeakSet<object>();
  return {
    request(request) {
      if (request.method !== "POST" || !path.test(request.url.pathname)) return;
      request.method = "GET";
      request.body = undefined;
      request.headers.delete("content-type");
      request.url.pathname = request.url.pathname.replace(path, (m) => m.replace(`/${action}`, ""));
      ignored.add(request);
    },
    response(response, request) {
      if (ignored.has(request) && response.status === 200) response.status = status;
    },
  };
}

describe("the job lifecycle workflows (Arazzo)", () => {
  it("lint clean with the project's Redocly config", async () => {
    const { stdout, stderr } = await run(redocly, ["lint", workflowsFile], {
      cwd: root,
      env: { ...process.env, ...quiet },
    });
    expect(`${stdout}${stderr}`).toMatch(/Your API description is valid/);
  });
});

describe("the job lifecycle workflows (Arazzo), run by redocly respect", () => {
  const served = referencePerTest();

  it(
    "pass against the reference server",
    async () => {
      const { reference } = served;
      const outcome = await respect(reference.baseUrl, reference);
      expect(outcome.failedSteps).toEqual([]);
      expect(outcome.workflows).toEqual({
        retryFailedJob: "success",
        playManualJob: "success",
        cancelRunningJob: "success",
        eraseFinishedJob: "success",
      });
      expect(outcome.exitCode).toBe(0);
    },
    respectTimeout,
  );

  const broken: Array<{
    fault: string;
    make: () => Fault;
    workflow: string;
    step: string;
    criterion: RegExp;
  }> = [
    {
      fault: "retry reuses the id",
      make: () => knownFault("retry reuses the id"),
      workflow: "retryFailedJob",
      step: "retryJob",
      criterion: /\$response\.body#\/id != \$steps\.findFailedJob\.outputs\.jobId/,
    },
    {
      fault: "erase keeps the log",
      make: () => knownFault("erase keeps the log"),
      workflow: "eraseFinishedJob",
      step: "checkLogGone",
      criterion: /Content-Length == '0'/,
    },
    {
      fault: "play ignored",
      make: () => actionIgnored("play", 200),
      workflow: "playManualJob",
      step: "playJob",
      criterion: /status != 'manual'/,
    },
    {
      fault: "cancel ignored",
      make: () => actionIgnored("cancel", 201),
      workflow: "cancelRunningJob",
      step: "cancelJob",
      criterion: /cancel\(ed\|ing\)/,
    },
  ];
  for (const c of broken) {
    it(
      `fail ${c.workflow} at ${c.step} through the fault "${c.fault}"`,
      async () => {
        const proxy = await served.behindFault(c.make());
        const outcome = await respect(proxy.baseUrl, served.reference, `-w ${c.workflow}`);
        expect(outcome.exitCode).toBe(1);
        expect(outcome.workflows).toEqual({ [c.workflow]: "error" });
        expect(outcome.failedSteps).toHaveLength(1);
        expect(outcome.failedSteps[0]).toMatchObject({ workflow: c.workflow, step: c.step });
        expect(outcome.failedSteps[0]?.criteria.join("\n")).toMatch(c.criterion);
      },
      respectTimeout,
    );
  }
});
