import { jobStatusValues } from "@jobs-api/types";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Database, DEMO_TOKENS, type DemoServer } from "../src/index.js";
import { keepAliveAgent, type RawRequest, sendRaw } from "./helpers/http.js";
import { seedFrom } from "./helpers/random.js";
import { serveForFile } from "./helpers/server.js";
import { checkExchange, operations, type SpecOperation, type SpecParameter } from "./helpers/spec.js";

/**
 * Requests derived from the bundled spec — valid, boundary and invalid values for every parameter, hostile
 * strings, wrong methods and content types, oversized bodies — sent over real HTTP. Every answer must be
 * valid by the spec (or GitLab's error shape for statuses the spec leaves out), never a 5xx, and the server
 * must be healthy afterwards. `FUZZ_RUNS` sets the count (CI: 1,500 with a fixed seed; `pnpm fuzz`: 10,000
 * with a new seed each time) and `FUZZ_SEED` replays a run (`random` picks one).
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 1_500);
const SEED = seedFrom("FUZZ_SEED", 20_261_125);

/** Values no parameter should choke on: numbers out of every range, encodings, injections, control bytes. */
const HOSTILE = [
  "0",
  "-1",
  "-0",
  "00001",
  "+1",
  " 1",
  "1 ",
  "1.5",
  "1e3",
  "0x10",
  "9007199254740991",
  "9007199254740992",
  "9223372036854775807",
  "9223372036854775808",
  "99999999999999999999999999999999",
  "1e309",
  "-1e309",
  "NaN",
  "Infinity",
  "",
  " ",
  "%00",
  "%",
  "%%",
  "%zz",
  "%C0%AF",
  "%ED%A0%80",
  "%FF",
  "%2F",
  "%252F",
  "foo%2Fbar",
  "foo%252Fbar",
  "foo/bar",
  "../../job",
  "a#b",
  "foo\\bar",
  "a;b",
  // Sent raw in a query, a second `?` must not cut the query short for anyone reading it.
  "?",
  "?page=1e3&x",
  "%2e%2e%2f%2e%2e%2fjob",
  "' OR '1'='1",
  "1; DROP TABLE jobs; --",
  "1 UNION SELECT token_digest FROM access_tokens",
  "$(id)",
  "{{7*7}}",
  "#{7*7}",
  "<script>alert(1)</script>",
  "ü",
  "日本語",
  "😀",
  "\u202e",
  "\ufeff",
  "\u0000",
  "\r\nX-Injected: 1",
  "true",
  "null",
  "[]",
  "{}",
  "__proto__",
  "constructor",
  "a".repeat(513),
  "a".repeat(1025),
  "9".repeat(5000),
];

const hostile = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
);

type Schema = {
  type?: string;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  anyOf?: Schema[];
  items?: Schema & { $ref?: string };
};

/** Where the demo data lives, so that valid values mostly reach real rows and get past the lookups. */
const DEMO_RANGES: Record<string, [number, number]> = {
  id: [1, 2],
  job_id: [1, 100],
  pipeline_id: [1, 15],
  page: [1, 4],
  per_page: [1, 100],
};

/** Valid values of a schema, biased towards the demo data, and its boundaries. */
function validValues(schema: Schema, name: string): fc.Arbitrary<string> {
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((s) => validValues(s, name)));
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case "integer": {
      const min = schema.minimum ?? 0;
      const max = schema.maximum ?? 2 ** 31;
      const [low, high] = DEMO_RANGES[name] ?? [min, Math.min(max, min + 40)];
      return fc
        .oneof(
          { weight: 8, arbitrary: fc.integer({ min: low, max: high }) },
          { weight: 1, arbitrary: fc.constantFrom(min, max) },
        )
        .map(String);
    }
    case "boolean":
      return fc.constantFrom("true", "false");
    case "string":
      if (name === "id") {
        return fc.constantFrom(
          "foo/bar",
          "FOO/Bar",
          "diaspora/diaspora-client",
          "secret/hidden",
          "no/such",
          "3",
        );
      }
      return fc.oneof(
        fc.string({ minLength: schema.minLength ?? 0, maxLength: 20 }),
        fc.constant("x".repeat(schema.maxLength ?? 64)),
      );
    default:
      return hostile;
  }
}

/** Just outside the schema: below the minimum, above the maximum, one character too long, wrong type. */
function boundaryValues(schema: Schema): fc.Arbitrary<string> {
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map(boundaryValues));
  const values: string[] = [];
  if (schema.minimum !== undefined) values.push(String(schema.minimum - 1));
  if (schema.maximum !== undefined) values.push(String(schema.maximum + 1), `${schema.maximum}0`);
  if (schema.maxLength !== undefined) values.push("y".repeat(schema.maxLength + 1));
  if (schema.minLength) values.push("");
  if (schema.enum) values.push(...schema.enum.map((v) => v.toUpperCase()), `${schema.enum[0]} `);
  if (schema.type === "boolean") values.push("1", "0", "yes", "TRUE", "");
  return values.length > 0 ? fc.constantFrom(...values) : hostile;
}

const paramValue = (p: SpecParameter, name: string) =>
  fc.oneof(
    { weight: 24, arbitrary: validValues(p.schema as Schema, name) },
    { weight: 2, arbitrary: boundaryValues(p.schema as Schema) },
    { weight: 2, arbitrary: hostile },
  );

/** Characters `node:http` puts on the wire as they are: printable ASCII and latin-1 (sent as raw bytes). */
const wireSafe = (s: string) =>
  Array.from(s, (ch) => (/^[\u0021-\u00ff]$/.test(ch) ? ch : encodeURIComponent(ch))).join("");

/** How a path segment reaches the server: properly encoded most of the time, raw or twice encoded else. */
const pathEncoding = fc.constantFrom<(v: string) => string>(
  encodeURIComponent,
  encodeURIComponent,
  encodeURIComponent,
  wireSafe,
  (v) => encodeURIComponent(encodeURIComponent(v)),
);

function arrayParam(p: SpecParameter): fc.Arbitrary<string[]> {
  const schema = p.schema as Schema;
  const item = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...jobStatusValues) },
    { weight: 1, arbitrary: hostile },
  );
  const key = fc.constantFrom(p.name, `${p.name}[]`, `${p.name}[0]`, encodeURIComponent(`${p.name}[]`));
  return fc.oneof(
    fc
      .tuple(key, fc.array(item, { minLength: 1, maxLength: 4 }))
      .map(([k, items]) => items.map((v) => `${k}=${encodeURIComponent(v)}`)),
    // More items than maxItems allows.
    fc.constant<string[]>(Array.from({ length: (schema.maxItems ?? 20) + 1 }, () => `${p.name}=failed`)),
    // Comma-joined, as some clients send arrays.
    fc.constant<string[]>([`${p.name}=failed,success`]),
    // An object instead of a list.
    fc.constant<string[]>([`${p.name}[a][b]=failed`]),
  );
}

function queryParam(p: SpecParameter): fc.Arbitrary<string[]> {
  if ((p.schema as Schema).type === "array") return arrayParam(p);
  return fc.oneof(
    { weight: 6, arbitrary: paramValue(p, p.name).map((v) => [`${p.name}=${encodeURIComponent(v)}`]) },
    { weight: 1, arbitrary: paramValue(p, p.name).map((v) => [`${p.name}=${wireSafe(v)}`]) },
    // Repeated and bracketed forms of a scalar.
    { weight: 1, arbitrary: fc.constant<string[]>([`${p.name}=1`, `${p.name}=2`]) },
    { weight: 1, arbitrary: fc.constant<string[]>([`${p.name}[]=1`]) },
    { weight: 1, arbitrary: fc.constant<string[]>([`${p.name}`]) },
  );
}

const T = DEMO_TOKENS;
/** Who calls: mostly the maintainer, so that most requests get past authentication into the handlers. */
const auth = fc.oneof(
  { weight: 16, arbitrary: fc.constant<Record<string, string>>({ "PRIVATE-TOKEN": T.maintainer }) },
  {
    weight: 4,
    arbitrary: fc
      .constantFrom(T.developer, T.reporter, T.guest, T.outsider, T.expired, T.revoked, T.oauth)
      .map((t) => ({ "PRIVATE-TOKEN": t })),
  },
  { weight: 2, arbitrary: fc.constant({ Authorization: `Bearer ${T.oauth}` }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(T.job, T.finishedJob).map((t) => ({ "JOB-TOKEN": t })),
  },
  { weight: 1, arbitrary: fc.constant({}) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom("PRIVATE-TOKEN", "JOB-TOKEN", "Authorization"),
        fc.oneof(hostile, fc.constantFrom("Bearer", "Bearer ", "Basic Zm9vOmJhcg==", `Bearer ${T.job} x`)),
      )
      .map(([name, value]) => ({ [name]: wireSafe(value) })),
  },
);
const queryAuth = fc.oneof(
  { weight: 8, arbitrary: fc.constant<string[]>([]) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom("private_token", "access_token", "job_token", "private_token[]"),
        fc.constantFrom(T.maintainer, T.oauth, T.job, T.expired, "", "%00"),
      )
      .map(([k, v]) => [`${k}=${v}`]),
  },
);

const BIG = "x".repeat(1_100_000);
const variables = fc.array(
  fc.record({
    key: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_]{1,20}$/), hostile),
    value: fc.oneof(fc.string({ maxLength: 30 }), hostile),
  }),
  { maxLength: 5 },
);
interface Body {
  type?: string;
  data?: string;
}

/** A body and its content type, valid for play or anything but. */
const body: fc.Arbitrary<Body> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Body>({}) },
  {
    weight: 4,
    arbitrary: variables.map((v) => ({
      type: "application/json",
      data: JSON.stringify({ job_variables_attributes: v }),
    })),
  },
  {
    weight: 2,
    arbitrary: fc
      .jsonValue({ maxDepth: 3 })
      .map((v) => ({ type: "application/json", data: JSON.stringify(v) })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          "application/json",
          "application/json; charset=utf-8",
          "application/json; charset=latin1",
          "text/plain",
          "application/x-www-form-urlencoded",
          "multipart/form-data; boundary=x",
          "application/xml",
          "",
          "%00",
        ),
        fc.oneof(hostile, fc.constantFrom("{", '{"job_variables_attributes":', "job_variables_attributes=1")),
      )
      .map(([type, data]) => ({ type, data })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { type: "application/json", data: `{"job_variables_attributes":[{"key":"K","value":"${BIG}"}]}` },
      { type: "text/plain", data: BIG },
    ),
  },
);

const OTHER_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

function operationRequest(op: SpecOperation): fc.Arbitrary<RawRequest> {
  const pathParams = op.parameters.filter((p) => p.in === "path");
  const queryParams = op.parameters.filter((p) => p.in === "query");
  return fc
    .record({
      path: fc.tuple(...pathParams.map((p) => fc.tuple(paramValue(p, p.name), pathEncoding))),
      query: fc.subarray(queryParams).chain((ps) => fc.tuple(...ps.map(queryParam))),
      extraQuery: fc.array(
        fc.tuple(fc.constantFrom("foo", "page[x]", "a%00b", "__proto__[x]", "per_page"), hostile),
        { maxLength: 1 },
      ),
      queryAuth,
      auth,
      method: fc.oneof({ weight: 12, arbitrary: fc.constant(op.method) }, fc.constantFrom(...OTHER_METHODS)),
      body: op.method === "POST" ? body : fc.oneof({ weight: 8, arbitrary: fc.constant<Body>({}) }, body),
      accept: fc.constantFrom(undefined, "application/json", "text/html", "*/*", "application/xml"),
    })
    .map((r) => {
      let path = op.template;
      pathParams.forEach((p, i) => {
        const [value, encode] = r.path[i] ?? ["1", encodeURIComponent];
        path = path.replace(`{${p.name}}`, encode(value));
      });
      const query = [
        ...r.query.flat(),
        ...r.extraQuery.map(([k, v]) => `${k}=${encodeURIComponent(v)}`),
        ...r.queryAuth,
      ];
      const headers: Record<string, string> = { ...r.auth };
      if (r.accept) headers.Accept = r.accept;
      if (r.body.type !== undefined) headers["Content-Type"] = r.body.type;
      return {
        method: r.method,
        target: `/api/v4${path}${query.length > 0 ? `?${query.join("&")}` : ""}`,
        headers,
        ...(r.body.data === undefined || r.method === "GET" || r.method === "HEAD"
          ? {}
          : { body: r.body.data }),
      };
    });
}

/** Targets outside the spec's routes: unknown paths, dot segments, doubled slashes, other bases. */
const strayRequest: fc.Arbitrary<RawRequest> = fc
  .tuple(
    fc.constantFrom(
      "/api/v4/projects/1/jobs/../../job",
      "/api/v4//projects/1/jobs",
      "/api/v4/projects/foo/bar/jobs",
      "/API/V4/projects/1/jobs",
      "/api/v4/projects/1/jobs/8/artifacts",
      "/api/v3/projects/1/jobs",
      "/api/v4/",
      "/api/v4",
      "/api/v4/job/",
      "/api/v4/projects/1/jobs/",
      "/api/v4/projects/%2e%2e/jobs",
      "/api/v4/projects/1%00/jobs",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/openapi.json/..",
      "*",
    ),
    fc.array(hostile.map(wireSafe), { maxLength: 3 }),
    fc.constantFrom(...OTHER_METHODS),
  )
  .map(([base, segments, method]) => ({
    method,
    target: [base, ...segments.map((s) => s.replaceAll("?", "%3F"))].join("/"),
    headers: { "PRIVATE-TOKEN": T.maintainer },
  }));

const anyRequest = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...operations).chain(operationRequest) },
  { weight: 1, arbitrary: strayRequest },
);

let _db: Database;
let server: DemoServer;

serveForFile((d, s) => {
  _db = d;
  server = s;
});

describe("fuzz: requests derived from the spec", () => {
  it(
    `answers ${RUNS} generated requests without a 5xx and within the spec`,
    async () => {
      const agent = keepAliveAgent();
      const statuses = new Map<number, number>();
      let sent = 0;
      console.info(`fuzz: seed ${SEED}, ${RUNS} requests (replay: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS})`);
      try {
        await fc.assert(
          fc.asyncProperty(anyRequest, async (req) => {
            const ex = await sendRaw(server.origin, req, agent);
            sent++;
            statuses.set(ex.status, (statuses.get(ex.status) ?? 0) + 1);
            const problems = checkExchange(ex);
            if (problems.length > 0) {
              const logged = server.logs.filter((line) => line.includes('"level":50')).at(-1);
              const err = logged ? (JSON.parse(logged) as { err?: { stack?: string } }).err?.stack : "";
              throw new Error(
                `${req.method} ${req.target.slice(0, 300)} → ${ex.status} ${ex.body.slice(0, 300)}: ${problems.join("; ")}\n${err ?? ""}`,
              );
            }
          }),
          { seed: SEED, numRuns: RUNS, endOnFailure: true },
        );
      } finally {
        agent.destroy();
        const histogram = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`);
        console.info(`fuzz: ${sent} requests sent, statuses { ${histogram.join(", ")} }`);
      }
      expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);

      // Still healthy and still right: a fresh connection gets the health check and a valid answer.
      expect((await fetch(`${server.origin}/-/health`)).status).toBe(200);
      const job = await fetch(`${server.api}/projects/1/jobs/8`, {
        headers: { "PRIVATE-TOKEN": T.maintainer },
      });
      expect(job.status).toBe(200);
      expect(server.logs.join("")).not.toContain('"level":50');
    },
    RUNS * 100 + 60_000,
  );
});
