import { type OperationId, operationTable } from "@jobs-api/types";
import type { RequestHandler } from "express";
import type { Handlers } from "../handlers/jobs.js";

const isOperationId = (id: unknown): id is OperationId =>
  typeof id === "string" && Object.hasOwn(operationTable, id);

/**
 * Each request to the handler of its operationId. express-openapi-validator has matched the request to one
 * operation of the spec already (`req.openapi`, before this runs; paths and methods of no operation were
 * answered 404 and 405 there), so the handler is looked up by that name instead of Express trying one
 * route per operation in turn, each a path expression and a layer. The path parameters are the validator's,
 * as text, as a route would have set them.
 */
export function routes(h: Handlers): RequestHandler {
  return (req, res, next) => {
    const operationId = req.openapi?.schema.operationId;
    if (!isOperationId(operationId)) return next();
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.openapi?.pathParams ?? {})) params[name] = String(value);
    req.params = params;
    // Express 5 forwards a handler's rejected promise to the error handler; so does `series`, around this.
    return (h[operationId] as RequestHandler)(req, res, next);
  };
}
