-- DPoP proofs the token endpoint accepted (RFC 9449 §11.1): each key's `jti` once across every node, kept until the
-- proof is too old to be accepted anyway.
CREATE TABLE km_dpop_proofs (
    jkt TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (jkt, jti)
);
CREATE INDEX km_dpop_proofs_expiry ON km_dpop_proofs (expires_at);
