/** Checks of cancelJob: active jobs are canceled, finished ones left as they are. Destructive. */
import type { CheckContext } from "../context.js";
import {
  cancelable,
  current,
  expectLeftAlone,
  expectStoredStatus,
  jobTokenRefused,
} from "./action-helpers.js";
import { type CheckDefinition, ids, unknownId, unknownJobCheck } from "./helpers.js";

export const cancelJobChecks: CheckDefinition[] = [
  {
    id: "cancelJob.cancelsActive",
    description:
      "cancel answers 201 with the job canceled and finished_at set, or, for a running job whose runner cancels gracefully, canceling",
    destructive: true,
    async run(ctx: CheckContext) {
      const job = ctx.claim(cancelable);
      const exchange = await ctx.call("cancelJob", { params: { job_id: job.id } });
      const canceled = ctx.ok(exchange, 201);
      // commit_status.rb `event :cancel`: `transition running: :canceling, if: :supports_canceling?` (build.rb:
      // the runner manager supports after_script on cancel, GitLab Runner 16.10 and later); the runner then
      // reports back and the job becomes canceled. A pending job may have started since it was listed.
      const graceful = canceled.status === "canceling" && canceled.finished_at === null;
      ctx.expect(
        canceled.id === job.id &&
          ((canceled.status === "canceled" && canceled.finished_at !== null) || graceful),
        `job ${canceled.id}, status ${canceled.status}, finished_at ${canceled.finished_at}`,
        `job ${job.id} (was ${job.status}), status canceled and finished_at set (or canceling, not finished, for a running job)`,
        exchange,
      );
      await expectStoredStatus(ctx, job.id, graceful ? ["canceling", "canceled"] : "canceled");
    },
  },
  {
    id: "cancelJob.finishedUnchanged",
    description: "cancel of a finished job answers 201 with the job unchanged",
    destructive: true,
    async run(ctx: CheckContext) {
      const job = ctx.claim(["success", "failed"]);
      const [before] = await current(ctx, job.id);
      const exchange = await ctx.call("cancelJob", { params: { job_id: job.id } });
      const answered = ctx.ok(exchange, 201);
      ctx.expect(
        answered.status === before.status && answered.finished_at === before.finished_at,
        `status ${answered.status}, finished_at ${answered.finished_at}`,
        `the job unchanged: status ${before.status}, finished_at ${before.finished_at}`,
        exchange,
      );
      await expectStoredStatus(ctx, job.id, before.status);
    },
  },
  jobTokenRefused("cancelJob", cancelable, "cancel"),
  {
    id: "cancelJob.unsupportedMediaType",
    description:
      'cancel with a text/plain body answers 415 {"error":"The provided content-type \'text/plain\' is not supported."} and changes nothing, a runner moving the job on aside (Grape\'s formatter)',
    destructive: true,
    async run(ctx: CheckContext) {
      const [before] = await current(ctx, ctx.claim(cancelable).id);
      const exchange = await ctx.call("cancelJob", {
        params: { job_id: before.id },
        extra: { rawBody: { contentType: "text/plain", text: "force=true" } },
      });
      ctx.expectError(exchange, 415, { error: "The provided content-type 'text/plain' is not supported." });
      await expectLeftAlone(ctx, before, "cancel");
    },
  },
  {
    id: "cancelJob.corsPreflight",
    description:
      "a CORS preflight (OPTIONS, POST with a PRIVATE-TOKEN header, from any origin) answers 2xx allowing both (config/application.rb Rack::Cors: methods and headers :any)",
    async run(ctx: CheckContext) {
      const path = ctx.spec
        .operation("cancelJob")
        .path.replace("{id}", encodeURIComponent(String(ctx.project)))
        .replace("{job_id}", String(unknownId(ids(ctx.material.jobs))));
      const exchange = await ctx.http.send("OPTIONS", ctx.http.url(path), { kind: "none" }, undefined, {
        headers: {
          origin: "https://example.org",
          "access-control-request-method": "POST",
          "access-control-request-headers": "private-token",
        },
      });
      const list = (name: string) =>
        (exchange.headers.get(name) ?? "").split(",").map((v) => v.trim().toLowerCase());
      const origin = exchange.headers.get("access-control-allow-origin");
      ctx.expect(
        exchange.status >= 200 &&
          exchange.status < 300 &&
          origin === "*" &&
          list("access-control-allow-methods").includes("post") &&
          list("access-control-allow-headers").includes("private-token"),
        `status ${exchange.status}, Access-Control-Allow-Origin: ${origin ?? "(absent)"}, -Methods: ${exchange.headers.get("access-control-allow-methods") ?? "(absent)"}, -Headers: ${exchange.headers.get("access-control-allow-headers") ?? "(absent)"}`,
        "2xx with Access-Control-Allow-Origin: *, POST among the allowed methods and private-token among the allowed headers",
        exchange,
      );
    },
  },
  unknownJobCheck("cancelJob", { destructive: true }),
];
