import { specPath } from "@jobs-api/types/files";
import express, { type Express, type RequestHandler } from "express";
import * as OpenApiValidator from "express-openapi-validator";
import { pino } from "pino";
import { errorHandler } from "../errors.js";
import { listen } from "../server.js";
import { API_BASE } from "./base.js";

/** The validator middleware of each app, for `setUpValidator`. */
const validators = new WeakMap<Express, RequestHandler[]>();

/**
 * express-openapi-validator sets itself up on its first request (loads the spec, creates Ajv: ~0.35 s
 * here), which the first caller would wait for. This sends a first request through `app`'s validator,
 * mounted in a throwaway app on a free loopback port, so the app itself sees none of it (no rate-limit
 * quota spent, no request log line, no database query). Each operation's validators are still compiled on
 * the operation's first request (30–100 ms): compiling all of them ahead would add ~0.6 s to the start.
 */
export async function setUpValidator(app: Express): Promise<void> {
  const validator = validators.get(app);
  if (!validator) throw new Error("setUpValidator: not an app of createApp");
  const warm = express();
  warm.use(validator);
  warm.use(errorHandler(pino({ level: "silent" })));
  const server = await listen(warm, { port: 0, host: "127.0.0.1" });
  try {
    // A path of no operation: the validator sets itself up, then answers 404 without compiling any
    // operation's validators, which would add their cost to the start.
    const res = await fetch(`${server.url}${API_BASE}/`);
    await res.arrayBuffer();
  } finally {
    await server.close();
  }
}

/**
 * express-openapi-validator on the bundled spec: requests always, JSON answers unless `validateResponses`
 * is false (a mismatch answers 500). Registered for `setUpValidator(app)`.
 */
export function specValidator(app: Express, validateResponses: boolean): RequestHandler[] {
  const validator = OpenApiValidator.middleware({
    apiSpec: specPath,
    // The bundle is linted and checked against the OpenAPI schema by the spec pipeline (`pnpm check:generated`);
    // checking it again here cost ~85 ms of every start.
    validateApiSpec: false,
    validateRequests: { allowUnknownQueryParameters: true, coerceTypes: true },
    validateResponses: validateResponses ? { allErrors: true } : false,
    validateSecurity: false,
    // Multipart bodies were read before (`readMultipart`), with GitLab's answers to malformed ones.
    fileUploader: false,
    ignorePaths: (path: string) => !path.startsWith(`${API_BASE}/`),
  });
  validators.set(app, validator);
  return validator;
}
