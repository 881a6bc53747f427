/** The reference server, in-process on an ephemeral port, on a fresh in-memory copy of its demo data (its test fixture). */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_IDS, DEMO_TOKENS, startDemoServer } from "@jobs-api/server";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import { type Fault, type Proxy as FaultProxy, startFaultProxy } from "./fault-proxy.js";

export interface Reference {
  /** `http://127.0.0.1:<port>/api/v4` */
  baseUrl: string;
  /** The demo maintainer's personal token. */
  token: string;
  /** The job token of the demo's running job. */
  jobToken: string;
  /** The demo project's numeric id, as `--project` takes it. */
  project: string;
  projectPath: string;
  /** A public project of the demo data, readable without a token. */
  publicProject: string;
  close(): Promise<void>;
}

export async function startReference(): Promise<Reference> {
  const server = await startDemoServer({ logger: pino({ level: "silent" }) });
  return {
    baseUrl: server.api,
    token: DEMO_TOKENS.maintainer,
    jobToken: DEMO_TOKENS.job,
    project: String(DEMO_IDS.project),
    projectPath: DEMO_IDS.projectPath,
    publicProject: String(DEMO_IDS.publicProject),
    close: server.close,
  };
}

/**
 * A fresh reference server for each test of the calling `describe`, and the fault proxy a test may put in
 * front of it: both are closed after the test, so each test owns its data.
 */
export function referencePerTest(): {
  readonly reference: Reference;
  behindFault(fault: Fault): Promise<FaultProxy>;
} {
  let reference: Reference | undefined;
  let proxy: FaultProxy | undefined;
  beforeEach(async () => {
    reference = await startReference();
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    await reference?.close();
    reference = undefined;
  });
  const current = (): Reference => {
    if (!reference) throw new Error("the reference server runs only during a test");
    return reference;
  };
  return {
    get reference() {
      return current();
    },
    async behindFault(fault) {
      proxy = await startFaultProxy(current().baseUrl, fault);
      return proxy;
    },
  };
}

/**
 * One reference server for all the tests of the calling `describe`, and a temporary folder (named from
 * `prefix`) for the reports they write: both are gone after the last test.
 */
export function referenceForAll(prefix: string): { readonly reference: Reference; readonly dir: string } {
  let reference: Reference | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    reference = await startReference();
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    await reference?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return {
    get reference() {
      if (!reference) throw new Error("the reference server runs only during the tests");
      return reference;
    },
    get dir() {
      if (!dir) throw new Error("the folder exists only during the tests");
      return dir;
    },
  };
}
