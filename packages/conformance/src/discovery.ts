/**
 * Finds the material the checks need by listing, as any API user could: the project's jobs (and from
 * them its numeric id, its path, its pipelines and jobs in each state), a pipeline with bridges, and the
 * job of the job token. Nothing is created; what is missing makes the checks that need it skip.
 */
import type { Job, JobTokenJob } from "@jobs-api/types";
import { maxPerPage } from "./checks/helpers.js";
import type { Material, ProjectRef, Tokens } from "./context.js";
import type { Exchange, Http } from "./http.js";

/** The run cannot start: the token is refused, the project cannot be found, or no project was named. */
export class SetupError extends Error {
  override name = "SetupError";
}

/** Pages of 100 jobs read from the project's list; enough material without walking huge projects. */
const discoveryPages = 5;
/** Pipelines whose bridges are listed while looking for one that has some. */
const bridgeProbes = 10;

export function isJob(value: unknown): value is Job {
  if (typeof value !== "object" || value === null) return false;
  const job = value as Record<string, unknown>;
  const pipeline = job.pipeline as Record<string, unknown> | null | undefined;
  return (
    Number.isInteger(job.id) &&
    typeof job.status === "string" &&
    typeof job.name === "string" &&
    typeof pipeline === "object" &&
    pipeline !== null &&
    Number.isInteger(pipeline.id) &&
    Number.isInteger(pipeline.project_id)
  );
}

function describe(exchange: Exchange): string {
  const body = exchange.text.replace(/\s+/g, " ").slice(0, 200);
  return `${exchange.method} ${exchange.shownUrl} answered ${exchange.status}${body ? ` ${body}` : ""}`;
}

/** The project's path, read from a job's web_url (`https://host[/prefix]/group/project/-/jobs/7`). */
function pathFromWebUrl(http: Http, job: Job): string | undefined {
  try {
    const prefix = new URL(http.baseUrl).pathname.replace(/\/api\/v4\/?$/, "");
    const path = new URL(job.web_url).pathname.replace(/\/-\/jobs\/\d+\/?$/, "");
    const relative = prefix && path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : path;
    return decodeURIComponent(relative.replace(/^\/+/, "")) || undefined;
  } catch {
    return undefined;
  }
}

/** Lists the project (`given`, which preflight found readable) for the material the checks need. */
export async function discover(
  http: Http,
  tokens: Tokens,
  given: string,
  jobTokenJob: JobTokenJob | undefined,
): Promise<Material> {
  const ref: ProjectRef = /^\d+$/.test(given)
    ? { given, id: Number(given), path: undefined }
    : { given, id: undefined, path: decodeURIComponent(given) };
  const param = encodeURIComponent(ref.id ?? ref.path ?? given);

  const jobs: Job[] = [];
  for (let page = 1; page <= discoveryPages; page += 1) {
    const exchange = await http.send(
      "GET",
      http.url(`/projects/${param}/jobs`, [
        ["per_page", String(maxPerPage)],
        ["page", String(page)],
      ]),
      { kind: "privateTokenHeader", token: tokens.token },
    );
    if (exchange.status === 401) throw new SetupError(`the token was refused: ${describe(exchange)}`);
    if (exchange.status === 404) {
      throw new SetupError(
        `project ${given} was not found, or the token cannot see it: ${describe(exchange)}`,
      );
    }
    if (exchange.status !== 200 || !Array.isArray(exchange.json)) {
      throw new SetupError(`cannot list the project's jobs: ${describe(exchange)}`);
    }
    jobs.push(...exchange.json.filter(isJob));
    if (exchange.json.length < maxPerPage) break;
  }

  const [newest] = jobs;
  if (newest) {
    ref.id ??= newest.pipeline.project_id;
    ref.path ??= pathFromWebUrl(http, newest);
  }

  let bridgePipeline: number | undefined;
  const pipelineIds = [...new Set(jobs.map((j) => j.pipeline.id))].slice(0, bridgeProbes);
  for (const pipelineId of pipelineIds) {
    const exchange = await http.send(
      "GET",
      http.url(`/projects/${param}/pipelines/${pipelineId}/bridges`, [["per_page", "1"]]),
      { kind: "privateTokenHeader", token: tokens.token },
    );
    if (exchange.status === 200 && Array.isArray(exchange.json) && exchange.json.length > 0) {
      bridgePipeline = pipelineId;
      break;
    }
  }

  return { project: ref, jobs, bridgePipeline, jobTokenJob, claimed: new Set(), accessLevel: undefined };
}
