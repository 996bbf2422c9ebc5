-- Facts every process on this store must agree on, fixed when the store is first used: the issuer.
CREATE TABLE km_server_facts (
    name  VARCHAR(100) PRIMARY KEY,
    value TEXT NOT NULL
);
