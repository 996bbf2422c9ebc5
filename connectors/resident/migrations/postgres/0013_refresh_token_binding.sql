-- What a public client's refresh token is bound to (RFC 9449 §5, RFC 8705 §4): the `cnf` of its access tokens, as
-- JSON; NULL for an unbound token.
ALTER TABLE km_refresh_tokens ADD COLUMN cnf TEXT;
