-- Key service, schema version 1000012 (sqlite): the DPoP proofs gateways accepted, by key thumbprint and `jti`, so a
-- proof is used once across every gateway node (RFC 9449 §11.1). A row goes once its proof is too old to be
-- accepted anyway.
CREATE TABLE km_gateway_dpop_proofs (
    jkt        TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (jkt, jti)
);
CREATE INDEX km_gateway_dpop_proofs_expires ON km_gateway_dpop_proofs (expires_at);
