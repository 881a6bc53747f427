/** Checks of listPipelineJobs: the jobs of one pipeline. */
import type { CheckContext } from "../context.js";
import { sameJson } from "../context.js";
import type { Query } from "../http.js";
import {
  allPages,
  type CheckDefinition,
  ids,
  queryValues,
  statusesByFrequency,
  wasRetried,
} from "./helpers.js";
import {
  anonymousDescription,
  anonymousList,
  busiestPipeline,
  jobTokenOnList,
  type Listed,
  type ListTarget,
  linkRelations,
  list,
  noRetriedJob,
  orderNewestFirst,
  pageClamped,
  pageClampedDescription,
  paginationCounts,
  pathIdSameAnswer,
  scopeFilter,
  scopeInvalid,
  scopeRepeatedKey,
  scopeRepeatedKeyRefusedHashDescription,
  scopeSpellings,
  unknownPipeline,
  walk,
  walkedPages,
  wholeList,
} from "./list-helpers.js";

export const listPipelineJobsChecks: CheckDefinition[] = [
  {
    id: "listPipelineJobs.pipelineJobsOnly",
    description: "lists the jobs of that pipeline only",
    async run(ctx: CheckContext) {
      const target = busiestPipeline(ctx);
      const { exchange, items } = await wholeList(ctx, target, 1);
      const strangers = items.filter((j) => j.pipeline.id !== target.params.pipeline_id);
      ctx.expect(
        strangers.length === 0,
        `jobs of other pipelines: ${strangers.map((j) => `${j.id} (pipeline ${j.pipeline.id})`).join(", ")}`,
        `only jobs of pipeline ${target.params.pipeline_id}`,
        exchange,
      );
    },
  },
  {
    id: "listPipelineJobs.orderNewestFirst",
    description: "orders the pipeline's jobs by id, newest first",
    run: orderNewestFirst(busiestPipeline),
  },
  {
    id: "listPipelineJobs.scopeFilter",
    description: "scope=<status> returns exactly the pipeline's jobs with that status",
    run: scopeFilter(busiestPipeline),
  },
  {
    id: "listPipelineJobs.scopeBracketSpelling",
    description: "scope=a selects what scope[]=a does, and scope[]=a&scope[]=b the jobs of both statuses",
    run: scopeSpellings(busiestPipeline),
  },
  {
    id: "listPipelineJobs.scopeRepeatedKey",
    description: scopeRepeatedKeyRefusedHashDescription,
    run: scopeRepeatedKey(busiestPipeline, "refused"),
  },
  {
    id: "listPipelineJobs.scopeInvalid",
    description: 'an unknown status in scope answers 400 {"error":"scope does not have a valid value"}',
    run: scopeInvalid(busiestPipeline),
  },
  {
    id: "listPipelineJobs.includeRetried",
    description: "retried jobs are hidden unless include_retried=true",
    async run(ctx: CheckContext) {
      const pool = ctx.material.jobs;
      const retried = pool.find((j) => wasRetried(j, pool));
      if (!retried) ctx.skip(noRetriedJob(ctx));
      const target: ListTarget = { op: "listPipelineJobs", params: { pipeline_id: retried.pipeline.id } };
      const latest = await list(ctx, target, allPages);
      ctx.expect(
        !ids(latest.items).includes(retried.id),
        `retried job ${retried.id} is listed`,
        `no job ${retried.id}: it was retried`,
        latest.exchange,
      );
      const names = latest.items.map((j) => j.name);
      ctx.expect(
        new Set(names).size === names.length,
        `names listed twice: ${names.filter((n, i) => names.indexOf(n) !== i).join(", ")}`,
        "each job name once (its latest attempt)",
        latest.exchange,
      );
      const all = await list(ctx, target, [...allPages, ["include_retried", "true"]]);
      const missing = ids(latest.items).filter((id) => !ids(all.items).includes(id));
      ctx.expect(
        ids(all.items).includes(retried.id) && missing.length === 0,
        `include_retried=true returned [${ids(all.items).join(", ")}]`,
        `every job of the default list and retried job ${retried.id}`,
        all.exchange,
      );
    },
  },
  {
    id: "listPipelineJobs.includeRetriedBoolean",
    description:
      'include_retried takes Grape\'s Boolean texts: 1, yes and True list what true does, 0 and no what false does, maybe answers 400 {"error":"include_retried is invalid"} (pipelines.rb type: Boolean)',
    async run(ctx: CheckContext) {
      const pool = ctx.material.jobs;
      const retried = pool.find((j) => wasRetried(j, pool));
      if (!retried) ctx.skip(noRetriedJob(ctx));
      const target: ListTarget = { op: "listPipelineJobs", params: { pipeline_id: retried.pipeline.id } };
      const spelled = async (value: string) => list(ctx, target, [...allPages, ["include_retried", value]]);
      const all = await spelled("true");
      const latest = await spelled("false");
      ctx.expect(
        ids(all.items).includes(retried.id) && !ids(latest.items).includes(retried.id),
        `retried job ${retried.id} ${ids(all.items).includes(retried.id) ? "" : "not "}listed with include_retried=true, ${ids(latest.items).includes(retried.id) ? "" : "not "}with false`,
        `retried job ${retried.id} listed with include_retried=true only`,
        latest.exchange,
      );
      for (const [values, expected] of [
        [["1", "yes", "True"], all],
        [["0", "no"], latest],
      ] as const) {
        for (const value of values) {
          const got = await spelled(value);
          ctx.expect(
            sameJson(ids(got.items), ids(expected.items)),
            `include_retried=${value} returned [${ids(got.items).join(", ")}]`,
            `what include_retried=${expected === all ? "true" : "false"} returns: [${ids(expected.items).join(", ")}]`,
            got.exchange,
          );
        }
      }
      const invalid = await ctx.call("listPipelineJobs", {
        params: target.params,
        query: [["include_retried", "maybe"]],
      });
      ctx.expectError(invalid, 400, { error: "include_retried is invalid" });
    },
  },
  {
    id: "listPipelineJobs.pageClamped",
    description: pageClampedDescription,
    run: pageClamped(busiestPipeline),
  },
  {
    id: "listPipelineJobs.paginationCounts",
    description:
      'X-Next-Page and Link count through the pipeline\'s jobs; X-Total, X-Total-Pages and rel="last", if sent, are right',
    run: paginationCounts(busiestPipeline, 2, "jobs"),
  },
  {
    id: "listPipelineJobs.linkNextKeepsFilters",
    description:
      'following Link rel="next" walks the filtered list, keeping scope, include_retried and per_page',
    async run(ctx: CheckContext) {
      const target = busiestPipeline(ctx);
      const filters: Query = [["include_retried", "true"]];
      const { items } = await wholeList(ctx, target, 2, filters);
      const [a, b] = statusesByFrequency(items);
      if (!a) ctx.skip("the pipeline has no jobs");
      const scope = b ? [a, b] : [a];
      const wanted = ids(items.filter((j) => scope.includes(j.status)));
      if (wanted.length < 2) ctx.skip("fewer than two jobs match the filter");
      const first = await list(ctx, target, [
        ...scope.map((s): [string, string] => ["scope[]", s]),
        ...filters,
        ["per_page", "1"],
      ]);
      const pages = await walk(ctx, "listPipelineJobs", first.exchange, walkedPages);
      const last = pages.at(-1);
      for (const page of pages.slice(1)) {
        const sent = queryValues(page.url, "scope").sort();
        ctx.expect(
          sameJson(sent, [...scope].sort()) && queryValues(page.url, "include_retried")[0] === "true",
          `the next page's URL has scope=${sent.join(",") || "(none)"} include_retried=${queryValues(page.url, "include_retried").join(",") || "(none)"}`,
          `scope ${scope.join(" and ")} and include_retried=true`,
          page,
        );
      }
      const got = pages.flatMap((p) => ids(p.json as Listed[]));
      const expected = wanted.slice(0, walkedPages);
      ctx.expect(
        sameJson(got, expected),
        `the pages held [${got.join(", ")}]`,
        `the first ${expected.length} matching jobs, one per page: [${expected.join(", ")}]`,
        last,
      );
    },
  },
  {
    id: "listPipelineJobs.linkRelations",
    description:
      "every Link relation of page 2 keeps scope[], include_retried and per_page, first and prev lead to page 1, next to 3",
    run: linkRelations(busiestPipeline, [["include_retried", "true"]]),
  },
  {
    id: "listPipelineJobs.unknownPipeline",
    description: 'an unknown pipeline answers 404 {"message":"404 Not found"}',
    run: unknownPipeline("listPipelineJobs"),
  },
  {
    id: "listPipelineJobs.jobToken",
    description:
      "a running job's token lists the pipeline's jobs (current GitLab) or is ignored, as without a token (GitLab 2022)",
    run: jobTokenOnList(busiestPipeline, [{ status: 404, message: "404 Project Not Found" }]),
  },
  {
    id: "listPipelineJobs.anonymous",
    description: anonymousDescription,
    run: anonymousList(busiestPipeline),
  },
  {
    id: "listPipelineJobs.pathIdSameAnswer",
    description: "the URL-encoded project path gives the same answer as the numeric id",
    run: pathIdSameAnswer(busiestPipeline),
  },
];
