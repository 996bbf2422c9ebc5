//! Token minting: the grants' tokens, their lifetimes and scopes, and ID tokens.

use super::*;

impl ResidentServer {
    // ----- tokens -----

    /// Issue a token for an authenticated client (RFC 6749 §4.4 for `client_credentials`).
    pub async fn issue_token(&self, request: &TokenRequest) -> Result<AccessToken> {
        let who = self
            .authenticate(
                request.client_id.as_str(),
                request.client_secret.as_ref().map(|s| s.expose_secret()),
            )
            .await?;
        self.issue_for(&who, request).await
    }

    /// Issue a token for a client that already authenticated, by any grant it may use. The password grant counts
    /// failures per user name and per [`TokenRequest::client_address`].
    pub async fn issue_for(&self, who: &AuthenticatedClient, request: &TokenRequest) -> Result<AccessToken> {
        // Every path (the token endpoint, the key manager in-process) honours a client's sender constraints.
        if request.dpop_jkt.is_none() && crate::client_metadata::requires_dpop(&who.client) {
            return Err(Error::invalid_grant(
                "invalid_dpop_proof",
                "this client is registered with dpop_bound_access_tokens: its tokens are requested with a DPoP proof",
            ));
        }
        if request.certificate_thumbprint.is_none() && crate::client_metadata::requires_certificate(&who.client) {
            return Err(Error::invalid_grant(
                "invalid_request",
                "this client is registered with tls_client_certificate_bound_access_tokens: its tokens are requested \
                 over TLS with its client certificate",
            ));
        }
        match &request.grant {
            Grant::ClientCredentials => self.client_credentials(who, request).await,
            Grant::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                self.exchange_code(who, code, redirect_uri.as_deref(), code_verifier.as_ref(), request)
                    .await
            }
            Grant::RefreshToken { refresh_token } => self.refresh(who, refresh_token, request).await,
            Grant::Password { username, password } => self.password(who, username, password, request).await,
            Grant::TokenExchange { .. } => self.exchange(who, request).await,
            _ => Err(Error::invalid_grant(
                "unsupported_grant_type",
                "this grant type is not supported",
            )),
        }
    }

    async fn client_credentials(&self, who: &AuthenticatedClient, request: &TokenRequest) -> Result<AccessToken> {
        let client = &who.client;
        if client.public_client {
            return Err(unauthorized_client("a public client cannot use client_credentials"));
        }
        if !client.grant_types.contains(&GrantType::ClientCredentials) {
            return Err(unauthorized_client(
                "this client may not use the client_credentials grant",
            ));
        }
        let scopes = granted_scopes(client, &request.scopes)?;
        self.mint(Mint {
            binding: Binding::of(request),
            exchange: None,
            grant: Issued::ClientCredentials,
            client,
            secret_id: who.secret_id.as_deref(),
            subject: &client.client_id,
            scopes,
            grant_id: None,
            validity: request.validity,
            refresh: false,
            openid: None,
        })
        .await
    }

    /// Sign (or record) an access token, and a refresh token when asked.
    pub(crate) async fn mint(&self, m: Mint<'_>) -> Result<AccessToken> {
        let grant = m.grant;
        let issued = self.mint_token(m).await;
        if issued.is_ok() {
            let counters = self.issued.get_or_init(|| {
                let name = self.metrics_name.get().cloned().unwrap_or_else(|| crate::KIND.to_owned());
                Issued::ALL.map(|g| {
                    metrics::counter!("keymanager_tokens_issued_total", "key_manager" => name.clone(), "grant" => g.label())
                })
            });
            counters[grant as usize].increment(1);
        }
        issued
    }

    async fn mint_token(&self, m: Mint<'_>) -> Result<AccessToken> {
        let client = m.client;
        let iat = self.store.now();
        let mut lifetime = self.lifetime_for(client, m.validity)?;
        if let Some(x) = &m.exchange {
            lifetime = lifetime.min(u64::try_from(x.not_after.saturating_sub(iat)).unwrap_or(0));
        }
        let exp = seconds_after("validity", iat, lifetime)?;
        let jti = crypto::random_token(16);
        let scope = m.scopes.to_string();
        let token = match self.settings.token_format {
            TokenFormat::Jwt => {
                let audience = m
                    .exchange
                    .as_ref()
                    .and_then(|x| x.audience)
                    .unwrap_or(&self.settings.audience);
                let mut claims = json!({
                    "iss": self.settings.issuer,
                    "sub": m.subject,
                    "aud": audience,
                    "exp": exp,
                    "iat": iat,
                    "nbf": iat,
                    "jti": jti,
                    "client_id": client.client_id,
                    "scope": scope,
                });
                if let Some(obj) = claims.as_object_mut() {
                    if let Some(sid) = m.secret_id {
                        obj.insert("secret_id".into(), sid.into());
                    }
                    if let Some(g) = m.grant_id {
                        obj.insert("grant_id".into(), g.into());
                    }
                    if let Some(cnf) = m.binding.confirmation() {
                        obj.insert("cnf".into(), cnf);
                    }
                    if let Some(x) = &m.exchange {
                        obj.insert("act".into(), x.act.clone());
                    }
                }
                self.keys.current().await?.sign_jwt(ACCESS_TOKEN_TYP, &claims)?
            }
            TokenFormat::Opaque if m.exchange.is_some() => {
                return Err(Error::invalid_grant(
                    "invalid_request",
                    "this server exchanges tokens for JWT access tokens only (access_token_format = \"jwt\")",
                ));
            }
            TokenFormat::Opaque if m.binding.dpop_jkt.is_some() => {
                // An opaque token's record has no room for the key: refused rather than issued unbound.
                return Err(Error::invalid_grant(
                    "invalid_dpop_proof",
                    "this server binds only JWT access tokens to DPoP keys (access_token_format = \"jwt\")",
                ));
            }
            TokenFormat::Opaque if m.binding.certificate.is_some() => {
                return Err(Error::invalid_grant(
                    "invalid_request",
                    "this server binds only JWT access tokens to certificates (access_token_format = \"jwt\")",
                ));
            }
            TokenFormat::Opaque => {
                let token = crypto::random_token(32);
                self.store
                    .insert_token(&TokenRecord {
                        token_hash: crypto::hash(&token),
                        jti,
                        client_id: client.client_id.clone(),
                        secret_id: m.secret_id.map(str::to_owned),
                        subject: m.subject.to_owned(),
                        scope: scope.clone(),
                        audience: self.settings.audience.clone(),
                        issued_at: iat,
                        expires_at: exp,
                        grant_id: m.grant_id.map(str::to_owned),
                    })
                    .await?;
                token
            }
        };
        // A public client's refresh token is bound as its access token is (RFC 9449 §5, RFC 8705 §4); a
        // confidential client's is bound to its authentication.
        let refresh_cnf = if client.public_client {
            m.binding.confirmation()
        } else {
            None
        };
        let refresh_token = match (m.refresh, m.grant_id) {
            (true, Some(grant_id)) => Some(
                self.new_refresh_token(client, m.subject, &scope, grant_id, m.openid, refresh_cnf.as_ref())
                    .await?,
            ),
            _ => None,
        };
        let id_token = match m.openid {
            Some(o) if m.scopes.iter().any(|s| s == "openid") => {
                let claims = self.user_claims(m.subject, &m.scopes).await?;
                Some(Token::new(
                    self.id_token(client, m.subject, &token, o, iat, exp, claims).await?,
                ))
            }
            _ => None,
        };
        Ok(AccessToken {
            access_token: Token::new(token),
            token_type: if m.binding.dpop_jkt.is_some() { "DPoP" } else { "Bearer" }.into(),
            expires_in: Some(lifetime),
            scopes: m.scopes,
            refresh_token,
            id_token,
        })
    }

    /// The claims about a user its granted scopes show (OpenID Connect Core §5.4): `name` with `profile`, `email`
    /// and `email_verified` with `email`; none for a subject this store does not keep (a client, another directory).
    pub async fn user_claims(&self, subject: &str, scopes: &[String]) -> Result<serde_json::Map<String, Value>> {
        let mut out = serde_json::Map::new();
        let wants = |s: &str| scopes.iter().any(|g| g == s);
        if !(wants("profile") || wants("email")) {
            return Ok(out);
        }
        let Some(user) = self.store.get_user(subject).await? else {
            return Ok(out);
        };
        if wants("profile") {
            if let Some(n) = user.profile.name {
                out.insert("name".into(), n.into());
            }
        }
        if wants("email") {
            if let Some(e) = user.profile.email {
                out.insert("email".into(), e.into());
                out.insert("email_verified".into(), user.profile.email_verified.into());
            }
        }
        Ok(out)
    }

    /// An ID token (OpenID Connect Core §2, §3.1.3.6): who signed in, for which client, with the access token's
    /// `at_hash` and the request's `nonce`.
    #[allow(clippy::too_many_arguments)]
    async fn id_token(
        &self,
        client: &ClientRecord,
        subject: &str,
        access_token: &str,
        o: OpenId<'_>,
        iat: i64,
        exp: i64,
        user: serde_json::Map<String, Value>,
    ) -> Result<String> {
        // The client's registered algorithm (RS256 is always available, Core §15.1), else the configured one.
        let key = match ClientMetadata::of_record(&client.additional_properties)?.id_token_alg() {
            Some(alg) => self.keys.current_for(alg).await?.ok_or_else(|| {
                Error::storage(format!(
                    "the client's id_token_signed_response_alg {} is no longer one this server signs with",
                    alg.as_str()
                ))
            })?,
            None => self.keys.current().await?,
        };
        // The left half of the hash the signing algorithm uses (SHA-512 for Ed25519, as OpenID implementations do).
        let digest = match key.alg() {
            crate::Algorithm::EdDsa => aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, access_token.as_bytes()),
            _ => aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes()),
        };
        let half = &digest.as_ref()[..digest.as_ref().len() / 2];
        let mut claims = json!({
            "iss": self.settings.issuer,
            "sub": subject,
            "aud": client.client_id,
            "azp": client.client_id,
            "exp": exp,
            "iat": iat,
            "at_hash": base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, half),
        });
        if let Some(obj) = claims.as_object_mut() {
            if let Some(n) = o.nonce {
                obj.insert("nonce".into(), n.into());
            }
            if let Some(t) = o.auth_time {
                obj.insert("auth_time".into(), t.into());
            }
            if let Some(sid) = o.sid {
                obj.insert("sid".into(), sid.into());
            }
            obj.extend(user);
        }
        key.sign_jwt("JWT", &claims)
    }

    /// The lifetime of a token for `client`, `requested` (seconds) bounded by the client's and the server's maximum.
    pub(crate) fn lifetime_for(&self, client: &ClientRecord, requested: Option<u64>) -> Result<u64> {
        let max = client
            .access_token_lifetime
            .unwrap_or(self.settings.access_token_lifetime)
            .min(self.settings.max_access_token_lifetime);
        match requested {
            Some(v) => {
                check_duration("validity", v)?;
                Ok(v.min(max))
            }
            None => Ok(max),
        }
    }
}

/// What [`ResidentServer::mint`] issues.
/// The grants this server issues tokens for, as the issued-tokens metric labels them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Issued {
    ClientCredentials,
    AuthorizationCode,
    RefreshToken,
    Password,
    TokenExchange,
}

impl Issued {
    const ALL: [Issued; 5] = [
        Issued::ClientCredentials,
        Issued::AuthorizationCode,
        Issued::RefreshToken,
        Issued::Password,
        Issued::TokenExchange,
    ];

    fn label(self) -> &'static str {
        match self {
            Issued::ClientCredentials => "client_credentials",
            Issued::AuthorizationCode => "authorization_code",
            Issued::RefreshToken => "refresh_token",
            Issued::Password => "password",
            Issued::TokenExchange => "token_exchange",
        }
    }
}

pub(crate) struct Mint<'a> {
    /// The grant, for the issued-tokens metric.
    pub grant: Issued,
    pub client: &'a ClientRecord,
    pub secret_id: Option<&'a str>,
    pub subject: &'a str,
    pub scopes: keymanager::connector_kit::model::Scopes,
    pub grant_id: Option<&'a str>,
    pub validity: Option<u64>,
    pub refresh: bool,
    /// For the code and refresh grants: an ID token goes with the access token when `openid` was granted.
    pub openid: Option<OpenId<'a>>,
    /// What the access token is bound to (`cnf`), from the request.
    pub binding: Binding<'a>,
    /// For a token exchange (RFC 8693): its audience, actor and latest expiry.
    pub exchange: Option<Exchanged<'a>>,
}

/// What an access token is bound to (its `cnf` claim, RFC 7800): a DPoP key (RFC 9449 §6.1), a TLS client
/// certificate (RFC 8705 §3.1), both or neither.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Binding<'a> {
    /// The DPoP key's RFC 7638 thumbprint (`jkt`).
    pub dpop_jkt: Option<&'a str>,
    /// The certificate's SHA-256 thumbprint (`x5t#S256`).
    pub certificate: Option<&'a str>,
}

impl<'a> Binding<'a> {
    /// What the request asks the token to be bound to (set by the token endpoint once it checked the proof or
    /// read the connection's certificate).
    pub fn of(request: &'a TokenRequest) -> Binding<'a> {
        Binding {
            dpop_jkt: request.dpop_jkt.as_deref(),
            certificate: request.certificate_thumbprint.as_deref(),
        }
    }

    /// The `cnf` claim, when bound.
    pub fn confirmation(&self) -> Option<Value> {
        let mut cnf = serde_json::Map::new();
        if let Some(jkt) = self.dpop_jkt {
            cnf.insert("jkt".into(), jkt.into());
        }
        if let Some(x5t) = self.certificate {
            cnf.insert(keymanager::connector_kit::mtls::X5T_S256.into(), x5t.into());
        }
        (!cnf.is_empty()).then_some(Value::Object(cnf))
    }
}

/// What a token exchange (RFC 8693) sets on the token it issues.
#[derive(Debug, Clone)]
pub(crate) struct Exchanged<'a> {
    /// `aud`: where the token will be used (the server's audience when none was asked for).
    pub audience: Option<&'a str>,
    /// `act`: the party acting, with the chain before it (RFC 8693 §4.1).
    pub act: Value,
    /// The new token expires no later than the token exchanged.
    pub not_after: i64,
}

/// What an ID token needs beyond the access token (OpenID Connect Core §2).
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenId<'a> {
    /// The authorization request's `nonce`.
    pub nonce: Option<&'a str>,
    /// When the user authenticated (seconds since the epoch), where known.
    pub auth_time: Option<i64>,
    /// The login session the user signed in with (`sid`), where there is one.
    pub sid: Option<&'a str>,
}

pub(crate) fn granted_scopes(client: &ClientRecord, requested: &[String]) -> Result<Scopes> {
    if requested.is_empty() {
        return Ok(client.scopes.clone());
    }
    if let Some(s) = requested.iter().find(|s| !client.scopes.contains(s)) {
        return Err(Error::invalid_scope(format!(
            "scope `{s}` is not allowed for this client"
        )));
    }
    Ok(requested.iter().cloned().collect())
}
