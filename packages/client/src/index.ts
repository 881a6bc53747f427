export type {
  AllowedAgents,
  Bridge,
  ErrorMessage,
  ErrorValidation,
  Job,
  JobStatus,
  JobTokenJob,
  JobVariableAttributes,
  OperationId,
  PlayJobRequest,
} from "@jobs-api/types";
export {
  createJobsClient,
  type FollowJobTraceOptions,
  finishedJobStatuses,
  type JobsClient,
  type JobsClientAuth,
  type JobsClientOptions,
  type PaginateOptions,
} from "./client.js";
export {
  JobsApiError,
  JobsApiNetworkError,
  JobsApiTimeoutError,
  JobsClientError,
  type SentRequest,
} from "./errors.js";
export { type Page, type Pagination, parseLinkHeader } from "./pagination.js";
export { defaultRetryOptions, type RetryEvent, type RetryOptions } from "./retry.js";
export type {
  CallOptions,
  ListItem,
  ListOperationId,
  OperationMethod,
  OperationMethods,
  OperationParams,
  OperationResult,
} from "./types.js";
