-- GitLab's ops feature flag `enforce_ci_builds_pagination_limit` (config/feature_flags/ops/, default_enabled:
-- false), enabled per project as `Feature.enabled?(:enforce_ci_builds_pagination_limit, project)` reads it.
-- On, offset pagination of the project's jobs stops at the plan's `offset_pagination_limit` (405), as on
-- gitlab.com; off (a default GitLab 16.6 and later), deeper pages are served.
ALTER TABLE projects ADD COLUMN enforce_ci_builds_pagination_limit boolean NOT NULL DEFAULT false;
