import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Database, type DemoServer, startDemoServer, store } from "../src/index.js";
import { backends } from "./helpers/db.js";
import { createWorld, type World } from "./helpers/fixtures.js";
import { call } from "./helpers/server.js";

let db: Database;
let server: DemoServer;

/** The variables stored for job `jobId`, by key. */
const variablesOf = (jobId: number) =>
  db.query<{ key: string; value: string }>(
    "SELECT key, value FROM job_variables WHERE job_id = $1 ORDER BY key",
    [jobId],
  );

/** The columns besides key and value that a play's variables may set (migration 0015). */
const variableFieldsOf = (jobId: number) =>
  db.query<{ key: string; value: string; variable_type: number; raw: boolean; source: number }>(
    "SELECT key, value, variable_type, raw, source FROM job_variables WHERE job_id = $1 ORDER BY key",
    [jobId],
  );

type JobJson = {
  id: number;
  name: string;
  status: string;
  finished_at: string | null;
  erased_at: string | null;
  artifacts: unknown[];
  artifacts_expire_at?: string | null;
  user: { id: number } | null;
  downstream_pipeline?: unknown;
  pipeline?: { id: number; status: string };
};

const post = (w: World, jobId: number, action: string, token: string, json?: unknown) =>
  call(`${server.api}/projects/${w.projectId}/jobs/${jobId}/${action}`, {
    method: "POST",
    token,
    ...(json === undefined ? {} : { json }),
  });
const get = async (w: World, jobId: number) =>
  (await call(`${server.api}/projects/${w.projectId}/jobs/${jobId}`, { token: w.tokens.owner }))
    .body as JobJson;

/** A trigger job (bridge) added to `w`'s pipeline, waiting as a manual one unless told otherwise. */
const addBridge = (
  w: World,
  status: store.NewJob["status"] = "manual",
  when: store.NewJob["when"] = "manual",
) =>
  store.createJob(db, { pipelineId: w.pipelineId, type: "bridge", name: `trigger:${status}`, status, when });

// The transitions run on PGlite always, and on PostgreSQL too when a server is given, where row locks
// and concurrent connections are real.
describe.each(backends)("actions on $name", ({ open, skip }) => {
  describe.skipIf(skip)("over HTTP", () => {
    beforeAll(async () => {
      db = await open();
      server = await startDemoServer({ db: db });
    });
    afterAll(async () => {
      await server?.close();
      await db?.close();
    });

    describe("cancelJob", () => {
      it("cancels unfinished jobs (201) and returns finished ones unchanged (201)", async () => {
        const w = await createWorld(db);
        for (const status of ["created", "pending", "running", "manual", "scheduled", "preparing"] as const) {
          const r = await post(w, w.jobs[status], "cancel", w.tokens.developer);
          expect(r.status).toBe(201);
          expect(r.body).toMatchObject({ id: w.jobs[status], status: "canceled" });
          expect((r.body as JobJson).finished_at).not.toBeNull();
        }
        for (const status of ["success", "failed", "skipped"] as const) {
          const r = await post(w, w.jobs[status], "cancel", w.tokens.developer);
          expect(r.status).toBe(201);
          expect(r.body).toMatchObject({ id: w.jobs[status], status });
        }
      });

      it("ends the job token of a canceled running job", async () => {
        const w = await createWorld(db);
        expect(
          (await call(`${server.api}/job`, { headers: { "JOB-TOKEN": w.runningJobToken } })).status,
        ).toBe(200);
        await post(w, w.jobs.running, "cancel", w.tokens.maintainer);
        expect(
          (await call(`${server.api}/job`, { headers: { "JOB-TOKEN": w.runningJobToken } })).status,
        ).toBe(401);
      });

      it("leaves a canceling job to its runner unless a maintainer forces it", async () => {
        const w = await createWorld(db);
        const plain = await post(w, w.jobs.canceling, "cancel", w.tokens.maintainer);
        expect(plain.status).toBe(201);
        expect(plain.body).toMatchObject({ id: w.jobs.canceling, status: "canceling" });
        const dev = await call(
          `${server.api}/projects/${w.projectId}/jobs/${w.jobs.canceling}/cancel?force=true`,
          {
            method: "POST",
            token: w.tokens.developer,
          },
        );
        expect(dev.status).toBe(403);
        const maintainer = await call(
          `${server.api}/projects/${w.projectId}/jobs/${w.jobs.canceling}/cancel?force=true`,
          {
            method: "POST",
            token: w.tokens.maintainer,
          },
        );
        expect(maintainer.status).toBe(201);
        expect(maintainer.body).toMatchObject({ status: "canceled" });
      });

      // Grape's PrimitiveCoercer reads '' (and a key alone, nil in Rack) as nil for a Boolean: not forced, so a
      // developer may send it (jobs.rb:136).
      it.each([
        ["?force=", undefined, undefined],
        ["?force", undefined, undefined],
        ["", "application/json", '{"force":""}'],
        ["", "application/json", '{"force":null}'],
        ["", "application/x-www-form-urlencoded", "force="],
        // Grape merges the body over the query (Rack's `GET.merge(POST)`): the body's empty value wins.
        ["?force=true", "application/x-www-form-urlencoded", "force="],
        ["?force=true", "application/json", '{"force":null}'],
        // Nor is the query's value validated once the body's hides it.
        ["?force=maybe", "application/json", '{"force":false}'],
        ["?force=maybe", "application/x-www-form-urlencoded", "force=no"],
      ])(
        "reads an empty or hidden force%s %s as absent: a developer cancels (Grape treat_as_nil?, GET.merge(POST))",
        async (query, type, body) => {
          const w = await createWorld(db);
          const r = await call(
            `${server.api}/projects/${w.projectId}/jobs/${w.jobs.running}/cancel${query}`,
            {
              method: "POST",
              token: w.tokens.developer,
              ...(type === undefined ? {} : { headers: { "Content-Type": type }, body }),
            },
          );
          expect(r.status, r.text).toBe(201);
          expect(r.body).toMatchObject({ id: w.jobs.running, status: "canceled" });
        },
      );

      // lib/api/ci/jobs.rb:136-141 calls `force_cancel` instead of `cancel`, and its only transition is
      // `canceling → canceled` (CommitStatus `event :force_cancel`): from any other state the event does nothing.
      it("with force leaves a job that is not canceling unchanged (jobs.rb:136-141)", async () => {
        const w = await createWorld(db);
        for (const status of ["pending", "running", "manual", "success"] as const) {
          const r = await call(
            `${server.api}/projects/${w.projectId}/jobs/${w.jobs[status]}/cancel?force=true`,
            { method: "POST", token: w.tokens.maintainer },
          );
          expect(r.status).toBe(201);
          expect(r.body).toMatchObject({ id: w.jobs[status], status });
          expect((await get(w, w.jobs[status])).status).toBe(status);
        }
      });

      // Grape reports every invalid parameter (endpoint.rb `run_validators`, validation_errors.rb:10-13, 36-47),
      // in jobs.rb's order: job_id, then force (jobs.rb:126-129, 017a6c12). force is one parameter, the body's
      // merged over the query's, so it is named once.
      it("reports a bad job_id and a bad force together, force once (jobs.rb:126-129)", async () => {
        const w = await createWorld(db);
        const cancel = (path: string, json?: unknown) =>
          call(`${server.api}/projects/${w.projectId}/jobs/${path}`, {
            method: "POST",
            token: w.tokens.developer,
            ...(json === undefined ? {} : { json }),
          });
        const both = await cancel("x1/cancel?force=maybe");
        expect(both.status).toBe(400);
        expect(both.body).toEqual({ error: "job_id is invalid, force is invalid" });
        const twice = await cancel("x1/cancel?force=maybe", { force: "perhaps" });
        expect(twice.status).toBe(400);
        expect(twice.body).toEqual({ error: "job_id is invalid, force is invalid" });
        const one = await cancel(`${w.jobs.running}/cancel?force=maybe`);
        expect(one.status).toBe(400);
        expect(one.body).toEqual({ error: "force is invalid" });
      });
    });

    describe("retryJob", () => {
      it("creates a new pending job for the caller, once", async () => {
        const w = await createWorld(db);
        const r = await post(w, w.jobs.failed, "retry", w.tokens.maintainer);
        expect(r.status).toBe(201);
        const fresh = r.body as JobJson;
        expect(fresh.id).toBeGreaterThan(w.jobs.failed);
        expect(fresh).toMatchObject({
          name: "job-failed",
          status: "pending",
          user: { id: w.users.maintainer },
        });
        expect(fresh).not.toHaveProperty("failure_reason");
        const again = await post(w, w.jobs.failed, "retry", w.tokens.maintainer);
        expect(again.status).toBe(403);
        expect(again.body).toEqual({ message: "403 Forbidden - Job is not retryable" });
      });

      it("refuses unfinished jobs", async () => {
        const w = await createWorld(db);
        for (const status of ["running", "pending", "manual", "skipped"] as const) {
          const r = await post(w, w.jobs[status], "retry", w.tokens.developer);
          expect(r.status).toBe(403);
          expect(r.body).toEqual({ message: "403 Forbidden - Job is not retryable" });
        }
      });

      it("retries a job at most once under 30 concurrent requests", async () => {
        const w = await createWorld(db);
        const results = await Promise.all(
          Array.from({ length: 30 }, () => post(w, w.jobs.success, "retry", w.tokens.developer)),
        );
        expect(results.filter((r) => r.status === 201)).toHaveLength(1);
        expect(results.filter((r) => r.status === 403)).toHaveLength(29);
        const list = await call(`${server.api}/projects/${w.projectId}/jobs?per_page=100`, {
          token: w.tokens.owner,
        });
        expect((list.body as JobJson[]).filter((j) => j.name === "job-success")).toHaveLength(2);
      });
    });

    describe("playJob", () => {
      it("moves a manual job to pending with its variables (200)", async () => {
        const w = await createWorld(db);
        const r = await post(w, w.manualJob, "play", w.tokens.developer, {
          job_variables_attributes: [{ key: "DEPLOY_TARGET", value: "staging" }],
        });
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({ id: w.manualJob, status: "pending", user: { id: w.users.developer } });
        expect(await variablesOf(w.manualJob)).toEqual([{ key: "DEPLOY_TARGET", value: "staging" }]);
      });

      it("plays without a body and plays scheduled jobs", async () => {
        const w = await createWorld(db);
        expect((await post(w, w.jobs.manual, "play", w.tokens.developer)).status).toBe(200);
        expect((await post(w, w.jobs.scheduled, "play", w.tokens.developer)).body).toMatchObject({
          status: "pending",
        });
      });

      it("retries a finished manual job and answers the job it played (jobs.rb presents `job`)", async () => {
        const w = await createWorld(db);
        await post(w, w.manualJob, "play", w.tokens.developer);
        await post(w, w.manualJob, "cancel", w.tokens.developer);
        const r = await post(w, w.manualJob, "play", w.tokens.developer);
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({ id: w.manualJob, name: "deploy", status: "canceled" });
        const list = await call(
          `${server.api}/projects/${w.projectId}/pipelines/${w.pipelineId}/jobs?per_page=100`,
          {
            token: w.tokens.developer,
          },
        );
        const attempts = (list.body as JobJson[]).filter((job) => job.name === "deploy");
        expect(attempts).toHaveLength(1);
        expect(attempts[0]).toMatchObject({ status: "pending" });
        expect(attempts[0]?.id).not.toBe(w.manualJob);
      });

      // play_build_service.rb:24-26 (06e3d641): `RetryJobService#execute(build)` without the variables, so the
      // clone keeps the played job's own (clone_job_service.rb:36-38, 47-52, stored id 5466197619).
      it("retries a finished manual job with its own variables, not the ones given (play_build_service.rb:24-26)", async () => {
        const w = await createWorld(db);
        await post(w, w.manualJob, "play", w.tokens.developer, {
          job_variables_attributes: [{ key: "FIRST", value: "1" }],
        });
        await post(w, w.manualJob, "cancel", w.tokens.developer);
        const r = await post(w, w.manualJob, "play", w.tokens.developer, {
          job_variables_attributes: [
            { key: "SECOND", value: "2" },
            { key: "bad key", value: "x" },
          ],
        });
        expect(r.status).toBe(200);
        const list = await call(`${server.api}/projects/${w.projectId}/pipelines/${w.pipelineId}/jobs`, {
          token: w.tokens.developer,
        });
        const retried = (list.body as JobJson[]).find((job) => job.name === "deploy");
        expect(retried?.id).not.toBe(w.manualJob);
        expect(await variablesOf(retried?.id ?? 0)).toEqual([{ key: "FIRST", value: "1" }]);
      });

      it.each([
        ["an empty form", "application/x-www-form-urlencoded", ""],
        ["an empty body of any type", "text/plain", ""],
        ["no Content-Type", undefined, ""],
        [
          "a form",
          "application/x-www-form-urlencoded",
          "job_variables_attributes[][key]=K&job_variables_attributes[][value]=V",
        ],
        ["JSON without Content-Type (Grape's default format)", undefined, '{"job_variables_attributes":[]}'],
      ])(
        "plays with %s (Grape reads forms and JSON; an empty body is no body)",
        async (_what, type, body) => {
          const w = await createWorld(db);
          const r = await call(`${server.api}/projects/${w.projectId}/jobs/${w.manualJob}/play`, {
            method: "POST",
            token: w.tokens.developer,
            headers: type === undefined ? {} : { "Content-Type": type },
            // Bytes: fetch adds no Content-Type of its own to them.
            body: new TextEncoder().encode(body),
          });
          expect(r.status, r.text).toBe(200);
          expect(r.body).toMatchObject({ id: w.manualJob, status: "pending" });
        },
      );

      // Rack (query_parser.rb `normalize_params`) starts a new hash in `a[][key]` when `key` repeats, and reads
      // `a[0][key]` as a hash, which Grape refuses for jobs.rb's `type: Array` (`job_variables_attributes is invalid`).
      it("reads form variables as Rack does: `[]` lists them, an index is a hash Grape refuses", async () => {
        const w = await createWorld(db);
        const play = (body: string) =>
          call(`${server.api}/projects/${w.projectId}/jobs/${w.manualJob}/play`, {
            method: "POST",
            token: w.tokens.developer,
            headers: { "Content-Type": "application/x-www-form-urlencoded" },
            body,
          });
        const indexed = await play("job_variables_attributes[0][key]=A&job_variables_attributes[0][value]=1");
        expect(indexed.status).toBe(400);
        expect(indexed.body).toEqual({ error: "job_variables_attributes is invalid" });
        const listed = await play(
          "job_variables_attributes[][key]=A&job_variables_attributes[][value]=1&job_variables_attributes[][key]=B&job_variables_attributes[][value]=2",
        );
        expect(listed.status, listed.text).toBe(200);
        expect(await variablesOf(w.manualJob)).toEqual([
          { key: "A", value: "1" },
          { key: "B", value: "2" },
        ]);
      });

      // Rack's multipart parser names fields with the same `normalize_params` as forms.
      it("plays with a multipart form, its field names read as Rack reads them", async () => {
        const w = await createWorld(db);
        const play = (fields: [string, string][]) => {
          const form = new FormData();
          for (const [name, value] of fields) form.append(name, value);
          return call(`${server.api}/projects/${w.projectId}/jobs/${w.manualJob}/play`, {
            method: "POST",
            token: w.tokens.developer,
            body: form,
          });
        };
        const indexed = await play([
          ["job_variables_attributes[0][key]", "TARGET"],
          ["job_variables_attributes[0][value]", "staging"],
        ]);
        expect(indexed.status).toBe(400);
        expect(indexed.body).toEqual({ error: "job_variables_attributes is invalid" });
        const r = await play([
          ["job_variables_attributes[][key]", "TARGET"],
          ["job_variables_attributes[][value]", "staging"],
          ["job_variables_attributes[][key]", "DRY_RUN"],
          ["job_variables_attributes[][value]", "false"],
        ]);
        expect(r.status, r.text).toBe(200);
        expect(await variablesOf(w.manualJob)).toEqual([
          { key: "DRY_RUN", value: "false" },
          { key: "TARGET", value: "staging" },
        ]);
      });

      it("answers 415 for a body of another media type (Grape's formatter)", async () => {
        const w = await createWorld(db);
        const r = await call(`${server.api}/projects/${w.projectId}/jobs/${w.manualJob}/play`, {
          method: "POST",
          token: w.tokens.developer,
          headers: { "Content-Type": "text/plain" },
          body: "hello",
        });
        expect(r.status).toBe(415);
        expect(r.body).toEqual({ error: "The provided content-type 'text/plain' is not supported." });
      });

      // jobs.rb:209-213 (017a6c12) check only presence and String; the key's rule is the model's, has_variable.rb:13-17
      // (7e202c4f), after `key=` strips it (:29-31). A failed rule fails the save of `enqueue!`
      // (enqueue_job_service.rb:13-21, 12b96f0b); play_build_service.rb:15-17 (06e3d641) rescues the
      // InvalidTransition by retrying the reloaded job, which a manual job is not (retry_job_service.rb:8,17-21),
      // and jobs.rb:225-229 presents the job: 200, unchanged.
      it("answers 200 with the job unchanged when a variable's key breaks Ci::HasVariable's rule (has_variable.rb:13-17)", async () => {
        const w = await createWorld(db);
        const before = await get(w, w.manualJob);
        for (const key of ["bad key", "", "   ", "A".repeat(256), "CLÉ", "A-B"]) {
          const r = await post(w, w.manualJob, "play", w.tokens.developer, {
            job_variables_attributes: [
              { key: "GOOD", value: "1" },
              { key, value: "x" },
            ],
          });
          expect(r.status, key).toBe(200);
          expect(r.body, key).toEqual(before);
          expect(await variablesOf(w.manualJob), key).toEqual([]);
        }
        expect(await get(w, w.manualJob)).toEqual(before);
      });

      it("strips a key and takes any value length, as Ci::HasVariable does (has_variable.rb:13-17, 29-31)", async () => {
        const w = await createWorld(db);
        const long = "v".repeat(20_000);
        const r = await post(w, w.manualJob, "play", w.tokens.developer, {
          job_variables_attributes: [
            { key: " \tPADDED\n", value: "x" },
            { key: "K".repeat(255), value: long },
          ],
        });
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({ status: "pending" });
        expect(await variablesOf(w.manualJob)).toEqual([
          { key: "K".repeat(255), value: long },
          { key: "PADDED", value: "x" },
        ]);
      });

      // job_variable.rb's uniqueness check reads stored rows only, so two new variables with one key both pass it
      // and the second insert breaks the unique index (structure.sql `index_ci_job_variables_on_key_and_job_id`):
      // RecordNotUnique, which api.rb leaves to `rescue_from :all` (500); the transaction rolls the play back.
      it("answers GitLab's 500 for two variables with one key, and leaves the job manual", async () => {
        const w = await createWorld(db);
        for (const keys of [
          ["A", "A"],
          ["A", " A "],
        ]) {
          const r = await post(w, w.manualJob, "play", w.tokens.developer, {
            job_variables_attributes: keys.map((key, i) => ({ key, value: String(i) })),
          });
          expect(r.status).toBe(500);
          expect(r.body).toEqual({ message: "500 Internal Server Error" });
        }
        expect(await get(w, w.manualJob)).toMatchObject({ status: "manual" });
        expect(await variablesOf(w.manualJob)).toEqual([]);
      });

      // jobs.rb:225 (017a6c12) hands `params[:job_variables_attributes]`, undeclared fields included, to
      // `job.play`; enqueue_job_service.rb:18 (12b96f0b) assigns them through `accepts_nested_attributes_for
      // :job_variables` (build.rb, no options), which gives every field to Ci::JobVariable: `variable_type`
      // (has_variable.rb:8-11, 7e202c4f), `raw` (raw_variable.rb:7-9, cast as Rails' Boolean), `source`
      // (job_variable.rb:22, stored id 580555140); `_destroy` is ignored without `allow_destroy`, `job_id` is
      // replaced by the job's.
      it("stores variable_type, raw and source as Ci::JobVariable takes them (has_variable.rb:8-11, raw_variable.rb:7-9)", async () => {
        const w = await createWorld(db);
        const r = await post(w, w.manualJob, "play", w.tokens.developer, {
          job_variables_attributes: [
            { key: "A", value: "1", variable_type: "file", raw: true },
            { key: "B", value: "2", variable_type: 2, raw: "false", source: "dotenv" },
            { key: "C", value: "3", raw: "yes", _destroy: true, job_id: 999_999, id: "" },
            { key: "D", value: "4", variable_type: "env_var", raw: 0, source: 0, id: null },
          ],
        });
        expect(r.status, r.text).toBe(200);
        expect(r.body).toMatchObject({ status: "pending" });
        expect(await variableFieldsOf(w.manualJob)).toEqual([
          { key: "A", value: "1", variable_type: 2, raw: true, source: 0 },
          { key: "B", value: "2", variable_type: 2, raw: false, source: 1 },
          { key: "C", value: "3", variable_type: 1, raw: true, source: 0 },
          { key: "D", value: "4", variable_type: 1, raw: false, source: 0 },
        ]);
        // A form's fields are text: `file` and `true` read as they do in JSON.
        const v = await createWorld(db);
        const form = new URLSearchParams([
          ["job_variables_attributes[][key]", "F"],
          ["job_variables_attributes[][value]", "x"],
          ["job_variables_attributes[][variable_type]", "file"],
          ["job_variables_attributes[][raw]", "true"],
        ]);
        const f = await call(`${server.api}/projects/${v.projectId}/jobs/${v.manualJob}/play`, {
          method: "POST",
          token: v.tokens.developer,
          body: form,
        });
        expect(f.status, f.text).toBe(200);
        expect(await variableFieldsOf(v.manualJob)).toEqual([
          { key: "F", value: "x", variable_type: 2, raw: true, source: 0 },
        ]);
      });

      // A name Ci::JobVariable has no attribute for raises ActiveModel::UnknownAttributeError while it is
      // assigned; a value an enum does not list raises ArgumentError (Rails' EnumType); a blank variable_type
      // breaks the column's NOT NULL at the insert. api.rb:141-143 (00459703) `rescue_from :all` answers 500 for
      // each, inside the play's transaction (enqueue_job_service.rb:16-21), so the job stays as it was.
      it("answers 500 for a field Ci::JobVariable does not have or an enum value it does not list (api.rb:141-143)", async () => {
        const w = await createWorld(db);
        const before = await get(w, w.manualJob);
        for (const extra of [
          { masked: true },
          { protected: false },
          { environment_scope: "*" },
          { variable_type: "2" },
          { variable_type: "secret" },
          { variable_type: 3 },
          { variable_type: null },
          { source: "pipeline" },
        ]) {
          const r = await post(w, w.manualJob, "play", w.tokens.developer, {
            job_variables_attributes: [
              { key: "GOOD", value: "1" },
              { key: "K", value: "v", ...extra },
            ],
          });
          expect(r.status, JSON.stringify(extra)).toBe(500);
          expect(r.body).toEqual({ message: "500 Internal Server Error" });
        }
        expect(await get(w, w.manualJob)).toEqual(before);
        expect(await variablesOf(w.manualJob)).toEqual([]);
      });

      // `assign_nested_attributes_for_collection_association` looks a non-blank `id` up among the job's own
      // variables and raises ActiveRecord::RecordNotFound for another: api.rb:104-106 (00459703) answers 404.
      it("answers 404 Not found for a variable id that is not the job's own (api.rb:104-106)", async () => {
        const w = await createWorld(db);
        const before = await get(w, w.manualJob);
        for (const id of [1, "1", " 7 ", true]) {
          const r = await post(w, w.manualJob, "play", w.tokens.developer, {
            job_variables_attributes: [{ key: "K", value: "v", id }],
          });
          expect(r.status, String(id)).toBe(404);
          expect(r.body).toEqual({ message: "404 Not found" });
        }
        expect(await get(w, w.manualJob)).toEqual(before);
      });

      // raw_variable.rb:7-9 (7e202c4f) `validates :raw, inclusion: { in: [true, false] }`: a blank raw casts to
      // nil and fails the save, which the play answers as for an invalid key (play_build_service.rb:15-17).
      it('answers 200 with the job unchanged for a raw of null or "" (raw_variable.rb:7-9)', async () => {
        const w = await createWorld(db);
        const before = await get(w, w.manualJob);
        for (const raw of [null, ""]) {
          const r = await post(w, w.manualJob, "play", w.tokens.developer, {
            job_variables_attributes: [{ key: "K", value: "v", raw }],
          });
          expect(r.status).toBe(200);
          expect(r.body).toEqual(before);
        }
        expect(await variablesOf(w.manualJob)).toEqual([]);
      });

      // enqueue_job_service.rb:18 assigns the fields before `enqueue!` fails for a finished job, so their errors
      // come before play_build_service.rb:15-17 retries it; the retry copies the `internal_source` variables with
      // their type and raw (build.rb `job_variables_attributes`).
      it("checks a finished manual job's variable fields before retrying it, and the retry keeps type and raw", async () => {
        const w = await createWorld(db);
        await post(w, w.manualJob, "play", w.tokens.developer, {
          job_variables_attributes: [
            { key: "KEPT", value: "1", variable_type: "file", raw: true },
            { key: "DROPPED", value: "2", source: "dotenv" },
          ],
        });
        await post(w, w.manualJob, "cancel", w.tokens.developer);
        const unknown = await post(w, w.manualJob, "play", w.tokens.developer, {
          job_variables_attributes: [{ key: "K", value: "v", masked: true }],
        });
        expect(unknown.status).toBe(500);
        const missing = await post(w, w.manualJob, "play", w.tokens.developer, {
          job_variables_attributes: [{ key: "K", value: "v", id: 424_242 }],
        });
        expect(missing.status).toBe(404);
        const jobs = async () =>
          (
            (
              await call(`${server.api}/projects/${w.projectId}/pipelines/${w.pipelineId}/jobs`, {
                token: w.tokens.developer,
              })
            ).body as JobJson[]
          ).filter((job) => job.name === "deploy");
        expect((await jobs()).map((job) => job.id)).toEqual([w.manualJob]);
        const r = await post(w, w.manualJob, "play", w.tokens.developer, {
          job_variables_attributes: [{ key: "K", value: "v", raw: null }],
        });
        expect(r.status).toBe(200);
        const retried = (await jobs()).find((job) => job.id !== w.manualJob);
        expect(await variableFieldsOf(retried?.id ?? 0)).toEqual([
          { key: "KEPT", value: "1", variable_type: 2, raw: true, source: 0 },
        ]);
      });

      it("answers 400 Unplayable Job for other jobs", async () => {
        const w = await createWorld(db);
        for (const status of ["success", "running", "pending"] as const) {
          const r = await post(w, w.jobs[status], "play", w.tokens.developer);
          expect(r.status).toBe(400);
          expect(r.body).toEqual({ message: "400 Bad request - Unplayable Job" });
        }
      });

      it("validates the body", async () => {
        const w = await createWorld(db);
        const cases: [unknown, string][] = [
          [{ job_variables_attributes: [{ value: "x" }] }, "job_variables_attributes[0][key] is missing"],
          [{ job_variables_attributes: "nope" }, "job_variables_attributes is invalid"],
        ];
        for (const [json, error] of cases) {
          const r = await post(w, w.manualJob, "play", w.tokens.developer, json);
          expect(r.status).toBe(400);
          expect(r.body).toEqual({ error });
        }
        const malformed = await call(`${server.api}/projects/${w.projectId}/jobs/${w.manualJob}/play`, {
          method: "POST",
          token: w.tokens.developer,
          headers: { "Content-Type": "application/json" },
          body: "{nope",
        });
        // Rails' JSON parser refuses it in HandleMalformedStrings, before Grape (handle_malformed_strings.rb:19).
        expect(malformed.status).toBe(400);
        expect(malformed.headers.get("content-type")).toBe("text/plain");
        expect(malformed.text).toBe("Bad Request");
      });

      // Grape's params are Rack's `GET.merge(POST)` (rack request.rb:378-382; grape request.rb:9,
      // hash_with_indifferent_access.rb:15-19), which jobs.rb:225 reads for `job_variables_attributes`.
      it("plays with job_variables_attributes in the query string alone, checked as in a body (Rack GET.merge(POST))", async () => {
        const w = await createWorld(db);
        const variables =
          "job_variables_attributes[][key]=A&job_variables_attributes[][value]=1&job_variables_attributes[][key]=B&job_variables_attributes[][value]=2";
        const r = await post(w, w.manualJob, `play?${variables}`, w.tokens.developer);
        expect(r.status, r.text).toBe(200);
        expect(await variablesOf(w.manualJob)).toEqual([
          { key: "A", value: "1" },
          { key: "B", value: "2" },
        ]);
        // A body without the parameter leaves the query's (an empty JSON object, a form of other fields).
        for (const [type, body] of [
          ["application/json", "{}"],
          ["application/x-www-form-urlencoded", "force=1"],
        ] as const) {
          const again = await createWorld(db);
          const played = await call(
            `${server.api}/projects/${again.projectId}/jobs/${again.manualJob}/play?job_variables_attributes[][key]=Q&job_variables_attributes[][value]=q`,
            { method: "POST", token: again.tokens.developer, headers: { "Content-Type": type }, body },
          );
          expect(played.status, played.text).toBe(200);
          expect(await variablesOf(again.manualJob)).toEqual([{ key: "Q", value: "q" }]);
        }
        // The query's variables meet jobs.rb:209-213's `requires :key` as a body's would.
        const keyless = await createWorld(db);
        const missing = await post(
          keyless,
          keyless.manualJob,
          "play?job_variables_attributes[][value]=1",
          keyless.tokens.developer,
        );
        expect(missing.status).toBe(400);
        expect(missing.body).toEqual({ error: "job_variables_attributes[0][key] is missing" });
        expect((await get(keyless, keyless.manualJob)).status).toBe("manual");
      });

      // rack request.rb:379 `GET.merge(POST)`: the body's value of a name replaces the query's, whole.
      it("takes the body's job_variables_attributes over the query string's, whole (Rack GET.merge(POST))", async () => {
        for (const [type, body] of [
          ["application/json", '{"job_variables_attributes":[{"key":"BODY","value":"b"}]}'],
          [
            "application/x-www-form-urlencoded",
            "job_variables_attributes[][key]=BODY&job_variables_attributes[][value]=b",
          ],
        ] as const) {
          const w = await createWorld(db);
          const r = await call(
            `${server.api}/projects/${w.projectId}/jobs/${w.manualJob}/play?job_variables_attributes[][key]=QUERY&job_variables_attributes[][value]=q`,
            { method: "POST", token: w.tokens.developer, headers: { "Content-Type": type }, body },
          );
          expect(r.status, r.text).toBe(200);
          expect(await variablesOf(w.manualJob), type).toEqual([{ key: "BODY", value: "b" }]);
        }
      });

      // jobs.rb:207-214 (017a6c12): job_id, then job_variables_attributes, whose nested `key` and `value` each
      // have a presence check and a coercion. Each validator walks every variable before the next one runs
      // (attributes_iterator.rb; validators/base.rb `validate!` collects one error per element), key's before
      // value's, presence before coercion (params_scope.rb `validates`); Grape then groups the errors by name
      // and joins them (validation_errors.rb:10-13, 36-47).
      it("reports every invalid variable at once, in the order Grape's validators run", async () => {
        const w = await createWorld(db);
        const cases: [number | string, unknown, string][] = [
          [
            w.manualJob,
            { job_variables_attributes: [{ key: "A" }, { value: "b" }] },
            "job_variables_attributes[1][key] is missing, job_variables_attributes[0][value] is missing",
          ],
          [
            w.manualJob,
            { job_variables_attributes: [{ key: { a: 1 }, value: "x" }, { value: "y" }, { key: ["B"] }] },
            "job_variables_attributes[1][key] is missing, job_variables_attributes[0][key] is invalid, job_variables_attributes[2][key] is invalid, job_variables_attributes[2][value] is missing",
          ],
          [
            "x1",
            { job_variables_attributes: [{ value: "b" }] },
            "job_id is invalid, job_variables_attributes[0][key] is missing",
          ],
          [
            "x1",
            { job_variables_attributes: "nope" },
            "job_id is invalid, job_variables_attributes is invalid",
          ],
        ];
        for (const [job, json, error] of cases) {
          const r = await call(`${server.api}/projects/${w.projectId}/jobs/${job}/play`, {
            method: "POST",
            token: w.tokens.developer,
            json,
          });
          expect(r.status, JSON.stringify(json)).toBe(400);
          expect(r.body, JSON.stringify(json)).toEqual({ error });
        }
      });

      it("plays a manual trigger job and answers a bridge", async () => {
        const w = await createWorld(db);
        const bridge = await addBridge(w);
        const r = await post(w, bridge, "play", w.tokens.developer);
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({ id: bridge, status: "pending", downstream_pipeline: null });
      });

      // `Ci::Bridge#play` takes the variables only to match `Ci::Build#play` and hands PlayBridgeService none
      // (bridge.rb:186-193 at 017a6c12; play_bridge_service.rb:5): the API answers 200 and stores nothing.
      it("plays a manual trigger job without the variables given (bridge.rb:186-193)", async () => {
        const w = await createWorld(db);
        const bridge = await addBridge(w);
        const r = await post(w, bridge, "play", w.tokens.developer, {
          job_variables_attributes: [{ key: "DEPLOY_TARGET", value: "staging" }],
        });
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({ id: bridge, status: "pending" });
        expect(await variablesOf(bridge)).toEqual([]);
      });

      // bridge.rb:174-176: `playable?` is `action? && !archived? && manual?`, no retry of a finished one and no
      // scheduled trigger job (bridge.rb:170-172 `schedulable?` false).
      it.each([
        ["success", "manual"],
        ["canceled", "manual"],
        ["scheduled", "delayed"],
      ] as const)(
        "answers 400 Unplayable Job to a %s trigger job (bridge.rb:174-176 playable?)",
        async (status, when) => {
          const w = await createWorld(db);
          const bridge = await addBridge(w, status, when);
          const r = await post(w, bridge, "play", w.tokens.developer);
          expect(r.status).toBe(400);
          expect(r.body).toEqual({ message: "400 Bad request - Unplayable Job" });
        },
      );

      // play_build_service.rb:28-34 (06e3d641) `check_access!`: `variables.present? && !Ability.allowed?(
      // current_user, :set_pipeline_variables, project)` raises AccessDeniedError, 403 `{"message":"403
      // Forbidden"}` (api.rb:100-102, 00459703). project_policy.rb enables `set_pipeline_variables` on
      // project_ci_cd_setting.rb:70-80 `override_pipeline_variables_allowed?`: never for `no_one_allowed`,
      // else the role's access level at least the minimum's (:89-95: Developer 30, Maintainer 40, Owner 50).
      describe("the project's Minimum role to use pipeline variables", () => {
        const variables = { job_variables_attributes: [{ key: "DEPLOY_TARGET", value: "staging" }] };
        const ranks = ["guest", "reporter", "developer", "maintainer", "owner"] as const;
        const settings = ["no_one_allowed", "developer", "maintainer", "owner"] as const;

        it.each(settings)(
          "with %s, plays with variables for the roles at least that (play_job needs Developer) and answers 403 to the others, the job left as it was (play_build_service.rb:28-34)",
          async (setting) => {
            const w = await createWorld(db, { pipelineVariablesMinimumOverrideRole: setting });
            for (const role of ranks) {
              const job = await store.createJob(db, {
                pipelineId: w.pipelineId,
                name: `deploy-${role}`,
                status: "manual",
                when: "manual",
              });
              const r = await post(w, job, "play", w.tokens[role], variables);
              const allowed =
                setting !== "no_one_allowed" &&
                ranks.indexOf(role) >= Math.max(ranks.indexOf("developer"), ranks.indexOf(setting));
              expect([role, r.status], r.text).toEqual([role, allowed ? 200 : 403]);
              if (allowed) {
                expect(await variablesOf(job)).toEqual([{ key: "DEPLOY_TARGET", value: "staging" }]);
                continue;
              }
              expect(r.body).toEqual({ message: "403 Forbidden" });
              expect(await get(w, job)).toMatchObject({ status: "manual", user: null });
              expect(await variablesOf(job)).toEqual([]);
            }
          },
        );

        it("checks nothing without variables: no body, an empty list, an empty form (`variables.present?`)", async () => {
          const w = await createWorld(db, { pipelineVariablesMinimumOverrideRole: "no_one_allowed" });
          expect((await post(w, w.manualJob, "play", w.tokens.developer)).status).toBe(200);
          expect(
            (await post(w, w.jobs.manual, "play", w.tokens.developer, { job_variables_attributes: [] }))
              .status,
          ).toBe(200);
          const form = await call(`${server.api}/projects/${w.projectId}/jobs/${w.jobs.scheduled}/play`, {
            method: "POST",
            token: w.tokens.developer,
            headers: { "Content-Type": "application/x-www-form-urlencoded" },
            body: "",
          });
          expect(form.status).toBe(200);
        });

        it("refuses the variables in the query string as in a body (Grape's params)", async () => {
          const w = await createWorld(db, { pipelineVariablesMinimumOverrideRole: "maintainer" });
          const query = "job_variables_attributes[][key]=Q&job_variables_attributes[][value]=q";
          const r = await post(w, w.manualJob, `play?${query}`, w.tokens.developer);
          expect(r.status).toBe(403);
          expect(await variablesOf(w.manualJob)).toEqual([]);
        });

        // The check runs first in `execute` (play_build_service.rb:13), before the retry of a finished manual
        // job (:16-17): no new attempt.
        it("refuses the variables to the retry of a finished manual job as well, creating no attempt (play_build_service.rb:13-17)", async () => {
          const w = await createWorld(db, { pipelineVariablesMinimumOverrideRole: "maintainer" });
          await post(w, w.manualJob, "play", w.tokens.developer);
          await post(w, w.manualJob, "cancel", w.tokens.developer);
          const r = await post(w, w.manualJob, "play", w.tokens.developer, variables);
          expect(r.status).toBe(403);
          const list = await call(
            `${server.api}/projects/${w.projectId}/pipelines/${w.pipelineId}/jobs?per_page=100&include_retried=true`,
            { token: w.tokens.developer },
          );
          expect((list.body as JobJson[]).filter((job) => job.name === "deploy")).toHaveLength(1);
          expect((await post(w, w.manualJob, "play", w.tokens.maintainer, variables)).status).toBe(200);
        });

        // jobs.rb play: `bad_request!("Unplayable Job") unless job.playable?` comes before `job.play`.
        it("answers 400 Unplayable Job before looking at the variables (jobs.rb `playable?` first)", async () => {
          const w = await createWorld(db, { pipelineVariablesMinimumOverrideRole: "no_one_allowed" });
          const r = await post(w, w.jobs.running, "play", w.tokens.developer, variables);
          expect(r.status).toBe(400);
          expect(r.body).toEqual({ message: "400 Bad request - Unplayable Job" });
        });

        // bridge.rb:186-193: `Ci::Bridge#play` calls PlayBridgeService, which checks `play_job` only.
        it("plays a manual trigger job given variables whatever the setting (play_bridge_service.rb:5-11)", async () => {
          const w = await createWorld(db, { pipelineVariablesMinimumOverrideRole: "no_one_allowed" });
          const bridge = await addBridge(w);
          const r = await post(w, bridge, "play", w.tokens.developer, variables);
          expect(r.status).toBe(200);
          expect(await variablesOf(bridge)).toEqual([]);
        });
      });
    });

    describe("retryJob of a trigger job", () => {
      it("answers the new bridge with the Job entity, without runner_manager (job.rb: if job.is_a?(Ci::Build))", async () => {
        const w = await createWorld(db);
        const bridge = await addBridge(w, "success");
        const r = await post(w, bridge, "retry", w.tokens.developer);
        expect(r.status).toBe(201);
        expect(r.body).toMatchObject({ name: "trigger:success", runner: null, artifacts: [], tag_list: [] });
        expect(r.body).not.toHaveProperty("runner_manager");
      });
    });

    describe("eraseJob", () => {
      it("removes artifacts and log and records erased_at", async () => {
        const w = await createWorld(db);
        const r = await post(w, w.jobs.success, "erase", w.tokens.maintainer);
        expect(r.status).toBe(201);
        const job = r.body as JobJson;
        expect(job.erased_at).not.toBeNull();
        expect(job.artifacts).toEqual([]);
        expect(job).not.toHaveProperty("artifacts_file");
        expect(job.artifacts_expire_at ?? null).toBeNull();
        const trace = await call(`${server.api}/projects/${w.projectId}/jobs/${w.jobs.success}/trace`, {
          token: w.tokens.owner,
        });
        expect(trace.text).toBe("");
        const again = await post(w, w.jobs.success, "erase", w.tokens.maintainer);
        expect(again.status).toBe(403);
        expect(again.body).toEqual({ message: "403 Forbidden - Job is not erasable!" });
      });

      it("refuses unfinished jobs", async () => {
        const w = await createWorld(db);
        const r = await post(w, w.jobs.running, "erase", w.tokens.maintainer);
        expect(r.status).toBe(403);
        expect(r.body).toEqual({ message: "403 Forbidden - Job is not erasable!" });
      });

      it("lets developers erase their own jobs only", async () => {
        const w = await createWorld(db);
        // The world's jobs belong to its developer.
        expect((await post(w, w.jobs.failed, "erase", w.tokens.developer)).status).toBe(201);
        const others = await store.createJob(db, {
          pipelineId: w.pipelineId,
          name: "theirs",
          status: "success",
          userId: w.users.maintainer,
        });
        await store.setTrace(db, others, "log");
        const r = await post(w, others, "erase", w.tokens.developer);
        expect(r.status).toBe(403);
        expect(r.body).toEqual({ message: "403 Forbidden" });
        expect((await get(w, others)).erased_at).toBeNull();
      });
    });

    describe("permissions of the actions", () => {
      it.each(["cancel", "retry", "erase", "play"])(
        "%s: reporters and guests get 403, outsiders 404",
        async (action) => {
          const w = await createWorld(db);
          for (const role of ["reporter", "guest"] as const) {
            const r = await post(w, w.jobs.failed, action, w.tokens[role]);
            expect(r.status, role).toBe(403);
            expect(r.body).toEqual({ message: "403 Forbidden" });
          }
          const outsider = await post(w, w.jobs.failed, action, w.tokens.outsider);
          expect(outsider.status).toBe(404);
          expect(outsider.body).toEqual({ message: "404 Project Not Found" });
          const none = await call(`${server.api}/projects/${w.projectId}/jobs/${w.jobs.failed}/${action}`, {
            method: "POST",
          });
          expect(none.status).toBe(401);
          const unknown = await post(w, 987_654_321, action, w.tokens.maintainer);
          expect(unknown.status).toBe(404);
          expect(unknown.body).toEqual({ message: "404 Not found" });
          expect((await get(w, w.jobs.failed)).status).toBe("failed");
        },
      );

      it.each([
        ["erase", "success"],
        ["retry", "failed"],
        ["play", "manual"],
      ] as const)(
        "%s in an archived project answers 403 (403 Forbidden), not the job's own refusal (project_policy.rb `rule { archived }` prevents update_build and admin_build; jobs.rb authorize! comes first)",
        async (action, status) => {
          const w = await createWorld(db, { archived: true });
          const r = await post(w, w.jobs[status], action, w.tokens.maintainer);
          expect(r.status).toBe(403);
          expect(r.body).toEqual({ message: "403 Forbidden" });
          expect((await get(w, w.jobs[status])).status).toBe(status);
          // The job is looked up first (find_build! / find_job!): an unknown one is still 404.
          const unknown = await post(w, 987_654_321, action, w.tokens.maintainer);
          expect(unknown.status).toBe(404);
        },
      );

      it("cancel in an archived project still cancels (cancel_build is not among the abilities an archived project prevents)", async () => {
        const w = await createWorld(db, { archived: true });
        const r = await post(w, w.jobs.running, "cancel", w.tokens.developer);
        expect(r.status).toBe(201);
        expect(r.body).toMatchObject({ id: w.jobs.running, status: "canceled" });
      });

      describe("an archived job (created before the instance's archive_builds_in_seconds)", () => {
        const DAY = 86_400;
        // Each test sets the instance's setting for itself; the others in this file run without it.
        afterEach(async () => {
          await store.setApplicationSettings(db, { archiveBuildsInSeconds: null });
        });

        /** Jobs of `w`'s pipeline created two days ago, with the instance archiving jobs after one day. */
        async function oldJobs(w: World) {
          await store.setApplicationSettings(db, { archiveBuildsInSeconds: DAY });
          const twoDaysAgo = new Date(Date.now() - 2 * DAY * 1000);
          const make = (status: "failed" | "manual" | "success" | "running") =>
            store.createJob(db, {
              pipelineId: w.pipelineId,
              name: `old-${status}`,
              status,
              userId: w.users.developer,
              createdAt: twoDaysAgo,
              ...(status === "manual" ? { when: "manual" as const } : {}),
              ...(status === "running" ? {} : { startedAt: twoDaysAgo }),
              ...(status === "failed" || status === "success" ? { finishedAt: twoDaysAgo } : {}),
            });
          const jobs = {
            failed: await make("failed"),
            manual: await make("manual"),
            success: await make("success"),
            running: await make("running"),
          };
          await store.setTrace(db, jobs.success, "old log\n");
          return jobs;
        }

        it("answers archived: true, and false for a job of an archived project the setting does not reach (lib/api/entities/ci/job.rb `expose :archived?`; ci/build.rb `archived?`: created_at < archive_builds_older_than)", async () => {
          const w = await createWorld(db);
          const jobs = await oldJobs(w);
          expect((await get(w, jobs.failed)) as unknown).toMatchObject({ archived: true });
          expect((await get(w, w.jobs.failed)) as unknown).toMatchObject({ archived: false });
          const archivedProject = await createWorld(db, { archived: true });
          expect((await get(archivedProject, archivedProject.jobs.failed)) as unknown).toMatchObject({
            archived: false,
          });
          await store.setApplicationSettings(db, { archiveBuildsInSeconds: null });
          expect((await get(w, jobs.failed)) as unknown).toMatchObject({ archived: false });
        });

        it.each([
          ["retry", "failed"],
          ["play", "manual"],
        ] as const)(
          "%s answers 403 (403 Forbidden) (ci/processable_policy.rb `rule { archived }` prevents play_job and retry_job; jobs.rb authorize! comes before retryable?/playable?)",
          async (action, status) => {
            const w = await createWorld(db);
            const jobs = await oldJobs(w);
            const r = await post(w, jobs[status], action, w.tokens.maintainer);
            expect(r.status).toBe(403);
            expect(r.body).toEqual({ message: "403 Forbidden" });
            expect((await get(w, jobs[status])).status).toBe(status);
          },
        );

        it("may still be canceled, erased and read with its log (cancel_build, erase_build and read_build_trace are not among the abilities ci/processable_policy.rb prevents)", async () => {
          const w = await createWorld(db);
          const jobs = await oldJobs(w);
          const trace = await call(`${server.api}/projects/${w.projectId}/jobs/${jobs.success}/trace`, {
            token: w.tokens.developer,
          });
          expect(trace.status).toBe(200);
          expect(trace.text).toBe("old log\n");
          const canceled = await post(w, jobs.running, "cancel", w.tokens.developer);
          expect(canceled.status).toBe(201);
          expect(canceled.body).toMatchObject({ status: "canceled", archived: true });
          const erased = await post(w, jobs.success, "erase", w.tokens.maintainer);
          expect(erased.status).toBe(201);
          expect((erased.body as JobJson).erased_at).not.toBeNull();
        });
      });

      it("reporters of a public project may read but not act", async () => {
        const w = await createWorld(db, { visibility: "public" });
        expect(
          (await call(`${server.api}/projects/${w.projectId}/jobs`, { token: w.tokens.outsider })).status,
        ).toBe(200);
        expect((await post(w, w.jobs.pending, "cancel", w.tokens.outsider)).status).toBe(403);
      });
    });

    describe("the pipeline's status", () => {
      it("follows its latest jobs through retry, cancel and play", async () => {
        const w = await createWorld(db);
        const pipelineId = await store.createPipeline(db, { projectId: w.projectId, status: "failed" });
        const job = (name: string, status: "success" | "failed" | "manual") =>
          store.createJob(db, {
            pipelineId,
            name,
            status,
            ...(status === "failed" ? { failureReason: "script_failure" } : {}),
            ...(status === "manual" ? { when: "manual" as const } : {}),
          });
        const build = await job("build", "success");
        const test = await job("test", "failed");
        const deploy = await job("deploy", "manual");
        const pipelineStatus = async () => (await get(w, build)).pipeline?.status;

        const retried = await post(w, test, "retry", w.tokens.developer);
        expect(await pipelineStatus()).toBe("running");
        await post(w, (retried.body as JobJson).id, "cancel", w.tokens.developer);
        expect(await pipelineStatus()).toBe("manual");
        await post(w, deploy, "play", w.tokens.developer);
        expect(await pipelineStatus()).toBe("running");
        await post(w, deploy, "cancel", w.tokens.developer);
        expect(await pipelineStatus()).toBe("canceled");
      });
    });
  });
});
