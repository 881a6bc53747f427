-- GitLab's "Minimum role to use pipeline variables" (`project_ci_cd_settings.pipeline_variables_minimum_override_role`,
-- with `restrict_user_defined_variables`): who may give variables when playing a manual job
-- (play_build_service.rb `check_access!`, `set_pipeline_variables`). `developer` is what a default GitLab gives:
-- a project created before the setting has `restrict_user_defined_variables` false, which lets anyone who may
-- play (Developer and up) set them, and a new project takes its root namespace's default role, `developer`
-- unless the instance's `pipeline_variables_default_allowed` is off (gitlab.com: `no_one_allowed`).
ALTER TABLE projects ADD COLUMN pipeline_variables_minimum_override_role text NOT NULL DEFAULT 'developer'
  CHECK (pipeline_variables_minimum_override_role IN ('no_one_allowed', 'developer', 'maintainer', 'owner'));
