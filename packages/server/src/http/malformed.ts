import { isUtf8 } from "node:buffer";
import type { Request, RequestHandler, Response } from "express";
import { isMultipart, mediaType, unreadableMultipart } from "./grape.js";
import { parseRackQuery, type RackHash, RackParameterError } from "./rack.js";

/**
 * GitLab's `Gitlab::Middleware::HandleMalformedStrings` (lib/gitlab/middleware/handle_malformed_strings.rb),
 * a Rails middleware in front of Grape (config/application.rb inserts it after `ShowExceptions`): before any
 * route, authentication or throttle looks at a request, it answers 400 `text/plain` `Bad Request` when
 * - the path, `Rack::Utils.unescape`d, holds a NUL byte or bytes that are not UTF-8, or a `%` without two
 *   hex digits;
 * - the `Authorization` header does (a `Basic` one once Base64-decoded, as Rails' `decode_credentials`);
 * - Rails cannot build `request.params`: Rack refuses the query or a form body (`ActionController::BadRequest`:
 *   a malformed `%`, conflicting shapes such as `a=x&a[]=y`, nesting too deep, a value that is not UTF-8),
 *   or a JSON body does not parse (`ActionDispatch::Http::Parameters::ParseError`, of any method);
 * - a parameter's value holds a NUL byte, nested in at most two hashes or arrays (`param_has_null_byte?`).
 */

/** What the middleware answers. */
function refuse(res: Response): void {
  res.status(400);
  // Exactly `text/plain`, as GitLab sends it: Express's `send` would add a charset.
  res.setHeader("Content-Type", "text/plain");
  res.end("Bad Request");
}

/** `string_malformed?`: a NUL byte, or bytes that are not UTF-8. */
const malformedBytes = (bytes: Buffer): boolean => bytes.includes(0) || !isUtf8(bytes);

/**
 * `Rack::Utils.unescape` (`URI.decode_www_form_component`) of text as Node hands it on (one latin-1
 * character per byte sent): `+` is a space, `%XX` a byte; null for a `%` without two hex digits, which
 * Ruby refuses.
 */
function rackUnescape(text: string): Buffer | null {
  const bytes = Buffer.from(text, "latin1");
  const out = Buffer.alloc(bytes.length);
  let length = 0;
  for (let at = 0; at < bytes.length; at++) {
    const byte = bytes[at] ?? 0;
    if (byte === 0x25) {
      const hex = bytes.toString("latin1", at + 1, at + 3);
      if (!/^[0-9a-f]{2}$/i.test(hex)) return null;
      out[length++] = Number.parseInt(hex, 16);
      at += 2;
    } else {
      out[length++] = byte === 0x2b ? 0x20 : byte;
    }
  }
  return out.subarray(0, length);
}

/** Text that needs a closer look: an escape, or a byte outside ASCII. */
const NOT_PLAIN = /[%\u0080-\u00ff]/;

function malformedPath(path: string): boolean {
  if (!NOT_PLAIN.test(path)) return false;
  const bytes = rackUnescape(path);
  return bytes === null || malformedBytes(bytes);
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * Ruby's `Base64.decode64` (`unpack1("m")`, not strict): characters outside the alphabet are skipped, a
 * `=` in the third or fourth place of a group ends the text, and a last incomplete group gives what it has.
 */
export function decode64(text: string): Buffer {
  let at = 0;
  /** The next sextet, skipping what is not one; -1 at the end (or, when `pad` ends the text, at a `=`). */
  const sextet = (pad: boolean): number => {
    while (at < text.length) {
      const value = BASE64.indexOf(text.charAt(at));
      if (value >= 0) return value;
      if (pad && text.charAt(at) === "=") return -1;
      at++;
    }
    return -1;
  };
  const bytes: number[] = [];
  let a = -1;
  let b = -1;
  let c = -1;
  while (at < text.length) {
    a = sextet(false);
    if (a < 0) break;
    at++;
    b = sextet(false);
    if (b < 0) break;
    at++;
    c = sextet(true);
    if (c < 0) break;
    at++;
    const d = sextet(true);
    if (d < 0) break;
    at++;
    bytes.push(((a << 2) | (b >> 4)) & 0xff, ((b << 4) | (c >> 2)) & 0xff, ((c << 6) | d) & 0xff);
    a = b = c = -1;
  }
  if (a >= 0 && b >= 0) {
    bytes.push(((a << 2) | (b >> 4)) & 0xff);
    if (c >= 0) bytes.push(((b << 4) | (c >> 2)) & 0xff);
  }
  return Buffer.from(bytes);
}

/** Ruby's ASCII whitespace (` \t\n\v\f\r`), by which `blank?` judges bytes. */
const RUBY_BLANKS: ReadonlySet<number> = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);
const isBlank = (bytes: Buffer): boolean => bytes.every((byte) => RUBY_BLANKS.has(byte));

/** The scheme and the rest of an `Authorization` header, as Ruby's `split(" ", 2)` cuts them. */
const AUTH_SPLIT = /^[ \t\n\v\f\r]*([^ \t\n\v\f\r]*)[ \t\n\v\f\r]*([\s\S]*)$/;

/**
 * `credentials_malformed?`: a `Basic` header's decoded credentials, any other `Authorization` as sent; blank
 * ones are none (`presence`).
 */
function malformedCredentials(authorization: string | undefined): boolean {
  if (authorization === undefined || isBlank(Buffer.from(authorization, "latin1"))) return false;
  // `authorization.split(" ", 2)`: Ruby's awk-style split skips leading blanks.
  const [, scheme = "", param = ""] = AUTH_SPLIT.exec(authorization) ?? [];
  if (scheme.toLowerCase() === "basic") {
    const credentials = decode64(param);
    return !isBlank(credentials) && malformedBytes(credentials);
  }
  return malformedBytes(Buffer.from(authorization, "latin1"));
}

/** A form or query as Rack reads it; null where Rack (or Rails' encoding check) refuses it. */
function readForm(text: string): RackHash | null {
  const bytes = Buffer.from(text, "latin1");
  if (!isUtf8(bytes)) return null;
  try {
    return parseRackQuery(NOT_PLAIN.test(text) ? bytes.toString("utf8") : text);
  } catch (error) {
    if (error instanceof RackParameterError) return null;
    throw error;
  }
}

/** The media types Rails reads as JSON: GitLab registers `application/json` with these (mime_types.rb). */
const JSON_TYPES: ReadonlySet<string> = new Set(["application/json", "application/vnd.git-lfs+json"]);

/**
 * `request_parameters`: a JSON body by Rails' parser (a value that is no object under `_json`), a form
 * (also a POST's body without a media type: Rack's `form_data?`) or multipart body by Rack; null where
 * either refuses it. The body was read before (`express.raw`, `readMultipart`), on the API's paths only.
 */
function bodyParams(req: Request): Record<string, unknown> | null {
  const body: unknown = req.body;
  if (isMultipart(req)) {
    if (unreadableMultipart.has(req)) return null;
    return typeof body === "object" && body !== null ? (body as RackHash) : {};
  }
  if (!Buffer.isBuffer(body) || body.length === 0) return {};
  const type = mediaType(req.headers["content-type"]);
  if (type !== undefined && JSON_TYPES.has(type)) {
    if (!isUtf8(body)) return null;
    try {
      const value: unknown = JSON.parse(body.toString("utf8"));
      return typeof value === "object" && value !== null && !Array.isArray(value)
        ? (value as Record<string, unknown>)
        : { _json: value };
    } catch {
      return null;
    }
  }
  if (type === "application/x-www-form-urlencoded" || (type === undefined && req.method === "POST")) {
    return readForm(body.toString("latin1"));
  }
  return {};
}

/** `param_has_null_byte?`: a string with a NUL, at most two hashes or arrays below a parameter. */
function hasNul(value: unknown, depth = 0): boolean {
  if (depth > 2) return false;
  if (typeof value === "string") return value.includes("\0");
  if (typeof value !== "object" || value === null) return false;
  return Object.values(value).some((item) => hasNul(item, depth + 1));
}

/** A query Rack reads without a refusal and whose values hold no NUL: see `handleMalformedStrings`. */
const PLAIN_QUERY = /^[^%[\]\u0080-\uffff]*$/;

export const handleMalformedStrings: RequestHandler = (req, res, next) => {
  const target = req.originalUrl;
  const queryAt = target.indexOf("?");
  const path = queryAt < 0 ? target : target.slice(0, queryAt);
  if (malformedPath(path) || malformedCredentials(req.headers.authorization)) return refuse(res);
  const body = bodyParams(req);
  if (body === null) return refuse(res);
  const search = queryAt < 0 ? "" : target.slice(queryAt + 1);
  // Most requests have a plain query and no body parameters: without an escape, a bracket or a byte outside
  // ASCII, Rack cannot refuse the query and no value in it can hold a NUL, so it is not read twice. (With
  // body parameters it is read: a query parameter hides the body's of the same name.)
  if (PLAIN_QUERY.test(search) && Object.keys(body).length === 0) return next();
  const query = readForm(search);
  if (query === null) return refuse(res);
  // `request_parameters.merge(query_parameters)`: a query parameter hides the body's of the same name.
  const params = { ...body, ...query };
  if (Object.values(params).some((value) => hasNul(value))) return refuse(res);
  next();
};
