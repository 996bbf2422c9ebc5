// DPoP (RFC 9449) end to end with a client library nobody here wrote: openid-client makes a key, gets a DPoP-bound
// token from a keymanager resident server (client_credentials with a proof), then calls a resource behind a gateway
// with the token and a fresh proof; and once more as a plain bearer token, which the gateway must refuse.
// Usage: node openid-client-dpop.mjs ISSUER CLIENT_ID CLIENT_SECRET SCOPE RESOURCE_URL
// Prints one JSON object with what it observed; exits non-zero on any failure.
import * as client from 'openid-client';

const [issuer, clientId, clientSecret, scope, resource] = process.argv.slice(2);
const fail = (msg) => { console.error(msg); process.exit(1); };
if (!issuer || !clientId || !clientSecret || !scope || !resource) {
  fail('usage: ISSUER CLIENT_ID CLIENT_SECRET SCOPE RESOURCE_URL');
}

const config = await client.discovery(new URL(issuer), clientId, undefined, client.ClientSecretBasic(clientSecret), {
  execute: [client.allowInsecureRequests],
});
const meta = config.serverMetadata();
const keyPair = await client.randomDPoPKeyPair('ES256');
const DPoP = client.getDPoPHandle(config, keyPair);
const token = await client.clientCredentialsGrant(config, { scope }, { DPoP });
const response = await client.fetchProtectedResource(config, token.access_token, new URL(resource), 'GET', undefined,
  undefined, { DPoP });
const seen = await response.json().catch(() => null);
const asBearer = await fetch(resource, { headers: { authorization: `Bearer ${token.access_token}` } });
console.log(JSON.stringify({
  dpop_algs: meta.dpop_signing_alg_values_supported,
  token_type: token.token_type,
  status: response.status,
  seen,
  bearer_status: asBearer.status,
  bearer_challenge: asBearer.headers.get('www-authenticate'),
}));
