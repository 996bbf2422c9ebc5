-- Key service, schema version 1000011 (sqlite): the revocation log becomes the gateway event log, numbered in the
-- order it was written, so a gateway that does not share the database follows it (`GET /api/gateway/events`) and
-- catches up from the last number it saw.
CREATE TABLE km_gateway_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    key_manager TEXT NOT NULL,
    entry       TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX km_gateway_events_created ON km_gateway_events (created_at);
CREATE INDEX km_gateway_events_expires ON km_gateway_events (expires_at);
INSERT INTO km_gateway_events (key_manager, entry, expires_at, created_at)
    SELECT key_manager, entry, expires_at, created_at FROM km_revoked_tokens ORDER BY created_at;
DROP TABLE km_revoked_tokens;
