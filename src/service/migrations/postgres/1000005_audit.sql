-- The audit trail: one row per change through the management API or the registration endpoints. Append-only:
-- rows are never updated; only the retention purge deletes them, by age. Never a secret or a token.
CREATE TABLE km_audit (
    audit_id       BIGSERIAL PRIMARY KEY,
    at             BIGINT NOT NULL,
    actor_kind     TEXT NOT NULL,
    actor          TEXT NOT NULL,
    actor_key_manager TEXT,
    action         TEXT NOT NULL,
    application_id TEXT,
    target         TEXT,
    outcome        TEXT NOT NULL,
    detail         TEXT,
    request_id     TEXT,
    source         TEXT
);
CREATE INDEX km_audit_at ON km_audit (at);
CREATE INDEX km_audit_application ON km_audit (application_id, at);
CREATE INDEX km_audit_actor ON km_audit (actor, at);
CREATE FUNCTION km_audit_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only';
END;
$$;
CREATE TRIGGER km_audit_append_only BEFORE UPDATE ON km_audit
    FOR EACH ROW EXECUTE FUNCTION km_audit_refuse_update();
