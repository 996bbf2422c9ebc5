// Starts oidc-provider (a certified OpenID Connect provider) on a loopback port for keymanager's oidc connector
// tests. Usage: node oidc-provider-server.mjs PORT INITIAL_ACCESS_TOKEN RESOURCE_SERVER_ID RESOURCE_SERVER_SECRET
// [interactive] (the last turns on oidc-provider's development login and consent pages, for browser sign-ins)
// Prints "ready ISSUER" once listening. Enabled: dynamic registration guarded by an initial access token (RFC 7591),
// registration management (RFC 7592) rotating the registration access token, client_credentials, introspection
// (RFC 7662), revocation (RFC 7009), PKCE (S256, required for public clients) and DPoP (RFC 9449: a token request
// with a proof gets a token bound to its key).
import Provider from 'oidc-provider';

const [port, initialAccessToken, rsId, rsSecret, mode] = process.argv.slice(2);
if (!port || !initialAccessToken || !rsId || !rsSecret) {
  console.error('usage: PORT INITIAL_ACCESS_TOKEN RESOURCE_SERVER_ID RESOURCE_SERVER_SECRET');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    // The resource server keymanager introspects with.
    { client_id: rsId, client_secret: rsSecret, grant_types: [], redirect_uris: [], response_types: [] },
  ],
  scopes: ['openid', 'offline_access', 'orders:read', 'orders:write', 'keymanager:apps', 'keymanager:admin'],
  clientDefaults: { grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' },
  features: {
    devInteractions: { enabled: mode === 'interactive' },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // Let the resource server introspect every client's tokens.
      allowedPolicy: async (ctx, client, token) => client.clientId === rsId || token.clientId === client.clientId,
    },
    revocation: { enabled: true },
    dPoP: { enabled: true },
    registration: { enabled: true, initialAccessToken, idFactory: undefined },
    registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
  },
  pkce: { required: (ctx, client) => client.tokenEndpointAuthMethod === 'none' },
  ttl: { ClientCredentials: 600, AccessToken: 600 },
});
provider.proxy = false;
const server = provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
