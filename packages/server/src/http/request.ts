import type { OpenApiRequestMetadata } from "express-openapi-validator/dist/framework/types.js";
import type { RateLimitInfo } from "express-rate-limit";

// What middleware attaches to a request, declared once here instead of a cast wherever it is read:
// express-openapi-validator the operation it matched, its route and the path parameters as text;
// express-rate-limit (when the server throttles) the count of the request's window.
declare global {
  namespace Express {
    interface Request {
      openapi?: OpenApiRequestMetadata;
      rateLimit?: RateLimitInfo;
    }
  }
}
