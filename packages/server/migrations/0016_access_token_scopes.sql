-- The scopes of a personal or OAuth access token (GitLab's `personal_access_tokens.scopes`,
-- `oauth_access_tokens.scopes`). APIGuard allows these routes to a token with `api`, and GET/HEAD also to one
-- with `read_api` or `ai_workflows` (api.rb `allow_access_with_scope`, jobs.rb, pipelines.rb); `api` by
-- default, so the tokens stored before keep answering as they did.
ALTER TABLE access_tokens ADD COLUMN scopes text[] NOT NULL DEFAULT '{api}';
