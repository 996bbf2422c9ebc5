-- An application's description (optional, shown in the Developer Portal).
ALTER TABLE km_applications ADD COLUMN description TEXT;
