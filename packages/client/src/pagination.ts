/** The page metadata GitLab sends with a list; `null` where the header was absent or empty. */
export interface Pagination {
  /** `X-Page`: this page's number (offset pagination only). */
  page: number | null;
  /** `X-Per-Page`. */
  perPage: number | null;
  /** `X-Next-Page`: `null` on the last page. */
  nextPage: number | null;
  /** `X-Prev-Page`: `null` on the first page. */
  prevPage: number | null;
  /** `X-Total`: not sent for project jobs, keyset pagination or lists over 10,000 items. */
  total: number | null;
  /** `X-Total-Pages`: sent exactly when `X-Total` is. */
  totalPages: number | null;
  /** The `Link` header's absolute URLs by relation: `next`, `prev`, `first` and (with counts) `last`. */
  links: Readonly<Record<string, string>>;
}

/** One page of a list operation. */
export interface Page<T> {
  items: T[];
  pagination: Pagination;
}

export function readPagination(headers: Headers, requestUrl: string): Pagination {
  const link = headers.get("Link");
  return {
    page: integerHeader(headers, "X-Page"),
    perPage: integerHeader(headers, "X-Per-Page"),
    nextPage: integerHeader(headers, "X-Next-Page"),
    prevPage: integerHeader(headers, "X-Prev-Page"),
    total: integerHeader(headers, "X-Total"),
    totalPages: integerHeader(headers, "X-Total-Pages"),
    links: link === null ? {} : parseLinkHeader(link, requestUrl),
  };
}

function integerHeader(headers: Headers, name: string): number | null {
  const value = headers.get(name)?.trim();
  return value && /^\d+$/.test(value) ? Number(value) : null;
}

// RFC 8288 §3: link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param ), link-param = token BWS
// [ "=" BWS ( token / quoted-string ) ], link-values separated by commas. Written out rather than taken from a
// package: http-link-header is CommonJS-only, and the parse-link-header family silently answers null for
// headers over 2,000 characters, which keyset cursors and repeated filters easily exceed: pagination would
// then stop early without a word.
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[^"\\\\]|\\\\.)*"';
const LINK_VALUE = `\\s*<([^>]*)>((?:\\s*;\\s*${TOKEN}\\s*(?:=\\s*(?:${QUOTED}|${TOKEN}))?)*)\\s*(?:,|$)`;
const LINK_PARAM = new RegExp(`;\\s*(${TOKEN})\\s*(?:=\\s*(${QUOTED}|${TOKEN}))?`, "g");

/**
 * Parses a `Link` header into absolute URLs by relation type (lower-cased; the first link of a relation wins).
 * Relative references are resolved against the URL of the request that received the header.
 * @throws SyntaxError when the header is not a valid RFC 8288 `Link` value.
 */
export function parseLinkHeader(header: string, baseUrl: string): Record<string, string> {
  const links = new Map<string, string>();
  const linkValue = new RegExp(LINK_VALUE, "y");
  while (linkValue.lastIndex < header.length && header.slice(linkValue.lastIndex).trim() !== "") {
    const start = linkValue.lastIndex;
    const match = linkValue.exec(header);
    if (match === null) throw new SyntaxError(`Malformed Link header at character ${start}: ${header}`);
    const [, target = "", params = ""] = match;
    const url = new URL(target, baseUrl).href;
    // RFC 8288 §3.3: only the first rel parameter of a link counts.
    const rel =
      [...params.matchAll(LINK_PARAM)].find(([, name = ""]) => name.toLowerCase() === "rel")?.[2] ?? "";
    const value = rel.startsWith('"') ? rel.slice(1, -1).replace(/\\(.)/g, "$1") : rel;
    for (const type of value.toLowerCase().split(/\s+/)) {
      if (type !== "" && !links.has(type)) links.set(type, url);
    }
  }
  return Object.fromEntries(links);
}
