-- Retrievable client secrets (client_secret_storage = "retrievable"): the secret sealed with AES-256-GCM under a key kept
-- outside the database (KEYMANAGER_SECRET_KEY or DATA_DIR/secret-key), beside its hash.
ALTER TABLE km_client_secrets ADD COLUMN sealed TEXT;
