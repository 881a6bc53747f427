-- GitLab also hosts SHA-256 repositories, whose commit ids are 64 hex digits (lib/gitlab/git.rb,
-- SHA256_BLANK_SHA): a commit id is 40 digits or 64.
ALTER TABLE commits
  DROP CONSTRAINT commits_sha_check,
  ADD CONSTRAINT commits_sha_check CHECK (sha ~ '^([0-9a-f]{40}|[0-9a-f]{64})$');
