import type { RequestHandler } from "express";

/**
 * Middleware run one after the other as one layer of the app: Express walks its layers one by one on every
 * request (a path match, its mount prefix cut and restored, parameters processed), which for a dozen
 * layers in a row that always run together is a measurable share of a request (see BENCHMARKS.md). As
 * from separate layers: a handler's `next(error)`, a thrown error and a rejected promise each end the
 * series and go to the app's error handlers.
 */
export function series(...handlers: RequestHandler[]): RequestHandler {
  return (req, res, next) => {
    let at = 0;
    const step = (error?: unknown): void => {
      if (error) {
        next(error);
        return;
      }
      const handler = handlers[at++];
      if (handler === undefined) {
        next();
        return;
      }
      try {
        const result: unknown = handler(req, res, step);
        // Express 5's own handling of a handler's promise: a rejection is the request's error.
        if (result instanceof Promise)
          result.catch((reason: unknown) => next(reason ?? new Error("Rejected promise")));
      } catch (thrown) {
        next(thrown);
      }
    };
    step();
  };
}
