export { digestToken, type Principal, type TokenKind } from "./auth.js";
export * from "./create.js";
export { findJob, getJobById, getTrace } from "./jobs.js";
export { findProject } from "./projects.js";
export type { JobRow, PipelineVariablesMinimumOverrideRole, ProjectRow, Role, Visibility } from "./rows.js";
export { cancelJob, eraseJob, playJob, retryJob } from "./transitions.js";
