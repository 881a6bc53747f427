/** The reference server, in-process on an ephemeral port, on a fresh in-memory copy of its demo data (its test fixture). */
import { DEMO_IDS, DEMO_TOKENS, startDemoServer } from "@jobs-api/server";
import { pino } from "pino";

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
