-- Roles of resident users (space-separated); a scope bound to a role is granted to its holders only.
ALTER TABLE km_users ADD COLUMN roles TEXT NOT NULL DEFAULT '';
