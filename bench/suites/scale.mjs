// @ts-check
// Suite 3: list latency as the data grows — first page, a deep offset page and a deep keyset page of
// listProjectJobs at each size, one server per database, sizes alternating within every round.
// Latency is measured over one keep-alive connection: mean = run time / answered requests.

import { OFFSET_LIMIT } from "@jobs-api/server";
import { pgliteDataset, postgresDataset } from "../lib/dataset.mjs";
import { alternate } from "../lib/measure.mjs";
import { startPostgres, stopPostgres } from "../lib/postgres.mjs";
import { stop } from "../lib/proc.mjs";
import { target } from "../lib/report.mjs";
import { startServer } from "../lib/servers.mjs";
import { ratioOfRounds, summary } from "../lib/stats.mjs";
import { perDatabase } from "../lib/suite.mjs";

/** The keyset cursor of the reference server (base64url of {"id": n}); checked against a real answer below. */
const cursorAfter = (id) => Buffer.from(JSON.stringify({ id })).toString("base64url");

export function scaleSuite(ctx) {
  return perDatabase(ctx.options.db, (engine) => scaleOn(engine, ctx));
}

async function scaleOn(engine, { options, root, cpu, log, profileDir }) {
  const sizes = options.sizes;
  /** @type {{ url: string, dir: string, root: string } | null} */
  let cluster = null;
  /** @type {Awaited<ReturnType<typeof startServer>>[]} */
  let servers = [];
  try {
    if (engine === "postgres") cluster = await startPostgres(root, log, cpu.server);
    const datasets = [];
    for (const n of sizes) {
      datasets.push(
        engine === "pglite"
          ? await pgliteDataset({ root, n, log })
          : await postgresDataset({ n, adminUrl: cluster?.url ?? "", log }),
      );
    }
    servers = await Promise.all(
      datasets.map((d, i) =>
        startServer({
          label: `${engine} ${sizes[i]}`,
          cpu: cpu.server,
          db: d.databaseUrl ? { databaseUrl: d.databaseUrl } : { dataDir: d.dataDir },
          profileDir,
        }),
      ),
    );
    const pages = await pagesOf(datasets, servers, sizes);
    log(
      `  deep pages at offset ${pages.map((p) => `${p.offset.toLocaleString("en-US")} (${p.size})`).join(", ")}`,
    );
    // One keep-alive connection: latency, not throughput. Sizes alternate within every round.
    const { meanMs: ms } = await alternate({
      rounds: options.rounds,
      duration: options.duration,
      targets: pages,
      requests: KINDS.map((op) => ({ op, path: "" })),
      connections: 1,
      load: options.load,
      warmup: Math.min(options.warmup, 1),
      urlOf: (page, r) => page.urls[r.op],
      log,
      suffix: ` ${engine}`,
    });
    return {
      ...latencyReport(engine, sizes, ms),
      perRound: ms,
      datasets: datasets.map(({ dataDir, databaseUrl, ...d }) => d),
    };
  } finally {
    await Promise.all(servers.map((s) => stop(s.child)));
    if (cluster) await stopPostgres(cluster);
  }
}

const KINDS = ["first page", "deep offset page", "deep keyset page"];

/**
 * For each size, the URLs of the first page and of a page in the middle by offset and by keyset. The deep
 * keyset and deep offset pages must be the same 20 jobs: the harness measures what it claims.
 */
async function pagesOf(datasets, servers, sizes) {
  /** @type {{ name: string, size: number, baseUrl: string, headers: Record<string, string>, urls: Record<string, string>, offset: number }[]} */
  const pages = [];
  for (const [i, d] of datasets.entries()) {
    const s = servers[i];
    const list = `${s.baseUrl}/projects/${s.project}/jobs`;
    // The middle of the list, or GitLab's deepest offset page (`offset_pagination_limit`: beyond offset
    // 50 000 the server answers 405, as GitLab does), whichever comes first. A keyset page costs the same at
    // any depth (an index seek), so the keyset page is taken at the same place.
    const middlePage = Math.max(2, Math.min(Math.floor(d.listed / 20 / 2), OFFSET_LIMIT / 20));
    const middleId = await idAtOffset(list, s.headers, (middlePage - 1) * 20);
    const urls = {
      "first page": `${list}?per_page=20`,
      "deep offset page": `${list}?per_page=20&page=${middlePage}`,
      "deep keyset page": `${list}?per_page=20&pagination=keyset&cursor=${cursorAfter(middleId + 1)}`,
    };
    const [a, b] = await Promise.all([
      json(urls["deep offset page"], s.headers),
      json(urls["deep keyset page"], s.headers),
    ]);
    if (a.length !== 20 || a.map((j) => j.id).join() !== b.map((j) => j.id).join()) {
      throw new Error(`size ${sizes[i]}: deep offset and keyset pages differ (${a[0]?.id}… vs ${b[0]?.id}…)`);
    }
    pages.push({
      name: `@ ${sizes[i]}`,
      size: sizes[i],
      baseUrl: s.baseUrl,
      headers: s.headers,
      urls,
      offset: (middlePage - 1) * 20,
    });
  }
  return pages;
}

/** Rows and targets from the mean latencies keyed `"<kind> @ <size>"`. */
function latencyReport(engine, sizes, ms) {
  const rows = [];
  for (const k of KINDS) {
    for (const n of sizes) {
      rows.push({
        name: `${engine} list ${k}, ${fmtSize(n)} jobs`,
        unit: "ms",
        ...summary(ms[`${k} @ ${n}`]),
      });
    }
  }
  const small = sizes[0];
  const big = sizes.at(-1);
  const growth = ratioOfRounds(ms[`first page @ ${big}`], ms[`first page @ ${small}`]);
  rows.push({
    name: `${engine} ratio first page ${fmtSize(big)} / ${fmtSize(small)}`,
    unit: "×",
    ...summary([growth]),
  });
  const targets = [target(`${engine}: first page ${fmtSize(big)} / ${fmtSize(small)}`, growth, "<=", 1.2)];
  for (const n of sizes) {
    const keyset = ratioOfRounds(ms[`deep keyset page @ ${n}`], ms[`first page @ ${n}`]);
    const offset = ratioOfRounds(ms[`deep offset page @ ${n}`], ms[`first page @ ${n}`]);
    rows.push({
      name: `${engine} ratio deep keyset / first page, ${fmtSize(n)}`,
      unit: "×",
      ...summary([keyset]),
    });
    rows.push({
      name: `${engine} ratio deep offset / first page, ${fmtSize(n)}`,
      unit: "×",
      ...summary([offset]),
    });
    if (n === big)
      targets.push(target(`${engine}: deep keyset / first page at ${fmtSize(n)}`, keyset, "<=", 1.1));
  }
  return { rows, targets };
}

async function json(url, headers) {
  const res = await fetch(url, { headers });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** The id of the job at `offset` in the newest-first list (taken from the server's own offset page). */
async function idAtOffset(list, headers, offset) {
  const perPage = 20;
  const page = Math.floor(offset / perPage) + 1;
  const jobs = await json(`${list}?per_page=${perPage}&page=${page}`, headers);
  const job = jobs[offset % perPage];
  if (!job) throw new Error(`no job at offset ${offset}`);
  return job.id;
}

export const fmtSize = (n) =>
  n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : String(n);
