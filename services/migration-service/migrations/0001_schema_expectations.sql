-- maestro:phase expand
-- migration-service's own bookkeeping beside the ledger (schema_migrations, which the runner
-- creates itself before any migration can run).

-- The schema version each running service instance needs, registered at startup and refreshed
-- while it runs; a contract-phase migration waits until no live instance expects an older one.
CREATE TABLE schema_expectations (
  instance_id   text        NOT NULL,
  service       text        NOT NULL,
  version       integer     NOT NULL CHECK (version >= 0),
  registered_at timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  PRIMARY KEY (service, instance_id)
);

-- Live expectations are found by expiry; expired rows are pruned by the same query's owner.
CREATE INDEX schema_expectations_expires_at ON schema_expectations (expires_at);

-- pg_dump backups taken before applying or rolling back, recorded so `restore` can find them.
CREATE TABLE backups (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  service     text        NOT NULL,
  path        text        NOT NULL,
  size_bytes  bigint      NOT NULL CHECK (size_bytes >= 0),
  reason      text        NOT NULL CHECK (reason IN ('apply', 'rollback', 'manual')),
  created_at  timestamptz NOT NULL DEFAULT now()
);
