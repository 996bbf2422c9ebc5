//! The generic vocabulary every key manager speaks, named as OAuth 2.0 (RFC 6749) and its RFCs name things.
//!
//! Platform words map onto it: consumer key = [`ClientId`], consumer secret = [`ClientSecret`], production /
//! sandbox = [`KeyType`].

mod audit;
mod bearer;
mod capabilities;
mod challenge;
mod client;
mod clock;
mod grant_type;
mod ids;
mod limits;
mod proof_log;
mod redirect_uri;
mod request_path;
mod revocation;
mod scope;
mod secret;
mod token;
mod token_profile;

pub use audit::{Actor, ActorKind, AuditRecord, AuditSink, Outcome};
pub use bearer::{access_token, bearer_token, TokenScheme};
pub use capabilities::Capabilities;
pub use challenge::{Challenge, DPOP_SIGNING_ALG_VALUES};
pub use client::{ClientSpec, KeyType, OAuthClient, PkcePolicy, TokenEndpointAuthMethod};
pub use clock::{now, system_clock, Clock, ManualClock, SystemClock};
pub use grant_type::GrantType;
pub use ids::{ClientId, ClientSecret, Token};
pub use limits::{
    check_duration, check_name, check_text, is_bidi_control, seconds_after, MAX_DURATION_SECONDS, MAX_NAME_LENGTH,
    MAX_PLAIN_NAME_LENGTH, MAX_REDIRECT_URIS, MAX_SCOPES,
};
pub use proof_log::{ProofLog, PROOF_RECORD_SECONDS};
pub use redirect_uri::{check_redirect_uri, redirect_uri_matches, RedirectUri, MAX_REDIRECT_URI_LENGTH};
pub use request_path::{normalize_path, path_lowercase, PathRefusal};
pub use revocation::{GatewayEntry, GatewayEvent, GatewayNotice, RevocationFeed, RevocationSink, Revoked};
pub use scope::{is_valid_scope_token, parse_scope, scope_tokens, Scope, Scopes};
pub use secret::{mask_secret, IssuedSecret, SecretInfo, SecretSpec, SecretStatus};
pub use token::{
    AccessToken, Grant, RevocationRequest, TokenInfo, TokenRequest, TokenTypeHint, ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE,
};
pub use token_profile::{ScopeClaim, TokenProfile};
