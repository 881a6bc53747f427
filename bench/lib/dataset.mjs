// @ts-check
// Databases with N jobs for the scale suite: the server's own migrations and demo seed, then N more jobs
// in the demo project `foo/bar` (id 1), generated with generate_series straight into the server's tables.
// PGlite data directories are kept in bench/.data/ (gitignored) and reused while the schema is unchanged.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEMO_IDS, openDatabase, seedDemo } from "@jobs-api/server";

const PROJECT = DEMO_IDS.project;
const STATUSES = [
  "success",
  "failed",
  "success",
  "canceled",
  "success",
  "skipped",
  "manual",
  "success",
  "running",
  "pending",
];

/** Changes whenever the migrations, the seed or this generator change: then the data is rebuilt. */
export function schemaVersion(root) {
  const h = createHash("sha256");
  const migrations = join(root, "packages/server/migrations");
  for (const f of readdirSync(migrations).sort()) h.update(f).update(readFileSync(join(migrations, f)));
  h.update(readFileSync(join(root, "packages/server/dist/seed/demo.js")));
  h.update(bulkJobsSql(1000));
  return h.digest("hex").slice(0, 12);
}

/** SQL that adds `n` jobs (and a pipeline per 10 jobs, artifacts on successful ones) to project 1. */
export function bulkJobsSql(n) {
  const pipelines = Math.ceil(n / 10);
  const statuses = `ARRAY[${STATUSES.map((s) => `'${s}'`).join(",")}]`;
  return `
CREATE TEMP TABLE bench_base AS
  SELECT (SELECT coalesce(max(iid), 0) FROM pipelines WHERE project_id = ${PROJECT}) AS iid,
         (SELECT coalesce(max(id), 0) FROM jobs) AS job_id,
         (SELECT sha FROM commits WHERE project_id = ${PROJECT} ORDER BY created_at LIMIT 1) AS sha,
         (SELECT min(id) FROM runners) AS runner_id;
INSERT INTO pipelines (iid, project_id, sha, ref, status, source, user_id, created_at, updated_at)
  SELECT b.iid + g, ${PROJECT}, b.sha, 'main', 'success', 'push', 1,
         timestamptz '2025-01-01 00:00:00+00' + make_interval(secs => g * 600),
         timestamptz '2025-01-01 00:00:00+00' + make_interval(secs => g * 600 + 300)
  FROM bench_base b, generate_series(1, ${pipelines}) g;
INSERT INTO jobs (project_id, pipeline_id, type, name, stage, ref, status, "when", user_id, runner_id,
                  tag_list, failure_reason, coverage, created_at, queued_at, started_at, finished_at)
  SELECT ${PROJECT}, p.id, 'build', 'job:' || (g % 10), CASE WHEN g % 10 < 5 THEN 'build' ELSE 'test' END, 'main',
         s.status, CASE WHEN s.status = 'manual' THEN 'manual' ELSE 'on_success' END, 1 + g % 2,
         CASE WHEN s.status IN ('success', 'failed', 'canceled', 'running') THEN b.runner_id END,
         ARRAY['docker'], CASE WHEN s.status = 'failed' THEN 'script_failure' END,
         CASE WHEN s.status = 'success' THEN 80.5 END,
         t.created, t.created + interval '1 second',
         CASE WHEN s.status IN ('success', 'failed', 'canceled', 'running') THEN t.created + interval '5 seconds' END,
         CASE WHEN s.status IN ('success', 'failed', 'canceled') THEN t.created + interval '65 seconds' END
  FROM bench_base b
  CROSS JOIN generate_series(1, ${n}) g
  CROSS JOIN LATERAL (SELECT (${statuses})[1 + g % ${STATUSES.length}] AS status) s
  CROSS JOIN LATERAL (SELECT timestamptz '2025-01-01 00:00:00+00' + make_interval(secs => g * 60) AS created) t
  JOIN pipelines p ON p.project_id = ${PROJECT} AND p.iid = b.iid + 1 + (g - 1) / 10
  ORDER BY g;
INSERT INTO job_artifacts (job_id, file_type, file_format, filename, size)
  SELECT j.id, a.file_type, a.file_format, a.filename, a.size
  FROM jobs j, bench_base b,
       (VALUES ('archive', 'zip', 'artifacts.zip', 2048), ('metadata', 'gzip', 'metadata.gz', 160)) a(file_type, file_format, filename, size)
  WHERE j.id > b.job_id AND j.status = 'success';
DROP TABLE bench_base;`;
}

/**
 * A PGlite data directory with the demo seed and `n` generated jobs, built once and reused.
 * Returns { dataDir, jobs, built, seconds }.
 */
export async function pgliteDataset({ root, n, log }) {
  const version = schemaVersion(root);
  const dataDir = join(root, "bench/.data", `pglite-${n}-${version}`);
  const marker = join(dataDir, "bench-dataset.json");
  mkdirSync(join(root, "bench/.data"), { recursive: true });
  if (existsSync(marker)) return { dataDir, ...JSON.parse(readFileSync(marker, "utf8")), built: false };
  // Directories of older schema versions are stale: remove them (they can be a gigabyte each).
  for (const old of readdirSync(join(root, "bench/.data"), { withFileTypes: true })) {
    if (old.name.startsWith(`pglite-${n}-`) && old.name !== `pglite-${n}-${version}`) {
      rmSync(join(root, "bench/.data", old.name), { recursive: true, force: true });
    }
  }
  const building = `${dataDir}.building`;
  rmSync(building, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  log(`  building PGlite data dir with ${n.toLocaleString("en-US")} generated jobs…`);
  const t0 = performance.now();
  const db = await openDatabase({ dataDir: building });
  let info;
  try {
    await seedDemo(db);
    if (n > 0) await db.exec(bulkJobsSql(n));
    info = await describe(db);
  } finally {
    await db.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  writeFileSync(join(building, "bench-dataset.json"), JSON.stringify({ ...info, seconds, version }));
  renameSync(building, dataDir);
  log(`  built in ${seconds.toFixed(1)} s: ${JSON.stringify(info)}`);
  return { dataDir, ...info, seconds, built: true };
}

/** The same data in a PostgreSQL database (created if needed), vacuumed and analysed as autovacuum would. */
export async function postgresDataset({ n, adminUrl, log }) {
  const name = `bench_${n}`;
  const admin = await openDatabase({ databaseUrl: adminUrl, migrate: false });
  try {
    await admin.exec(`DROP DATABASE IF EXISTS ${name}`);
    await admin.exec(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  log(`  building PostgreSQL database ${name}…`);
  const t0 = performance.now();
  const db = await openDatabase({ databaseUrl: url.href });
  try {
    await seedDemo(db);
    await db.exec(bulkJobsSql(n));
    await db.exec("VACUUM ANALYZE");
    const info = await describe(db);
    const seconds = (performance.now() - t0) / 1000;
    log(`  built in ${seconds.toFixed(1)} s: ${JSON.stringify(info)}`);
    return { databaseUrl: url.href, ...info, seconds, built: true };
  } finally {
    await db.close();
  }
}

async function describe(db) {
  const [row] = await db.query(
    `SELECT (SELECT count(*)::int FROM jobs) AS jobs,
            (SELECT count(*)::int FROM jobs WHERE project_id = ${PROJECT} AND type = 'build' AND NOT retried) AS listed,
            (SELECT max(id)::int FROM jobs) AS "maxJobId"`,
  );
  return row;
}
