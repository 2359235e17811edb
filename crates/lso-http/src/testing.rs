//! The callers of other crates' router tests (feature `testing`): never built into a server.

use crate::{Authenticator, Principal};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lso_model::{Clock, SystemClock};
use serde_json::{Value, json};
use std::sync::Arc;

/// The callers of a router test: an authenticator on a test key, an operator's token and a
/// Buyer's (of `ACME`) from it, valid for ten minutes.
pub struct TestCallers {
    /// The authenticator the router checks tokens with.
    pub auth: Arc<Authenticator>,
    /// An operator's token.
    pub admin: String,
    /// Buyer `ACME`'s token.
    pub buyer: String,
}

impl Default for TestCallers {
    fn default() -> Self {
        let auth = Arc::new(Authenticator::ephemeral());
        let now = SystemClock.now_seconds();
        let admin = auth.mint(&Principal::administrator("ops"), now, 600);
        let buyer = auth.mint(&Principal::buyer("acme", vec!["ACME".into()]), now, 600);
        TestCallers { auth, admin, buyer }
    }
}

/// The content of a DER item and what follows it.
fn der_item(bytes: &[u8]) -> (&[u8], &[u8]) {
    let (length, header) = match bytes[1] {
        short if short < 0x80 => (usize::from(short), 2),
        long => {
            let n = usize::from(long & 0x7f);
            (bytes[2..2 + n].iter().fold(0, |acc, b| (acc << 8) | usize::from(*b)), 2 + n)
        }
    };
    (&bytes[header..header + length], &bytes[header + length..])
}

/// The PKCS#1 key inside a PKCS#8 one (SEQUENCE { version, algorithm, OCTET STRING }).
fn pkcs1_of(pkcs8: &[u8]) -> Vec<u8> {
    let (info, _) = der_item(pkcs8);
    let (_, rest) = der_item(info);
    let (_, rest) = der_item(rest);
    der_item(rest).0.to_vec()
}

/// A signing key of an identity provider played by a test or a benchmark.
pub struct IdpKey {
    kid: String,
    alg: Algorithm,
    key: EncodingKey,
    public: Option<Value>,
}

impl IdpKey {
    /// A new key `kid` for `alg` (ES256, EdDSA or RS256).
    pub fn new(kid: &str, alg: Algorithm) -> Self {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
        let random = aws_lc_rs::rand::SystemRandom::new();
        let mut public = None;
        let key = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_der(
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random).unwrap().as_ref(),
            ),
            Algorithm::EdDSA => {
                use aws_lc_rs::signature::KeyPair;
                use base64::Engine;
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&random).unwrap();
                let point = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap().public_key().as_ref().to_vec();
                let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(point);
                public = Some(json!({"kty": "OKP", "crv": "Ed25519", "x": x, "alg": "EdDSA", "kid": kid}));
                EncodingKey::from_ed_der(pkcs8.as_ref())
            }
            Algorithm::RS256 => {
                use aws_lc_rs::encoding::AsDer;
                let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
                EncodingKey::from_rsa_der(&pkcs1_of(pair.as_der().unwrap().as_ref()))
            }
            other => panic!("no test key for {other:?}"),
        };
        IdpKey { kid: kid.into(), alg, key, public }
    }

    /// Its public half as a JWK.
    pub fn jwk(&self) -> Value {
        if let Some(public) = &self.public {
            return public.clone();
        }
        let mut jwk = Jwk::from_encoding_key(&self.key, self.alg).unwrap();
        jwk.common.key_id = Some(self.kid.clone());
        serde_json::to_value(jwk).unwrap()
    }

    /// A token of `claims` signed with it.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }
}
