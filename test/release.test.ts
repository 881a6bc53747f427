import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The changesets configuration, tried on a copy of the workspace's manifests: one changeset for one package
 * releases the public packages together, with one version and a changelog each, and leaves the
 * workspace: ranges (pnpm publish turns them into versions) and the private bench alone.
 */

const run = promisify(execFile);
const rootDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
let copy: string;

interface Manifest {
  name: string;
  version?: string;
  private?: boolean;
  dependencies?: Record<string, string>;
}
const manifest = async (dir: string, workspace: string) =>
  JSON.parse(await readFile(join(dir, workspace, "package.json"), "utf8")) as Manifest;
const workspaces = async () => [
  "bench",
  ...(await readdir(join(rootDir, "packages"))).map((name) => join("packages", name)),
];

beforeAll(async () => {
  copy = await mkdtemp(join(tmpdir(), "jobs-api-release-"));
  for (const file of [
    "package.json",
    "pnpm-workspace.yaml",
    ...(await workspaces()).map((w) => join(w, "package.json")),
  ]) {
    await mkdir(dirname(join(copy, file)), { recursive: true });
    await cp(join(rootDir, file), join(copy, file));
  }
  await cp(join(rootDir, ".changeset/config.json"), join(copy, ".changeset/config.json"));
  await symlink(join(rootDir, "node_modules"), join(copy, "node_modules"));
});
afterAll(async () => {
  if (copy) await rm(copy, { recursive: true, force: true });
});

describe("changesets", () => {
  it("groups exactly the public packages", async () => {
    const config = JSON.parse(await readFile(join(rootDir, ".changeset/config.json"), "utf8")) as {
      fixed: string[][];
    };
    const all = await Promise.all((await workspaces()).map((w) => manifest(rootDir, w)));
    expect(config.fixed).toEqual(
      [all.filter((m) => !m.private).map((m) => m.name)].map((names) => names.sort()),
    );
  });

  it("releases the public packages together from a changeset of one", async () => {
    await writeFile(
      join(copy, ".changeset/client-change.md"),
      '---\n"@jobs-api/client": minor\n---\n\nA change of the client.\n',
    );
    const before = await manifest(copy, "packages/client");
    await run(process.execPath, [join(rootDir, "node_modules/@changesets/cli/bin.js"), "version"], {
      cwd: copy,
    });
    const [major, minor] = (before.version ?? "").split(".").map(Number);
    const next = `${major}.${(minor ?? 0) + 1}.0`;
    for (const name of ["types", "client", "server", "conformance", "runner"]) {
      const after = await manifest(copy, join("packages", name));
      expect(after.version, name).toBe(next);
      const internal = Object.entries(after.dependencies ?? {}).filter(([dep]) =>
        dep.startsWith("@jobs-api/"),
      );
      expect(new Set(internal.map(([, range]) => range)), name).toEqual(
        new Set(internal.length ? ["workspace:*"] : []),
      );
      expect(await readFile(join(copy, "packages", name, "CHANGELOG.md"), "utf8")).toContain(`## ${next}`);
    }
    expect(await readFile(join(copy, "packages/client/CHANGELOG.md"), "utf8")).toContain(
      "A change of the client.",
    );
    expect((await manifest(copy, "bench")).version).toBeUndefined();
    expect(await readdir(join(copy, ".changeset"))).toEqual(["config.json"]);
  });
});
