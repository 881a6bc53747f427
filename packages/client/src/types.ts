import type { JobsApiOperationId, OperationId, operations } from "@jobs-api/types";

/** The spec's operation `K`, as openapi-typescript generated it. */
type Operation<K extends OperationId> = operations[K];

type Empty = Record<never, never>;

/** `T` without `undefined`, or nothing when the spec declares that part as `never` (e.g. `query?: never`). */
type Part<T> = [Exclude<T, undefined>] extends [never] ? Empty : Exclude<T, undefined>;

type BodyPart<K extends OperationId> = [Exclude<Operation<K>["requestBody"], undefined>] extends [never]
  ? Empty
  : Exclude<Operation<K>["requestBody"], undefined> extends { content: { "application/json": infer B } }
    ? undefined extends Operation<K>["requestBody"]
      ? { body?: B }
      : { body: B }
    : Empty;

/**
 * What a method of the client takes: the operation's path and query parameters side by side (their names never
 * collide in this API), plus `body` when the operation has a request body. Derived from the spec's `operations`.
 */
export type OperationParams<K extends OperationId> = Part<Operation<K>["parameters"]["path"]> &
  Part<Operation<K>["parameters"]["query"]> &
  BodyPart<K>;

/** What a successful call resolves to: the body of the operation's 2xx response (JSON, or the trace's text). */
export type OperationResult<K extends OperationId> = Operation<K>["responses"][(200 | 201) &
  keyof Operation<K>["responses"]] extends { content: infer C }
  ? C[keyof C]
  : never;

/** The operations whose result is a list, and so can be paginated. */
export type ListOperationId = {
  [K in JobsApiOperationId]: OperationResult<K> extends readonly unknown[] ? K : never;
}[JobsApiOperationId];

/** One element of a list operation's result, e.g. `Job` for `listProjectJobs`. */
export type ListItem<K extends ListOperationId> = OperationResult<K> extends readonly (infer I)[] ? I : never;

/** Options every call accepts. */
export interface CallOptions {
  /** Aborts the call; the promise then rejects with the signal's reason, unchanged. */
  signal?: AbortSignal;
}

/**
 * A client method: its params are optional when the operation has no required parameter (`getJobTokenJob`).
 */
export type OperationMethod<K extends OperationId> =
  Empty extends OperationParams<K>
    ? (params?: OperationParams<K>, options?: CallOptions) => Promise<OperationResult<K>>
    : (params: OperationParams<K>, options?: CallOptions) => Promise<OperationResult<K>>;

/** One method per operation of the Jobs API (the runner protocol's operations are for runners), named after its `operationId`. */
export type OperationMethods = { [K in JobsApiOperationId]: OperationMethod<K> };
