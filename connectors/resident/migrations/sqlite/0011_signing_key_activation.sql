-- A signing key is published in the JWKS from its creation and signs from activates_at (NULL: at once), so
-- caches hold it before any token it signed arrives.
ALTER TABLE km_signing_keys ADD COLUMN activates_at INTEGER;
