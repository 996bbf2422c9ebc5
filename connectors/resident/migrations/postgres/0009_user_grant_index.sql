-- Every grant made for a user (authorization code and password), kept until the last token it could have issued has
-- expired: changing a user's password or roles, or deleting the user, revokes them all, including those that issued
-- no refresh token.
CREATE TABLE km_user_grants (
    grant_id   TEXT PRIMARY KEY,
    subject    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX km_user_grants_subject ON km_user_grants (subject);
