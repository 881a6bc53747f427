-- Whether a pipeline runs for a protected ref (GitLab's `ci_pipelines.protected`, set when the pipeline is created
-- from `Project#protected_for?(ref)`; `Ci::Pipeline#protected_ref?`). `/job/allowed_agents` drops the agents whose
-- `ci_access` authorization sets `protected_branches_only` unless the job's pipeline is protected
-- (app/services/clusters/agents/authorizations/ci_access/filter_service.rb). False unless a fixture says so.
ALTER TABLE pipelines ADD COLUMN protected boolean NOT NULL DEFAULT false;
