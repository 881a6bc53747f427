-- A data version shared by every process writing to the database (db/read-cache.ts): a cached read is
-- served only while the version is the one it was stored under. Every transaction that writes to a data
-- table adds one to the version, in that transaction, so the new version becomes visible exactly when
-- its data does (and never, if it rolls back).
--
-- The version is the sum of 16 counters, each only ever growing: equal sums read one after the other mean
-- no writing transaction committed in between. A writer adds to the counter of its backend's slot, so
-- concurrent writers rarely wait for one another's commit on a single row.
CREATE TABLE data_version (
  slot smallint PRIMARY KEY,
  version bigint NOT NULL DEFAULT 0
);
INSERT INTO data_version (slot) SELECT generate_series(0, 15);

-- One row per writing transaction while it runs (its id); inserting it queues the one deferred bump of
-- that transaction, however many statements it runs.
CREATE TABLE data_version_pending (xact xid8 PRIMARY KEY DEFAULT pg_current_xact_id());

-- After the first writing statement of a transaction on a data table: marks the transaction. The flag is
-- transaction-local (set_config's `true`) and rolled back with a savepoint like the row it guards; the
-- trigger's WHEN tests it without entering PL/pgSQL on the transaction's later statements. A session that
-- sets it for itself never counts its writes: PGlite's (db/pglite.ts), whose one writer counts them in
-- memory.
CREATE FUNCTION data_version_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('jobs_api.data_version_counted', true) IS DISTINCT FROM 'on' THEN
    PERFORM set_config('jobs_api.data_version_counted', 'on', true);
    INSERT INTO data_version_pending DEFAULT VALUES;
  END IF;
  RETURN NULL;
END
$$;

-- At commit (a deferred trigger): the counter's row lock is held only while the transaction commits, not
-- from its first write on; taken earlier, it would serialise every writing transaction and could close a
-- deadlock cycle with the row locks the store takes after writing (updatePipeline).
CREATE FUNCTION data_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM data_version_pending WHERE xact = NEW.xact;
  UPDATE data_version SET version = version + 1 WHERE slot = pg_backend_pid() % 16;
  RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER data_version_bump AFTER INSERT ON data_version_pending
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION data_version_bump();

-- Every data table: all those in the schema but the migrations' bookkeeping and the version's own. A later
-- migration that creates a table adds this trigger to it (test/data-version.test.ts checks every table).
DO $$
DECLARE
  name text;
BEGIN
  FOR name IN
    SELECT tablename FROM pg_tables WHERE schemaname = current_schema()
      AND tablename NOT IN ('schema_migrations', 'data_version', 'data_version_pending')
  LOOP
    EXECUTE format(
      'CREATE TRIGGER data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I FOR EACH STATEMENT '
        'WHEN (current_setting(''jobs_api.data_version_counted'', true) IS DISTINCT FROM ''on'') '
        'EXECUTE FUNCTION data_version_mark()',
      name);
  END LOOP;
END
$$;
