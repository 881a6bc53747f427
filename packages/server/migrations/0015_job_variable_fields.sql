-- The columns of GitLab's `ci_job_variables` that a play's `job_variables_attributes` may set besides `key` and
-- `value` (`accepts_nested_attributes_for :job_variables` assigns every attribute it is given):
-- `variable_type` (has_variable.rb enum: 1 env_var, 2 file; `smallint DEFAULT 1 NOT NULL`), `raw`
-- (`boolean DEFAULT false NOT NULL`, migration RemoveAndAddCiJobVariablesRawWithNewDefault) and `source`
-- (job_variable.rb enum: 0 internal, 1 dotenv; `smallint DEFAULT 0 NOT NULL`). The runner sees `file` and `raw`;
-- a retry copies only the `internal` ones (build.rb `job_variables_attributes`).
ALTER TABLE job_variables
  ADD COLUMN variable_type smallint NOT NULL DEFAULT 1 CHECK (variable_type IN (1, 2)),
  ADD COLUMN raw boolean NOT NULL DEFAULT false,
  ADD COLUMN source smallint NOT NULL DEFAULT 0 CHECK (source IN (0, 1));
