-- Named admin tokens of the management API, stored as SHA-256 hashes only.
CREATE TABLE km_admin_tokens (
    name         VARCHAR(100) PRIMARY KEY,
    token_hash   VARCHAR(64)  NOT NULL UNIQUE,
    created_at   BIGINT       NOT NULL,
    last_used_at BIGINT
);
