-- maestro:phase expand
-- How running services register the schema version they need (see the README, "Schema
-- expectations"): each service role may call these two SECURITY DEFINER functions and nothing
-- else in this schema. The runner maps roles to services in service_roles and grants EXECUTE
-- after every migrate/apply, because role names depend on the deployment's role prefix.

CREATE TABLE service_roles (
  role_name  text PRIMARY KEY,
  service    text NOT NULL
);

-- Backups record which schema they hold and the service's ledger version when they were taken,
-- so `restore` can make the ledger agree with the restored schema.
ALTER TABLE backups ADD COLUMN schema_name text;
ALTER TABLE backups ADD COLUMN ledger_version integer;

CREATE FUNCTION register_schema_expectation(p_instance_id text, p_version integer, p_ttl interval)
RETURNS TABLE (registered_service text, current_version integer, valid_until timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = migration, pg_temp
AS $$
DECLARE
  v_service text;
  v_until timestamptz := now() + p_ttl;
BEGIN
  SELECT r.service INTO v_service FROM migration.service_roles r WHERE r.role_name = session_user;
  IF v_service IS NULL THEN
    RAISE EXCEPTION 'role % is not a Maestro service role', session_user USING ERRCODE = '42501';
  END IF;
  IF p_instance_id IS NULL OR length(p_instance_id) NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'instance_id must be 1 to 200 characters' USING ERRCODE = '22023';
  END IF;
  IF p_version IS NULL OR p_version < 0 THEN
    RAISE EXCEPTION 'version must be 0 or more' USING ERRCODE = '22023';
  END IF;
  IF p_ttl IS NULL OR p_ttl < interval '1 second' OR p_ttl > interval '1 day' THEN
    RAISE EXCEPTION 'ttl must be between 1 second and 1 day' USING ERRCODE = '22023';
  END IF;
  DELETE FROM migration.schema_expectations e WHERE e.service = v_service AND e.expires_at <= now();
  INSERT INTO migration.schema_expectations AS e (instance_id, service, version, registered_at, expires_at)
  VALUES (p_instance_id, v_service, p_version, now(), v_until)
  ON CONFLICT (service, instance_id) DO UPDATE SET version = excluded.version, expires_at = excluded.expires_at;
  RETURN QUERY SELECT v_service,
    coalesce((SELECT max(m.version) FROM migration.schema_migrations m WHERE m.service = v_service), 0),
    v_until;
END
$$;

CREATE FUNCTION withdraw_schema_expectation(p_instance_id text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = migration, pg_temp
AS $$
  WITH gone AS (
    DELETE FROM migration.schema_expectations e USING migration.service_roles r
    WHERE r.role_name = session_user AND e.service = r.service AND e.instance_id = p_instance_id
    RETURNING 1
  )
  SELECT count(*) > 0 FROM gone
$$;

REVOKE ALL ON FUNCTION register_schema_expectation(text, integer, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION withdraw_schema_expectation(text) FROM PUBLIC;

-- maestro:down
DROP FUNCTION withdraw_schema_expectation(text);
DROP FUNCTION register_schema_expectation(text, integer, interval);
ALTER TABLE backups DROP COLUMN ledger_version;
ALTER TABLE backups DROP COLUMN schema_name;
DROP TABLE service_roles;
