-- Groups an agent is shared with: GitLab's `agent_group_authorizations`, one row per group the agent's
-- `ci_access.groups` lists (app/services/clusters/agents/authorizations/ci_access/refresh_service.rb), with that
-- entry's configuration less its `id`. `/job/allowed_agents` lists the agent to every project of the group and
-- of its subgroups (app/finders/clusters/agents/authorizations/ci_access/finder.rb `group_authorizations`).
CREATE TABLE agent_group_authorizations (
  agent_id bigint NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  config json NOT NULL DEFAULT '{}',
  PRIMARY KEY (agent_id, group_id)
);
-- Writes to it change what cached reads answer (0004_data_version.sql).
CREATE TRIGGER data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON agent_group_authorizations
  FOR EACH STATEMENT WHEN (current_setting('jobs_api.data_version_counted', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION data_version_mark();
