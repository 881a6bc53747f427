import type { JobStatus, OperationId, operations } from "@jobs-api/types";
import type { Request, RequestHandler, Response } from "express";
import type { Database } from "../db/database.js";
import { badRequest, forbidden, HttpError, notFound } from "../errors.js";
import {
  atLeast,
  authenticateJobCaller,
  authenticateProjectCaller,
  type CallerRequest,
  projectAccess,
} from "../http/auth.js";
import { decodeCursor, setKeysetHeaders, setOffsetHeaders } from "../http/pagination.js";
import * as entities from "../store/entities.js";
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
import type { JobRow, JobType } from "../store/rows.js";
import { cancelJob, eraseJob, playJob, retryJob } from "../store/transitions.js";

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
type Handler<K extends OperationId> = RequestHandler<Path<K>, Success<K>, Body<K>, Query<K>>;
export type Handlers = { [K in OperationId]: Handler<K> };

type ProjectRequest = CallerRequest & { params: Pick<Path<"listProjectJobs">, "id"> };
type JobRequest = CallerRequest & { params: Path<"getJob"> };

const scopeOf = (scope: readonly JobStatus[] | undefined) => (scope && scope.length > 0 ? scope : undefined);

interface HandlerOptions {
  /** Origin of the URLs in `Link` headers, as GitLab's `external_url`; by default the request's own. */
  externalUrl?: string | undefined;
}

export function createHandlers(db: Database, options: HandlerOptions = {}): Handlers {
  /** Where page links point: behind a proxy, the Host a client sent is not where others reach the API. */
  const origin = (req: Pick<Request, "protocol" | "get">) =>
    options.externalUrl ?? `${req.protocol}://${req.get("host") ?? "localhost"}`;

  /** Authenticates, then resolves the project for reading (Reporter, or a public/internal project). */
  async function readableProject(req: ProjectRequest) {
    const principal = await authenticateProjectCaller(db, req);
    const access = projectAccess(principal);
    if (!access.canRead) throw forbidden();
    return { principal, ...access };
  }

  async function jobOf(
    projectId: number,
    jobId: number,
    viewerId: number,
    types?: readonly JobType[],
  ): Promise<JobRow> {
    const job = await findJob(db, projectId, jobId, types, viewerId);
    if (!job) throw notFound();
    return job;
  }

  /** Cancel, retry and erase: GitLab checks the Developer role before it looks the job up. */
  async function updatable(req: JobRequest) {
    const principal = await authenticateProjectCaller(db, req);
    const access = projectAccess(principal);
    if (!atLeast(access.role, "developer")) throw forbidden();
    const job = await jobOf(access.project.id, Number(req.params.job_id), principal.userId);
    return { principal, ...access, job };
  }

  /** One page of a pipeline's builds or bridges, with GitLab's pagination headers (counts included) set. */
  async function pipelinePage(
    req: CallerRequest & Pick<Request, "originalUrl" | "protocol"> & { params: Path<"listPipelineJobs"> },
    res: Response,
    type: JobType,
    query: Query<"listPipelineJobs">,
  ): Promise<{ rows: JobRow[]; viewerId: number }> {
    const { project, principal } = await readableProject(req);
    const pipelineId = Number(req.params.pipeline_id);
    if (!(await pipelineExists(db, project.id, pipelineId))) throw notFound();
    const filter: JobFilter = {
      pipelineId,
      type,
      scope: scopeOf(query.scope),
      // GitLab hides retried builds from pipeline lists; bridges are listed as they are.
      includeRetried: type === "bridge" || query.include_retried === true,
      viewerId: principal.userId,
    };
    return { rows: await offsetPage(req, res, filter, query, true), viewerId: principal.userId };
  }

  /** One offset page of `filter`, with GitLab's pagination headers set; counts only when `counted`. */
  async function offsetPage(
    req: Pick<Request, "originalUrl" | "protocol" | "get">,
    res: Response,
    filter: JobFilter,
    query: { page?: number; per_page?: number },
    counted: boolean,
  ): Promise<JobRow[]> {
    const page = query.page ?? 1;
    const perPage = query.per_page ?? 20;
    const [rows, total] = await Promise.all([
      listJobs(db, filter, perPage + 1, (page - 1) * perPage),
      counted ? countJobs(db, filter) : null,
    ]);
    const items = rows.slice(0, perPage);
    setOffsetHeaders(req, res, {
      origin: origin(req),
      page,
      perPage,
      count: items.length,
      hasNext: rows.length > perPage,
      total,
    });
    return items;
  }

  return {
    async listProjectJobs(req, res) {
      const { project, principal } = await readableProject(req);
      const q = req.query;
      const viewerId = principal.userId;
      const filter: JobFilter = {
        projectId: project.id,
        type: "build",
        scope: scopeOf(q.scope),
        includeRetried: true,
        viewerId,
      };
      const now = new Date();
      if (q.pagination === "keyset") {
        // GitLab refuses keyset pagination in an order it has no index for with 405, not 400.
        if ((q.order_by ?? "id") !== "id") throw new HttpError(405, { message: "405 Method Not Allowed" });
        const sort = q.sort ?? "desc";
        const perPage = q.per_page ?? 20;
        const after = q.cursor === undefined ? null : decodeCursor(q.cursor);
        const rows = await listJobsKeyset(db, filter, sort, after, perPage + 1);
        const page = rows.slice(0, perPage);
        setKeysetHeaders(
          req,
          res,
          origin(req),
          rows.length > perPage ? (page.at(-1)?.id ?? null) : null,
          perPage,
        );
        res.json(page.map((row) => entities.job(row, viewerId, now)));
        return;
      }
      // The project list is paginated without counts, as GitLab does.
      const page = await offsetPage(req, res, filter, q, false);
      res.json(page.map((row) => entities.job(row, viewerId, now)));
    },

    async listPipelineJobs(req, res) {
      const { rows, viewerId } = await pipelinePage(req, res, "build", req.query);
      const now = new Date();
      res.json(rows.map((row) => entities.job(row, viewerId, now)));
    },

    async listPipelineBridges(req, res) {
      const { rows, viewerId } = await pipelinePage(req, res, "bridge", req.query);
      const now = new Date();
      res.json(rows.map((row) => entities.bridge(row, viewerId, now)));
    },

    async getJobTokenJob(req, res) {
      const { jobId, userId } = await authenticateJobCaller(db, req, true);
      const job = await getJobById(db, jobId, userId);
      if (!job) throw notFound("Job");
      res.json(entities.job(job, userId));
    },

    async getJobTokenAllowedAgents(req, res) {
      const { jobId, jobProjectId, userId } = await authenticateJobCaller(db, req, false);
      if (jobProjectId === null) throw notFound("Job");
      const [job, context, agents] = await Promise.all([
        getJobById(db, jobId, userId),
        agentContext(db, jobProjectId, userId),
        listAllowedAgents(db, jobProjectId),
      ]);
      if (!job || !context) throw notFound("Job");
      res.json(entities.allowedAgents(job, context, agents));
    },

    async getJob(req, res) {
      const { project, principal } = await readableProject(req);
      res.json(
        entities.job(await jobOf(project.id, Number(req.params.job_id), principal.userId), principal.userId),
      );
    },

    async getJobTrace(req, res) {
      const { project, principal } = await readableProject(req);
      const job = await jobOf(project.id, Number(req.params.job_id), principal.userId);
      const trace = await getTrace(db, job.id);
      res
        .status(200)
        .type("text/plain")
        .set("Content-Disposition", `infile; filename="${job.id}.log"`)
        .send(trace ?? "");
    },

    async cancelJob(req, res) {
      const { job, role, principal } = await updatable(req);
      // Forcing a job out of `canceling` without its runner is for maintainers.
      if (req.query.force === true && !atLeast(role, "maintainer")) throw forbidden();
      const outcome = await cancelJob(db, job.id, {
        force: req.query.force === true,
        viewerId: principal.userId,
      });
      res.status(201).json(entities.job(outcome.job, principal.userId));
    },

    async retryJob(req, res) {
      const { job, principal } = await updatable(req);
      const outcome = await retryJob(db, job.id, principal.userId);
      if ("refused" in outcome) throw forbidden("Job is not retryable");
      res.status(201).json(entities.job(outcome.job, principal.userId));
    },

    async eraseJob(req, res) {
      const { job, principal, role } = await updatable(req);
      // `updatable` has required Developer: a developer may erase their own jobs.
      const ownJob = job.user_id === principal.userId;
      if (!atLeast(role, "maintainer") && !ownJob) throw forbidden();
      const outcome = await eraseJob(db, job.id, principal.userId);
      if ("refused" in outcome) throw forbidden("Job is not erasable!");
      res.status(201).json(entities.job(outcome.job, principal.userId));
    },

    async playJob(req, res) {
      // Play checks reading first and the right to play once the job (build or trigger job) is found.
      const { project, role, principal } = await readableProject(req);
      const job = await jobOf(project.id, Number(req.params.job_id), principal.userId, ["build", "bridge"]);
      if (!atLeast(role, "developer")) throw forbidden();
      // The spec's pattern has already refused values with NUL, which PostgreSQL text cannot hold.
      const outcome = await playJob(db, job.id, principal.userId, req.body?.job_variables_attributes);
      if ("refused" in outcome) throw badRequest("Unplayable Job");
      res.status(200).json(entities.anyJob(outcome.job, principal.userId));
    },
  };
}
