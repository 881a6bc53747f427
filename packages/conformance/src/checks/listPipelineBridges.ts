/** Checks of listPipelineBridges: the trigger jobs of one pipeline. */
import type { CheckContext } from "../context.js";
import { allPages, type CheckDefinition, ids } from "./helpers.js";
import {
  anonymousDescription,
  anonymousList,
  bridgePipeline,
  type Listed,
  linkRelations,
  list,
  orderNewestFirst,
  paginationCounts,
  scopeFilter,
  unknownPipeline,
  wholeList,
} from "./list-helpers.js";

export const listPipelineBridgesChecks: CheckDefinition[] = [
  {
    id: "listPipelineBridges.bridgesOnly",
    description: "lists the pipeline's trigger jobs, which the pipeline's job list leaves out",
    async run(ctx: CheckContext) {
      const target = bridgePipeline(ctx);
      const { exchange, items } = await wholeList(ctx, target, 1);
      const strangers = items.filter((j) => j.pipeline.id !== target.params.pipeline_id);
      ctx.expect(
        strangers.length === 0,
        `bridges of other pipelines: ${ids(strangers).join(", ")}`,
        `only bridges of pipeline ${target.params.pipeline_id}`,
        exchange,
      );
      const jobs = await list(ctx, { op: "listPipelineJobs", params: target.params }, [
        ...allPages,
        ["include_retried", "true"],
      ]);
      const both = ids(items).filter((id) => ids(jobs.items).includes(id));
      ctx.expect(
        both.length === 0,
        `bridges also in the job list: ${both.join(", ")}`,
        "no bridge among the pipeline's jobs",
        jobs.exchange,
      );
    },
  },
  {
    id: "listPipelineBridges.orderNewestFirst",
    description: "orders bridges by id, newest first",
    run: orderNewestFirst(bridgePipeline),
  },
  {
    id: "listPipelineBridges.scopeFilter",
    description: "scope=<status> returns exactly the bridges with that status",
    run: scopeFilter(bridgePipeline),
  },
  {
    id: "listPipelineBridges.paginationCounts",
    description:
      'X-Next-Page and Link count through the bridges; X-Total, X-Total-Pages and rel="last", if sent, are right',
    run: paginationCounts(bridgePipeline, 1, "bridges"),
  },
  {
    id: "listPipelineBridges.linkRelations",
    description: "every Link relation of page 2 keeps scope[] and per_page, first and prev lead to page 1",
    run: linkRelations(bridgePipeline),
  },
  {
    id: "listPipelineBridges.downstreamPipeline",
    description:
      "a bridge's downstream_pipeline, when there is one, is another pipeline, its web_url ending in its id",
    async run(ctx: CheckContext) {
      const { exchange, items } = await wholeList(ctx, bridgePipeline(ctx), 1);
      const bridges = items as Array<
        Listed & { downstream_pipeline: { id: number; web_url: string } | null }
      >;
      const triggered = bridges.filter((b) => b.downstream_pipeline !== null);
      if (triggered.length === 0) ctx.skip("no bridge of the pipeline has a downstream pipeline yet");
      for (const bridge of triggered) {
        const downstream = bridge.downstream_pipeline;
        if (downstream === null) continue;
        const path = new URL(downstream.web_url, ctx.http.baseUrl).pathname.replace(/\/+$/, "");
        ctx.expect(
          downstream.id !== bridge.pipeline.id && path.endsWith(`/-/pipelines/${downstream.id}`),
          `bridge ${bridge.id} of pipeline ${bridge.pipeline.id}: downstream_pipeline ${downstream.id} at ${downstream.web_url}`,
          `a pipeline other than ${bridge.pipeline.id}, whose web_url ends in /-/pipelines/${downstream.id}`,
          exchange,
        );
      }
    },
  },
  {
    id: "listPipelineBridges.anonymous",
    description: anonymousDescription,
    run: anonymousList(bridgePipeline),
  },
  {
    id: "listPipelineBridges.unknownPipeline",
    description: 'an unknown pipeline answers 404 {"message":"404 Not found"}',
    run: unknownPipeline("listPipelineBridges"),
  },
];
