import type { JobStatus, OperationId, operations } from "@jobs-api/types";
import type { Request, RequestHandler, Response } from "express";
import type { Database, Queryable } from "../db/database.js";
import * as entities from "../entities/index.js";
import { badRequest, forbidden, HttpError, internalServerError, notFound, unauthorized } from "../errors.js";
import {
  atLeast,
  authenticateJobCaller,
  authenticateProjectCaller,
  type CallerRequest,
  maySetPipelineVariables,
  projectAccess,
} from "../http/auth.js";
import { grapeBoolean, grapeParams } from "../http/grape.js";
import {
  DEFAULT_PER_PAGE,
  decodeCursor,
  OFFSET_LIMIT,
  type PageLink,
  pageOf,
  perPageOf,
  setKeysetHeaders,
  setOffsetHeaders,
} from "../http/pagination.js";
import {
  countJobs,
  findJob,
  getJobById,
  getTrace,
  type JobFilter,
  listJobs,
  listJobsKeyset,
  pipelineExists,
} from "../store/jobs.js";
import { agentContext, allowedAgents as listAllowedAgents } from "../store/projects.js";
import type { JobRow, JobType, ProjectRow, Role } from "../store/rows.js";
import { cancelJob, eraseJob, playJob, retryJob } from "../store/transitions.js";
import { createRunnerHandlers } from "./runner.js";

type Op<K extends OperationId> = operations[K];
type Path<K extends OperationId> = Op<K>["parameters"] extends { path: infer P } ? P : Record<string, never>;
type Query<K extends OperationId> = NonNullable<Op<K>["parameters"]["query"]>;
type Body<K extends OperationId> =
  Op<K> extends { requestBody?: { content: { "application/json": infer B } } } ? B | undefined : undefined;
/** The JSON of an operation's success response (200 or 201). */
type Success<K extends OperationId> = Op<K>["responses"] extends infer R
  ? R extends { 200: { content: infer C } } | { 201: { content: infer C } }
    ? C extends { "application/json": infer J }
      ? J
      : C extends { "text/plain": infer T }
        ? T
        : never
    : never
  : never;

/** A handler typed from the spec: path parameters, query, body and success response of its operation. */
export type Handler<K extends OperationId> = RequestHandler<Path<K>, Success<K>, Body<K>, Query<K>>;
export type Handlers = { [K in OperationId]: Handler<K> };

type ProjectRequest = CallerRequest & { params: Pick<Path<"listProjectJobs">, "id"> };
type JobRequest = CallerRequest & { params: Path<"getJob"> };

/** Whether a row can have `id` (bigint, positive): any other integer is looked up by GitLab and not found. */
const isRowId = (id: number) => Number.isSafeInteger(id) && id > 0;

/** The project jobs list's scope: jobs.rb's `filter_builds` ignores an empty list (`?scope` alone). */
const scopeOf = (scope: readonly JobStatus[] | undefined) => (scope && scope.length > 0 ? scope : undefined);

interface HandlerOptions {
  /** Origin of the URLs in `Link` headers, as GitLab's `external_url`; by default the request's own. */
  externalUrl?: string | undefined;
}

/**
 * What a request that only reads reads through: one view of the database for all its reads, so that they
 * share one check of the data version (PostgreSQL) instead of one each. Requests that write use the
 * database itself.
 */
const requestReads = (db: Database): Queryable => db.forRequest?.() ?? db;

export function createHandlers(db: Database, options: HandlerOptions = {}): Handlers {
  /** Where page links point: behind a proxy, the Host a client sent is not where others reach the API. */
  const origin = (req: Pick<Request, "protocol" | "get">) =>
    options.externalUrl ?? `${req.protocol}://${req.get("host") ?? "localhost"}`;

  /** Where the page links of a list point: this request with another page, as GitLab writes them. */
  const pageLink = (
    req: Pick<Request, "protocol" | "get" | "originalUrl"> & { params: object; query: object },
    operationId: OperationId,
  ): PageLink => ({
    origin: origin(req),
    path: req.originalUrl.split("?", 1)[0] ?? "",
    params: grapeParams(req, operationId),
  });

  /**
   * Authenticates for `operationId`, then resolves the project for reading its jobs (`read_build`) or, for
   * the pipeline jobs list, its pipelines (`read_pipeline`): 403 without the right.
   */
  async function readableProject(
    db: Queryable,
    req: ProjectRequest,
    operationId: OperationId,
    reads: "jobs" | "pipelines" = "jobs",
  ) {
    const caller = await authenticateProjectCaller(db, req, operationId);
    const access = projectAccess(caller);
    if (!(reads === "jobs" ? access.canRead : access.canReadPipelines)) throw forbidden();
    return { principal: caller.principal, ...access };
  }

  /** Any integer is looked up, as GitLab does; ids no row can have are not found without asking. */
  async function jobOf(
    db: Queryable,
    projectId: number,
    jobId: number,
    viewerId: number | null,
    types?: readonly JobType[],
  ): Promise<JobRow> {
    const job = isRowId(jobId) ? await findJob(db, projectId, jobId, types, viewerId) : null;
    if (!job) throw notFound();
    return job;
  }

  /** An action's caller: authenticated (actions are never anonymous) in a project they can see. */
  async function actor(db: Queryable, req: JobRequest, operationId: OperationId) {
    const caller = await authenticateProjectCaller(db, req, operationId);
    const access = projectAccess(caller);
    if (!caller.principal) throw unauthorized();
    return { principal: caller.principal, ...access };
  }

  /**
   * The right to change a job of `project` (`update_build` and what follows from it): Developer, in a project
   * that is not archived. GitLab's archived project prevents `update_build` and `admin_build`
   * (project_policy.rb `rule { archived }`, ArchivedAbilities / permission group `project:archived`), so
   * `authorize!(:erase_build | :retry_job | :play_job, job)` answers 403 before the job's own state is
   * looked at.
   */
  const canChange = (project: ProjectRow, role: Role | null) =>
    atLeast(role, "developer") && !project.archived;

  /** GitLab's order for retry and erase: the job is looked up (404) before the right to change it (403). */
  async function changeableJob(
    db: Queryable,
    req: JobRequest,
    operationId: OperationId,
    types?: readonly JobType[],
  ) {
    const found = await actor(db, req, operationId);
    const job = await jobOf(db, found.project.id, Number(req.params.job_id), found.principal.userId, types);
    if (!canChange(found.project, found.role)) throw forbidden();
    return { ...found, job };
  }

  /** One page of a pipeline's builds or bridges, with GitLab's pagination headers (counts included) set. */
  async function pipelinePage(
    db: Queryable,
    req: CallerRequest & Pick<Request, "originalUrl" | "protocol"> & { params: Path<"listPipelineJobs"> },
    res: Response,
    type: JobType,
    query: Query<"listPipelineJobs">,
  ): Promise<{ rows: JobRow[]; viewerId: number | null }> {
    // pipelines.rb: the jobs list needs `read_pipeline`, the bridges list `read_build`.
    const operationId = type === "build" ? "listPipelineJobs" : "listPipelineBridges";
    const { project, principal, canRead } = await readableProject(
      db,
      req,
      operationId,
      type === "build" ? "pipelines" : "jobs",
    );
    const viewerId = principal?.userId ?? null;
    const pipelineId = Number(req.params.pipeline_id);
    if (!isRowId(pipelineId) || !(await pipelineExists(db, project.id, pipelineId))) throw notFound();
    const filter: JobFilter = {
      pipelineId,
      type,
      // A caller who may read the pipeline but not its jobs gets an empty list: JobsFinder's
      // `pipeline_jobs` raises AccessDeniedError without `read_build` and answers `none`. An empty list
      // (the key alone, `?scope`) is a filter too: JobsFinder's `filter_by_statuses!` calls
      // `with_statuses([])`, `status IN (NULL)` with state_machines-activerecord 0.8 (GitLab's Gemfile).
      scope: canRead ? query.scope : [],
      // GitLab's JobsFinder hides retried jobs unless asked; the bridges route has no such parameter.
      includeRetried: type === "build" && grapeBoolean(query.include_retried),
      viewerId,
    };
    return { rows: await offsetPage(db, pageLink(req, operationId), res, filter, query, true), viewerId };
  }

  /** One offset page of `filter`, with GitLab's pagination headers set; counts only when `counted`. */
  async function offsetPage(
    db: Queryable,
    link: PageLink,
    res: Response,
    filter: JobFilter,
    query: { page?: number; per_page?: number },
    counted: boolean,
  ): Promise<JobRow[]> {
    const page = pageOf(query.page);
    const perPage = perPageOf(query.per_page);
    const offset = (page - 1) * perPage;
    // An offset beyond any table is an empty page, not a query PostgreSQL would refuse.
    const reachable = Number.isSafeInteger(offset);
    const [rows, total] = await Promise.all([
      reachable ? listJobs(db, filter, perPage + 1, offset) : [],
      counted ? countJobs(db, filter) : null,
    ]);
    const items = rows.slice(0, perPage);
    setOffsetHeaders(link, res, {
      page,
      perPage,
      count: items.length,
      hasNext: rows.length > perPage,
      total,
    });
    return items;
  }

  return {
    ...createRunnerHandlers(db, options),
    async listProjectJobs(req, res) {
      const reads = requestReads(db);
      const { project, principal } = await readableProject(reads, req, "listProjectJobs");
      const q = req.query;
      const viewerId = principal?.userId ?? null;
      const filter: JobFilter = {
        projectId: project.id,
        type: "build",
        scope: scopeOf(q.scope),
        includeRetried: true,
        viewerId,
      };
      const now = new Date();
      if (q.pagination === "keyset") {
        // GitLab serves keyset pagination of jobs in `Ci::Build.supported_keyset_orderings` only (id, desc).
        if ((q.order_by ?? "id") !== "id" || (q.sort ?? "desc") !== "desc") {
          throw new HttpError(405, {
            error: "Keyset pagination is not yet available for this type of request",
          });
        }
        // The keyset paginator takes `per_page` as sent, without Kaminari's cap (cursor_based_request_context.rb
        // `per_page`, paginator.rb `LIMIT per_page + 1`): 500 gets up to 500 jobs. A negative one fails
        // there (a negative LIMIT, or -1's empty page taken for a full one), and GitLab answers 500.
        const perPage = q.per_page ?? DEFAULT_PER_PAGE;
        if (perPage < 0) throw internalServerError();
        const { direction, from } = decodeCursor(q.cursor);
        // Paginator#records: backward pages are read in ascending order and turned round.
        const backward = direction === "p";
        const rows =
          from === null
            ? []
            : await listJobsKeyset(
                reads,
                filter,
                backward ? "asc" : "desc",
                from === "none" ? null : from,
                perPage + 1,
              );
        const hasAnother = rows.length === perPage + 1;
        const page = rows.slice(0, perPage);
        if (backward) page.reverse();
        // `has_next_page?`: never from the last page (a backward cursor without a job), as `has_another_page`
        // forward, always backward, never for another `_kd`.
        const hasNext = backward ? from !== "none" : direction === "n" && hasAnother;
        const last = page.at(-1);
        // `cursor_for_next_page` reads the page's last job: GitLab fails (500) when the page has none.
        if (hasNext && !last) throw internalServerError();
        setKeysetHeaders(pageLink(req, "listProjectJobs"), res, hasNext && last ? last.id : null);
        res.json(page.map((row) => entities.job(row, viewerId, now)));
        return;
      }
      // GitLab's offset limit, from the parameters as sent: enforced for `Ci::Build` only where the ops flag
      // `enforce_ci_builds_pagination_limit` is on for the project (cursor_based_keyset.rb
      // `enforced_for_type?`); off by default, so a default GitLab serves deeper pages.
      if (
        project.enforce_ci_builds_pagination_limit &&
        (q.page ?? 1) * (q.per_page ?? DEFAULT_PER_PAGE) > OFFSET_LIMIT
      ) {
        throw new HttpError(405, {
          error: `Offset pagination has a maximum allowed offset of ${OFFSET_LIMIT} for requests that return objects of type Ci::Build. Remaining records can be retrieved using keyset pagination.`,
        });
      }
      // The project list is paginated without counts, as GitLab does.
      const page = await offsetPage(reads, pageLink(req, "listProjectJobs"), res, filter, q, false);
      res.json(page.map((row) => entities.job(row, viewerId, now)));
    },

    async listPipelineJobs(req, res) {
      const { rows, viewerId } = await pipelinePage(requestReads(db), req, res, "build", req.query);
      const now = new Date();
      res.json(rows.map((row) => entities.job(row, viewerId, now)));
    },

    async listPipelineBridges(req, res) {
      const { rows, viewerId } = await pipelinePage(requestReads(db), req, res, "bridge", req.query);
      const now = new Date();
      res.json(rows.map((row) => entities.bridge(row, viewerId, now)));
    },

    async getJobTokenJob(req, res) {
      const reads = requestReads(db);
      const { jobId, userId } = await authenticateJobCaller(reads, req, "getJobTokenJob");
      const job = await getJobById(reads, jobId, userId);
      if (!job) throw notFound("Job");
      res.json(entities.job(job, userId));
    },

    async getJobTokenAllowedAgents(req, res) {
      const reads = requestReads(db);
      const { jobId, jobProjectId, userId } = await authenticateJobCaller(
        reads,
        req,
        "getJobTokenAllowedAgents",
      );
      if (jobProjectId === null) throw notFound("Job");
      const [job, context, agents] = await Promise.all([
        getJobById(reads, jobId, userId),
        agentContext(reads, jobProjectId, userId),
        listAllowedAgents(reads, jobId),
      ]);
      if (!job || !context) throw notFound("Job");
      res.json(entities.allowedAgents(job, context, agents));
    },

    async getJob(req, res) {
      const reads = requestReads(db);
      const { project, principal } = await readableProject(reads, req, "getJob");
      const viewerId = principal?.userId ?? null;
      res.json(entities.job(await jobOf(reads, project.id, Number(req.params.job_id), viewerId), viewerId));
    },

    async getJobTrace(req, res) {
      const reads = requestReads(db);
      const { project, principal } = await readableProject(reads, req, "getJobTrace");
      const job = await jobOf(reads, project.id, Number(req.params.job_id), principal?.userId ?? null);
      const trace = await getTrace(reads, job.id);
      res
        .status(200)
        .type("text/plain")
        .set("Content-Disposition", `infile; filename="${job.id}.log"`)
        .send(trace ?? "");
    },

    async cancelJob(req, res) {
      // Cancel checks the Developer role before it looks the job up.
      const { project, role, principal } = await actor(db, req, "cancelJob");
      if (!atLeast(role, "developer")) throw forbidden();
      const job = await jobOf(db, project.id, Number(req.params.job_id), principal.userId);
      // As in Rack, a parameter of the body wins over the query's.
      const force = grapeBoolean(req.body?.force ?? req.query.force);
      // Forcing a job out of `canceling` without its runner is for maintainers.
      if (force && !atLeast(role, "maintainer")) throw forbidden();
      const outcome = await cancelJob(db, job.id, { force, viewerId: principal.userId });
      res.status(201).json(entities.job(outcome.job, principal.userId));
    },

    async retryJob(req, res) {
      // Retry takes builds and trigger jobs (`find_job!`).
      const { job, principal } = await changeableJob(db, req, "retryJob", ["build", "bridge"]);
      // An archived job (its age, not its project's flag) loses `retry_job` (ci/processable_policy.rb
      // `rule { archived }` prevents the user-facing update abilities): `authorize!` answers 403 Forbidden.
      if (entities.jobArchived(job)) throw forbidden();
      const outcome = await retryJob(db, job.id, principal.userId);
      if ("refused" in outcome) throw forbidden("Job is not retryable");
      res.status(201).json(entities.job(outcome.job, principal.userId));
    },

    async eraseJob(req, res) {
      const { job, principal, role } = await changeableJob(db, req, "eraseJob");
      // `changeableJob` has required Developer: a developer may erase their own jobs.
      const ownJob = job.user_id === principal.userId;
      if (!atLeast(role, "maintainer") && !ownJob) throw forbidden();
      const outcome = await eraseJob(db, job.id, principal.userId);
      if ("refused" in outcome) throw forbidden("Job is not erasable!");
      res.status(201).json(entities.job(outcome.job, principal.userId));
    },

    async playJob(req, res) {
      // Play checks reading first and the right to play once the job (build or trigger job) is found.
      const { project, role, principal } = await readableProject(db, req, "playJob");
      if (!principal) throw forbidden();
      const job = await jobOf(db, project.id, Number(req.params.job_id), principal.userId, [
        "build",
        "bridge",
      ]);
      // An archived job loses `play_job` as it loses `retry_job` (ci/processable_policy.rb).
      if (!canChange(project, role) || entities.jobArchived(job)) throw forbidden();
      // Values with NUL, which PostgreSQL text cannot hold, were refused before (`handleMalformedStrings`).
      const outcome = await playJob(
        db,
        job.id,
        principal.userId,
        req.body?.job_variables_attributes,
        maySetPipelineVariables(project, role),
      );
      if ("refused" in outcome) {
        // play_build_service.rb raises AccessDeniedError, which api.rb answers `403 Forbidden`.
        if (outcome.refused === "variables_not_allowed") throw forbidden();
        throw badRequest("Unplayable Job");
      }
      res.status(200).json(entities.anyJob(outcome.job, principal.userId));
    },
  };
}
