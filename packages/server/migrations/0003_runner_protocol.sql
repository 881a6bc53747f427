-- The runner side of jobs (GitLab's lib/api/ci/runner.rb): runners authenticate with their own token and
-- pick pending jobs that match their tags; a job carries the script lines a runner runs.

-- The runner's authentication token (`glrt-…`), as its SHA-256 digest like every other token. Null: the
-- runner cannot ask for jobs (its token is unknown here).
ALTER TABLE runners
  ADD COLUMN token_digest bytea UNIQUE,
  -- A job is picked only if all its tags are among these; an untagged job only with run_untagged.
  ADD COLUMN tag_list text[] NOT NULL DEFAULT '{}',
  ADD COLUMN run_untagged boolean NOT NULL DEFAULT true,
  ADD COLUMN contacted_at timestamptz;

-- The job's `script:` lines, handed to the runner as the `script` step.
ALTER TABLE jobs ADD COLUMN script text[] NOT NULL DEFAULT '{}';

-- `requestJob`: the oldest pending build first.
CREATE INDEX jobs_pending_builds_idx ON jobs (id) WHERE status = 'pending' AND type = 'build';
