import { HttpError } from "../errors.js";

/**
 * Rack 2.2's nested parameter syntax (`Rack::QueryParser#parse_nested_query` and `#normalize_params`, the
 * version GitLab bundles), by which GitLab reads query strings, form bodies and the names of multipart
 * fields. qs differs where GitLab's clients notice: Rack starts a new hash in `a[][k]` when `k` repeats
 * (`a[][k]=A&a[][v]=1&a[][k]=B` is two hashes), reads `a[0]` as a hash key, not an array index, lets a
 * later plain `a=` replace an earlier `a[]=`, and keeps a key without `=` as nil (`null`). No package does
 * this faithfully (`@citizensadvice/form-to-rack-params` ports Rack 3 for browser FormData, which cannot
 * hold nil, and tests "has key" by truthiness, so an empty value does not start a new hash).
 */

export type RackValue = string | null | RackValue[] | RackHash;
export interface RackHash {
  [key: string]: RackValue;
}

/** Rack's `param_depth_limit`. */
const DEPTH_LIMIT = 100;

/** What Rack refuses (`ParameterTypeError`, `InvalidParameterError`, `RangeError`): Rails answers 400. */
export class RackParameterError extends HttpError {
  constructor(reason: string) {
    super(400, { error: `400 Bad Request - invalid parameters: ${reason}` });
  }
}

/** A hash (a JSON object, a Rack hash): an object that is not an array. */
export const isHash = (value: unknown): value is RackHash =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** A hash without a prototype: a `__proto__` or `constructor` key is a key like any other, as in Ruby. */
const newHash = (): RackHash => Object.create(null) as RackHash;

/** `URI.decode_www_form_component`: `+` is a space; a `%` without two hex digits is refused. */
function decodeComponent(text: string): string {
  const spaced = text.replace(/\+/g, " ");
  try {
    return decodeURIComponent(spaced);
  } catch {
    // Ruby decodes any well-formed `%XX`, even bytes that are not UTF-8 (Rails then refuses those, 400).
    throw new RackParameterError("invalid %-encoding");
  }
}

/** `params_hash_has_key?`: whether `key` (`y` or `z][w`) is already set in the array's last hash. */
function hasKey(hash: RackHash, key: string): boolean {
  if (key.includes("[]")) return false;
  let at: RackValue = hash;
  for (const part of key.split(/[[\]]+/)) {
    if (part === "") continue;
    if (!isHash(at) || !Object.hasOwn(at, part)) return false;
    at = at[part] ?? null;
  }
  return true;
}

const typeName = (value: RackValue | undefined): string =>
  value === null || value === undefined
    ? "NilClass"
    : typeof value === "string"
      ? "String"
      : Array.isArray(value)
        ? "Array"
        : "Hash";

function expectArray(params: RackHash, key: string): RackValue[] {
  // `params[k] ||= []`: a key set to nil (`a&a[]=1`) becomes an array.
  const current = params[key] ?? [];
  params[key] = current;
  if (!Array.isArray(current)) {
    throw new RackParameterError(`expected Array (got ${typeName(current)}) for param \`${key}'`);
  }
  return current;
}

/** `normalize_params`: sets `name` (`a`, `a[]`, `a[b][]`, `a[][b]`) to `value` in `params`. */
function normalize(
  params: RackHash,
  name: string,
  value: RackValue,
  depth: number,
): RackHash | RackValue[] | undefined {
  if (depth <= 0) throw new RackParameterError("too deeply nested");
  const match = /^[[\]]*([^[\]]+)\]*/.exec(name);
  const key = match?.[1] ?? "";
  const after = match ? name.slice(match[0].length) : "";
  if (key === "") return value !== null && name === "[]" ? [value] : undefined;

  if (after === "") {
    params[key] = value;
  } else if (after === "[") {
    params[name] = value;
  } else if (after === "[]") {
    expectArray(params, key).push(value);
  } else if (after.startsWith("[]")) {
    // `a[][b]` (`^\[\]\[([^\[\]]+)\]$`) or `a[]<rest>` (`^\[\](.+)$`): hashes in an array.
    const child = /^\[\]\[([^[\]]+)\]$/.exec(after)?.[1] ?? after.slice(2);
    const list = expectArray(params, key);
    const last = list[list.length - 1];
    if (isHash(last) && !hasKey(last, child)) {
      normalize(last, child, value, depth - 1);
    } else {
      list.push(normalize(newHash(), child, value, depth - 1) ?? null);
    }
  } else {
    const current = params[key] ?? newHash();
    params[key] = current;
    if (!isHash(current)) {
      throw new RackParameterError(`expected Hash (got ${typeName(current)}) for param \`${key}'`);
    }
    params[key] = normalize(current, after, value, depth - 1) ?? null;
  }
  return params;
}

/**
 * Adds one field to `params`, as Rack would: `value` is `null` for a key without `=`, a hash for a multipart
 * file part.
 */
export function addRackParam(params: RackHash, name: string, value: RackValue): void {
  normalize(params, name, value, DEPTH_LIMIT);
}

/**
 * `parse_nested_query` with `&` alone between fields (and the spaces after an `&` skipped, as Rack's
 * separator pattern does): GitLab patches `Rack::Request#GET` so that `;` does not separate query fields
 * either, and form bodies never split on it.
 */
export function parseRackQuery(text: string | null | undefined): RackHash {
  const params = newHash();
  // Express hands on no text at all for a URL without `?`.
  for (const field of (text ?? "").split(/& */)) {
    if (field === "") continue;
    const at = field.indexOf("=");
    const name = decodeComponent(at < 0 ? field : field.slice(0, at));
    addRackParam(params, name, at < 0 ? null : decodeComponent(field.slice(at + 1)));
  }
  return params;
}
