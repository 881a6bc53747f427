import type { Response } from "express";
import { internalServerError } from "../errors.js";

/** Kaminari's `max_per_page` in GitLab: larger `per_page` values are served as this many. */
const MAX_PER_PAGE = 100;
/** Grape's default of `per_page` (pagination_params.rb). */
export const DEFAULT_PER_PAGE = 20;

/**
 * GitLab's default plan limit on `page` × `per_page` (`plan_limits.offset_pagination_limit`, 50000) for lists
 * that keyset pagination can also serve; beyond it offset pagination answers 405 where the limit is enforced
 * (for jobs: the project's `enforce_ci_builds_pagination_limit` flag).
 */
export const OFFSET_LIMIT = 50_000;

/** Kaminari's `per`: a negative value is the default, and the maximum caps the rest (0 never gets here). */
export const perPageOf = (perPage: number | undefined): number =>
  perPage === undefined || perPage < 0 ? DEFAULT_PER_PAGE : Math.min(perPage, MAX_PER_PAGE);

/** Kaminari's `page`: any page below the first is the first. */
export const pageOf = (page: number | undefined): number => (page === undefined || page < 1 ? 1 : page);

/**
 * Where page URLs point and what they carry: GitLab builds them from the request's path and the route's
 * `params` (route parameters, every query parameter, declared defaults, coerced values), with only the page
 * or cursor replaced (`OffsetHeaderBuilder#page_href`).
 */
export interface PageLink {
  /** Scheme, host and port, e.g. `https://gitlab.example.com` (GitLab's configured host). */
  origin: string;
  /** The path as requested, still percent-encoded (`/api/v4/projects/foo%2Fbar/jobs`). */
  path: string;
  params: Record<string, unknown>;
}

/** What `CGI.escape` leaves as it is: most keys and values are only this. */
const UNRESERVED = /^[\w.~-]*$/;

/** Ruby's `CGI.escape`: everything but unreserved characters is percent-encoded, a space is `+`. */
const cgiEscape = (text: string): string =>
  UNRESERVED.test(text)
    ? text
    : encodeURIComponent(text)
        .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
        .replaceAll("%20", "+");

/** ActiveSupport's `to_query` of one value under `key`: arrays as `key[]`, hashes as `key[sub]`. */
function queryPairs(key: string, value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap((item) => queryPairs(`${key}[]`, item));
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => queryPairs(`${key}[${k}]`, v));
  }
  return [`${cgiEscape(key)}=${cgiEscape(value === null || value === undefined ? "" : String(value))}`];
}

/**
 * The URLs of one page's links: `at` with its parameters named in `keys` replaced by each URL's values, the
 * query as ActiveSupport's `Hash#to_query` writes it (every pair encoded, then sorted). The pairs that stay
 * are encoded once for all the links of a page.
 */
function pageUrls<K extends string>(at: PageLink, keys: readonly K[]) {
  const kept = Object.entries(at.params)
    .filter(([key]) => !(keys as readonly string[]).includes(key))
    .flatMap(([key, value]) => queryPairs(key, value));
  const prefix = `${at.origin}${at.path}?`;
  return (replace: Record<K, string | number>) =>
    prefix + [...kept, ...keys.flatMap((key) => queryPairs(key, replace[key]))].sort().join("&");
}

const link = (url: string, rel: string) => `<${url}>; rel="${rel}"`;

interface OffsetPage {
  page: number;
  perPage: number;
  /** Rows on this page. */
  count: number;
  /** Whether a row follows this page (known without counting). */
  hasNext: boolean;
  /** Total rows, or null for a list paginated without counts. */
  total: number | null;
}

/** GitLab's offset pagination headers (`Gitlab::Pagination::OffsetHeaderBuilder`). */
export function setOffsetHeaders(at: PageLink, res: Response, p: OffsetPage): void {
  const totalPages = p.total === null ? null : Math.max(1, Math.ceil(p.total / p.perPage));
  // Kaminari: no previous page from the first page or from beyond the last one.
  const outOfRange = totalPages === null ? p.count === 0 : p.page > totalPages;
  const next = p.hasNext ? p.page + 1 : null;
  const prev = p.page > 1 && !outOfRange ? p.page - 1 : null;
  // `params.merge(page:, per_page:)`, the paginator's `per_page` (its `limit_value`): 100 for `per_page=500`.
  const pageUrl = pageUrls(at, ["page", "per_page"]);
  const url = (page: number) => pageUrl({ page, per_page: p.perPage });
  const links: string[] = [];
  if (prev !== null) links.push(link(url(prev), "prev"));
  if (next !== null) links.push(link(url(next), "next"));
  links.push(link(url(1), "first"));
  if (totalPages !== null) links.push(link(url(totalPages), "last"));
  res.set({
    "X-Per-Page": String(p.perPage),
    "X-Page": String(p.page),
    "X-Next-Page": next === null ? "" : String(next),
    "X-Prev-Page": prev === null ? "" : String(prev),
    Link: links.join(", "),
  });
  if (p.total !== null && totalPages !== null) {
    res.set({ "X-Total": String(p.total), "X-Total-Pages": String(totalPages) });
  }
}

/** Ruby's `Base64.urlsafe_decode64`: padded when unpadded, then `strict_decode64`; null where Ruby raises. */
function urlsafeDecode64(text: string): Buffer | null {
  const padded =
    !text.endsWith("=") && text.length % 4 !== 0 ? text.padEnd((text.length + 3) & ~3, "=") : text;
  const standard = padded.replaceAll("-", "+").replaceAll("_", "/");
  // `unpack1("m0")`: whole quartets of the alphabet, `=` only to end the last one, no stray bits.
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(standard)) return null;
  const bytes = Buffer.from(standard, "base64");
  return bytes.toString("base64") === standard ? bytes : null;
}

/**
 * A job id as PostgreSQL gets it from Rails for `id < value` (`ActiveModel::Type::Integer#serialize`):
 * numbers truncated, booleans 1 and 0, a string by its leading digits (Ruby's `to_i`); null when Rails
 * sends NULL (a non-numeric string, null, a list or an object), which no row matches.
 */
function cursorIdOf(value: unknown): number | null {
  if (typeof value === "boolean") return value ? 1 : 0;
  let id: number | null = null;
  // A float Ruby cannot make an integer of (`1e400` is Infinity) is nil to Rails.
  if (typeof value === "number" && Number.isFinite(value)) id = Math.trunc(value);
  if (typeof value === "string") {
    const digits = /^\s*([+-]?\d+(?:_\d+)*)/.exec(value)?.[1];
    if (digits !== undefined) id = Number(digits.replaceAll("_", ""));
  }
  if (id === null) return null;
  // Beyond `bigint`, Rails raises `ActiveModel::RangeError` and GitLab answers 500.
  if (id >= 2 ** 63 || id < -(2 ** 63)) throw internalServerError();
  // No job id comes near the limits of a safe integer: comparing with them selects the same jobs.
  return Math.min(Math.max(id, Number.MIN_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
}

/** Where a keyset page starts, as GitLab's `Gitlab::Pagination::Keyset::Paginator` reads its cursor. */
export interface KeysetCursor {
  /**
   * The cursor's `_kd`: `n` pages forward (older jobs), `p` backward (newer ones, from the last page when
   * the cursor names no job); anything else reads forward and never has a next page.
   */
  direction: unknown;
  /** The job the page continues from (`id` of the cursor), "none" when it names none, null when nothing matches. */
  from: number | "none" | null;
}

/**
 * GitLab's reading of `cursor`: blank is the first page; otherwise base64url JSON of an object whose keys,
 * `_kd` aside, are exactly `id` (`Base64CursorConverter.parse`, `Order#verify_incoming_values!`). GitLab
 * fails on anything else (an `ArgumentError`, a `JSON::ParserError`, a `NoMethodError` or "Incorrect cursor
 * values were given"): 500.
 */
export function decodeCursor(cursor: string | undefined): KeysetCursor {
  if (cursor === undefined || cursor.trim() === "") return { direction: "n", from: "none" };
  const bytes = urlsafeDecode64(cursor);
  let value: unknown;
  try {
    value = bytes === null ? undefined : JSON.parse(bytes.toString("utf8"));
  } catch {
    // Not JSON: `JSON::ParserError`, answered below.
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw internalServerError();
  const { _kd: direction, ...attributes } = value as Record<string, unknown>;
  const keys = Object.keys(attributes);
  if (keys.length === 0) return { direction: isBlank(direction) ? "n" : direction, from: "none" };
  if (keys.length !== 1 || keys[0] !== "id") throw internalServerError();
  return { direction, from: cursorIdOf(attributes.id) };
}

/** ActiveSupport's `blank?` for what JSON holds. */
const isBlank = (value: unknown): boolean =>
  value === undefined ||
  value === null ||
  value === false ||
  (typeof value === "string" && value.trim() === "") ||
  (Array.isArray(value) && value.length === 0) ||
  (typeof value === "object" && value !== null && Object.keys(value).length === 0);

/** GitLab's next-page cursor: `Base64.urlsafe_encode64` (padded) of `{"id":"<last id>","_kd":"n"}`. */
function encodeCursor(id: number): string {
  return Buffer.from(JSON.stringify({ id: String(id), _kd: "n" }))
    .toString("base64")
    .replaceAll("+", "-")
    .replaceAll("/", "_");
}

/** Keyset pagination sends only `Link: <…cursor=…>; rel="next"`, and only when there is a next page. */
export function setKeysetHeaders(at: PageLink, res: Response, lastId: number | null): void {
  if (lastId === null) return;
  res.set("Link", link(pageUrls(at, ["cursor"])({ cursor: encodeCursor(lastId) }), "next"));
}
