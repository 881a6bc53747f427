-- GitLab's `projects.public_builds` (db/structure.sql: `public_builds boolean DEFAULT true NOT NULL`), the
-- project setting "Public pipelines". On, anyone who can see the project reads its jobs, Guests included
-- (project_policy.rb `rule { public_builds }.policy { enable :read_build }`); off, reading jobs needs Reporter.
ALTER TABLE projects ADD COLUMN public_builds boolean NOT NULL DEFAULT true;
