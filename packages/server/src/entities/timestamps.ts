import type { Timestamp } from "../store/rows.js";

/**
 * A UTC timestamp as PostgreSQL writes it in JSON (`2016-01-11T10:13:33.506123+00:00`, fraction of 0 to 6
 * digits, a year of 4 digits or more): the form every timestamp inside a job row takes on a UTC session
 * (PGlite's, and the one db/postgres.ts sets).
 */
const POSTGRES_UTC = /^(\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00:00$/;

/** `Date#toISOString`'s expanded year past 9999 (`+012026-…`), which GitLab writes as Ruby does (`12026-…`). */
const EXPANDED_YEAR = /^\+0*(\d{5,})/;

/** What follows PostgreSQL's fraction of n digits (it drops trailing zeros) in GitLab's three, and the `Z`. */
const MILLISECONDS_END = ["", "00Z", "0Z", "Z", "Z", "Z", "Z"];

/**
 * GitLab's form, `2016-01-11T10:13:33.506Z` (milliseconds, UTC). PostgreSQL's UTC text is rewritten
 * rather than parsed into a `Date`: parsing was 7.7% of the server's samples under list load with a
 * database that cost nothing (BENCHMARKS.md). The fraction is cut, not rounded, as `Date` does.
 */
export function iso(value: Timestamp): string {
  // A four-digit year in UTC, the text of nearly every timestamp: PostgreSQL wrote it, so its fraction
  // starts at 19 and ends 6 before the end, and a slice and a short end give GitLab's form. A job has some
  // fifteen timestamps; the regular expression's captures joined by a template cost more than a list's
  // response validation saved (list 20: 316 → 292 µs an answer, BENCHMARKS.md).
  if (typeof value === "string" && value.charCodeAt(4) === 45 && value.endsWith("+00:00")) {
    const digits = value.length - 26;
    if (value.charCodeAt(19) === 46 && digits >= 1 && digits <= 6) {
      return value.slice(0, 20 + Math.min(digits, 3)) + MILLISECONDS_END[digits];
    }
    if (value.length === 25) return `${value.slice(0, 19)}.000Z`;
  }
  const utc = typeof value === "string" ? POSTGRES_UTC.exec(value) : null;
  if (utc) return `${utc[1]}.${(utc[2] ?? "").padEnd(3, "0").slice(0, 3)}Z`;
  return instant(value).toISOString().replace(EXPANDED_YEAR, "$1");
}

/**
 * A timestamp as a `Date`. `Date` parses a year past 9999 only in its expanded form (`+012026-…`), which
 * PostgreSQL's JSON (`12026-…`) is not: such a year is expanded first.
 */
export function instant(value: Timestamp): Date {
  if (typeof value !== "string") return value;
  // A year of four digits (a `-` fifth) is read as it is, without the regular expression: this runs for
  // every duration of every job sent.
  if (value.charCodeAt(4) === 45) return new Date(value);
  const wide = /^(\d{5,6})-/.exec(value);
  return new Date(wide?.[1] ? `+${wide[1].padStart(6, "0")}${value.slice(wide[1].length)}` : value);
}

export const isoOrNull = (value: Timestamp | null): string | null => (value === null ? null : iso(value));

/**
 * Seconds from `from` to `to`, as GitLab's `calculate_duration` subtracts them: without a floor, so below
 * zero when `to` comes first (the database's clock and this process's, which reads now, may disagree).
 */
export const seconds = (from: Timestamp, to: Timestamp): number =>
  (instant(to).getTime() - instant(from).getTime()) / 1000;
