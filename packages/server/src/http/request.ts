import type { OpenApiRequestMetadata } from "express-openapi-validator/dist/framework/types.js";
import type { RateLimitInfo } from "express-rate-limit";
import type { Logger } from "pino";

// What middleware attaches to a request, declared once here instead of a cast wherever it is read:
// express-openapi-validator the operation it matched, its route and the path parameters as text;
// express-rate-limit (when the server throttles) the count of the request's window; the request logger
// (`http/logging.ts`) the request's id and its logger.
declare global {
  namespace Express {
    interface Request {
      id?: string;
      log?: Logger;
      openapi?: OpenApiRequestMetadata;
      rateLimit?: RateLimitInfo;
    }
  }
}
