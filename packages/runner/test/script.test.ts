import { describe, expect, it } from "vitest";
import { parseLine, ScriptSyntaxError } from "../src/script.js";

const vars = new Map([
  ["NAME", "world"],
  ["CI_JOB_ID", "42"],
]);
const commands = (line: string) => parseLine(line, vars).map((s) => [s.after, s.command]);

describe("the tiny shell's reading of a script line", () => {
  it("echoes words joined by a space, with variables expanded except in single quotes", () => {
    expect(commands(`echo "hello  $NAME" \${CI_JOB_ID} '$NAME' $UNSET`)).toEqual([
      [";", { kind: "echo", text: "hello  world 42 $NAME " }],
    ]);
  });

  it("reads sleep, exit (low 8 bits as a shell keeps them), false and other commands", () => {
    expect(commands("sleep 1.5")).toEqual([[";", { kind: "sleep", seconds: 1.5 }]]);
    expect(commands("exit 3")).toEqual([[";", { kind: "exit", code: 3 }]]);
    expect(commands("exit")).toEqual([[";", { kind: "exit", code: 0 }]]);
    expect(commands("exit 256")).toEqual([[";", { kind: "exit", code: 0 }]]);
    expect(commands("exit -1")).toEqual([[";", { kind: "exit", code: 255 }]]);
    expect(commands("false")).toEqual([[";", { kind: "false" }]]);
    expect(commands("bundle exec rspec")).toEqual([[";", { kind: "run" }]]);
    expect(commands("ls | wc -l > count")).toEqual([[";", { kind: "run" }]]);
  });

  it("splits on ;, && and ||", () => {
    expect(commands("echo a && exit 1; echo b || true")).toEqual([
      [";", { kind: "echo", text: "a" }],
      ["&&", { kind: "exit", code: 1 }],
      [";", { kind: "echo", text: "b" }],
      ["||", { kind: "run" }],
    ]);
  });

  it("reads the fail directive in a comment, and ignores other comments", () => {
    expect(commands("# jobs-api-runner: fail runner_system_failure")).toEqual([
      [";", { kind: "fail", reason: "runner_system_failure" }],
    ]);
    expect(commands("echo hi # just a comment")).toEqual([[";", { kind: "echo", text: "hi" }]]);
    expect(commands("# just a comment")).toEqual([]);
  });

  it("refuses what a shell would refuse, and unknown directives", () => {
    for (const line of ["sleep", "sleep soon", "exit 1 2", "exit x", "# jobs-api-runner: explode"]) {
      expect(() => parseLine(line, vars), line).toThrow(ScriptSyntaxError);
    }
  });
});
