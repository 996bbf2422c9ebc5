-- Descriptions of client secrets kept by the key service for key managers that keep none (Okta), so the platform's
-- vocabulary works on every connector.
CREATE TABLE km_secret_descriptions (
    key_manager TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    secret_id   TEXT NOT NULL,
    description TEXT NOT NULL,
    PRIMARY KEY (key_manager, client_id, secret_id)
);
