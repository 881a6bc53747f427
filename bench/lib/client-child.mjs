// @ts-check
// Runs in its own process on the load core: @jobs-api/client against raw fetch, interleaved in time blocks.
// argv[2]: JSON { baseUrl, token, project, jobId, seconds, rounds, warmup, canned }
// Prints one line: RESULT {json}
import { createJobsClient } from "@jobs-api/client";

const o = JSON.parse(process.argv[2]);
const headers = { "PRIVATE-TOKEN": o.token };
const ops = {
  getJob: {
    url: `${o.baseUrl}/projects/${o.project}/jobs/${o.jobId}`,
    call: (client) => client.getJob({ id: o.project, job_id: o.jobId }),
  },
  listProjectJobs: {
    url: `${o.baseUrl}/projects/${o.project}/jobs?per_page=20`,
    call: (client) => client.listProjectJobs({ id: o.project, per_page: 20 }),
  },
};

// "canned": an in-process fetch answering the recorded response, so only client-side work is timed.
let fetchImpl = globalThis.fetch;
if (o.canned) {
  const recorded = new Map();
  for (const op of Object.values(ops)) {
    const res = await fetch(op.url, { headers });
    recorded.set(op.url, { body: await res.text(), headers: [...res.headers], status: res.status });
  }
  fetchImpl = async (input) => {
    const url = typeof input === "string" ? input : input.url;
    const r = recorded.get(url);
    if (!r) throw new Error(`no recording for ${url}`);
    return new Response(r.body, { status: r.status, headers: r.headers });
  };
}

const client = createJobsClient({ baseUrl: o.baseUrl, token: o.token, fetch: fetchImpl });
const variants = {
  "raw fetch": (op) => async () => {
    const res = await fetchImpl(op.url, { headers });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  },
  client: (op) => () => op.call(client),
};

// Same answers from both, before anything is timed (ids and statuses: running jobs' durations tick).
const key = (data) => JSON.stringify([data].flat().map((j) => [j.id, j.status]));
for (const [name, op] of Object.entries(ops)) {
  const a = key(await variants["raw fetch"](op)());
  const b = key(await variants.client(op)());
  if (a !== b) throw new Error(`${name}: client and raw fetch disagree`);
}

async function block(fn, seconds) {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const start = performance.now();
  while (performance.now() < end) {
    await fn();
    n++;
  }
  return ((performance.now() - start) * 1000) / n; // µs per call
}

const names = Object.keys(variants);
const out = {};
for (const [opName, op] of Object.entries(ops)) {
  for (const v of names) await block(variants[v](op), o.warmup);
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 ? [...names].reverse() : names;
    out[opName] = out[opName] ?? {};
    for (const v of order) {
      const us = await block(variants[v](op), o.seconds);
      out[opName][v] = [...(out[opName][v] ?? []), us];
    }
  }
}
console.log(`RESULT ${JSON.stringify(out)}`);
