// openid-client completes the OpenID Connect authorization code flow with PKCE and a nonce against keymanager
// serve, as a public client: it checks the ID token (iss, aud, exp, iat, nonce, azp), calls the UserInfo endpoint
// for the same subject, and refreshes (a new ID token comes with the new access token).
// The login form is posted with fetch, as a browser would (the cookie carries the CSRF token).
// With a sixth argument `par`, the authorization request is pushed first (RFC 9126, openid-client's
// buildAuthorizationUrlWithPAR) and the same request sent the usual way is tried too (a client that must push is
// refused it).
// Usage: node openid-client-code-flow.mjs ISSUER CLIENT_ID REDIRECT_URI USERNAME PASSWORD [par]
// Prints what it observed as JSON; exits non-zero on failure.
import * as client from 'openid-client';

const [issuer, clientId, redirectUri, username, password, mode] = process.argv.slice(2);
const usePar = mode === 'par';
const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(), {
  execute: [client.allowInsecureRequests],
});
const verifier = client.randomPKCECodeVerifier();
const challenge = await client.calculatePKCECodeChallenge(verifier);
const state = client.randomState();
const nonce = client.randomNonce();
const params = {
  redirect_uri: redirectUri, scope: 'openid profile offline_access', code_challenge: challenge,
  code_challenge_method: 'S256', state, nonce,
};
const unpushed = client.buildAuthorizationUrl(config, params);
const authUrl = usePar ? await client.buildAuthorizationUrlWithPAR(config, params) : unpushed;
const unpushedStatus = usePar ? (await fetch(unpushed)).status : null;

const page = await fetch(authUrl);
if (page.status !== 200) throw new Error(`authorization page: ${page.status}`);
const cookie = page.headers.get('set-cookie').split(';')[0];
const html = await page.text();
const form = new URLSearchParams();
for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
  form.set(m[1], m[2].replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>'));
}
form.set('username', username);
form.set('password', password);
form.set('decision', 'approve');
const posted = await fetch(new URL('/oauth2/authorize', issuer), {
  method: 'POST', body: form, redirect: 'manual',
  headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
});
const location = posted.headers.get('location');
if (posted.status !== 303 || !location) throw new Error(`login: ${posted.status}`);

// openid-client checks state and iss (RFC 9207), then exchanges the code with the verifier.
const tokens = await client.authorizationCodeGrant(config, new URL(location), {
  pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
});
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
console.log(JSON.stringify({
  token_type: tokens.token_type,
  scope: tokens.scope,
  has_refresh_token: typeof tokens.refresh_token === 'string',
  pushed: authUrl.searchParams.has('request_uri') && !authUrl.searchParams.has('scope'),
  unpushed_status: unpushedStatus,
  refreshed_rotates: refreshed.refresh_token !== tokens.refresh_token,
  id_token_claims: claims,
  userinfo,
  refreshed_id_token_sub: refreshed.claims() ? refreshed.claims().sub : null,
}));
