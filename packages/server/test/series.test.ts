import type { NextFunction, Request, RequestHandler, Response } from "express";
import { describe, expect, it } from "vitest";
import { series } from "../src/http/series.js";

const req = {} as Request;
const res = {} as Response;

/** Runs `handler` and resolves with what it passed to its `next`. */
function outcome(handler: RequestHandler): Promise<unknown> {
  return new Promise((resolve) => {
    const next: NextFunction = (error?: unknown) => resolve(error);
    handler(req, res, next);
  });
}

const record =
  (seen: string[], name: string): RequestHandler =>
  (_req, _res, next) => {
    seen.push(name);
    next();
  };

describe("series", () => {
  it("runs its handlers in order, synchronous or not, then goes on", async () => {
    const seen: string[] = [];
    const later: RequestHandler = (_req, _res, next) => {
      setImmediate(() => {
        seen.push("later");
        next();
      });
    };
    expect(await outcome(series(record(seen, "a"), later, record(seen, "b")))).toBeUndefined();
    expect(seen).toEqual(["a", "later", "b"]);
  });

  it("ends at a handler's error, whether passed on, thrown or a rejected promise", async () => {
    const failure = new Error("refused");
    const failing: RequestHandler[] = [
      (_req, _res, next) => next(failure),
      () => {
        throw failure;
      },
      async () => {
        throw failure;
      },
    ];
    for (const fail of failing) {
      const seen: string[] = [];
      expect(await outcome(series(record(seen, "a"), fail, record(seen, "b")))).toBe(failure);
      expect(seen).toEqual(["a"]);
    }
  });

  it("reports a thrown error from a handler run after an asynchronous one", async () => {
    const failure = new Error("refused later");
    const later: RequestHandler = (_req, _res, next) => {
      setImmediate(() => next());
    };
    const throwing: RequestHandler = () => {
      throw failure;
    };
    expect(await outcome(series(later, throwing))).toBe(failure);
  });
});
