import type { RequestHandler } from "express";
import onHeaders from "on-headers";

/**
 * Express writes `application/json; charset=utf-8` and `text/plain; charset=utf-8`; GitLab (Grape) sends
 * the bare types, and clients compare the whole header (python-gitlab decodes a body only when it is
 * exactly `application/json`). The charset is dropped just before the headers go out, whoever set them.
 */
const WITH_UTF8 = /^(application\/json|text\/plain)\s*;\s*charset=utf-8$/i;

export const exactContentTypes: RequestHandler = (_req, res, next) => {
  onHeaders(res, () => {
    const type = res.getHeader("content-type");
    const bare = typeof type === "string" ? WITH_UTF8.exec(type)?.[1] : undefined;
    if (bare !== undefined) res.setHeader("Content-Type", bare.toLowerCase());
  });
  next();
};

/** The headers `lib/api/api.rb` adds to every API answer. */
export const apiSecurityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader("X-Frame-Options", "SAMEORIGIN");
  res.setHeader("X-Content-Type-Options", "nosniff");
  next();
};
