import { once } from "node:events";
import { get, type IncomingMessage } from "node:http";
import { fileURLToPath } from "node:url";
import { specPath } from "@jobs-api/types/files";
import express, { type Express, type RequestHandler } from "express";
import * as OpenApiValidator from "express-openapi-validator";
import { pino } from "pino";
import { errorHandler } from "../errors.js";
import { listen } from "../server.js";
import { API_BASE } from "./base.js";

/**
 * Where the patched validator keeps the code Ajv generates for each schema, by a digest of everything that
 * makes it: a new process loads it (~2 ms) instead of compiling it again (~50 ms for a job's response), on
 * each operation's first request of every server start and of every test process of a GitLab double. In
 * the package's own node_modules, as trusted as its code (a file there is run); from `dist/http/` and from
 * the bundle (`dist/bundle/`) alike, two levels up is the package.
 */
const COMPILED_CACHE = fileURLToPath(
  new URL("../../node_modules/.cache/jobs-api-server/validators/", import.meta.url),
);

/** The validator middleware of each app, for `setUpValidator`. */
const validators = new WeakMap<Express, RequestHandler[]>();

/**
 * One validator per process and setting, shared by every app: it depends only on the spec and on
 * `validateResponses`, and sharing it keeps its set-up and each operation's compiled validators for the
 * next app (the tests and the GitLab double start many apps in one process).
 */
const shared = new Map<boolean, RequestHandler[]>();

/** Validators whose set-up is done or under way. */
const settingUp = new WeakMap<RequestHandler[], Promise<void>>();

/**
 * express-openapi-validator sets itself up on its first request (loads the spec, prepares its schemas),
 * which the first caller would wait for. This sends a first request through `app`'s validator, mounted in
 * a throwaway app on a free loopback port, so the app itself sees none of it (no rate-limit quota spent,
 * no request log line, no database query); once per validator, so once per process and setting. Each
 * operation's validators are still compiled on the operation's first request (30–100 ms): compiling all
 * of them ahead would add ~0.6 s to the start.
 */
export async function setUpValidator(app: Express): Promise<void> {
  const validator = validators.get(app);
  if (!validator) throw new Error("setUpValidator: not an app of createApp");
  let done = settingUp.get(validator);
  if (!done) {
    done = warmUp(validator);
    settingUp.set(validator, done);
    // A failed set-up is tried again by the next caller.
    done.catch(() => settingUp.delete(validator));
  }
  await done;
}

async function warmUp(validator: RequestHandler[]): Promise<void> {
  const warm = express();
  warm.use(validator);
  warm.use(errorHandler(pino({ level: "silent" })));
  const server = await listen(warm, { port: 0, host: "127.0.0.1" });
  try {
    // A path of no operation: the validator sets itself up, then answers 404 without compiling any
    // operation's validators, which would add their cost to the start. Node's own HTTP client, which the
    // server has loaded already: the first `fetch` of a process loads undici (~22 ms of CPU at the start).
    const request = get(`${server.url}${API_BASE}/`);
    const [res] = (await once(request, "response")) as [IncomingMessage];
    res.resume();
    await once(res, "end");
  } finally {
    await server.close();
  }
}

/**
 * express-openapi-validator on the bundled spec: requests always, JSON answers unless `validateResponses`
 * is false (a mismatch answers 500). Registered for `setUpValidator(app)`.
 */
export function specValidator(app: Express, validateResponses: boolean): RequestHandler[] {
  let validator = shared.get(validateResponses);
  if (!validator) {
    validator = createValidator(validateResponses);
    shared.set(validateResponses, validator);
  }
  validators.set(app, validator);
  return validator;
}

function createValidator(validateResponses: boolean): RequestHandler[] {
  return OpenApiValidator.middleware({
    apiSpec: specPath,
    // The bundle is linted and checked against the OpenAPI schema by the spec pipeline (`pnpm check:generated`);
    // checking it again here cost ~85 ms of every start.
    validateApiSpec: false,
    // With `$ref`s left in (the default, "bundle"), the set-up resolves each one by compiling its target
    // with Ajv only to read the schema back (~0.15 s of CPU); dereferenced, there is nothing to resolve.
    // Part of it comes back on the first request, Ajv then compiling cold: ~50 ms less to a first
    // answer in all (measured pinned to one core), the same over the first calls of several operations.
    $refParser: { mode: "dereference" },
    // Every invalid parameter of a request is reported, as Grape does (`invalidParams`), not only the first.
    validateRequests: { allowUnknownQueryParameters: true, coerceTypes: true, allErrors: true },
    // Path parameters from `req.url`, where `paramsLikeGrape` wrote integers as Grape reads them (`1_0`).
    useRequestUrl: true,
    validateResponses: validateResponses ? { allErrors: true } : false,
    validateSecurity: false,
    // Multipart bodies were read before (`readMultipart`), with GitLab's answers to malformed ones.
    fileUploader: false,
    compiledCache: COMPILED_CACHE,
    // eov's default serializers (`date-time`, `date`) turn Date objects in a response into strings. The
    // entities send times as strings already (entities/timestamps.ts), and each `type: string` time field
    // of every response paid a call to find that out; their keyword is a function Ajv cannot write as code,
    // so no response validator could be kept in `compiledCache`. Named here without functions, the formats
    // keep their validation (ajv-formats), without a serializer.
    serDes: [{ format: "date-time" }, { format: "date" }],
    ignorePaths: (path: string) => !path.startsWith(`${API_BASE}/`),
  });
}
