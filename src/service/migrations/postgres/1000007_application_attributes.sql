-- Application attributes (WSO2's key/value pairs), as a JSON object of strings.
ALTER TABLE km_applications ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
