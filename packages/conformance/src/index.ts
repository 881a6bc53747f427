export { SpecValidator } from "@jobs-api/types/validate";
export type { CheckDefinition } from "./checks/helpers.js";
export { SetupError } from "./discovery.js";
export { failureLines, junitXml, progressLine, summary } from "./format.js";
export { type Auth, type Exchange, NetworkError } from "./http.js";
export { exitCodes, main } from "./main.js";
export type { CheckId, CheckResult, CheckStatus, Failure, Report, UsedJob } from "./report.js";
export { type ConformanceOptions, checks, runConformance, selectChecks } from "./run.js";
