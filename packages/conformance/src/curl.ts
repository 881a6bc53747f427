/**
 * A `curl` command that sends a failed check's request again, so that a person can reproduce it outside the
 * suite. Tokens appear as the environment variables that hold them (`$GITLAB_TOKEN`), never as their values,
 * because failures end up in CI logs and reports that others read.
 */
import type { Exchange, Secret } from "./http.js";

/** Headers every request carries that say nothing about the failure; left out to keep the command short. */
const implicit = ["accept"];

/** One shell word in double quotes, with each secret replaced by a reference to its variable. */
function word(text: string, secrets: readonly Secret[]): string {
  const quote = (s: string) => s.replace(/[\\"$`]/g, (c) => `\\${c}`);
  let parts = [quote(text)];
  for (const { value, env } of secrets) {
    for (const shown of new Set([value, encodeURIComponent(value)])) {
      parts = parts.map((p) => p.split(quote(shown)).join(`\${${env}}`));
    }
  }
  return `"${parts.join("")}"`;
}

export function curlCommand(exchange: Exchange, secrets: readonly Secret[]): string {
  const args = ["curl", "--silent", "--show-error", "--include", "--globoff"];
  if (exchange.method !== "GET") args.push("--request", exchange.method);
  for (const [name, value] of exchange.request.headers) {
    if (!implicit.includes(name)) args.push("--header", word(`${name}: ${value}`, secrets));
  }
  if (exchange.request.body !== undefined) args.push("--data-raw", word(exchange.request.body, secrets));
  args.push(word(exchange.url, secrets));
  return args.join(" ");
}
