-- An artifact's size may be unknown. GitLab's `p_ci_job_artifacts.size` is nullable, and its legacy-artifacts
-- migration (`Gitlab::BackgroundMigration::MigrateLegacyArtifacts#build_metadata_row`) wrote the metadata
-- rows without one: such an artifact answers `"size": null`. A GitLab double can be programmed to show that.
ALTER TABLE job_artifacts ALTER COLUMN size DROP NOT NULL;
