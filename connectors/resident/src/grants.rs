//! The user grants of the resident server, to the OAuth 2.0 Security BCP (RFC 9700): authorization code with PKCE
//! (RFC 7636), refresh tokens rotated on every use, and the password grant for clients that enable it.
//!
//! - PKCE: `S256` by default; `plain` only for clients whose policy allows it; a public client, or one whose policy
//!   requires PKCE, must send a challenge. A verifier without a challenge is refused.
//! - A code is single use, bound to its client, redirect URI and challenge; exchanging it twice revokes every token
//!   issued from it (its grant family).
//! - A refresh token is replaced on every use; presenting a replaced one revokes the whole family.

use keymanager::connector_kit::model::{AccessToken, GrantType, Scopes, Token, TokenRequest};
use keymanager::connector_kit::{Error, Result};
use url::Url;

use crate::crypto;
use crate::server::{
    granted_scopes, invalid_grant, unauthorized_client, AuthenticatedClient, Issued, Mint, OpenId, ResidentServer,
};
use crate::store::{ClientRecord, CodeRecord, LoginSession, RefreshRecord, Use};
use crate::users::{ResourceOwner, StoreUsers};

/// How long an authorization code lives (RFC 6749 §4.1.2 recommends at most 10 minutes).
pub const CODE_LIFETIME: i64 = 60;

/// How long a pushed authorization request's `request_uri` may start an authorization (RFC 9126 §2.2): long enough
/// to sign in, short enough to be of no use later.
pub const PUSHED_REQUEST_LIFETIME: i64 = 300;

/// The most live pushed requests one client may hold (a bound on what pushing can write).
pub const MAX_PUSHED_REQUESTS_PER_CLIENT: u64 = 1000;

/// The prefix of every `request_uri` this server hands out (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// The parameters of an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct AuthorizationRequest {
    /// `client_id`.
    pub client_id: Option<String>,
    /// `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// `response_type`.
    pub response_type: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `code_challenge`.
    pub code_challenge: Option<String>,
    /// `code_challenge_method`.
    pub code_challenge_method: Option<String>,
    /// `nonce` (OpenID Connect Core §3.1.2.1), echoed in the ID token.
    pub nonce: Option<String>,
    /// `prompt` (Core §3.1.2.1): `none`, or any of `login`, `consent`, `select_account`.
    pub prompt: Option<String>,
    /// `max_age` (Core §3.1.2.1), seconds.
    pub max_age: Option<String>,
    /// `login_hint` (Core §3.1.2.1): the user name to offer on the login page.
    pub login_hint: Option<String>,
    /// The `request_uri` of a pushed request (RFC 9126 §4) these parameters were read from; never stored.
    #[serde(skip)]
    pub request_uri: Option<String>,
}

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct CheckedRequest {
    /// The client.
    pub client: ClientRecord,
    /// The redirect URI to answer at.
    pub redirect_uri: String,
    /// Whether the request named it (then the code exchange must name it too, RFC 6749 §4.1.3).
    pub redirect_uri_sent: bool,
    /// Granted scopes.
    pub scopes: keymanager::connector_kit::model::Scopes,
    /// `state`, to send back.
    pub state: Option<String>,
    /// PKCE challenge and method.
    pub challenge: Option<(String, String)>,
    /// The `nonce`, for the ID token.
    pub nonce: Option<String>,
    /// What `prompt` asked for.
    pub prompt: Prompt,
    /// `max_age`: the longest time since the user authenticated that this request accepts (seconds).
    pub max_age: Option<i64>,
    /// The `request_uri` of the pushed request it came from, used up when the code is issued.
    pub pushed: Option<String>,
}

/// The values of `prompt` (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: no page may be shown.
    pub none: bool,
    /// `login` (or `select_account`, met the same way): the user signs in again.
    pub login: bool,
    /// `consent`: the user is asked again.
    pub consent: bool,
}

impl CheckedRequest {
    /// A refusal sent back to the client's redirect URI, with the request's `state`.
    pub fn refusal(&self, error: &'static str, description: &str) -> AuthorizeError {
        AuthorizeError::Redirect {
            redirect_uri: self.redirect_uri.clone(),
            error,
            description: description.into(),
            state: self.state.clone(),
        }
    }
}

/// Why an authorization request is refused.
#[derive(Debug, Clone)]
pub enum AuthorizeError {
    /// The client or the redirect URI is wrong: show the error, never redirect (RFC 6749 §4.1.2.1).
    Show(String),
    /// Tell the client at its redirect URI.
    Redirect {
        /// Where.
        redirect_uri: String,
        /// The OAuth error code.
        error: &'static str,
        /// Why.
        description: String,
        /// `state` of the request.
        state: Option<String>,
    },
}

impl AuthorizeError {
    /// What to tell a person or a client about the refusal.
    pub fn into_text(self) -> String {
        match self {
            AuthorizeError::Show(m) => m,
            AuthorizeError::Redirect { description, .. } => description,
        }
    }
}

fn pkce_text_ok(s: &str) -> bool {
    (43..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

impl ResidentServer {
    /// Keep a pushed authorization request (RFC 9126 §2) of `client_id` after checking it as the authorization
    /// endpoint would; answer its `request_uri` and how many seconds it lives, or why the request is refused
    /// (`Ok(Err(…))`); `Err` when the store cannot keep it now.
    pub async fn push_authorization(
        &self,
        client_id: &str,
        mut req: AuthorizationRequest,
    ) -> Result<std::result::Result<(String, i64), String>> {
        req.client_id = Some(client_id.to_owned());
        // Checked as if pushed already (a pushed request is what it will be).
        req.request_uri = Some(String::new());
        if let Err(e) = self.check_authorization(&req).await {
            return Ok(Err(e.into_text()));
        }
        req.request_uri = None;
        let params =
            serde_json::to_string(&req).map_err(|e| Error::storage(format!("a request does not write: {e}")))?;
        let uri = format!("{REQUEST_URI_PREFIX}{}", crate::crypto::random_token(32));
        self.store()
            .insert_pushed_request(
                &crate::crypto::hash(&uri),
                client_id,
                &params,
                self.store().now().saturating_add(PUSHED_REQUEST_LIFETIME),
                MAX_PUSHED_REQUESTS_PER_CLIENT,
            )
            .await?;
        Ok(Ok((uri, PUSHED_REQUEST_LIFETIME)))
    }

    /// The pushed request `request_uri` of `client_id`, while it lives (RFC 9126 §4); its parameters replace any
    /// sent beside it.
    pub async fn pushed_authorization(
        &self,
        client_id: &str,
        request_uri: &str,
    ) -> std::result::Result<AuthorizationRequest, AuthorizeError> {
        let gone = || AuthorizeError::Show("the pushed request is unknown, expired or used; push it again".into());
        if !request_uri.starts_with(REQUEST_URI_PREFIX) {
            return Err(gone());
        }
        let params = self
            .store()
            .find_pushed_request(&crate::crypto::hash(request_uri), client_id)
            .await
            .map_err(|e| AuthorizeError::Show(format!("the server cannot read the request now ({})", e.kind())))?
            .ok_or_else(gone)?;
        let mut req: AuthorizationRequest = serde_json::from_str(&params).map_err(|_| gone())?;
        req.request_uri = Some(request_uri.to_owned());
        Ok(req)
    }

    /// A pushed request's authorization was given: its `request_uri` starts no other.
    pub async fn use_up_pushed(&self, request_uri: &str) -> Result<()> {
        self.store()
            .delete_pushed_request(&crate::crypto::hash(request_uri))
            .await
    }

    /// Check an authorization request against the client's registration and policy.
    pub async fn check_authorization(
        &self,
        req: &AuthorizationRequest,
    ) -> std::result::Result<CheckedRequest, AuthorizeError> {
        let client_id = req
            .client_id
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| AuthorizeError::Show("client_id is missing".into()))?;
        let client = match self.store().get_client(client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return Err(AuthorizeError::Show("the client is unknown".into())),
            Err(e) => {
                return Err(AuthorizeError::Show(format!(
                    "the server cannot check the client now ({})",
                    e.kind()
                )))
            }
        };
        // RFC 9126 §5, §6: where pushing is required, only a pushed request starts an authorization.
        if req.request_uri.is_none()
            && (self.settings().require_pushed_authorization_requests || crate::client_metadata::requires_par(&client))
        {
            return Err(AuthorizeError::Show(
                "this client must push its authorization request to /oauth2/par first (RFC 9126)".into(),
            ));
        }
        // The redirect URI must be one registered, exactly (a loopback one on any port, RFC 8252 §7.3); with one
        // registered it may be left out.
        let redirect_uri = match req.redirect_uri.as_deref() {
            Some(uri) if client.redirect_uris.iter().any(|r| r.matches(uri)) => uri.to_owned(),
            Some(_) => {
                return Err(AuthorizeError::Show(
                    "the redirect URI is not registered for this client".into(),
                ))
            }
            None if client.redirect_uris.len() == 1 => client.redirect_uris[0].to_string(),
            None => return Err(AuthorizeError::Show("redirect_uri is missing".into())),
        };
        let state = req.state.clone();
        let fail = |error: &'static str, description: &str| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            error,
            description: description.into(),
            state: state.clone(),
        };
        if req.response_type.as_deref() != Some("code") {
            return Err(fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
        if !client.grant_types.contains(&GrantType::AuthorizationCode) {
            return Err(fail(
                "unauthorized_client",
                "this client may not use the authorization code grant",
            ));
        }
        // OpenID Connect Core §3.1.2.1: `prompt` is a set of known values; `none` stands alone.
        let mut prompt = Prompt::default();
        for p in req
            .prompt
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|p| !p.is_empty())
        {
            match p {
                "none" => prompt.none = true,
                "login" | "select_account" => prompt.login = true,
                "consent" => prompt.consent = true,
                other => {
                    return Err(fail(
                        "invalid_request",
                        &format!("prompt `{other}` is not one OpenID Connect defines"),
                    ))
                }
            }
        }
        if prompt.none && (prompt.login || prompt.consent) {
            return Err(fail(
                "invalid_request",
                "prompt=none cannot be combined with another value",
            ));
        }
        let max_age = match req.max_age.as_deref() {
            None => None,
            Some(m) if !m.is_empty() && m.len() <= 10 && m.bytes().all(|b| b.is_ascii_digit()) => Some(
                m.parse::<i64>()
                    .map_err(|_| fail("invalid_request", "max_age must be a number of seconds"))?,
            ),
            Some(_) => return Err(fail("invalid_request", "max_age must be a number of seconds")),
        };
        let requested = keymanager::connector_kit::model::parse_scope(req.scope.as_deref().unwrap_or_default())
            .map_err(|m| fail("invalid_scope", &m))?;
        let scopes = granted_scopes(&client, &requested).map_err(|e| fail("invalid_scope", &e.to_string()))?;
        let challenge = match req.code_challenge.as_deref().filter(|c| !c.is_empty()) {
            Some(challenge) => {
                // RFC 7636 §4.3: no method means plain.
                let method = req.code_challenge_method.as_deref().unwrap_or("plain");
                match method {
                    "S256" => {}
                    "plain" if client.pkce.allow_plain => {}
                    "plain" => {
                        return Err(fail(
                            "invalid_request",
                            "code_challenge_method plain is not allowed for this client; use S256",
                        ))
                    }
                    _ => return Err(fail("invalid_request", "code_challenge_method must be S256")),
                }
                if !pkce_text_ok(challenge) {
                    return Err(fail(
                        "invalid_request",
                        "code_challenge must be 43 to 128 unreserved characters",
                    ));
                }
                Some((challenge.to_owned(), method.to_owned()))
            }
            None if client.public_client || client.pkce.required => {
                return Err(fail(
                    "invalid_request",
                    "this client must use PKCE: send code_challenge (S256)",
                ))
            }
            None => None,
        };
        let nonce = match req.nonce.as_deref() {
            None => None,
            Some(n) if !n.is_empty() && n.len() <= 255 && n.bytes().all(|b| b.is_ascii_graphic() || b == b' ') => {
                Some(n.to_owned())
            }
            Some(_) => return Err(fail("invalid_request", "nonce must be 1 to 255 printable characters")),
        };
        Ok(CheckedRequest {
            pushed: req.request_uri.clone(),
            client,
            redirect_uri_sent: req.redirect_uri.is_some(),
            redirect_uri,
            scopes,
            state,
            challenge,
            nonce,
            prompt,
            max_age,
        })
    }

    /// Issue an authorization code for a checked request and the user of a login session; returns the code.
    pub async fn create_code(&self, req: &CheckedRequest, session: &LoginSession) -> Result<String> {
        let owner = session.owner();
        let code = crypto::random_token(32);
        let (code_challenge, code_challenge_method) = match &req.challenge {
            Some((c, m)) => (Some(c.clone()), Some(m.clone())),
            None => (None, None),
        };
        self.store()
            .insert_code(&CodeRecord {
                code_hash: crypto::hash(&code),
                grant_id: crypto::random_token(16),
                client_id: req.client.client_id.clone(),
                redirect_uri: req.redirect_uri_sent.then(|| req.redirect_uri.clone()),
                scope: owner.allowed_scopes(req.scopes.clone()).to_string(),
                subject: owner.subject.clone(),
                code_challenge,
                code_challenge_method,
                expires_at: self.store.now() + CODE_LIFETIME,
                nonce: req.nonce.clone(),
                sid: Some(session.sid.clone()),
                auth_time: Some(session.auth_time),
            })
            .await?;
        Ok(code)
    }

    /// The redirect for a successful authorization: `code`, `state` and `iss` (RFC 9207) added to the URI.
    pub fn code_redirect(&self, req: &CheckedRequest, code: &str) -> String {
        redirect_with(
            &req.redirect_uri,
            &[
                ("code", Some(code)),
                ("state", req.state.as_deref()),
                ("iss", Some(&self.settings().issuer)),
            ],
        )
    }

    /// Add a resident user (argon2id); returns its subject.
    pub async fn add_user(&self, username: &str, password: &str) -> Result<String> {
        let user = keymanager::connector_kit::NewUser {
            username: username.to_owned(),
            password: password.to_owned(),
            roles: Vec::new(),
            profile: Default::default(),
        };
        StoreUsers::new(self.store().clone()).add(&user).await
    }

    /// Check a user's credentials with the configured authenticator, under brute-force protection (see
    /// [`BruteForceSettings`](crate::BruteForceSettings)): `address` is the client's, when known. A locked-out
    /// name or address is [`Error::RateLimited`] with the time left, before any password is checked; a failure
    /// is answered after a delay that grows with the failures; a full password-hashing queue is [`Error::Busy`].
    pub async fn authenticate_user(
        &self,
        username: &str,
        password: &str,
        address: Option<std::net::IpAddr>,
    ) -> Result<Option<ResourceOwner>> {
        self.login_guard
            .check(username, address, self.store.clock().instant())?;
        match self.users.authenticate(username, password).await? {
            Some(owner) => {
                self.login_guard.succeeded(username);
                Ok(Some(owner))
            }
            None => {
                let delay = self.login_guard.failed(username, address, self.store.clock().instant());
                tokio::time::sleep(delay).await;
                Ok(None)
            }
        }
    }

    fn refresh_wanted(client: &ClientRecord, scopes: &[String]) -> bool {
        client.grant_types.contains(&GrantType::RefreshToken) || scopes.iter().any(|s| s == "offline_access")
    }

    pub(crate) async fn new_refresh_token(
        &self,
        client: &ClientRecord,
        subject: &str,
        scope: &str,
        grant_id: &str,
        login: Option<OpenId<'_>>,
        cnf: Option<&serde_json::Value>,
    ) -> Result<Token> {
        let token = crypto::random_token(32);
        let lifetime = client
            .refresh_token_lifetime
            .unwrap_or(self.settings().refresh_token_lifetime);
        self.store()
            .insert_refresh(&RefreshRecord {
                token_hash: crypto::hash(&token),
                grant_id: grant_id.to_owned(),
                client_id: client.client_id.clone(),
                subject: subject.to_owned(),
                scope: scope.to_owned(),
                expires_at: keymanager::connector_kit::model::seconds_after(
                    "refresh_token_lifetime",
                    self.store.now(),
                    lifetime,
                )?,
                sid: login.and_then(|l| l.sid).map(str::to_owned),
                auth_time: login.and_then(|l| l.auth_time),
                revoked_unused: false,
                cnf: cnf.map(serde_json::Value::to_string),
            })
            .await?;
        Ok(Token::new(token))
    }

    async fn revoke_family(&self, grant_id: &str) -> Result<()> {
        let longest = self
            .settings()
            .refresh_token_lifetime
            .max(self.settings().max_access_token_lifetime);
        let until =
            keymanager::connector_kit::model::seconds_after("refresh_token_lifetime", self.store.now(), longest)?;
        self.store().revoke_grant(grant_id, until).await?;
        tracing::warn!(
            grant_id,
            "a code or refresh token was replayed; its whole grant is revoked"
        );
        Ok(())
    }

    pub(crate) async fn exchange_code(
        &self,
        who: &AuthenticatedClient,
        code: &Token,
        redirect_uri: Option<&str>,
        verifier: Option<&Token>,
        request: &TokenRequest,
    ) -> Result<AccessToken> {
        let client = &who.client;
        if !client.grant_types.contains(&GrantType::AuthorizationCode) {
            return Err(unauthorized_client(
                "this client may not use the authorization code grant",
            ));
        }
        let record = match self.store().use_code(&crypto::hash(code.expose_secret())).await? {
            Use::Invalid => return Err(invalid_grant("the code is invalid or has expired")),
            Use::Replayed(r) => {
                self.revoke_family(&r.grant_id).await?;
                return Err(invalid_grant(
                    "the code was used before; the tokens issued with it are revoked",
                ));
            }
            Use::Fresh(r) => r,
        };
        if record.client_id != client.client_id {
            return Err(invalid_grant("the code was issued to another client"));
        }
        // RFC 6749 §4.1.3: required, and identical, when the authorization request carried one.
        match (record.redirect_uri.as_deref(), redirect_uri) {
            (Some(sent), Some(given)) if sent == given => {}
            (Some(_), Some(_)) => return Err(invalid_grant("redirect_uri differs from the authorization request")),
            (Some(_), None) => {
                return Err(Error::invalid_field(
                    "redirect_uri",
                    "is required: the authorization request carried one",
                ));
            }
            (None, Some(given)) if client.redirect_uris.iter().any(|r| r.matches(given)) => {}
            (None, Some(_)) => return Err(invalid_grant("redirect_uri is not registered for this client")),
            (None, None) => {}
        }
        match (&record.code_challenge, verifier) {
            (Some(challenge), Some(v)) => {
                let v = v.expose_secret();
                let ok = pkce_text_ok(v)
                    && match record.code_challenge_method.as_deref() {
                        Some("plain") => {
                            aws_lc_rs::constant_time::verify_slices_are_equal(v.as_bytes(), challenge.as_bytes())
                                .is_ok()
                        }
                        _ => {
                            use base64::Engine;
                            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, v.as_bytes());
                            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
                            aws_lc_rs::constant_time::verify_slices_are_equal(computed.as_bytes(), challenge.as_bytes())
                                .is_ok()
                        }
                    };
                if !ok {
                    return Err(invalid_grant("the code_verifier does not match the code_challenge"));
                }
            }
            (Some(_), None) => return Err(invalid_grant("code_verifier is required: the authorization used PKCE")),
            (None, Some(_)) => {
                return Err(invalid_grant(
                    "code_verifier sent, but the authorization request had no code_challenge",
                ))
            }
            (None, None) => {}
        }
        let scopes = parse_stored_scope(&record.scope)?;
        self.store()
            .record_user_grant(
                &record.grant_id,
                &record.subject,
                &client.client_id,
                self.revocation_horizon()?,
            )
            .await?;
        self.mint(Mint {
            binding: crate::server::Binding::of(request),
            exchange: None,
            grant: Issued::AuthorizationCode,
            client,
            secret_id: who.secret_id.as_deref(),
            subject: &record.subject,
            refresh: Self::refresh_wanted(client, &scopes),
            scopes,
            grant_id: Some(&record.grant_id),
            validity: request.validity,
            openid: Some(OpenId {
                nonce: record.nonce.as_deref(),
                // Codes from before login sessions: the user signed in when the code was made.
                auth_time: record.auth_time.or(Some(record.expires_at - CODE_LIFETIME)),
                sid: record.sid.as_deref(),
            }),
        })
        .await
    }

    pub(crate) async fn refresh(
        &self,
        who: &AuthenticatedClient,
        token: &Token,
        request: &TokenRequest,
    ) -> Result<AccessToken> {
        let client = &who.client;
        if !client.grant_types.contains(&GrantType::RefreshToken) {
            return Err(unauthorized_client("this client may not use the refresh_token grant"));
        }
        // Check the whole request before the token is spent: a refused refresh leaves it usable (RFC 6749 §6,
        // RFC 9700 §4.14), so the client's corrected retry is not taken for a replay.
        let hash = crypto::hash(token.expose_secret());
        let record = match self.store().find_refresh(&hash).await? {
            Use::Invalid => return Err(invalid_grant("the refresh token is invalid or has expired")),
            // Revoked, never used: not a replay (nothing more to revoke); say why it stopped working.
            Use::Replayed(r) if r.revoked_unused => return Err(revoked_refresh(&r)),
            Use::Replayed(r) => return Err(self.replayed_refresh(&r.grant_id).await),
            Use::Fresh(r) => r,
        };
        if record.client_id != client.client_id {
            return Err(invalid_grant("the refresh token was issued to another client"));
        }
        // A public client's bound refresh token is used only with the same key or certificate (RFC 9449 §5, RFC
        // 8705 §4): the request's binding, read by the token endpoint, must be the one stored.
        if let Some(stored) = &record.cnf {
            let stored: serde_json::Value = serde_json::from_str(stored)
                .map_err(|e| Error::storage(format!("a refresh token's binding does not read: {e}")))?;
            if crate::server::Binding::of(request).confirmation().as_ref() != Some(&stored) {
                let code = if stored.get("jkt").is_some() {
                    "invalid_dpop_proof"
                } else {
                    "invalid_grant"
                };
                return Err(Error::invalid_grant(
                    code,
                    "the refresh token is bound to a key or certificate: present the same one",
                ));
            }
        }
        let original = parse_stored_scope(&record.scope)?;
        // A refresh may narrow the scope, never widen it (RFC 6749 §6).
        let scopes = if request.scopes.is_empty() {
            original
        } else if let Some(extra) = request.scopes.iter().find(|s| !original.contains(s)) {
            return Err(Error::invalid_scope(format!(
                "scope `{extra}` was not granted originally"
            )));
        } else {
            request.scopes.clone()
        };
        self.lifetime_for(client, request.validity)?;
        match self.store().use_refresh(&hash).await? {
            Use::Fresh(_) => {}
            Use::Invalid => return Err(invalid_grant("the refresh token is invalid or has expired")),
            Use::Replayed(r) => return Err(self.replayed_refresh(&r.grant_id).await),
        }
        self.mint(Mint {
            binding: crate::server::Binding::of(request),
            exchange: None,
            grant: Issued::RefreshToken,
            client,
            secret_id: who.secret_id.as_deref(),
            subject: &record.subject,
            scopes,
            grant_id: Some(&record.grant_id),
            validity: request.validity,
            refresh: true,
            openid: Some(OpenId {
                nonce: None,
                auth_time: record.auth_time,
                sid: record.sid.as_deref(),
            }),
        })
        .await
    }

    /// A refresh token presented again after it was rotated: revoke its family, and say so.
    ///
    /// (A refresh token revoked before any use is answered by [`revoked_refresh`] instead.)
    async fn replayed_refresh(&self, grant_id: &str) -> Error {
        match self.revoke_family(grant_id).await {
            Ok(()) => invalid_grant("the refresh token was used before; its whole family is revoked"),
            Err(e) => e,
        }
    }

    pub(crate) async fn password(
        &self,
        who: &AuthenticatedClient,
        username: &str,
        password: &Token,
        request: &TokenRequest,
    ) -> Result<AccessToken> {
        let client = &who.client;
        if !client.grant_types.contains(&GrantType::Password) {
            return Err(unauthorized_client("the password grant is off for this client"));
        }
        let Some(owner) = self
            .authenticate_user(username, password.expose_secret(), request.client_address)
            .await?
        else {
            return Err(invalid_grant("invalid resource owner credentials"));
        };
        let scopes = owner.allowed_scopes(granted_scopes(client, &request.scopes)?);
        let grant_id = crypto::random_token(16);
        self.store()
            .record_user_grant(&grant_id, &owner.subject, &client.client_id, self.revocation_horizon()?)
            .await?;
        self.mint(Mint {
            binding: crate::server::Binding::of(request),
            exchange: None,
            grant: Issued::Password,
            client,
            secret_id: who.secret_id.as_deref(),
            subject: &owner.subject,
            refresh: Self::refresh_wanted(client, &scopes),
            scopes,
            grant_id: Some(&grant_id),
            validity: request.validity,
            openid: None,
        })
        .await
    }
}

/// A scope string this server stored itself; one that no longer parses is a storage fault.
fn parse_stored_scope(text: &str) -> Result<Scopes> {
    Scopes::parse(text).map_err(|m| Error::storage(format!("a stored scope is malformed: {m}")))
}

/// `uri` with query parameters added (those that are `Some`).
pub fn redirect_with(uri: &str, params: &[(&str, Option<&str>)]) -> String {
    match Url::parse(uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    if let Some(v) = v {
                        q.append_pair(k, v);
                    }
                }
            }
            url.to_string()
        }
        Err(_) => uri.to_owned(),
    }
}

/// A refresh token revoked before it was used: its sign-in session ended (a sign-out, the user changed or deleted),
/// or its grant was revoked. Said as that, not as a replay.
fn revoked_refresh(r: &crate::store::RefreshRecord) -> Error {
    if r.sid.is_some() {
        invalid_grant(
            "the refresh token was revoked: its sign-in session ended (signed out, or the user changed); sign in again",
        )
    } else {
        invalid_grant("the refresh token was revoked; sign in again")
    }
}
