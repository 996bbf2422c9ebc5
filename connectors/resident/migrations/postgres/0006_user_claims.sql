-- OpenID Connect claims of resident users.
ALTER TABLE km_users ADD COLUMN name TEXT;
ALTER TABLE km_users ADD COLUMN email TEXT;
ALTER TABLE km_users ADD COLUMN email_verified BIGINT NOT NULL DEFAULT 0;
