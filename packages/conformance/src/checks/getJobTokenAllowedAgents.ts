/** Checks of getJobTokenAllowedAgents: the agents a CI job token's job may use. */
import type { CheckContext } from "../context.js";
import type { CheckDefinition } from "./helpers.js";
import { jobToken } from "./job-helpers.js";

export const getJobTokenAllowedAgentsChecks: CheckDefinition[] = [
  {
    id: "getJobTokenAllowedAgents.withJobToken",
    description: "a running job's token answers its job, pipeline and project with the allowed agents",
    async run(ctx: CheckContext) {
      const token = jobToken(ctx);
      const job = ctx.ok(await ctx.call("getJobTokenJob", { auth: { kind: "jobTokenHeader", token } }), 200);
      const exchange = await ctx.call("getJobTokenAllowedAgents", {
        auth: { kind: "jobTokenHeader", token },
      });
      const agents = ctx.ok(exchange, 200);
      ctx.expect(
        agents.job.id === job.id &&
          agents.pipeline.id === job.pipeline.id &&
          agents.project.id === job.pipeline.project_id &&
          agents.user.id === job.user?.id,
        `job ${agents.job.id}, pipeline ${agents.pipeline.id}, project ${agents.project.id}, user ${agents.user.id}`,
        `job ${job.id}, pipeline ${job.pipeline.id}, project ${job.pipeline.project_id}, user ${job.user?.id} (as GET /job says)`,
        exchange,
      );
      // Every role up to the user's, in GitLab's order (`Gitlab::Access.sym_options_with_owner`).
      const order = ["guest", "planner", "reporter", "developer", "maintainer", "owner"];
      const ranks = agents.user.roles_in_project.map((role) => order.indexOf(role));
      ctx.expect(
        ranks.every((rank, i) => i === 0 || rank > (ranks[i - 1] ?? -1)) &&
          (ranks.length === 0 || ranks[0] === 0),
        `roles_in_project ${JSON.stringify(agents.user.roles_in_project)}`,
        "the roles from guest up to the user's, lowest first",
        exchange,
      );
    },
  },
  {
    id: "getJobTokenAllowedAgents.personalToken",
    description: 'a personal token answers 404 {"message":"404 Job Not Found"}',
    async run(ctx: CheckContext) {
      const exchange = await ctx.call("getJobTokenAllowedAgents");
      ctx.expectError(exchange, 404, { message: "404 Job Not Found" });
    },
  },
];
