-- GitLab's instance settings (`application_settings`), of which the double models one: `archive_builds_in_seconds`
-- (Admin > Settings > CI/CD "Archive jobs"; db/structure.sql `archive_builds_in_seconds integer`, NULL by default).
-- A job created longer ago than that is archived (`Ci::Build#archived?` against
-- `ApplicationSetting#archive_builds_older_than`): its `archived` is true and it may not be retried or played.
-- One row at most; none, or NULL, archives no job. GitLab validates at least one day (application_setting.rb).
CREATE TABLE application_settings (
  id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  archive_builds_in_seconds integer CHECK (archive_builds_in_seconds >= 86400)
);
-- Writes to it change what cached reads answer (0004_data_version.sql).
CREATE TRIGGER data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON application_settings FOR EACH STATEMENT
  WHEN (current_setting('jobs_api.data_version_counted', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION data_version_mark();
