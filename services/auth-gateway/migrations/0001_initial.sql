-- maestro:phase expand
-- auth 0001: initial identity schema: tenants, users, service accounts, role bindings, signing keys, sessions, refresh tokens, login backoff, OIDC identities, append-only audit log.
--
-- The migration runner applies this file in one transaction with
-- `SET LOCAL search_path = auth` and `SET LOCAL ROLE <auth service role>`. Names are therefore
-- unqualified, and the auth role owns every object created here.
--
-- Conventions: timestamps are timestamptz; enumerations are text + CHECK (extending one is a
-- new expand migration: add the wider CHECK as NOT VALID, VALIDATE it, then drop the old one);
-- ids handed to clients are uuid; internal ids are bigint identities.
--
-- Tenant consistency: child tables reference their parent through (tenant, id) composite foreign
-- keys. That way the database guarantees that a row never points at another tenant's row (a
-- role binding cannot give a user roles in a tenant it does not belong to, a refresh token
-- cannot belong to another tenant's session), and every such index leads with tenant.
-- The foreign keys sit inside CREATE TABLE on new, empty tables, so they need no
-- NOT VALID/VALIDATE sequence.

-- ---------------------------------------------------------------------------------------------
-- Tenants
-- ---------------------------------------------------------------------------------------------
-- The tenant id is the `tenant` claim of every token, and other services use it as their row
-- key. It is deliberately restricted: lowercase, URL- and header-safe, and never '*', which
-- workflow-service's row-level security reserves for "engine system work across all tenants".
CREATE TABLE tenants (
    tenant        text PRIMARY KEY
                  CHECK (tenant ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    display_name  text NOT NULL DEFAULT '',
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------------------------
-- Users (password grant, OIDC-provisioned users)
-- ---------------------------------------------------------------------------------------------
-- Passwords are stored as scrypt(password, salt, N, r, p, dklen). The parameters are stored per
-- row, so the cost can be raised later: a user's hash is upgraded on the next successful login,
-- and no bulk rehash is needed. password_hash is NULL for users who sign in only through an
-- external OIDC provider. In that case all scrypt columns are NULL too (CHECK below).
-- Usernames are unique per tenant and stored already normalised (lowercase), so 'Alice' and
-- 'alice' cannot be two different accounts.
CREATE TABLE users (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant               text NOT NULL REFERENCES tenants (tenant),
    username             text NOT NULL
                         CHECK (username = lower(username) AND length(username) BETWEEN 1 AND 128),
    email                text,
    display_name         text NOT NULL DEFAULT '',
    password_hash        bytea,
    password_salt        bytea,
    scrypt_n             integer,      -- CPU/memory cost, a power of two (e.g. 32768)
    scrypt_r             integer,      -- block size (e.g. 8)
    scrypt_p             integer,      -- parallelisation (e.g. 1)
    scrypt_dklen         integer,      -- derived key length in bytes (e.g. 32)
    password_changed_at  timestamptz,
    disabled             boolean NOT NULL DEFAULT false,
    disabled_reason      text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    last_login_at        timestamptz,
    UNIQUE (tenant, username),
    -- Target of the (tenant, user_id) composite foreign keys below.
    UNIQUE (tenant, id),
    CONSTRAINT users_password_all_or_nothing CHECK (
        num_nulls(password_hash, password_salt, scrypt_n, scrypt_r, scrypt_p, scrypt_dklen) IN (0, 6)
    ),
    CONSTRAINT users_scrypt_params_sane CHECK (
        password_hash IS NULL OR (
            scrypt_n > 1 AND (scrypt_n & (scrypt_n - 1)) = 0
            AND scrypt_r >= 1 AND scrypt_p >= 1
            AND scrypt_dklen >= 16
            AND octet_length(password_salt) >= 16
            AND octet_length(password_hash) = scrypt_dklen
        )
    )
);

-- ---------------------------------------------------------------------------------------------
-- Service accounts (client_credentials grant)
-- ---------------------------------------------------------------------------------------------
-- client_id is unique across all tenants because the client_credentials grant presents only
-- client_id + client_secret; the tenant is found from the account.
-- Secrets are high-entropy random strings that the gateway generates, so a fast hash
-- (SHA-256, 32 bytes) is enough. A slow KDF would only make every service-to-service token
-- request slower. The plaintext is shown once, at creation, and never stored.
-- previous_secret_hash lets a secret be rotated without downtime: the old secret keeps working
-- until previous_secret_expires_at.
CREATE TABLE service_accounts (
    id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant                      text NOT NULL REFERENCES tenants (tenant),
    name                        text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    description                 text NOT NULL DEFAULT '',
    client_id                   text NOT NULL UNIQUE,
    secret_hash                 bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
    secret_hash_alg             text NOT NULL DEFAULT 'sha256' CHECK (secret_hash_alg IN ('sha256')),
    secret_created_at           timestamptz NOT NULL DEFAULT now(),
    previous_secret_hash        bytea CHECK (octet_length(previous_secret_hash) = 32),
    previous_secret_expires_at  timestamptz,
    disabled                    boolean NOT NULL DEFAULT false,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    last_used_at                timestamptz,
    UNIQUE (tenant, name),
    UNIQUE (tenant, id),
    CHECK ((previous_secret_hash IS NULL) = (previous_secret_expires_at IS NULL))
);

-- ---------------------------------------------------------------------------------------------
-- Role bindings (RBAC, per tenant)
-- ---------------------------------------------------------------------------------------------
-- Exactly the 8 roles of the permission matrix. A binding names either a user or a service account
-- of the same tenant: the composite foreign keys enforce that. Platform-wide roles (admin,
-- security-admin, platform-operator) are bound in the subject's home tenant as well. Acting across
-- tenants is an explicit, audited request by an admin, not a binding.
-- UNIQUE NULLS NOT DISTINCT (PostgreSQL 15) treats the NULL side of the subject pair as equal,
-- so the one constraint forbids duplicate bindings for users and service accounts alike.
CREATE TABLE role_bindings (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant              text NOT NULL REFERENCES tenants (tenant),
    user_id             uuid,
    service_account_id  uuid,
    role                text NOT NULL CHECK (role IN (
                            'admin', 'security-admin', 'platform-operator', 'tenant-admin',
                            'workflow-author', 'workflow-operator', 'analyst', 'viewer')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    created_by          text,      -- subject (JWT sub) that granted it
    CHECK (num_nonnulls(user_id, service_account_id) = 1),
    FOREIGN KEY (tenant, user_id) REFERENCES users (tenant, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant, service_account_id) REFERENCES service_accounts (tenant, id) ON DELETE CASCADE,
    CONSTRAINT role_bindings_unique UNIQUE NULLS NOT DISTINCT (tenant, user_id, service_account_id, role)
);
-- role_bindings_unique already serves "roles of user U in tenant T" (prefix tenant, user_id).
-- Service accounts need their own index. It is partial because user bindings would only bloat it.
CREATE INDEX role_bindings_service_account_idx
    ON role_bindings (tenant, service_account_id)
    WHERE service_account_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Signing keys (ES256, JWKS, rotation)
-- ---------------------------------------------------------------------------------------------
-- Lifecycle: next -> active -> retired -> (purged: row deleted after purge_at);
--            any state -> revoked (emergency rotation: the kid leaves the JWKS at once).
-- The JWKS publishes next, active and retired keys (not revoked, and not past purge_at), so a new
-- key is in every verifier's cache before it signs anything, and an old key still verifies tokens
-- for the retention period (default 7 days).
-- The private key is encrypted with AES-256-GCM under a master key from a secret:
--   private_key_ciphertext = ciphertext || 16-byte GCM tag, private_key_nonce = 12-byte nonce,
--   the kid is the associated data, so a ciphertext cannot be moved to another row.
-- master_key_id records which master key encrypted the row, so the master key can be rotated
-- (re-encrypt the rows one by one) without guessing.
-- The table stays tiny (a handful of rows), so it has no secondary index for JWKS reads.
CREATE TABLE signing_keys (
    kid                     text PRIMARY KEY CHECK (length(kid) BETWEEN 8 AND 128),
    alg                     text NOT NULL DEFAULT 'ES256' CHECK (alg IN ('ES256')),
    public_jwk              jsonb NOT NULL CHECK (jsonb_typeof(public_jwk) = 'object'),
    private_key_ciphertext  bytea NOT NULL,
    private_key_nonce       bytea NOT NULL CHECK (octet_length(private_key_nonce) = 12),
    master_key_id           text NOT NULL,
    state                   text NOT NULL CHECK (state IN ('next', 'active', 'retired', 'revoked')),
    created_at              timestamptz NOT NULL DEFAULT now(),
    activates_at            timestamptz NOT NULL,  -- when it becomes (or became) the signing key
    retires_at              timestamptz,           -- when it stops signing (set on activation: activates_at + rotation period)
    purge_at                timestamptz,           -- when it leaves the JWKS and is deleted (retires_at + verification window)
    revoked_at              timestamptz,
    revoked_reason          text,
    CHECK ((state = 'revoked') = (revoked_at IS NOT NULL)),
    CHECK (retires_at IS NULL OR retires_at >= activates_at),
    CHECK (purge_at IS NULL OR retires_at IS NULL OR purge_at >= retires_at)
);
-- At most one signing key and one pre-published key at any time: a backstop behind the advisory
-- lock that serialises rotation across gateway replicas. Rotation must demote the old active key
-- (active -> retired/revoked) before it promotes the next one, in the same transaction.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((true)) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next   ON signing_keys ((true)) WHERE state = 'next';

-- ---------------------------------------------------------------------------------------------
-- Sessions
-- ---------------------------------------------------------------------------------------------
-- Every successful login (password, token exchange, client credentials) is a session. Its sid is
-- the `sid` claim of every access token issued under it. Revocation sets revoked_at, and
-- NOTIFY tells every gateway replica to refuse the sid at once. The subject is a user or a service
-- account of the same tenant.
CREATE TABLE sessions (
    sid                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant              text NOT NULL REFERENCES tenants (tenant),
    subject             text NOT NULL,   -- the JWT `sub` of tokens issued under this session
    user_id             uuid,
    service_account_id  uuid,
    auth_method         text NOT NULL CHECK (auth_method IN ('password', 'client_credentials', 'token_exchange')),
    oidc_issuer         text,            -- set for token_exchange sessions
    client_address      inet,
    user_agent          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,  -- absolute lifetime; refresh never extends it past this
    revoked_at          timestamptz,
    revoked_reason      text CHECK (revoked_reason IN (
                            'logout', 'revoked_by_admin', 'session_limit_evicted',
                            'refresh_token_reuse', 'user_disabled', 'password_changed', 'key_compromise')),
    revoked_by          text,            -- subject that revoked it (NULL when the system did)
    UNIQUE (tenant, sid),
    CHECK (num_nonnulls(user_id, service_account_id) = 1),
    CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL)),
    CHECK (expires_at > created_at),
    FOREIGN KEY (tenant, user_id) REFERENCES users (tenant, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant, service_account_id) REFERENCES service_accounts (tenant, id) ON DELETE CASCADE
);
-- Concurrent-session limit and "list my sessions": the live sessions of one user, oldest first
-- (evict-oldest policy). The index is partial: revoked sessions pile up in history, but the limit
-- only concerns live ones.
CREATE INDEX sessions_user_live_idx
    ON sessions (tenant, user_id, created_at)
    WHERE revoked_at IS NULL AND user_id IS NOT NULL;
CREATE INDEX sessions_service_account_live_idx
    ON sessions (tenant, service_account_id, created_at)
    WHERE revoked_at IS NULL AND service_account_id IS NOT NULL;
-- A gateway replica that (re)starts loads the deny list of sessions that are revoked but whose
-- tokens could still be alive. That query is global and has no tenant, so this index does not
-- lead with tenant (a deliberate exception). It is partial, so it holds only revoked sessions.
CREATE INDEX sessions_revoked_unexpired_idx
    ON sessions (expires_at)
    WHERE revoked_at IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Refresh tokens (rotating, reuse detection)
-- ---------------------------------------------------------------------------------------------
-- Only a SHA-256 of the opaque refresh token is stored. Each use spends the token
-- (spent_at) and issues generation + 1 in the same family. Presenting a token that is already
-- spent is reuse: the whole session is revoked (revoked_reason = 'refresh_token_reuse').
-- The primary key is the hash because the presented token is the only key the grant has
-- (no tenant is known before the lookup).
CREATE TABLE refresh_tokens (
    token_hash    bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    tenant        text NOT NULL,
    sid           uuid NOT NULL,
    family        uuid NOT NULL,
    generation    integer NOT NULL CHECK (generation >= 1),
    issued_at     timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    spent_at      timestamptz,
    FOREIGN KEY (tenant, sid) REFERENCES sessions (tenant, sid) ON DELETE CASCADE,
    -- At most one token per generation: two concurrent refreshes of the same token cannot both
    -- mint a successor (the loser gets a unique violation and is treated as reuse).
    UNIQUE (tenant, family, generation)
);
-- Revoke and clean up a session's tokens. This index also backs the ON DELETE CASCADE.
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (tenant, sid);

-- ---------------------------------------------------------------------------------------------
-- Brute-force protection for the password grant
-- ---------------------------------------------------------------------------------------------
-- These tables hold backoff state, not an attempt log (the audit log already records every
-- attempt). Failures raise locked_until exponentially, and a success resets the per-user row.
-- The per-user state is keyed by the username as typed, not by user id. Unknown usernames then
-- back off exactly like known ones, so the grant's behaviour does not reveal which accounts exist.
CREATE TABLE login_backoff_users (
    tenant            text NOT NULL,
    username          text NOT NULL,
    failures          integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    first_failure_at  timestamptz,
    last_failure_at   timestamptz,
    locked_until      timestamptz,
    PRIMARY KEY (tenant, username)
);
-- Per client address. This table is global, not tenant-scoped, on purpose: one address that
-- guesses passwords in many tenants is one attacker. The gateway should store IPv6 clients as
-- their /64 (a single host usually owns the whole /64).
CREATE TABLE login_backoff_addresses (
    client_address    inet PRIMARY KEY,
    failures          integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    first_failure_at  timestamptz,
    last_failure_at   timestamptz,
    locked_until      timestamptz
);

-- ---------------------------------------------------------------------------------------------
-- OIDC federation: external identity -> local user
-- ---------------------------------------------------------------------------------------------
-- The providers themselves (issuer, audience, claim mapping) are configuration, not rows. This
-- table remembers which local user an external (issuer, sub) became. The tenant comes from the
-- provider's claim mapping, so the lookup always has it.
CREATE TABLE oidc_identities (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant            text NOT NULL,
    issuer            text NOT NULL,
    external_subject  text NOT NULL,
    user_id           uuid NOT NULL,
    email             text,
    last_claims       jsonb NOT NULL DEFAULT '{}'::jsonb,  -- mapped claims (groups, roles) of the last exchange, for audit and debugging
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_login_at     timestamptz,
    UNIQUE (tenant, issuer, external_subject),
    FOREIGN KEY (tenant, user_id) REFERENCES users (tenant, id) ON DELETE CASCADE
);
CREATE INDEX oidc_identities_user_idx ON oidc_identities (tenant, user_id);

-- ---------------------------------------------------------------------------------------------
-- Audit log (append-only)
-- ---------------------------------------------------------------------------------------------
-- Security events: logins and failures, token exchange, key rotation, role changes, session
-- revocation, cross-tenant access. `tenant` is the tenant the event concerns (for cross-tenant
-- access, the target tenant). actor_tenant is the actor's home tenant.
-- There is deliberately no foreign key to tenants: the log must also record attempts against
-- tenants that do not exist, and it must outlive any tenant row.
CREATE TABLE audit_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant          text NOT NULL,
    occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    type            text NOT NULL CHECK (type ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),  -- e.g. 'login.failed', 'key.rotated'
    outcome         text NOT NULL DEFAULT 'success' CHECK (outcome IN ('success', 'failure', 'denied')),
    actor_subject   text,
    actor_tenant    text,
    sid             uuid,
    client_address  inet,
    user_agent      text,
    request_id      text,
    target_type     text,   -- e.g. 'user', 'session', 'signing_key', 'role_binding'
    target_id       text,
    details         jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(details) = 'object')
);
-- security-admin pages through the log by time (keyset on (occurred_at, id)), per tenant or by
-- event type. The brief asks for the type index to search across tenants, so it does not lead
-- with tenant (a deliberate exception). The trailing id makes the keyset page order total.
CREATE INDEX audit_events_tenant_time_idx ON audit_events (tenant, occurred_at, id);
CREATE INDEX audit_events_type_time_idx   ON audit_events (type, occurred_at, id);

-- Append-only: UPDATE, DELETE and TRUNCATE raise. This guards against application bugs and
-- compromised application code. It is not a guard against the schema owner, who could drop the
-- trigger; such a change would itself have to come through a reviewed migration.
-- Retention, if it is ever required, must come through such a reviewed (contract) migration
-- as well, for example by moving to time partitions that are dropped whole.
CREATE FUNCTION audit_events_append_only() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog
AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit events can only be inserted.';
END;
$$;

CREATE TRIGGER audit_events_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
