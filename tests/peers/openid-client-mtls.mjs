// Mutual-TLS client authentication and certificate-bound tokens (RFC 8705) with a client library nobody here
// wrote: openid-client authenticates to a keymanager resident server with its TLS client certificate
// (`tls_client_auth`, no secret), gets a token bound to that certificate (client_credentials), then calls a
// resource behind a gateway with the token over the same certificate; and once more without the certificate,
// which the gateway must refuse. openid-client leaves the TLS connection to its `customFetch`: here node:https with
// the certificate, as its documentation advises for mutual TLS.
// Usage: node openid-client-mtls.mjs ISSUER CLIENT_ID CERT_PEM KEY_PEM CA_PEM SCOPE RESOURCE_URL
// Prints one JSON object with what it observed; exits non-zero on any failure.
import * as client from 'openid-client';
import { readFileSync } from 'node:fs';
import https from 'node:https';

const [issuer, clientId, certFile, keyFile, caFile, scope, resource] = process.argv.slice(2);
const fail = (msg) => { console.error(msg); process.exit(1); };
if (!issuer || !clientId || !certFile || !keyFile || !caFile || !scope || !resource) {
  fail('usage: ISSUER CLIENT_ID CERT_PEM KEY_PEM CA_PEM SCOPE RESOURCE_URL');
}
const ca = readFileSync(caFile);
const withCertificate = new https.Agent({ cert: readFileSync(certFile), key: readFileSync(keyFile), ca });
const withoutCertificate = new https.Agent({ ca });

// A fetch over node:https through `agent` (what openid-client's customFetch is given: a string URL and options).
const fetchVia = (agent) => (url, options = {}) => new Promise((resolve, reject) => {
  const body = options.body instanceof URLSearchParams ? options.body.toString() : options.body;
  const request = https.request(url, { method: options.method ?? 'GET', headers: options.headers, agent,
    signal: options.signal }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('error', reject);
    res.on('end', () => {
      const headers = new Headers();
      for (const [name, value] of Object.entries(res.headers)) {
        for (const v of [value].flat()) if (v !== undefined) headers.append(name, v);
      }
      const empty = res.statusCode === 204 || res.statusCode === 304;
      resolve(new Response(empty ? null : Buffer.concat(chunks), { status: res.statusCode, headers }));
    });
  });
  request.on('error', reject);
  if (body !== undefined && body !== null) request.write(body);
  request.end();
});

const config = await client.discovery(new URL(issuer), clientId, undefined, client.TlsClientAuth(), {
  [client.customFetch]: fetchVia(withCertificate),
});
const meta = config.serverMetadata();
const token = await client.clientCredentialsGrant(config, { scope });
const claims = JSON.parse(Buffer.from(token.access_token.split('.')[1], 'base64url').toString());
const response = await client.fetchProtectedResource(config, token.access_token, new URL(resource), 'GET');
const seen = await response.json().catch(() => null);
const without = await fetchVia(withoutCertificate)(resource, {
  headers: { authorization: `Bearer ${token.access_token}` },
});
console.log(JSON.stringify({
  bound_tokens: meta.tls_client_certificate_bound_access_tokens,
  auth_methods: meta.token_endpoint_auth_methods_supported,
  token_type: token.token_type,
  cnf: claims.cnf,
  status: response.status,
  seen,
  without_certificate_status: without.status,
  without_certificate_challenge: without.headers.get('www-authenticate'),
}));
