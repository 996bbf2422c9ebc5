-- A client is held by at most one application per key manager. Replaces the plain look-up index of 1000001.
DROP INDEX km_key_mappings_client;
CREATE UNIQUE INDEX km_key_mappings_one_holder ON km_key_mappings (key_manager, client_id);
