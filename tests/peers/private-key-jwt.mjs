// private_key_jwt (RFC 7523, OpenID Connect Core §9) against keymanager serve, with keys made by jose: for each
// algorithm a client is registered by RFC 7591 with its public JWK, openid-client gets a client_credentials token
// authenticating with client.PrivateKeyJwt, and an assertion signed with jose is sent twice (the second must be
// refused as a replay) and once to the introspection endpoint.
// Usage: node private-key-jwt.mjs ISSUER ADMIN_TOKEN
// Prints what it observed as JSON; exits non-zero on failure.
import * as client from 'openid-client';
import * as jose from 'jose';

const [issuer, adminToken] = process.argv.slice(2);
const discovery = await (await fetch(new URL('/.well-known/openid-configuration', issuer))).json();
const observed = { auth_methods: discovery.token_endpoint_auth_methods_supported, algorithms: {} };

for (const alg of ['ES256', 'RS256', 'EdDSA']) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid: `${alg}-key`, alg, use: 'sig' };
  const registered = await fetch(new URL('/oauth2/register', issuer), {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: `jose ${alg}`, grant_types: ['client_credentials'], scope: 'orders:read',
      token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] },
    }),
  });
  if (registered.status !== 201) throw new Error(`registration (${alg}): ${registered.status} ${await registered.text()}`);
  const { client_id: clientId, client_secret: clientSecret } = await registered.json();

  // openid-client signs its own assertions (a fresh jti each time).
  const config = await client.discovery(new URL(issuer), clientId, { token_endpoint_auth_method: 'private_key_jwt' },
    client.PrivateKeyJwt({ key: privateKey, kid: jwk.kid }), { execute: [client.allowInsecureRequests] });
  const tokens = await client.clientCredentialsGrant(config, { scope: 'orders:read' }).catch((e) => {
    throw new Error(`openid-client's client_credentials grant (${alg}): ${JSON.stringify(e.cause ?? e.message)}`);
  });

  // One assertion made by hand, sent twice.
  const assertion = await new jose.SignJWT({})
    .setProtectedHeader({ alg, kid: jwk.kid })
    .setIssuer(clientId).setSubject(clientId).setAudience(discovery.token_endpoint)
    .setJti(crypto.randomUUID()).setIssuedAt().setExpirationTime('2m')
    .sign(privateKey);
  const send = (endpoint, fields) => fetch(endpoint, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', ...fields,
    }),
  });
  const first = await send(discovery.token_endpoint, { grant_type: 'client_credentials', client_assertion: assertion });
  const replay = await send(discovery.token_endpoint, { grant_type: 'client_credentials', client_assertion: assertion });
  const forIntrospection = await new jose.SignJWT({})
    .setProtectedHeader({ alg, kid: jwk.kid })
    .setIssuer(clientId).setSubject(clientId).setAudience(discovery.introspection_endpoint)
    .setJti(crypto.randomUUID()).setIssuedAt().setExpirationTime('2m')
    .sign(privateKey);
  const introspection = await send(discovery.introspection_endpoint, {
    token: tokens.access_token, client_assertion: forIntrospection,
  });
  observed.algorithms[alg] = {
    client_secret_issued: clientSecret !== undefined,
    token_type: tokens.token_type,
    scope: tokens.scope,
    first_status: first.status,
    replay_status: replay.status,
    replay_error: (await replay.json()).error,
    introspection_active: (await introspection.json()).active,
  };
}
console.log(JSON.stringify(observed));
