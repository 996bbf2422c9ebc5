-- Pushed authorization requests (RFC 9126): a request's parameters under the SHA-256 of its request_uri, kept until
-- it expires or its code is issued.
CREATE TABLE km_pushed_requests (
    request_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    params TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX km_pushed_requests_expiry ON km_pushed_requests (expires_at);
