/** Checks of listProjectJobs: the jobs of a project. */
import type { CheckContext } from "../context.js";
import { sameJson } from "../context.js";
import {
  allPages,
  type CheckDefinition,
  ids,
  maxPerPage,
  queryValues,
  statusesByFrequency,
  unknownId,
} from "./helpers.js";
import {
  corsExposed,
  durationProblems,
  expectCountsIfSent,
  expectPageHeaders,
  expectRels,
  jobsConsistent,
  jobTokenOnList,
  type Listed,
  linkRelations,
  list,
  orderNewestFirst,
  pageClamped,
  pageClampedDescription,
  pathIdSameAnswer,
  projectJobs,
  scopeFilter,
  scopeInvalid,
  scopeRepeatedKey,
  scopeRepeatedKeyDescription,
  scopeSpellings,
  timestampProblems,
  walk,
  walkedPages,
  wholeList,
} from "./list-helpers.js";

export const listProjectJobsChecks: CheckDefinition[] = [
  {
    id: "listProjectJobs.projectJobsOnly",
    description: "lists the project's jobs, each with a pipeline of that project",
    async run(ctx: CheckContext) {
      const { exchange, items } = await list(ctx, projectJobs(), allPages);
      const projectId = ctx.material.project.id;
      const strangers = items.filter((j) => projectId !== undefined && j.pipeline.project_id !== projectId);
      ctx.expect(
        strangers.length === 0,
        `jobs of other projects: ${strangers.map((j) => `${j.id} (project ${j.pipeline.project_id})`).join(", ")}`,
        `only jobs whose pipeline.project_id is ${projectId}`,
        exchange,
      );
    },
  },
  {
    id: "listProjectJobs.orderNewestFirst",
    description: "orders jobs by id, newest first",
    run: orderNewestFirst(projectJobs),
  },
  {
    id: "listProjectJobs.scopeFilter",
    description: "scope=<status> returns exactly the jobs with that status",
    run: scopeFilter(projectJobs),
  },
  {
    id: "listProjectJobs.scopeBracketSpelling",
    description: "scope=a selects what scope[]=a does, and scope[]=a&scope[]=b the jobs of both statuses",
    run: scopeSpellings(projectJobs),
  },
  {
    id: "listProjectJobs.scopeRepeatedKey",
    description: scopeRepeatedKeyDescription,
    run: scopeRepeatedKey(projectJobs, "values"),
  },
  {
    id: "listProjectJobs.scopeInvalid",
    description: 'an unknown status in scope answers 400 {"error":"scope does not have a valid value"}',
    run: scopeInvalid(projectJobs),
  },
  {
    id: "listProjectJobs.perPageBounds",
    description:
      'per_page=0 answers 400 {"error":"per_page has a value not allowed"} (pagination_params.rb except_values) and per_page=1 at most one job',
    async run(ctx: CheckContext) {
      const exchange = await ctx.call("listProjectJobs", { query: [["per_page", "0"]] });
      ctx.expectError(exchange, 400, { error: "per_page has a value not allowed" });
      const one = await list(ctx, projectJobs(), [["per_page", "1"]]);
      ctx.expect(
        one.items.length <= 1,
        `${one.items.length} jobs for per_page=1`,
        "at most 1 job",
        one.exchange,
      );
    },
  },
  {
    id: "listProjectJobs.pageClamped",
    description: pageClampedDescription,
    run: pageClamped(projectJobs),
  },
  {
    id: "listProjectJobs.paginationHeaders",
    description:
      "X-Page, X-Per-Page, X-Next-Page, X-Prev-Page and Link match the pages; counts, if sent, are right",
    async run(ctx: CheckContext) {
      const { items, complete } = await wholeList(ctx, projectJobs(), 2);
      const first = await list(ctx, projectJobs(), [["per_page", "1"]]);
      expectPageHeaders(ctx, first.exchange, {
        "x-page": "1",
        "x-per-page": "1",
        "x-prev-page": "",
        "x-next-page": "2",
      });
      expectRels(ctx, first.exchange, ["next", "first"], ["prev"]);
      expectCountsIfSent(ctx, first.exchange, complete ? items.length : undefined, 1);
      const second = await list(ctx, projectJobs(), [
        ["page", "2"],
        ["per_page", "1"],
      ]);
      expectPageHeaders(ctx, second.exchange, { "x-page": "2", "x-prev-page": "1" });
      expectRels(ctx, second.exchange, ["prev", "first"], []);
      const expected = ids(items.slice(0, 2));
      const got = [...ids(first.items), ...ids(second.items)];
      ctx.expect(
        sameJson(got, expected),
        `pages 1 and 2 of per_page=1 hold [${got.join(", ")}]`,
        `the first two jobs of the list: [${expected.join(", ")}]`,
        second.exchange,
      );
    },
  },
  {
    id: "listProjectJobs.paginationLastPage",
    description: 'the last page has the remaining jobs, an empty X-Next-Page and no rel="next"',
    async run(ctx: CheckContext) {
      const { items, complete } = await wholeList(ctx, projectJobs(), 2);
      if (!complete)
        ctx.skip(`the project has ${maxPerPage} jobs or more, so its last page cannot be predicted`);
      const perPage = Math.ceil(items.length / 2);
      const lastPage = Math.ceil(items.length / perPage);
      const last = await list(ctx, projectJobs(), [
        ["page", String(lastPage)],
        ["per_page", String(perPage)],
      ]);
      const expected = ids(items.slice((lastPage - 1) * perPage));
      ctx.expect(
        sameJson(ids(last.items), expected),
        `page ${lastPage} of per_page=${perPage} holds [${ids(last.items).join(", ")}]`,
        `the remaining jobs [${expected.join(", ")}]`,
        last.exchange,
      );
      expectPageHeaders(ctx, last.exchange, { "x-next-page": "", "x-prev-page": String(lastPage - 1) });
      expectRels(ctx, last.exchange, ["prev", "first"], ["next"]);
      expectCountsIfSent(ctx, last.exchange, items.length, perPage);
    },
  },
  {
    id: "listProjectJobs.linkNextKeepsFilters",
    description: 'following Link rel="next" walks the filtered list, keeping scope and per_page',
    async run(ctx: CheckContext) {
      const { items } = await wholeList(ctx, projectJobs(), 2);
      const [a, b] = statusesByFrequency(items);
      if (!a || !b) ctx.skip("every job has the same status; two statuses are needed");
      const wanted = items.filter((j) => j.status === a || j.status === b);
      const first = await list(ctx, projectJobs(), [
        ["scope[]", a],
        ["scope[]", b],
        ["per_page", "1"],
      ]);
      const pages = await walk(ctx, "listProjectJobs", first.exchange, walkedPages);
      for (const page of pages.slice(1)) {
        const scope = queryValues(page.url, "scope").sort();
        ctx.expect(
          sameJson(scope, [a, b].sort()) && queryValues(page.url, "per_page")[0] === "1",
          `the next page's URL has scope=${scope.join(",") || "(none)"} per_page=${queryValues(page.url, "per_page").join(",") || "(none)"}`,
          `scope ${a} and ${b}, per_page=1`,
          page,
        );
      }
      const got = pages.flatMap((p) => ids(p.json as Listed[]));
      const expected = ids(wanted.slice(0, walkedPages));
      ctx.expect(
        sameJson(got, expected),
        `the pages held [${got.join(", ")}]`,
        `the first ${expected.length} ${a}/${b} jobs, one per page: [${expected.join(", ")}]`,
        pages.at(-1),
      );
    },
  },
  {
    id: "listProjectJobs.linkRelations",
    description:
      "every Link relation of page 2 keeps scope[] and per_page, first and prev lead to page 1, next to 3",
    run: linkRelations(projectJobs),
  },
  {
    id: "listProjectJobs.durationsMatchTimestamps",
    description:
      "duration is finished_at − started_at (±1 s), null before start; queued_duration fits before started_at",
    run: jobsConsistent(durationProblems, "durations that agree with the timestamps"),
  },
  {
    id: "listProjectJobs.timestampsConsistent",
    description:
      "success, failed and canceled jobs have finished_at; created_at ≤ started_at ≤ finished_at; erased jobs have no artifacts file",
    run: jobsConsistent(
      timestampProblems,
      "timestamps and fields that agree with the status and with each other",
    ),
  },
  {
    id: "listProjectJobs.keysetUnsupportedOrder",
    description:
      'keyset pagination with sort=asc or order_by=name answers 405 {"error":"Keyset pagination is not yet available for this type of request"} (build.rb supported_keyset_orderings: id desc only)',
    async run(ctx: CheckContext) {
      // pagination_strategies.rb keyset_paginator: error!(…, 405) unless the ordering is supported.
      for (const order of [[["sort", "asc"]], [["order_by", "name"]]] as const) {
        const exchange = await ctx.call("listProjectJobs", {
          query: [["pagination", "keyset"], ["per_page", "2"], ...order],
        });
        ctx.expectError(exchange, 405, {
          error: "Keyset pagination is not yet available for this type of request",
        });
      }
    },
  },
  {
    id: "listProjectJobs.keysetPagination",
    description: 'pagination=keyset&order_by=id&sort=desc walks the list, newest first, by Link rel="next"',
    async run(ctx: CheckContext) {
      const { items } = await wholeList(ctx, projectJobs(), 3);
      const first = await list(ctx, projectJobs(), [
        ["pagination", "keyset"],
        ["order_by", "id"],
        ["sort", "desc"],
        ["per_page", "2"],
      ]);
      const pages = await walk(ctx, "listProjectJobs", first.exchange, 3);
      const got = pages.flatMap((p) => ids(p.json as Listed[]));
      const expected = ids(items.slice(0, Math.min(items.length, 6)));
      ctx.expect(
        sameJson(got, expected),
        `${pages.length} keyset page(s) held [${got.join(", ")}]`,
        `the newest jobs in order, two per page: [${expected.join(", ")}]`,
        pages.at(-1),
      );
    },
  },
  {
    id: "listProjectJobs.pathIdSameAnswer",
    description: "the URL-encoded project path gives the same answer as the numeric id",
    run: pathIdSameAnswer(projectJobs),
  },
  {
    id: "listProjectJobs.unknownProject",
    description: 'an unknown or invisible project answers 404 {"message":"404 Project Not Found"}',
    async run(ctx: CheckContext) {
      const projectId = unknownId([ctx.material.project.id ?? 0]);
      for (const id of [projectId, `conformance-no-such-group/no-such-project-${projectId}`]) {
        const exchange = await ctx.call("listProjectJobs", { params: { id } });
        ctx.expectError(exchange, 404, { message: "404 Project Not Found" });
      }
    },
  },
  {
    id: "listProjectJobs.unauthenticated",
    description: 'no token answers 401 {"message":"401 Unauthorized"}',
    async run(ctx: CheckContext) {
      const exchange = await ctx.call("listProjectJobs", { auth: { kind: "none" } });
      ctx.expectError(exchange, 401, { message: "401 Unauthorized" });
    },
  },
  {
    id: "listProjectJobs.badToken",
    description: 'an unknown token answers 401 {"message":"401 Unauthorized"}, in the header and the query',
    async run(ctx: CheckContext) {
      for (const kind of ["privateTokenHeader", "privateTokenQuery"] as const) {
        const exchange = await ctx.call("listProjectJobs", {
          auth: { kind, token: "conformance-invalid-token" },
        });
        ctx.expectError(exchange, 401, { message: "401 Unauthorized" });
      }
    },
  },
  {
    id: "listProjectJobs.jobToken",
    description:
      "a running job's token lists the project's jobs (current GitLab) or answers 401 (GitLab 2022)",
    run: jobTokenOnList(projectJobs, [{ status: 401, message: "401 Unauthorized" }]),
  },
  {
    id: "listProjectJobs.exactContentType",
    description:
      "a list, a 400 and a 404 have Content-Type: application/json exactly, no charset (api.rb content_type :json, 'application/json'; python-gitlab decodes only that)",
    async run(ctx: CheckContext) {
      const answers = [
        await ctx.call("listProjectJobs", { query: [["per_page", "1"]] }),
        await ctx.call("listProjectJobs", { query: [["per_page", "0"]] }),
        await ctx.call("listProjectJobs", { params: { id: unknownId([ctx.material.project.id ?? 0]) } }),
      ];
      for (const exchange of answers) {
        const type = exchange.headers.get("content-type");
        ctx.expect(
          type === "application/json",
          `Content-Type: ${type ?? "(absent)"}`,
          "Content-Type: application/json",
          exchange,
        );
      }
    },
  },
  {
    id: "listProjectJobs.cors",
    description:
      "a GET with an Origin gets Access-Control-Allow-Origin: * and exposes Link and the X-* pagination headers (config/application.rb Rack::Cors for /api/*)",
    async run(ctx: CheckContext) {
      const exchange = await ctx.call("listProjectJobs", {
        query: [["per_page", "1"]],
        extra: { headers: { origin: "https://example.org" } },
      });
      const allowOrigin = exchange.headers.get("access-control-allow-origin");
      const exposed = (exchange.headers.get("access-control-expose-headers") ?? "")
        .split(",")
        .map((h) => h.trim().toLowerCase());
      const missing = corsExposed.filter((h) => !exposed.includes(h.toLowerCase()));
      ctx.expect(
        allowOrigin === "*" && missing.length === 0,
        `Access-Control-Allow-Origin: ${allowOrigin ?? "(absent)"}, Access-Control-Expose-Headers lacks ${missing.join(", ") || "nothing"}`,
        `Access-Control-Allow-Origin: * and Access-Control-Expose-Headers with ${corsExposed.join(", ")}`,
        exchange,
      );
      const credentials = exchange.headers.get("access-control-allow-credentials");
      ctx.expect(
        credentials !== "true",
        "Access-Control-Allow-Credentials: true",
        "no credentials allowed with origin * (credentials: false)",
        exchange,
      );
    },
  },
  {
    id: "listProjectJobs.tokenSpellings",
    description:
      "the token works as PRIVATE-TOKEN, as private_token, as Authorization: Bearer and as access_token and bearer_token (Doorkeeper's access_token_methods)",
    async run(ctx: CheckContext) {
      const reference = await list(ctx, projectJobs(), allPages);
      for (const kind of ["privateTokenQuery", "bearer", "accessTokenQuery", "bearerTokenQuery"] as const) {
        const exchange = await ctx.call("listProjectJobs", {
          auth: { kind, token: ctx.tokens.token },
          query: allPages,
        });
        ctx.expect(
          exchange.status === 200 && sameJson(ids(exchange.json as Listed[]), ids(reference.items)),
          exchange.status === 200 ? "a different list" : `status ${exchange.status}`,
          "the same list as with PRIVATE-TOKEN",
          exchange,
        );
      }
    },
  },
];
