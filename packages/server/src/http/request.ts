import type { OpenApiRequestMetadata } from "express-openapi-validator/dist/framework/types.js";

// What express-openapi-validator attaches to each request it matched: the operation, its route and the
// path parameters as text. Declared once here instead of a cast wherever a middleware reads it.
declare global {
  namespace Express {
    interface Request {
      openapi?: OpenApiRequestMetadata;
    }
  }
}
