export type { RunnerJob } from "@jobs-api/types";
export { type JobContext, type JobResult, runJob, type Sleep, type WaitReason } from "./job.js";
export {
  type AppendAnswer,
  createProtocol,
  type Protocol,
  type ProtocolOptions,
  type RequestJobAnswer,
  type RunnerInfo,
  type UpdateAnswer,
} from "./protocol.js";
export {
  apiRoot,
  defaultPollInterval,
  type Runner,
  RunnerError,
  type RunnerEvents,
  type RunnerOptions,
  startRunner,
} from "./runner.js";
export { type Command, DIRECTIVE, parseLine, ScriptSyntaxError, type Step } from "./script.js";
export { JobAborted, JobLog } from "./trace.js";
