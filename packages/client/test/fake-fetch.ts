import { operationTable, RUNNER_TAG } from "@jobs-api/types";
import { loadSpec } from "@jobs-api/types/validate";

/** What the client sent, read once so that assertions can compare plain values. */
export interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
  signal: AbortSignal;
}

/**
 * A `fetch` to inject: records every request and answers with `respond`, so tests see the exact wire format
 * without a server, a global patch or a mocking library.
 */
export function fakeFetch(respond: (sent: Sent) => Response | Promise<Response> = () => json({})) {
  const sent: Sent[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    const body = request.body === null ? null : await request.text();
    const entry: Sent = {
      method: request.method,
      url: request.url,
      headers: Object.fromEntries(request.headers),
      body,
      signal: request.signal,
    };
    sent.push(entry);
    return respond(entry);
  };
  return { fetch, sent };
}

export function json(body: unknown, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set("Content-Type", "application/json");
  return new Response(JSON.stringify(body), { status: 200, ...init, headers });
}

const examples = loadSpec().components.examples as Record<string, { value: unknown }>;

/** A response example of the spec (`components.examples`): realistic bodies without copying them here. */
export function example(name: string): unknown {
  const found = examples[name];
  if (found === undefined) throw new Error(`no example ${name} in the spec`);
  return found.value;
}

/**
 * `operationId` → `METHOD /path`, as the spec's operation table declares them: the Jobs API's operations,
 * the client's methods (the runner protocol's are for runners).
 */
export const specRoutes: Record<string, string> = Object.fromEntries(
  Object.entries(operationTable)
    .filter(([, op]) => !(op.tags as readonly string[]).includes(RUNNER_TAG))
    .map(([id, op]) => [id, `${op.method.toUpperCase()} ${op.path}`]),
);
