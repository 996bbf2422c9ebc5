-- OpenID Connect login sessions of the login page: `sid` in ID tokens, `prompt` and `max_age` met from a session,
-- RP-initiated logout. The cookie is kept as its SHA-256 only.
CREATE TABLE km_login_sessions (
    session_hash TEXT PRIMARY KEY,
    sid          TEXT NOT NULL UNIQUE,
    subject      TEXT NOT NULL,
    username     TEXT NOT NULL,
    roles        TEXT NOT NULL,
    auth_time    BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ended_at     BIGINT
);

-- What the user allowed each client in a session (space-separated scopes), so a later request within it needs no
-- new consent.
CREATE TABLE km_session_consents (
    sid       TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scope     TEXT NOT NULL,
    PRIMARY KEY (sid, client_id)
);

-- Codes and refresh tokens remember the session they came from and when the user authenticated.
ALTER TABLE km_auth_codes ADD COLUMN sid TEXT;
ALTER TABLE km_auth_codes ADD COLUMN auth_time BIGINT;
ALTER TABLE km_refresh_tokens ADD COLUMN sid TEXT;
ALTER TABLE km_refresh_tokens ADD COLUMN auth_time BIGINT;
CREATE INDEX km_refresh_tokens_sid ON km_refresh_tokens (sid);

-- private_key_jwt client authentication (RFC 7523 §3): each assertion's jti is accepted once per client, and kept
-- until the assertion expires.
CREATE TABLE km_client_assertions (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
