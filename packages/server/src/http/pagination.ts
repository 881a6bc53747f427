import type { Request, Response } from "express";
import { invalidParam } from "../errors.js";

/** Kaminari's `max_per_page` in GitLab: larger `per_page` values are served as this many. */
const MAX_PER_PAGE = 100;
const DEFAULT_PER_PAGE = 20;

/**
 * GitLab's default plan limit on `page` × `per_page` (`offset_pagination_limit`) for lists that keyset
 * pagination can also serve; beyond it offset pagination answers 405.
 */
export const OFFSET_LIMIT = 50_000;

/** Kaminari's `per`: a negative value is the default, and the maximum caps the rest (0 never gets here). */
export const perPageOf = (perPage: number | undefined): number =>
  perPage === undefined || perPage < 0 ? DEFAULT_PER_PAGE : Math.min(perPage, MAX_PER_PAGE);

/** Kaminari's `page`: any page below the first is the first. */
export const pageOf = (page: number | undefined): number => (page === undefined || page < 1 ? 1 : page);

/** The part of a request that page URLs are built from: its path and query, after an origin. */
type PageRequest = Pick<Request, "originalUrl">;

/**
 * Characters a URI may not hold as they are (RFC 3986), e.g. the brackets of `scope[]`, spaces and `<>`,
 * which would also end the `<…>` of a Link value. `%` stays: what the client encoded stays encoded.
 */
const NOT_URI = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]/g;

/**
 * The URL of another page: the request's own URL with every query parameter kept in the client's order
 * and spelling (filters, tokens, bracketed arrays, encoded as GitLab does: `scope%5B%5D=failed`),
 * except those in `replace`, which are set anew.
 */
function pageUrl(req: PageRequest, origin: string, replace: Record<string, string | number>): string {
  const [path = "", query = ""] = req.originalUrl.split("?", 2);
  const keep = query
    .split("&")
    .filter((pair) => {
      if (pair === "") return false;
      const key = pair.split("=", 1)[0] ?? "";
      let name: string;
      try {
        name = decodeURIComponent(key.replaceAll("+", " "));
      } catch {
        name = key;
      }
      return !Object.hasOwn(replace, name);
    })
    .map((pair) => pair.replace(NOT_URI, (c) => encodeURIComponent(c)));
  const set = Object.entries(replace).map(
    ([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`,
  );
  return `${origin}${path}?${[...keep, ...set].join("&")}`;
}

const link = (url: string, rel: string) => `<${url}>; rel="${rel}"`;

interface OffsetPage {
  /** Scheme, host and port of the page URLs, e.g. `https://gitlab.example.com`. */
  origin: string;
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
export function setOffsetHeaders(req: PageRequest, res: Response, p: OffsetPage): void {
  const totalPages = p.total === null ? null : Math.max(1, Math.ceil(p.total / p.perPage));
  // Kaminari: no previous page from the first page or from beyond the last one.
  const outOfRange = totalPages === null ? p.count === 0 : p.page > totalPages;
  const next = p.hasNext ? p.page + 1 : null;
  const prev = p.page > 1 && !outOfRange ? p.page - 1 : null;
  const url = (page: number) => pageUrl(req, p.origin, { page, per_page: p.perPage });
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

/** Keyset cursors are opaque to clients: base64url of `{"id": <last id of the page>}`. */
function encodeCursor(id: number): string {
  return Buffer.from(JSON.stringify({ id })).toString("base64url");
}

export function decodeCursor(cursor: string): number {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    const id = (value as { id?: unknown } | null)?.id;
    if (typeof id === "number" && Number.isSafeInteger(id) && id > 0) return id;
  } catch {
    // Not base64url JSON: answered below like any other unreadable cursor.
  }
  throw invalidParam("cursor");
}

/** Keyset pagination sends only `Link: <…cursor=…>; rel="next"`, and only when there is a next page. */
export function setKeysetHeaders(
  req: PageRequest,
  res: Response,
  origin: string,
  lastId: number | null,
  perPage: number,
): void {
  if (lastId === null) return;
  res.set("Link", link(pageUrl(req, origin, { cursor: encodeCursor(lastId), per_page: perPage }), "next"));
}
