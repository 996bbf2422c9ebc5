-- Key service, schema version 1000002 (sqlite): revocations made through the library, for every node's validator.
CREATE TABLE km_revoked_tokens (
    id          TEXT PRIMARY KEY,
    key_manager TEXT NOT NULL,
    entry       TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX km_revoked_tokens_created ON km_revoked_tokens (created_at);
