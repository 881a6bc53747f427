import { type OperationId, operationTable } from "@jobs-api/types";
import busboy, { type Busboy } from "busboy";
import type { Request, RequestHandler } from "express";
import { HttpError } from "../errors.js";
import { decoded, NEEDS_RUBY_READING, rubyInteger } from "./integers.js";
import {
  addRackParam,
  isHash,
  parseRackQuery,
  type RackHash,
  RackParameterError,
  type RackValue,
} from "./rack.js";

/**
 * How GitLab reads a request: Rack parses the query string and form bodies, Grape's formatter reads the
 * other bodies and coerces the declared parameters. The validator and the handlers see requests as
 * GitLab's routes would.
 */

const TRUE_TEXTS: ReadonlySet<string> = new Set([
  "1",
  "t",
  "T",
  "true",
  "True",
  "TRUE",
  "y",
  "Y",
  "yes",
  "Yes",
  "YES",
  "on",
  "On",
  "ON",
]);

/**
 * A Grape `Boolean` as the spec's `GrapeBoolean` lets it come: JSON booleans, or the texts dry-types reads
 * as true (`1 t true y yes on`, in their listed cases); every other accepted text is false.
 */
export function grapeBoolean(value: boolean | string | undefined): boolean {
  if (typeof value !== "string") return value === true;
  return TRUE_TEXTS.has(value);
}

/**
 * The route's `params` as Grape hands them to GitLab's code: every query parameter (declared or not), the
 * route parameters, the declared defaults of absent parameters and Booleans coerced.
 */
export function grapeParams(
  req: { params: object; query: object },
  operationId: OperationId,
): Record<string, unknown> {
  const params: Record<string, unknown> = { ...req.query, ...req.params };
  for (const [name, declared] of Object.entries(operationTable[operationId].parameters)) {
    if (params[name] === undefined && "default" in declared) params[name] = declared.default;
    const value = params[name];
    if (declared.type === "boolean" && (typeof value === "string" || typeof value === "boolean")) {
      params[name] = grapeBoolean(value);
    }
  }
  return params;
}

/**
 * Grape routes `HEAD` to every `GET` route (GitLab's API does not opt out with `do_not_route_head!`), and
 * Rack drops the body: a `HEAD` request goes on as the `GET` it asks about, through the validator and the
 * routes. Node still sends no body for it (the response knows the request's method), and the request log
 * line keeps `HEAD`.
 */
export const headAsGet: RequestHandler = (req, _res, next) => {
  if (req.method === "HEAD") req.method = "GET";
  next();
};

/**
 * An operation's method and route, as a pattern over the request path below the API's base: the body
 * readers are mounted there, so `req.path` is the part after it.
 */
const routeOf = (op: { method: string; path: string }) => ({
  method: op.method.toUpperCase(),
  pattern: new RegExp(`^${op.path.replace(/\{\w+\}/g, "[^/]+")}$`),
});

const matches = (route: { method: string; pattern: RegExp }, req: Pick<Request, "method" | "path">) =>
  route.method === req.method && route.pattern.test(req.path);

const JSON_TYPE = /^application\/json$/i;
const FORM_TYPE = /^application\/x-www-form-urlencoded$/i;
const MULTIPART_TYPE = /^multipart\/form-data$/i;

/** The media type of a Content-Type header, without parameters, lower-cased. */
export function mediaType(header: string | undefined): string | undefined {
  const type = header?.split(";", 1)[0]?.trim().toLowerCase();
  return type === "" ? undefined : type;
}

export const isMultipart = (req: Pick<Request, "headers">): boolean =>
  MULTIPART_TYPE.test(mediaType(req.headers["content-type"]) ?? "");

/**
 * The routes whose parameters Grape reads in its own way, and those parameters: arrays sent as a hash
 * (`coerce_with`), the parameters for which the spec allows an empty value (`allowEmptyValue`), integers,
 * and the parameters that may come from the other place than the spec's (`GET.merge(POST)`): a query
 * parameter from a form body, a body's parameter from the query string.
 */
const grapeRoutes = Object.values(operationTable)
  .map((op) => ({
    ...routeOf(op),
    queryParameters: Object.entries(op.parameters).flatMap(([name, p]) => (p.in === "query" ? [name] : [])),
    bodyParameters: op.bodyParameters.filter((name) => !Object.hasOwn(op.parameters, name)),
    // The media type a body made of query parameters is shown to the validator as: Rack's text values, a form's.
    queryBodyType: (op.requestBody as readonly string[]).find((type) => FORM_TYPE.test(type)),
    arrays: Object.entries(op.parameters).flatMap(([name, p]) =>
      p.in === "query" && "hash" in p ? [{ name, hash: p.hash }] : [],
    ),
    emptyAsAbsent: Object.entries(op.parameters).flatMap(([name, p]) =>
      p.in === "query" && "allowEmptyValue" in p ? [{ name, array: p.type === "array" }] : [],
    ),
    integers: Object.entries(op.parameters).flatMap(([name, p]) =>
      p.type === "integer" ? [{ name, segment: op.path.split("/").indexOf(`{${name}}`) }] : [],
    ),
  }))
  .filter(
    (route) =>
      route.arrays.length > 0 ||
      route.emptyAsAbsent.length > 0 ||
      route.integers.length > 0 ||
      route.queryParameters.length > 0 ||
      route.bodyParameters.length > 0,
  );

type GrapeRoute = (typeof grapeRoutes)[number];

/**
 * Whether Rack's `POST` reads the body (request.rb `form_data?`: a form or multipart media type, whatever
 * the method). A GET's other bodies give Grape no parameters: Grape's formatter reads no GET's body
 * (`read_body_input?`), and Rails' JSON parser, which reads one, is not what Grape asks.
 */
const rackReadsBody = (req: Request): boolean =>
  isMultipart(req) || FORM_TYPE.test(mediaType(req.headers["content-type"]) ?? "");

/**
 * Grape's `params` are Rack's `params` (`GET.merge(POST)`, rack request.rb) with the route's path
 * parameters over them: one set, in which the body's value of a name wins, whole, over the query's. The
 * validator and the handlers read the spec's places, so each value is put where the spec declares it:
 * - on a GET, a form or multipart body's value of a declared query parameter replaces the query's. Only
 *   declared ones: the routes read no other, and the token parameters stay where Rails' `request.params`
 *   reads them, the query's winning (http/auth.ts);
 * - elsewhere, a body's parameter the body does not give is taken from the query string (play's
 *   `job_variables_attributes[][key]=…` in the URL), into a body made for it if there was none.
 */
function mergeLikeRack(req: Request, route: GrapeRoute, query: Record<string, unknown>): void {
  const body: unknown = req.body;
  if (req.method === "GET") {
    if (!isHash(body) || !rackReadsBody(req)) return;
    for (const name of route.queryParameters) {
      if (Object.hasOwn(body, name)) query[name] = body[name];
    }
    return;
  }
  const target: Record<string, unknown> = isHash(body) ? body : {};
  const taken = route.bodyParameters.filter(
    (name) => Object.hasOwn(query, name) && !Object.hasOwn(target, name),
  );
  if (taken.length === 0) return;
  for (const name of taken) target[name] = query[name];
  if (!isHash(body)) {
    req.body = target;
    if (route.queryBodyType) req.headers["content-type"] = route.queryBodyType;
  }
}

/** A value Grape reads otherwise than the validator would: nil (a key without `=`), `''`, a hash. */
const readByGrape = (value: unknown) => value === null || value === "" || isHash(value);

/**
 * The parameters as Grape hands them on, before the validator sees them:
 * - the query's and the body's as Rack merges them (`mergeLikeRack`);
 * - an array sent as a hash (`scope[a]=failed`) as the route's `coerce_with` reads it: jobs.rb takes the
 *   hash's values; pipelines.rb turns anything but a string or an array into `['unknown']`, which then fails
 *   the values check;
 * - an empty value where the spec allows one (`page=`, `include_retried=`, `force=`, or the key alone) is no
 *   value: Grape's `PrimitiveCoercer` turns `''` into nil for every type but String (`treat_as_nil?`) and the
 *   `default:` then applies; a key alone is nil in Rack, and GitLab's `coerce_nil_params_to_array!` makes an
 *   Array parameter of it `[]`. An empty text for an Array (`scope=`) stays `['']` and fails the
 *   values check. Grape merges the body's parameters with the query's, so the body's are read alike.
 */
export const paramsLikeGrape: RequestHandler = (req, _res, next) => {
  const query = req.query as Record<string, unknown>;
  const read: unknown = req.body;
  // The route is looked for only when some value needs it: most requests have none.
  const mayMerge = req.method === "GET" ? isHash(read) && rackReadsBody(req) : Object.keys(query).length > 0;
  const route =
    mayMerge ||
    [query, read].some((params) => isHash(params) && Object.values(params).some(readByGrape)) ||
    NEEDS_RUBY_READING.test(req.url)
      ? grapeRoutes.find((r) => matches(r, req))
      : undefined;
  if (route) mergeLikeRack(req, route, query);
  const body: unknown = req.body;
  const sources = isHash(body) ? [query, body] : [query];
  for (const { name, hash } of route?.arrays ?? []) {
    const value = query[name];
    if (isHash(value)) query[name] = hash === "values" ? Object.values(value) : ["unknown"];
    // `coerce_with` makes a list of a text, an empty one too.
    if (value === "") query[name] = [""];
  }
  // An integer as Ruby's `Integer(text, 10)` reads it (`1_0`, `0d10`: Grape's Integer coercion) is shown
  // to the validator and the routes as the plain decimal text JavaScript reads alike. The path is rewritten
  // (the validator reads `req.url`); the original URL keeps what was sent.
  // The path's segments, split only for a route with an integer in its path.
  let segments: string[] | undefined;
  for (const { name, segment } of route?.integers ?? []) {
    if (segment >= 0) segments ??= req.path.split("/");
    const path = segment >= 0 ? segments : undefined;
    const written = path ? decoded(path[segment] ?? "") : query[name];
    if (typeof written !== "string" || !NEEDS_RUBY_READING.test(written)) continue;
    const value = rubyInteger(written);
    if (value === null) continue;
    if (!path) query[name] = value;
    else {
      path[segment] = value;
      const search = req.url.indexOf("?");
      req.url = path.join("/") + (search < 0 ? "" : req.url.slice(search));
    }
  }
  for (const { name, array } of route?.emptyAsAbsent ?? []) {
    // Grape merges the body over the query (Rack's `GET.merge(POST)`): a body's value hides the query's, an
    // empty one too, absent once read (`force=` in the body and `?force=true` is no force), and the query's is
    // then never validated (`"force": false` in the body and `?force=maybe` is valid). A GET's form values
    // took the query's place already (`mergeLikeRack`).
    const inBody = isHash(body) && req.method !== "GET" ? body[name] : undefined;
    if (!array && inBody !== undefined) delete query[name];
    for (const params of sources) {
      const value = params[name];
      // api.rb's `coerce_nil_params_to_array!`: a key alone is `[]` for an Array parameter; each route then
      // reads that list its own way (every job on the project list, none on a pipeline's).
      if (value === null && array) params[name] = [];
      else if (value === null || (value === "" && !array)) delete params[name];
    }
  }
  // Express 5's `req.query` is a getter that parses the URL again on each read: the object read once, coerced,
  // replaces it for the validator and the handlers.
  Object.defineProperty(req, "query", { value: query, writable: true, configurable: true });
  next();
};

/**
 * The routes whose body is data, not parameters (a runner's log patch, `request.body.read` in GitLab): read
 * as it comes whatever its media type, and shown to the validator as the plain text the spec declares.
 */
const rawBodyRoutes = Object.values(operationTable)
  .filter((op) => (op.requestBody as readonly string[]).includes("text/plain"))
  .map(routeOf);

const takesRawBody = (req: Pick<Request, "method" | "path">): boolean =>
  rawBodyRoutes.some((r) => matches(r, req));

/**
 * Multipart requests whose field names Rack refuses (`a` then `a[]`): Rails' `request.params` raises for
 * them, and `handleMalformedStrings` answers its plain-text 400, as GitLab's middleware does.
 */
export const unreadableMultipart: WeakSet<object> = new WeakSet();

/**
 * Multipart bodies as Rack reads them: each field's name goes through Rack's nested syntax, in the order the
 * fields come (`job_variables_attributes[][key]`; `[0]` makes a hash), and a file part becomes the hash Rack
 * gives (its name, filename and type; the content, which no route reads, is dropped). A body busboy cannot
 * read, or one beyond the limits, answers 400.
 */
export function readMultipart(limit: number): RequestHandler {
  return (req, _res, next) => {
    if (!isMultipart(req)) return next();
    const refuse = (reason: string) =>
      next(new HttpError(400, { error: `400 Bad Request - invalid multipart body: ${reason}` }));
    let parser: Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        limits: { fieldSize: limit, fileSize: limit, fields: 1000, files: 10 },
      });
    } catch (error) {
      return refuse(error instanceof Error ? error.message : "unreadable");
    }
    const params: RackHash = Object.create(null);
    let failed = false;
    const fail = (reason: string) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      // The rest of the body is read and dropped, so that the client gets to read the answer.
      req.resume();
      refuse(reason);
    };
    const add = (name: string, value: RackValue) => {
      try {
        addRackParam(params, name, value);
      } catch (error) {
        if (error instanceof RackParameterError) unreadableMultipart.add(req);
        else fail(error instanceof Error ? error.message : "unreadable");
      }
    };
    parser.on("field", (name, value, info) => {
      if (info.nameTruncated || info.valueTruncated) return fail("field too large");
      add(name, value);
    });
    parser.on("file", (name, stream, info) => {
      stream.on("limit", () => fail("file too large"));
      stream.resume();
      add(name, { filename: info.filename ?? null, type: info.mimeType, name });
    });
    parser.on("fieldsLimit", () => fail("too many fields"));
    parser.on("filesLimit", () => fail("too many files"));
    parser.on("error", (error: unknown) => fail(error instanceof Error ? error.message : "unreadable"));
    parser.on("close", () => {
      if (failed) return;
      req.body = params;
      next();
    });
    req.pipe(parser);
  };
}

/**
 * Grape's message for a JSON body that does not parse (`Grape::Exceptions::InvalidMessageBody`, composed
 * of its problem and resolution).
 */
const INVALID_JSON =
  "\nProblem:\n  message body does not match declared format\nResolution:\n  when specifying application/json as content-type, you must pass valid application/json in the request's 'body' ";

/**
 * Bodies read as JSON only because they came without a Content-Type (the API's default format). Grape
 * takes their parameters; Rails' `request.params`, where GitLab looks for tokens, reads such a POST body
 * as a form instead (Rack's `form_data?`), so no token is taken from them.
 */
export const untypedJsonBodies = new WeakSet<object>();

/**
 * Grape's formatter, for every request with a body: an empty body is no body whatever its Content-Type;
 * JSON (also when no Content-Type is given: the API's default format) and form bodies become parameters;
 * multipart bodies were read before (`readMultipart`); any other media type is refused with 415. Runs
 * after the raw body was read (`express.raw`), so that its text is known.
 *
 * The formatter reads bodies of POST, PUT, PATCH and DELETE only (`read_body_input?`): a GET's body is
 * neither refused (415) nor read as JSON by default. Only the parsers in front of Grape read it (Rack's for
 * forms, whose parameters Grape then takes: `mergeLikeRack`; Rails' for JSON, which only the token lookup
 * reads), and `handleMalformedStrings` (http/malformed.ts) refused any they could not read:
 * Grape's own JSON error is left for a body without a media type, which Grape reads as JSON and Rails does
 * not (or, for a POST, reads as a form).
 */
export const readBody: RequestHandler = (req, _res, next) => {
  const raw: unknown = req.body;
  // No body at all (most GETs): nothing to read and no media type to look at. A multipart body was read
  // before (`readMultipart`), into a hash.
  if (raw === undefined) {
    delete req.headers["content-type"];
    return next();
  }
  const text = Buffer.isBuffer(raw) ? raw.toString("utf8") : "";
  if (isMultipart(req)) return next();
  const type = mediaType(req.get("content-type"));
  const parsedBeforeGrape = type !== undefined && (JSON_TYPE.test(type) || FORM_TYPE.test(type));
  if (text.length === 0 || (req.method === "GET" && !parsedBeforeGrape)) {
    // Nothing to read: the validator must not judge the media type of a body that is not there.
    delete req.headers["content-type"];
    req.body = undefined;
    return next();
  }
  if (takesRawBody(req)) {
    req.body = text;
    req.headers["content-type"] = "text/plain";
    return next();
  }
  if (type === undefined || JSON_TYPE.test(type)) {
    try {
      const value: unknown = JSON.parse(text);
      // Grape merges a JSON object into the parameters; other JSON values carry none.
      req.body = typeof value === "object" && value !== null && !Array.isArray(value) ? value : {};
      if (type === undefined) untypedJsonBodies.add(req.body);
    } catch {
      throw new HttpError(400, { error: INVALID_JSON });
    }
    req.headers["content-type"] = "application/json";
    return next();
  }
  if (FORM_TYPE.test(type)) {
    req.body = parseRackQuery(text);
    return next();
  }
  throw new HttpError(415, { error: `The provided content-type '${type}' is not supported.` });
};
