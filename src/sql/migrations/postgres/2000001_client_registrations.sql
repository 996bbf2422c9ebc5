-- Client registrations (RFC 7592), schema version 2000001 (postgres): what RFC 7592 needs to manage a registered client later.
-- The registration access token must be presented as is, so it is stored as is: keep the database private.
CREATE TABLE km_client_registrations (
    key_manager               TEXT NOT NULL,
    client_id                 TEXT NOT NULL,
    registration_client_uri   TEXT NOT NULL,
    registration_access_token TEXT NOT NULL,
    updated_at                BIGINT NOT NULL,
    PRIMARY KEY (key_manager, client_id)
);
