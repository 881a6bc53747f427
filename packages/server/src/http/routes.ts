import { type OperationId, operationTable } from "@jobs-api/types";
import { type RequestHandler, Router } from "express";
import type { Handlers } from "../handlers/jobs.js";

/** One route per operation of the spec, each to the handler of its operationId. */
export function routes(h: Handlers): Router {
  const router = Router({ caseSensitive: true });
  for (const [operationId, op] of Object.entries(operationTable) as [
    OperationId,
    (typeof operationTable)[OperationId],
  ][]) {
    // Express 5 forwards rejected promises to the error handler; no wrapper needed.
    router[op.method](op.path.replace(/\{(\w+)\}/g, ":$1"), h[operationId] as RequestHandler);
  }
  return router;
}
