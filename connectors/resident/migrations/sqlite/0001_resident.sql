-- Resident key manager, schema version 1 (SQLite). Keep in step with ../postgres/0001_resident.sql.
CREATE TABLE km_clients (
    client_id              TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    key_type               TEXT NOT NULL,
    grant_types            TEXT NOT NULL,
    redirect_uris          TEXT NOT NULL,
    scopes                 TEXT NOT NULL,
    public_client          INTEGER NOT NULL,
    pkce_required          INTEGER NOT NULL,
    pkce_allow_plain       INTEGER NOT NULL,
    access_token_lifetime  INTEGER,
    refresh_token_lifetime INTEGER,
    additional_properties  TEXT NOT NULL,
    registration_token_hash TEXT,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    version                INTEGER NOT NULL
);

CREATE TABLE km_client_secrets (
    secret_id   TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES km_clients (client_id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    masked      TEXT NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
);
CREATE INDEX km_client_secrets_client ON km_client_secrets (client_id);

CREATE TABLE km_scopes (
    name         TEXT PRIMARY KEY,
    description  TEXT,
    display_name TEXT,
    created_at   INTEGER NOT NULL
);

-- Opaque access tokens only: a JWT carries its own claims and needs no row.
CREATE TABLE km_tokens (
    token_hash TEXT PRIMARY KEY,
    jti        TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    secret_id  TEXT,
    subject    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    audience   TEXT NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX km_tokens_expiry ON km_tokens (expires_at);

-- Revocations: one row per revoked jti, or one rule revoking every token of a client (and secret) issued at or
-- before `issued_before`. Rows can be purged after `expires_at`, when every token they cover has expired.
CREATE TABLE km_revocations (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    client_id     TEXT,
    secret_id     TEXT,
    jti           TEXT,
    issued_before INTEGER,
    expires_at    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX km_revocations_client ON km_revocations (client_id);

CREATE TABLE km_signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER,
    expires_at  INTEGER
);
