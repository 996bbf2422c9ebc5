-- Key service, schema version 1000001 (PostgreSQL). Keep in step with ../sqlite/1000001_key_service.sql.
-- Versions from 1000001 keep clear of the resident key manager's migrations, which share the database.
CREATE TABLE km_applications (
    application_id TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    owner          TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX km_applications_owner_name ON km_applications (owner, name);

CREATE TABLE km_key_mappings (
    key_mapping_id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES km_applications (application_id) ON DELETE CASCADE,
    key_type       TEXT NOT NULL,
    key_manager    TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    state          TEXT NOT NULL,
    origin         TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX km_key_mappings_one_per_env ON km_key_mappings (application_id, key_type, key_manager);
CREATE INDEX km_key_mappings_client ON km_key_mappings (key_manager, client_id);

-- Clients a provider created that could be neither stored nor deleted again: for an operator to clean up.
CREATE TABLE km_orphaned_clients (
    key_manager TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (key_manager, client_id)
);
