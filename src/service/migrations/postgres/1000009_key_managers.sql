-- Key managers added at run time (the configuration file's stay there): their connector settings, secret ones sealed
-- with AES-256-GCM under a key kept outside the database (keymanager::secret_box), never in the clear.
CREATE TABLE km_key_managers (
    name                TEXT PRIMARY KEY,
    kind                TEXT NOT NULL,
    settings            TEXT NOT NULL,
    enabled             BIGINT NOT NULL,
    allow_insecure_http BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
