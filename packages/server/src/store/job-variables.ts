import type { JobVariableAttributes } from "@jobs-api/types";
import { internalServerError, notFound } from "../errors.js";

/**
 * What `job.job_variables_attributes = variables` does with a play's variables (enqueue_job_service.rb), up to
 * the save: `accepts_nested_attributes_for :job_variables` (build.rb; no options: no `allow_destroy`, no
 * `reject_if`) hands every field of each hash, whatever its name, to a `Ci::JobVariable`. The rules the save
 * then checks are `invalidVariable`'s.
 */

/** A job variable with the `ci_job_variables` columns whose effect this API shows. */
export interface JobVariable {
  key: string;
  value: string;
  /** has_variable.rb `enum variable_type: { env_var: 1, file: 2 }`; null when set blank (the column refuses it). */
  variable_type: number | null;
  /** raw_variable.rb; null when set blank (its `inclusion` validation refuses it). */
  raw: boolean | null;
  /** job_variable.rb `enum source: { internal: 0, dotenv: 1 }`; null when set blank (the column refuses it). */
  source: number | null;
}

export interface StoredJobVariable extends JobVariable {
  id: number;
}

const VARIABLE_TYPES: Readonly<Record<string, number>> = { env_var: 1, file: 2 };
const SOURCES: Readonly<Record<string, number>> = { internal: 0, dotenv: 1 };

/** Attribute names the model has that change nothing this API or its runners see (see JobVariableAttributes). */
const WITHOUT_EFFECT = new Set([
  "job_id",
  "project_id",
  "partition_id",
  "encrypted_value",
  "encrypted_value_iv",
]);

/** Ruby's `blank?`: nil, false, and empty or whitespace-only text, lists and hashes. */
function blank(value: unknown): boolean {
  if (value === null || value === undefined || value === false) return true;
  if (typeof value === "string") return /^\s*$/u.test(value);
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === "object" && Object.keys(value).length === 0;
}

/**
 * Rails' `EnumType`: a blank value is nil; a name or a number of the mapping is taken; anything else (`"2"` is
 * text, not the number) raises `ArgumentError`, which api.rb leaves to `rescue_from :all`: 500.
 */
function castEnum(mapping: Readonly<Record<string, number>>, value: unknown): number | null {
  if (blank(value)) return null;
  if (typeof value === "string" && Object.hasOwn(mapping, value)) return mapping[value] ?? null;
  if (typeof value === "number" && Object.values(mapping).includes(value)) return value;
  throw internalServerError();
}

/** `ActiveModel::Type::Boolean`: `""` and nil are nil; `FALSE_VALUES` are false; anything else is true. */
const FALSE_VALUES: readonly unknown[] = [false, 0, "0", "f", "F", "false", "FALSE", "off", "OFF"];
function castBoolean(value: unknown): boolean | null {
  if (value === null || value === undefined || value === "") return null;
  return !FALSE_VALUES.includes(value);
}

/** Ruby's `strip` (ASCII whitespace; a NUL never gets this far, `handleMalformedStrings`), as `key=` does. */
const rubyStrip = (text: string) => text.replace(/^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g, "");

/** `_assign_attribute`: one field into the variable, or GitLab's 500 for a name the model has no setter for. */
function assign(variable: JobVariable, name: string, value: unknown) {
  switch (name) {
    case "key":
      variable.key = rubyStrip(String(value));
      return;
    case "value":
      variable.value = String(value);
      return;
    // `alias_attribute :secret_value, :value` (job_variable.rb). Only text is modelled; jobs.rb checks `value`
    // alone, and what attr_encrypted makes of another type was not verified, so it is left as it was.
    case "secret_value":
      if (typeof value === "string") variable.value = value;
      return;
    case "variable_type":
      variable.variable_type = castEnum(VARIABLE_TYPES, value);
      return;
    case "source":
      variable.source = castEnum(SOURCES, value);
      return;
    case "raw":
      variable.raw = castBoolean(value);
      return;
    default:
      // `ActiveModel::UnknownAttributeError`, which api.rb leaves to `rescue_from :all`.
      if (!WITHOUT_EFFECT.has(name)) throw internalServerError();
  }
}

/**
 * Assigns the play's variables as `assign_nested_attributes_for_collection_association` does, in order: a hash
 * with a blank `id` builds a new variable from its other fields (`id` and `_destroy` are `UNASSIGNABLE_KEYS`);
 * one with an `id` updates the job's own variable of that id (compared as text), or raises
 * `ActiveRecord::RecordNotFound`, which api.rb answers `404 Not found`. `_destroy` is ignored (no
 * `allow_destroy`). Answers the new variables and the job's own ones as they end up.
 */
export function assignVariables(
  own: readonly StoredJobVariable[],
  given: readonly JobVariableAttributes[],
): { created: JobVariable[]; updated: StoredJobVariable[] } {
  const created: JobVariable[] = [];
  const updated = new Map<number, StoredJobVariable>();
  for (const attributes of given) {
    const fields: [string, unknown][] = Object.entries(attributes);
    const id = attributes.id;
    let target: JobVariable;
    if (blank(id)) {
      target = { key: "", value: "", variable_type: 1, raw: false, source: 0 };
      created.push(target);
    } else {
      const stored = own.find((v) => String(v.id) === String(id));
      if (!stored) throw notFound();
      target = updated.get(stored.id) ?? { ...stored };
      updated.set(stored.id, target as StoredJobVariable);
    }
    for (const [name, value] of fields) {
      if (name !== "id" && name !== "_destroy") assign(target, name, value);
    }
  }
  return { created, updated: [...updated.values()] };
}

/**
 * The model's validations, run when the play saves the job (autosave validates the new and changed variables):
 * has_variable.rb's key rule (1 to 255 letters, digits or `_`), raw_variable.rb's `inclusion: [true, false]`,
 * and job_variable.rb's `uniqueness: { scope: :job_id }` unless `dotenv`, which reads the stored rows only.
 */
const VARIABLE_KEY = /^[a-zA-Z0-9_]{1,255}$/;
export function invalidVariable(
  own: readonly StoredJobVariable[],
  assigned: { created: readonly JobVariable[]; updated: readonly StoredJobVariable[] },
): boolean {
  const invalid = (v: JobVariable) => !VARIABLE_KEY.test(v.key) || v.raw === null;
  const storedKey = (v: JobVariable, self?: number) =>
    v.source !== SOURCES.dotenv && own.some((o) => o.key === v.key && o.id !== self);
  return (
    assigned.created.some((v) => invalid(v) || storedKey(v)) ||
    assigned.updated.some((v) => invalid(v) || storedKey(v, v.id))
  );
}
