-- Whether the commit is still in the repository. GitLab looks a pipeline's commit up in the repository
-- (`Commit.lazy(project, sha)`); once a force push dropped it and housekeeping pruned it, the lookup comes
-- back nil and its jobs answer `"commit": null`. A GitLab double can be programmed to show that.
ALTER TABLE commits ADD COLUMN in_repository boolean NOT NULL DEFAULT true;
