// @ts-check
// One bounded autocannon run against one URL. Any non-2xx answer or socket error invalidates the run.
import autocannon from "autocannon";

/**
 * @param {{ url: string, headers?: Record<string,string>, connections: number, duration: number }} opts
 * duration in seconds (fractions allowed).
 */
export function load({ url, headers = {}, connections, duration }) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url, headers, connections, pipelining: 1, duration, timeout: 10, bailout: 100 },
      (error, result) => {
        if (error) return reject(error);
        resolve(parseResult(result));
      },
    );
  });
}

/** The numbers we keep from an autocannon result (exported for the harness smoke test). */
export function parseResult(result) {
  const seconds = result.duration > 0 ? result.duration : Number.NaN;
  const ok = result["2xx"] ?? 0;
  return {
    rps: ok / seconds,
    requests: result.requests.total,
    ok,
    non2xx: result.non2xx ?? 0,
    errors: result.errors ?? 0,
    timeouts: result.timeouts ?? 0,
    latencyMean: result.latency.mean,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
    bytesPerRequest: result.requests.total > 0 ? result.throughput.total / result.requests.total : 0,
    seconds,
  };
}

export function checkRun(run, label) {
  if (run.non2xx > 0 || run.errors > 0 || run.timeouts > 0 || run.ok === 0) {
    throw new Error(
      `${label}: ${run.ok} ok, ${run.non2xx} non-2xx, ${run.errors} errors, ${run.timeouts} timeouts — results invalid`,
    );
  }
  return run;
}
