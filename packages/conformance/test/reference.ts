/** The reference server, in-process on an ephemeral port, on a fresh in-memory copy of its demo data. */
import {
  createApp,
  DEMO_IDS,
  DEMO_TOKENS,
  listen,
  migrate,
  openPglite,
  seedDemo,
  store,
} from "@jobs-api/server";
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
  close(): Promise<void>;
}

let template: Promise<Blob> | undefined;

/** A migrated, seeded database dumped once per test process: each server then loads it in well under a second. */
function seededTemplate(): Promise<Blob> {
  template ??= (async () => {
    const db = await openPglite();
    await migrate(db);
    await seedDemo(db);
    // The demo pipeline has one trigger job; ordering bridges needs a second one.
    await store.createJob(db, {
      pipelineId: DEMO_IDS.pipeline,
      type: "bridge",
      name: "trigger:docs",
      stage: "deploy",
      status: "success",
      userId: DEMO_IDS.maintainerUser,
      createdAt: new Date("2015-12-24T15:51:22.000Z"),
      startedAt: new Date("2015-12-24T17:55:00.000Z"),
      finishedAt: new Date("2015-12-24T17:56:00.000Z"),
    });
    const dump = await db.dump();
    await db.close();
    return dump;
  })();
  return template;
}

export async function startReference(): Promise<Reference> {
  const db = await openPglite({ loadDataDir: await seededTemplate() });
  const app = createApp({ db, logger: pino({ level: "silent" }) });
  const running = await listen(app, { port: 0, host: "127.0.0.1" });
  return {
    baseUrl: `${running.url}/api/v4`,
    token: DEMO_TOKENS.maintainer,
    jobToken: DEMO_TOKENS.job,
    project: String(DEMO_IDS.project),
    projectPath: DEMO_IDS.projectPath,
    close: async () => {
      await running.close();
      await db.close();
    },
  };
}
