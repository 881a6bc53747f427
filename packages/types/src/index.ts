import { fileURLToPath } from "node:url";
import type { components, operations, paths } from "./generated/schema.js";

/** Each operation's method, path, parameters, body media types and accepted tokens, generated from the spec. */
export { operationTable, type SecuritySchemeName } from "./generated/operations.js";
/** Every job and pipeline status, in the spec's order: generated from its enums. */
export { jobStatusValues, pipelineStatusValues } from "./generated/schema.js";
export type { components, operations, paths };

type Schemas = components["schemas"];

export type Job = Schemas["Job"];
export type JobBasic = Schemas["JobBasic"];
export type JobActionResult = Schemas["JobActionResult"];
export type JobTokenJob = Schemas["JobTokenJob"];
export type Bridge = Schemas["Bridge"];
export type JobStatus = Schemas["JobStatus"];
export type PipelineStatus = Schemas["PipelineStatus"];
export type PipelineBasic = Schemas["PipelineBasic"];
export type DownstreamPipeline = Schemas["DownstreamPipeline"];
export type Commit = Schemas["Commit"];
export type User = Schemas["User"];
export type UserBasic = Schemas["UserBasic"];
export type Runner = Schemas["Runner"];
export type RunnerManager = Schemas["RunnerManager"];
export type Artifact = Schemas["Artifact"];
export type ArtifactsFile = Schemas["ArtifactsFile"];
export type AllowedAgents = Schemas["AllowedAgents"];
export type Agent = Schemas["Agent"];
export type ProjectIdentity = Schemas["ProjectIdentity"];
export type JobVariableAttributes = Schemas["JobVariableAttributes"];
export type PlayJobRequest = Schemas["PlayJobRequest"];
export type ErrorMessage = Schemas["ErrorMessage"];
export type ErrorValidation = Schemas["ErrorValidation"];

/** The spec's operationIds: the names of the client's methods, the server's handlers and the conformance checks. */
export type OperationId = keyof operations;

/** Absolute path of the bundled spec (JSON), the single input of every generator and validator. */
export const specPath: string = fileURLToPath(new URL("../spec/openapi.json", import.meta.url));
/** Absolute path of the bundled spec (YAML). */
export const specYamlPath: string = fileURLToPath(new URL("../spec/openapi.yaml", import.meta.url));
/** Absolute path of the published API docs (built by `pnpm generate`). */
export const docsPath: string = fileURLToPath(new URL("../docs/index.html", import.meta.url));
