//! JWS signing keys (ES256, RS256, EdDSA), parsed once and kept for the issuance hot path.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use keymanager::connector_kit::{Error, Result};
use serde_json::{json, Value};

/// A JWS algorithm the resident server signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256 (the default).
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    Rs256,
    /// Ed25519.
    EdDsa,
}

impl Algorithm {
    /// The JWS `alg` name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Rs256 => "RS256",
            Algorithm::EdDsa => "EdDSA",
        }
    }
}

impl FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ES256" => Ok(Algorithm::Es256),
            "RS256" => Ok(Algorithm::Rs256),
            "EdDSA" => Ok(Algorithm::EdDsa),
            other => Err(format!("`{other}` is not supported; expected ES256, RS256 or EdDSA")),
        }
    }
}

enum Pair {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

/// A parsed signing key with its `kid`. `Debug` shows the `kid` and algorithm only.
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    pair: Pair,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

fn crypto_err(what: &str) -> Error {
    Error::storage(format!("signing key: {what}"))
}

impl SigningKey {
    /// Generate a new key; returns it with its PKCS#8 DER encoding for storage.
    pub fn generate(alg: Algorithm) -> Result<(SigningKey, Vec<u8>)> {
        let rng = SystemRandom::new();
        let pkcs8 = match alg {
            Algorithm::Es256 => EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| crypto_err("ES256 key generation failed"))?
                .as_ref()
                .to_vec(),
            Algorithm::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| crypto_err("Ed25519 key generation failed"))?
                .as_ref()
                .to_vec(),
            Algorithm::Rs256 => {
                use aws_lc_rs::encoding::AsDer;
                let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| crypto_err("RSA key generation failed"))?;
                let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> =
                    pair.as_der().map_err(|_| crypto_err("RSA key encoding failed"))?;
                der.as_ref().to_vec()
            }
        };
        let kid = crate::crypto::random_token(16);
        let key = SigningKey::from_pkcs8(kid, alg, &pkcs8)?;
        Ok((key, pkcs8))
    }

    /// Parse a stored key.
    pub fn from_pkcs8(kid: String, alg: Algorithm, pkcs8: &[u8]) -> Result<SigningKey> {
        let pair = match alg {
            Algorithm::Es256 => Pair::Es256(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(|e| crypto_err(&format!("stored ES256 key rejected: {e}")))?,
            ),
            Algorithm::Rs256 => Pair::Rs256(
                RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| crypto_err(&format!("stored RS256 key rejected: {e}")))?,
            ),
            Algorithm::EdDsa => Pair::EdDsa(
                Ed25519KeyPair::from_pkcs8(pkcs8)
                    .map_err(|e| crypto_err(&format!("stored EdDSA key rejected: {e}")))?,
            ),
        };
        Ok(SigningKey {
            kid,
            alg,
            pair,
            rng: SystemRandom::new(),
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// Sign `header.claims` as a compact JWS. `header` gets `alg` and `kid` added.
    pub fn sign_jwt(&self, typ: &str, claims: &Value) -> Result<String> {
        let header = json!({"alg": self.alg.as_str(), "typ": typ, "kid": self.kid});
        let mut out = String::with_capacity(512);
        URL_SAFE_NO_PAD.encode_string(header.to_string(), &mut out);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(claims.to_string(), &mut out);
        let signature = self.sign(out.as_bytes())?;
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut out);
        Ok(out)
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        match &self.pair {
            Pair::Es256(p) => Ok(p
                .sign(&self.rng, message)
                .map_err(|_| crypto_err("ES256 signing failed"))?
                .as_ref()
                .to_vec()),
            Pair::EdDsa(p) => Ok(p.sign(message).as_ref().to_vec()),
            Pair::Rs256(p) => {
                let mut sig = vec![0u8; p.public_modulus_len()];
                p.sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
                    .map_err(|_| crypto_err("RS256 signing failed"))?;
                Ok(sig)
            }
        }
    }

    /// Verify a signature made with this key.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match &self.pair {
            Pair::Es256(p) => UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, p.public_key().as_ref())
                .verify(message, sig)
                .is_ok(),
            Pair::EdDsa(p) => UnparsedPublicKey::new(&signature::ED25519, p.public_key().as_ref())
                .verify(message, sig)
                .is_ok(),
            Pair::Rs256(p) => UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, p.public_key().as_ref())
                .verify(message, sig)
                .is_ok(),
        }
    }

    /// The public key as a JWK (RFC 7517), with `kid`, `alg` and `use: sig`.
    pub fn public_jwk(&self) -> Value {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let mut jwk = match &self.pair {
            Pair::Es256(p) => {
                // Uncompressed point: 0x04 || X (32) || Y (32).
                let point = p.public_key().as_ref();
                let (x, y) = point[1..].split_at(32);
                json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)})
            }
            Pair::EdDsa(p) => json!({"kty": "OKP", "crv": "Ed25519", "x": b64(p.public_key().as_ref())}),
            Pair::Rs256(p) => {
                let public = p.public_key();
                json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                })
            }
        };
        if let Some(obj) = jwk.as_object_mut() {
            obj.insert("kid".into(), self.kid.clone().into());
            obj.insert("alg".into(), self.alg.as_str().into());
            obj.insert("use".into(), "sig".into());
        }
        jwk
    }
}

/// A compact JWS split into its parts, not yet verified.
pub struct UnverifiedJwt<'a> {
    /// The decoded header.
    pub header: Value,
    /// The decoded claims.
    pub claims: Value,
    /// `header.claims`, the signed input.
    pub signing_input: &'a str,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

/// Split and decode a compact JWS; `None` when it is not one.
pub fn parse_jwt(token: &str) -> Option<UnverifiedJwt<'_>> {
    let (signing_input, sig) = token.rsplit_once('.')?;
    let (h, c) = signing_input.split_once('.')?;
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
    Some(UnverifiedJwt {
        header,
        claims,
        signing_input,
        signature: URL_SAFE_NO_PAD.decode(sig).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_algorithm_signs_verifies_and_round_trips_through_pkcs8() {
        for alg in [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa] {
            let (key, pkcs8) = SigningKey::generate(alg).unwrap();
            let token = key.sign_jwt("at+jwt", &json!({"sub": "x"})).unwrap();
            let parsed = parse_jwt(&token).unwrap();
            assert_eq!(parsed.header["alg"], alg.as_str());
            assert_eq!(parsed.header["typ"], "at+jwt");
            assert_eq!(parsed.header["kid"], key.kid());
            let reloaded = SigningKey::from_pkcs8(key.kid().into(), alg, &pkcs8).unwrap();
            assert!(reloaded.verify(parsed.signing_input.as_bytes(), &parsed.signature));
            let mut tampered = parsed.signature.clone();
            tampered[0] ^= 1;
            assert!(!reloaded.verify(parsed.signing_input.as_bytes(), &tampered));
            assert_eq!(key.public_jwk()["alg"], alg.as_str());
            assert!(!format!("{key:?}").contains("pkcs8"));
        }
    }
}
