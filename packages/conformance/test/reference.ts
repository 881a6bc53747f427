/** The reference server, in-process on an ephemeral port, on a fresh in-memory copy of its demo data. */
import { createApp, DEMO_IDS, DEMO_TOKENS, listen, migrate, openPglite, seedDemo } from "@jobs-api/server";
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

let template: Promise<Blob> | undefined;

/** A migrated, seeded database dumped once per test process: each server then loads it in well under a second. */
function seededTemplate(): Promise<Blob> {
  template ??= (async () => {
    const db = await openPglite();
    await migrate(db);
    await seedDemo(db);
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
    publicProject: String(DEMO_IDS.publicProject),
    close: async () => {
      await running.close();
      await db.close();
    },
  };
}
