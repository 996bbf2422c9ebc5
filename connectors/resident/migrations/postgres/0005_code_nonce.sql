-- OpenID Connect: the nonce of the authorization request, echoed in the ID token.
ALTER TABLE km_auth_codes ADD COLUMN nonce TEXT;
