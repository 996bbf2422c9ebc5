//! Newtypes for protocol values, so a client id cannot be passed where a secret is expected.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// An OAuth 2.0 `client_id` (the platform's consumer key). Not a secret.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    /// Wrap a client id.
    pub fn new(id: impl Into<String>) -> Self {
        ClientId(id.into())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({:?})", self.0)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ClientId {
    fn from(s: &str) -> Self {
        ClientId(s.to_owned())
    }
}

impl From<String> for ClientId {
    fn from(s: String) -> Self {
        ClientId(s)
    }
}

macro_rules! secret_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// `Debug` and `Display` never show the value; call [`expose_secret`](Self::expose_secret) where it
        /// must be sent. Serialization writes the plain value: only serialize it into an answer that is meant to
        /// carry it (once).
        #[derive(Clone, Deserialize)]
        #[serde(transparent)]
        pub struct $name(SecretString);

        impl $name {
            /// Wrap a plain value.
            pub fn new(value: impl Into<String>) -> Self {
                $name(SecretString::from(value.into()))
            }

            /// The plain value, for sending it where it belongs.
            pub fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([REDACTED])"))
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.0.expose_secret())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name::new(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name::new(s)
            }
        }
    };
}

secret_newtype!(
    /// An OAuth 2.0 `client_secret` (the platform's consumer secret).
    ClientSecret
);
secret_newtype!(
    /// A bearer token value (access, refresh, registration access or initial access token).
    Token
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secret_values() {
        let s = ClientSecret::new("plain-secret-123");
        let t = Token::new("eyJhbGciOi.token");
        assert_eq!(format!("{s:?}"), "ClientSecret([REDACTED])");
        assert!(!format!("{t:?}").contains("eyJ"));
        assert_eq!(s.expose_secret(), "plain-secret-123");
    }
}
