/**
 * V8 flags for PGlite's WebAssembly module, for the process that opens it, set before the module is
 * compiled: the server's command sets them in its own process; a library such as `startDouble()` runs in
 * its users' processes, whose V8 flags are theirs to choose (a test runner's `execArgv`, the README says
 * how). V8 runs a WebAssembly function as Liftoff's quick code first and recompiles it with TurboFan once
 * it has used a budget (roughly bytes of code executed, 1.8 million by default). Opening PGlite and the
 * first request used up enough budgets that the TurboFan compiles took ~0.45 s of the start's CPU, on the
 * one core it has. With 1,000 million, they wait for the traffic that makes those functions hot: the start
 * on an existing data directory took 0.82 s of CPU instead of 1.31 s, the first `startDouble()` of a
 * process 0.74 s instead of 1.34 s on one core (0.51 instead of 0.74 s on two), and uncached list pages,
 * writes and trace appends cost the same per request as before after ~450 requests (Liftoff's code alone,
 * `--liftoff-only`, served those list pages ~40 % slower for good). Lazy validation checks a function when
 * it is first compiled instead of all 9 MB at once (~20 ms): the module is a dependency's build, not
 * untrusted input. Node does not take V8 flags such as these from NODE_OPTIONS.
 */
export const PGLITE_V8_FLAGS: readonly string[] = [
  "--wasm-tiering-budget=1000000000",
  "--wasm-lazy-validation",
];
