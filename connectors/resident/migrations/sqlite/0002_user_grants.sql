-- Resident key manager, schema version 2 (SQLite): user grants. Keep in step with ../postgres/0002_user_grants.sql.
CREATE TABLE km_users (
    username      TEXT PRIMARY KEY,
    subject       TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

-- Authorization codes (RFC 6749 §4.1): stored hashed, single use; `used_at` is set by the one exchange that wins.
CREATE TABLE km_auth_codes (
    code_hash             TEXT PRIMARY KEY,
    grant_id              TEXT NOT NULL,
    client_id             TEXT NOT NULL,
    redirect_uri          TEXT NOT NULL,
    scope                 TEXT NOT NULL,
    subject               TEXT NOT NULL,
    code_challenge        TEXT,
    code_challenge_method TEXT,
    expires_at            INTEGER NOT NULL,
    used_at               INTEGER,
    created_at            INTEGER NOT NULL
);

-- Refresh tokens, stored hashed; a family shares its grant_id; a token is rotated on use (`used_at`), and reusing a
-- rotated one revokes the whole family.
CREATE TABLE km_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id   TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX km_refresh_tokens_grant ON km_refresh_tokens (grant_id);

ALTER TABLE km_revocations ADD COLUMN grant_id TEXT;
ALTER TABLE km_tokens ADD COLUMN grant_id TEXT;
