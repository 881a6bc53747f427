/**
 * The tiny shell the simulated runner runs job scripts with: enough of `sh` to make logs and outcomes
 * that look like GitLab Runner's, without running anything. Words are split, quoted and expanded by
 * shell-quote (`$VAR`, `${VAR}` from the job's variables; single quotes stay literal).
 */
import { parse } from "shell-quote";

/** The comment that carries a directive for the simulator: `# jobs-api-runner: fail <failure_reason>`. */
export const DIRECTIVE = "jobs-api-runner:";

/** One command of a script line, as the simulator understands it. */
export type Command =
  /** `echo …`: its words, joined by one space, become a line of the log. */
  | { kind: "echo"; text: string }
  /** `sleep <seconds>`: the job waits (simulated time, scaled by the runner's speed). */
  | { kind: "sleep"; seconds: number }
  /** `exit <code>`: the script ends; any code but 0 fails the job with `script_failure`. */
  | { kind: "exit"; code: number }
  /** `# jobs-api-runner: fail <reason>`: the job fails with that failure reason (no exit code). */
  | { kind: "fail"; reason: string }
  /** Anything else (`true`, `npm test`, a pipe…): shown in the log as run, succeeding. */
  | { kind: "run" }
  /** `false`: like any command that fails, ends the script with exit code 1. */
  | { kind: "false" };

/** How the commands of a line are joined: `a; b`, `a && b`, `a || b`. */
export interface Step {
  command: Command;
  /** Whether it runs after the previous command: always (`;`), on success (`&&`), on failure (`||`). */
  after: ";" | "&&" | "||";
}

/** A line that makes no sense to the simulator: the line is echoed, then the job fails as a shell would. */
export class ScriptSyntaxError extends Error {
  override name = "ScriptSyntaxError";
}

function command(words: string[], comment: string | undefined): Command | undefined {
  const [name, ...args] = words;
  if (name === undefined) {
    const directive = comment?.trim();
    if (directive?.startsWith(DIRECTIVE)) {
      const [verb, reason, ...rest] = directive.slice(DIRECTIVE.length).trim().split(/\s+/);
      if (verb !== "fail" || !reason || rest.length > 0) {
        throw new ScriptSyntaxError(
          `unknown directive ${JSON.stringify(directive)}: expected "${DIRECTIVE} fail <failure_reason>"`,
        );
      }
      return { kind: "fail", reason };
    }
    return undefined;
  }
  switch (name) {
    case "echo":
      return { kind: "echo", text: args.join(" ") };
    case "sleep": {
      const seconds = Number(args[0]);
      if (args.length !== 1 || !(seconds >= 0))
        throw new ScriptSyntaxError(`sleep: invalid time interval ${JSON.stringify(args.join(" "))}`);
      return { kind: "sleep", seconds };
    }
    case "exit": {
      const code = args.length === 0 ? 0 : Number(args[0]);
      if (args.length > 1 || !Number.isInteger(code))
        throw new ScriptSyntaxError(`exit: ${args.join(" ")}: numeric argument required`);
      // A shell keeps the low 8 bits: `exit 256` succeeds, `exit -1` is 255.
      return { kind: "exit", code: ((code % 256) + 256) % 256 };
    }
    case "false":
      return { kind: "false" };
    default:
      return { kind: "run" };
  }
}

/**
 * The commands of one script line, in order. A line with operators other than `;`, `&&` and `||`
 * (pipes, redirections, globs) is one command that is "run".
 */
export function parseLine(line: string, variables: ReadonlyMap<string, string>): Step[] {
  const entries = parse(line, (name) => variables.get(name) ?? "");
  const steps: Step[] = [];
  let words: string[] = [];
  let after: Step["after"] = ";";
  let comment: string | undefined;
  const flush = () => {
    const found = command(words, comment);
    if (found) steps.push({ command: found, after });
    words = [];
    comment = undefined;
  };
  for (const entry of entries) {
    if (typeof entry === "string") {
      words.push(entry);
    } else if ("comment" in entry) {
      comment = entry.comment;
    } else if ("op" in entry && (entry.op === ";" || entry.op === "&&" || entry.op === "||")) {
      flush();
      after = entry.op;
    } else {
      return [{ command: { kind: "run" }, after: ";" }];
    }
  }
  flush();
  return steps;
}
