-- Key managers added at run time (the configuration file's stay there): their connector settings, secret ones sealed
-- with AES-256-GCM under a key kept outside the database (keymanager::secret_box), never in the clear.
CREATE TABLE km_key_managers (
    name                TEXT PRIMARY KEY,
    kind                TEXT NOT NULL,
    settings            TEXT NOT NULL,
    enabled             INTEGER NOT NULL,
    allow_insecure_http INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
