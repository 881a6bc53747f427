// @ts-check
// Suites 1 and 2: listProjectJobs (20 a page, and 2 a page: the size of Prism's example) and getJob on the
// reference server with full validation, with response validation off, with request logs off, optionally
// another build of it (--baseline), and on Prism's mock of the same bundled spec. On each database of --db.
// Two bounds run beside them (bench/bounds/): the server's app over a memoised database (its cost without
// the database's) and Express alone sending the server's answers (the floor under any Express server).
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pgliteDataset, postgresDataset } from "../lib/dataset.mjs";
import { alternate } from "../lib/measure.mjs";
import { startPostgres, stopPostgres } from "../lib/postgres.mjs";
import { startPrism } from "../lib/prism.mjs";
import { cpuSeconds, rssMiB, stop } from "../lib/proc.mjs";
import { target } from "../lib/report.mjs";
import { startBound, startServer } from "../lib/servers.mjs";
import { ratioOfRounds, summary } from "../lib/stats.mjs";
import { perDatabase } from "../lib/suite.mjs";

export function validationSuite(ctx) {
  return perDatabase(ctx.options.db, (engine) => validationOn(engine, ctx));
}

/**
 * The server variants measured side by side. The server's only validation switch is
 * --no-response-validation: request validation also coerces and defaults the parameters the handlers rely
 * on, so it cannot be turned off. The third variant shows what the per-request log line costs.
 */
function serverVariants(options) {
  /** @type {{ name: string, validation: "full"|"requests", logLevel?: string, cli?: string }[]} */
  const variants = [
    { name: "full validation", validation: "full" },
    { name: "responses unvalidated", validation: "requests" },
    { name: "full, request logs off", validation: "full", logLevel: "warn" },
  ];
  if (options.baseline) variants.push({ name: "baseline build", validation: "full", cli: options.baseline });
  return variants;
}

async function validationOn(engine, ctx) {
  const { options, log } = ctx;
  const variants = serverVariants(options);
  const suffix = engine === "pglite" ? "" : ` [${engine}]`;
  /** @type {{ targets: { name: string, baseUrl: string, headers?: Record<string, string>, child: import("node:child_process").ChildProcess }[],
   *   cluster: { url: string, dir: string, root: string } | null, scratch: string | null }} */
  const env = { targets: [], cluster: null, scratch: null };
  try {
    const dbOf = await databases(engine, ctx, variants.length + 1, env);
    env.scratch ??= mkdtempSync(join(tmpdir(), "jobs-api-bench-validation-"));
    // Every round on targets started for it, so that no process's history (its warm-up, its heap) is carried
    // into every round. Most of what looked like such luck (getJob for 200 and 159 µs of CPU from two
    // processes of nearly the same code) was V8's memory reducer shrinking an idle target's heap; the warm-up
    // before every measured run (lib/measure.mjs) takes that away, and the rounds now agree within a few
    // percent (BENCHMARKS.md, fifth pass).
    /** @type {import("../lib/measure.mjs").Measured | undefined} */
    let measured;
    let shapes = {};
    /** @type {number | null} */
    let idleMiB = null;
    /** @type {number | null} */
    let afterLoadMiB = null;
    /** @type {{ op: string, path: string, items?: number }[]} */
    let requests = [];
    /** @type {typeof env.targets} */
    let lastTargets = [];
    // The server's answers, which the Express-only bound sends back: the same in every round.
    const answersFile = join(env.scratch, "answers.json");
    for (let round = 0; round < options.rounds; round++) {
      const server = await startTargets(engine, ctx, variants, dbOf, env.targets);
      if (round === 0) {
        // Prism answers every list request with the spec's 2-job example, whatever `per_page` says.
        requests = [
          { op: "listProjectJobs", path: `/projects/${server.project}/jobs?per_page=20`, items: 20 },
          { op: "listProjectJobs 2 a page", path: `/projects/${server.project}/jobs?per_page=2`, items: 2 },
          { op: "getJob", path: `/projects/${server.project}/jobs/${server.jobId}` },
        ];
        writeFileSync(answersFile, JSON.stringify(await serverAnswers(server, requests)));
      }
      await startBounds(ctx, env.targets, answersFile, dbOf(variants.length), suffix);
      if (round === 0) {
        shapes = await checkAnswers(env.targets, server, requests);
        log(`  response shapes: ${JSON.stringify(shapes)}`);
        idleMiB = rssMiB(server.child.pid);
      }
      measured = await alternate({
        ...options,
        rounds: 1,
        firstRound: round,
        into: measured,
        targets: env.targets,
        requests,
        log,
        suffix,
        // Every target is a child process (servers, bounds, Prism).
        cpuOf: (t) =>
          cpuSeconds(/** @type {{ child: { pid?: number } }} */ (/** @type {unknown} */ (t)).child.pid),
      });
      afterLoadMiB = rssMiB(server.child.pid);
      lastTargets = env.targets.splice(0);
      await Promise.all(lastTargets.map((t) => stop(t.child)));
    }
    if (!measured) throw new Error("--rounds must be at least 1");
    const memory = { idleMiB, afterLoadMiB };
    const ratios = ratiosOf(measured.rps, requests, shapes, options);
    const rows = [
      ...rowsOf(measured, requests, lastTargets, options, suffix),
      {
        name: `server RSS idle (after start and the answer checks)${suffix}`,
        unit: "MiB",
        ...summary([memory.idleMiB]),
      },
      { name: `server RSS after the load runs${suffix}`, unit: "MiB", ...summary([memory.afterLoadMiB]) },
      ...Object.entries(ratios).map(([name, value]) => ({
        name: `ratio ${name}${suffix}`,
        unit: "×",
        ...summary([value]),
      })),
    ];
    return { rows, ratios, shapes, memory, perRound: measured, targets: targetsOf(ratios, suffix) };
  } finally {
    await Promise.all(env.targets.map((t) => stop(t.child)));
    if (env.scratch) rmSync(env.scratch, { recursive: true, force: true });
    if (env.cluster) await stopPostgres(env.cluster);
  }
}

/**
 * The database of each server: one PostgreSQL database for all (the requests only read), or on PGlite a
 * copy of the prepared demo data directory for each (opening one takes about 1 s, a fresh in-memory
 * database seconds of initdb and seeding). `count` includes the memoised-database bound.
 */
async function databases(engine, { root, cpu, log }, count, env) {
  if (engine === "postgres") {
    env.cluster = await startPostgres(root, log, cpu.server);
    const demo = await postgresDataset({ n: 0, adminUrl: env.cluster.url, log });
    return () => ({ databaseUrl: demo.databaseUrl });
  }
  const demo = await pgliteDataset({ root, n: 0, log });
  env.scratch = mkdtempSync(join(tmpdir(), "jobs-api-bench-validation-"));
  const dirs = Array.from({ length: count }, (_, i) => {
    const dir = join(env.scratch, String(i));
    cpSync(demo.dataDir, dir, { recursive: true });
    return dir;
  });
  return (i) => ({ dataDir: dirs[i] });
}

/** The server variants and Prism, in `targets`; returns the first variant (full validation). */
async function startTargets(engine, { root, cpu, profileDir }, variants, dbOf, targets) {
  const suffix = engine === "pglite" ? "" : ` [${engine}]`;
  const started = await startAll(targets, [
    ...variants.map((v, i) =>
      startServer({
        label: `${v.name}${suffix}`,
        cpu: cpu.server,
        validation: v.validation,
        logLevel: v.logLevel,
        cli: v.cli,
        db: dbOf(i),
        profileDir,
      }),
    ),
    startPrism({ spec: join(root, "packages/types/spec/openapi.json"), cpu: cpu.server, token: "bench" }),
  ]);
  started.forEach((s, i) => {
    s.name = variants[i]?.name ?? "prism";
  });
  return started[0];
}

/** The memoised-database and Express-only bounds, which send what the server answers, in `targets`. */
async function startBounds({ cpu, profileDir }, targets, answersFile, db, suffix) {
  const [memoised, expressOnly] = await startAll(targets, [
    startBound({
      label: `memoised database${suffix}`,
      script: "memoised-database.mjs",
      cpu: cpu.server,
      db,
      profileDir,
    }),
    startBound({
      label: `express only${suffix}`,
      script: "express-only.mjs",
      cpu: cpu.server,
      args: ["--answers", answersFile],
      profileDir,
    }),
  ]);
  Object.assign(memoised, { name: "memoised database", bound: true });
  Object.assign(expressOnly, { name: "express only", bound: true });
}

/**
 * Correctness first: every target answers 200 with the expected shape before anything is timed, and the
 * bounds send what the server sends. Returns the items and bytes of each answer.
 */
async function checkAnswers(targets, server, requests) {
  const shapes = {};
  const serverAnswer = {};
  for (const t of targets) {
    for (const r of requests) {
      const res = await fetch(urlOf(t, r), { headers: t.headers });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${t.name} ${r.op}: HTTP ${res.status} ${text}`);
      const body = JSON.parse(text);
      const items = Array.isArray(body) ? body.length : null;
      if (r.items && t.kind !== "prism" && items !== r.items) {
        throw new Error(`${t.name} ${r.op}: ${items} items, expected ${r.items}`);
      }
      // An unfinished job's `duration` and `queued_duration` grow with the clock, and a user's `local_time`
      // is the time of day of the read; the rest must match.
      const stable = JSON.stringify(body, (key, value) =>
        key === "duration" || key === "queued_duration" || key === "local_time" ? undefined : value,
      );
      // The paging headers; X-Request-Id and X-Runtime differ on every answer.
      const paging = [...res.headers]
        .filter(([name]) => name.startsWith("x-") && name !== "x-request-id" && name !== "x-runtime")
        .join("; ");
      if (t === server) serverAnswer[r.op] = { stable, paging };
      else if (t.bound && (stable !== serverAnswer[r.op].stable || paging !== serverAnswer[r.op].paging)) {
        const [ours, theirs] =
          paging !== serverAnswer[r.op].paging
            ? [serverAnswer[r.op].paging, paging]
            : [serverAnswer[r.op].stable, stable];
        let at = 0;
        while (at < ours.length && ours[at] === theirs[at]) at++;
        const near = (text) => text.slice(Math.max(0, at - 60), at + 60);
        throw new Error(
          `${t.name} ${r.op}: its answer or paging headers differ from the server's at ${at}: …${near(ours)}… against …${near(theirs)}…`,
        );
      }
      shapes[`${r.op} ${t.name}`] = { items, bytes: Buffer.byteLength(text) };
    }
  }
  return shapes;
}

function rowsOf(measured, requests, targets, options, suffix) {
  const rows = [];
  for (const r of requests) {
    for (const t of targets) {
      const key = `${r.op} ${t.name}`;
      rows.push({
        name: `${key}${suffix} (${options.connections} conn)`,
        unit: "req/s",
        ...summary(measured.rps[key]),
      });
      rows.push({ name: `${key}${suffix} p99 latency`, unit: "ms", ...summary(measured.p99[key]) });
      // CPU time per answer of the target's processes: a cost that other load on the machine moves far
      // less than it moves the rates (on PostgreSQL without the database's own).
      const cores = measured.targetCores[key] ?? [];
      const perAnswer = cores.map((c, i) => (c / (measured.rps[key]?.[i] ?? Number.NaN)) * 1e6);
      rows.push({ name: `${key}${suffix} CPU per answer`, unit: "µs", ...summary(perAnswer) });
    }
  }
  return rows;
}

function ratiosOf(rps, requests, shapes, options) {
  const ratios = {};
  for (const r of requests) {
    const of = (name) => rps[`${r.op} ${name}`];
    const full = of("full validation");
    ratios[`${r.op} full / responses unvalidated`] = ratioOfRounds(full, of("responses unvalidated"));
    ratios[`${r.op} full / full without request logs`] = ratioOfRounds(full, of("full, request logs off"));
    if (options.baseline) ratios[`${r.op} full / baseline build`] = ratioOfRounds(full, of("baseline build"));
    ratios[`${r.op} full / prism`] = ratioOfRounds(full, of("prism"));
    ratios[`${r.op} full / memoised database`] = ratioOfRounds(full, of("memoised database"));
    ratios[`${r.op} memoised database / prism`] = ratioOfRounds(of("memoised database"), of("prism"));
    ratios[`${r.op} express only / prism`] = ratioOfRounds(of("express only"), of("prism"));
    // Prism's list answer is its 2-job example: per job and per byte served, the 20-a-page list
    // does 10× (and ~10× the bytes) of the work of one Prism answer.
    const ours = shapes[`${r.op} full validation`];
    const theirs = shapes[`${r.op} prism`];
    if (r.items && ours.items && theirs.items) {
      ratios[`${r.op} full / prism, per job served`] =
        ratios[`${r.op} full / prism`] * (ours.items / theirs.items);
      ratios[`${r.op} full / prism, per byte served`] =
        ratios[`${r.op} full / prism`] * (ours.bytes / theirs.bytes);
    }
  }
  return ratios;
}

/** Issue 18's targets: equal payload (2 a page, getJob) ≥ 1.5× Prism, the 20-job list ≥ 1×, validation on / off ≥ 0.9. */
function targetsOf(ratios, suffix) {
  return [
    target(
      `list 2 a page: full validation / Prism${suffix}`,
      ratios["listProjectJobs 2 a page full / prism"],
      ">=",
      1.5,
    ),
    target(`get: full validation / Prism${suffix}`, ratios["getJob full / prism"], ">=", 1.5),
    target(
      `list 20 a page: full validation / Prism${suffix}`,
      ratios["listProjectJobs full / prism"],
      ">=",
      1,
    ),
    target(
      `list: full validation / validation off${suffix}`,
      ratios["listProjectJobs full / responses unvalidated"],
      ">=",
      0.9,
    ),
    target(
      `get: full validation / validation off${suffix}`,
      ratios["getJob full / responses unvalidated"],
      ">=",
      0.9,
    ),
  ];
}

/**
 * Starts servers, adding each to `targets` as soon as it is up, so that the caller's `finally` stops the
 * ones that started when another fails.
 */
async function startAll(targets, starting) {
  const settled = await Promise.allSettled(starting);
  for (const s of settled) if (s.status === "fulfilled") targets.push(s.value);
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw failed.reason;
  return settled.map((s) => /** @type {PromiseFulfilledResult<any>} */ (s).value);
}

/** The server's answer to each request (paging headers and body), for Express alone to send back. */
async function serverAnswers(server, requests) {
  const answers = {};
  for (const r of requests) {
    const url = new URL(urlOf(server, r));
    const res = await fetch(url, { headers: server.headers });
    const headers = {};
    for (const [name, value] of res.headers) if (/^(x-|link$)/i.test(name)) headers[name] = value;
    answers[url.pathname + url.search] = { headers, body: await res.json() };
  }
  return answers;
}

function urlOf(t, r) {
  return `${t.baseUrl}${r.path}`;
}
