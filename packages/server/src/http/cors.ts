import cors from "cors";
import type { RequestHandler } from "express";

/** `config/application.rb`'s second `Rack::Cors` rule (the first is for GitLab's own origin, with cookies). */
const CORS: cors.CorsOptions = {
  origin: "*",
  credentials: false,
  methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
  exposedHeaders: ["Link", "X-Total", "X-Total-Pages", "X-Per-Page", "X-Page", "X-Next-Page", "X-Prev-Page"],
  // rack-cors' default max age.
  maxAge: 7200,
  optionsSuccessStatus: 200,
};
const corsPreflight = cors(CORS);
const corsHeaders = cors({ ...CORS, preflightContinue: true });

/** rack-cors answers an OPTIONS itself only when it is a preflight (it names the method it asks for). */
export const corsLikeRack: RequestHandler = (req, res, next) =>
  req.method === "OPTIONS" && req.get("access-control-request-method") === undefined
    ? corsHeaders(req, res, next)
    : corsPreflight(req, res, next);
