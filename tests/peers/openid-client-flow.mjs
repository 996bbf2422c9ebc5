// Drives a keymanager resident server with client libraries nobody here wrote: openid-client (discovery,
// client_credentials, introspection, revocation) and jose (JWT verification against the published JWKS).
// Usage: node openid-client-flow.mjs ISSUER CLIENT_ID CLIENT_SECRET SCOPE
// Prints one JSON object with what it observed; exits non-zero on any failure.
import * as client from 'openid-client';
import * as jose from 'jose';

const [issuer, clientId, clientSecret, scope] = process.argv.slice(2);
const fail = (msg) => { console.error(msg); process.exit(1); };
if (!issuer || !clientId || !clientSecret || !scope) fail('usage: ISSUER CLIENT_ID CLIENT_SECRET SCOPE');

const config = await client.discovery(new URL(issuer), clientId, undefined, client.ClientSecretBasic(clientSecret), {
  execute: [client.allowInsecureRequests],
});
const meta = config.serverMetadata();
const token = await client.clientCredentialsGrant(config, { scope });
const jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri), { [jose.customFetch]: fetch });
const { payload, protectedHeader } = await jose.jwtVerify(token.access_token, jwks, {
  issuer: meta.issuer,
  typ: 'at+jwt',
});
const active = await client.tokenIntrospection(config, token.access_token);
await client.tokenRevocation(config, token.access_token);
const after = await client.tokenIntrospection(config, token.access_token);
console.log(JSON.stringify({
  issuer: meta.issuer,
  token_type: token.token_type,
  expires_in: token.expires_in,
  alg: protectedHeader.alg,
  client_id_claim: payload.client_id,
  scope_claim: payload.scope,
  introspection_active: active.active,
  introspection_client_id: active.client_id,
  after_revocation_active: after.active,
}));
