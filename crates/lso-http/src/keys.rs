//! `lso`'s own token signing keys: ES256 (P-256) key pairs, the newest signing, the ones
//! before it verifying until their tokens have expired, published as a JWKS so partners can
//! verify `lso`'s tokens. Kept in a private file of the data directory (`signing-keys.json`),
//! which `lso keys rotate` rewrites and a running server reads again when it changes.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A key that could not be made or read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

/// One key pair.
#[derive(Clone)]
pub struct SigningKey {
    /// Its id, in the `kid` of the tokens it signs.
    pub kid: String,
    /// When it was made (milliseconds).
    pub created: i64,
    /// After this (milliseconds) it verifies no more; `None` while it signs.
    pub retire_after: Option<i64>,
    pkcs8: Vec<u8>,
    pub(crate) encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
    x: String,
    y: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    kid: String,
    created: i64,
    retire_after: Option<i64>,
    pkcs8: String,
}

impl SigningKey {
    fn generate(now: i64) -> Result<Self, KeyError> {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| KeyError("no P-256 key could be made".into()))?;
        let id: [u8; 12] = rand::random();
        SigningKey::from_parts(URL_SAFE_NO_PAD.encode(id), now, None, pkcs8.as_ref().to_vec())
    }

    fn from_parts(kid: String, created: i64, retire_after: Option<i64>, pkcs8: Vec<u8>) -> Result<Self, KeyError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
            .map_err(|_| KeyError(format!("key {kid} is not a P-256 PKCS#8 key")))?;
        let point = pair.public_key().as_ref();
        if point.len() != 65 || point[0] != 4 {
            return Err(KeyError(format!("key {kid} has no uncompressed public point")));
        }
        let (x, y) = (URL_SAFE_NO_PAD.encode(&point[1..33]), URL_SAFE_NO_PAD.encode(&point[33..]));
        let decoding =
            DecodingKey::from_ec_components(&x, &y).map_err(|e| KeyError(format!("key {kid} cannot verify: {e}")))?;
        let encoding = EncodingKey::from_ec_der(&pkcs8);
        Ok(SigningKey { kid, created, retire_after, pkcs8, encoding, decoding, x, y })
    }

    /// Its public half as a JWK.
    pub fn jwk(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": self.x, "y": self.y, "kid": self.kid, "alg": "ES256", "use": "sig"})
    }
}

/// The keys of a Seller, oldest first; the last signs.
#[derive(Clone)]
pub struct KeySet {
    /// The issuer (`iss`) of the tokens they sign.
    pub issuer: String,
    keys: Vec<SigningKey>,
}

impl KeySet {
    /// A set of one new key, for tokens of `issuer`.
    pub fn generate(issuer: &str, now: i64) -> Result<Self, KeyError> {
        Ok(KeySet { issuer: issuer.to_owned(), keys: vec![SigningKey::generate(now)?] })
    }

    /// The key that signs.
    pub fn current(&self) -> &SigningKey {
        self.keys.last().expect("a key set is never empty")
    }

    /// The key `kid`, if it still verifies at `now`.
    pub fn find(&self, kid: &str, now: i64) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid && k.retire_after.is_none_or(|until| until > now))
    }

    /// A new signing key; the previous one verifies until `now + overlap_millis` (the longest
    /// life of a token it signed), and keys already past their time are dropped.
    pub fn rotate(&mut self, now: i64, overlap_millis: i64) -> Result<(), KeyError> {
        let fresh = SigningKey::generate(now)?;
        for key in &mut self.keys {
            key.retire_after.get_or_insert(now + overlap_millis);
        }
        self.keys.retain(|k| k.retire_after.is_some_and(|until| until > now));
        self.keys.push(fresh);
        Ok(())
    }

    /// The public keys that verify at `now`, as a JWKS document.
    pub fn jwks(&self, now: i64) -> Value {
        let keys: Vec<Value> =
            self.keys.iter().filter(|k| k.retire_after.is_none_or(|until| until > now)).map(SigningKey::jwk).collect();
        json!({"keys": keys})
    }

    /// The set as the key file holds it (private keys included).
    pub fn to_file(&self) -> String {
        let stored: Vec<Stored> = self
            .keys
            .iter()
            .map(|k| Stored {
                kid: k.kid.clone(),
                created: k.created,
                retire_after: k.retire_after,
                pkcs8: STANDARD.encode(&k.pkcs8),
            })
            .collect();
        serde_json::to_string_pretty(&json!({"issuer": self.issuer, "keys": stored})).expect("keys serialise")
    }

    /// The set a key file holds.
    pub fn from_file(text: &str) -> Result<Self, KeyError> {
        #[derive(Deserialize)]
        struct File {
            issuer: String,
            keys: Vec<Stored>,
        }
        let file: File = serde_json::from_str(text).map_err(|e| KeyError(format!("not a key file: {e}")))?;
        let keys = file
            .keys
            .into_iter()
            .map(|s| {
                let pkcs8 = STANDARD.decode(&s.pkcs8).map_err(|_| KeyError(format!("key {} is not base64", s.kid)))?;
                SigningKey::from_parts(s.kid, s.created, s.retire_after, pkcs8)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(KeyError("the key file holds no key".into()));
        }
        Ok(KeySet { issuer: file.issuer, keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotated_set_signs_with_the_new_key_and_verifies_with_the_old_until_it_retires() {
        let mut keys = KeySet::generate("lso", 0).unwrap();
        let first = keys.current().kid.clone();
        keys.rotate(1_000, 500).unwrap();
        let second = keys.current().kid.clone();
        assert_ne!(first, second);
        assert!(keys.find(&first, 1_499).is_some() && keys.find(&first, 1_500).is_none());
        assert_eq!(keys.jwks(1_200)["keys"].as_array().unwrap().len(), 2);
        assert_eq!(keys.jwks(1_600)["keys"].as_array().unwrap().len(), 1);
        let read = KeySet::from_file(&keys.to_file()).unwrap();
        assert_eq!((read.current().kid.as_str(), read.issuer.as_str()), (second.as_str(), "lso"));
        assert_eq!(read.jwks(1_200), keys.jwks(1_200));
        // The next rotation forgets the key already retired.
        keys.rotate(2_000, 500).unwrap();
        assert!(keys.keys.iter().all(|k| k.kid != first));
    }
}
