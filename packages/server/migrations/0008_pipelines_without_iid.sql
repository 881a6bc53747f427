-- A pipeline may have no id within its project. GitLab added its nullable `iid` column in 2018 (migration
-- 20180424160449) without a backfill, and `has_internal_id :iid, presence: false,
-- ensure_if: -> { !importing? }` (app/models/ci/pipeline.rb) leaves imported pipelines without one: they
-- answer `"iid": null`. A GitLab double can be programmed to show that.
ALTER TABLE pipelines ALTER COLUMN iid DROP NOT NULL;
