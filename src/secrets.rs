//! Secret sealing: AES-256-GCM over JSON values. Pure: key files and salts are
//! stored by the state layer.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use serde_json::Value;

use crate::value;

/// PBKDF2-HMAC-SHA256 rounds for passphrase-derived keys (OWASP 2023 figure).
pub const PBKDF2_ROUNDS: u32 = 600_000;
const KEY_CHECK_PLAINTEXT: &str = "morket-stack key check v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretsError {
    #[error("secret key is invalid: {0}")]
    BadKey(String),
    #[error("cannot decrypt a secret: the key does not match the one this state was written with")]
    WrongKey,
    #[error("sealed secret is malformed: {0}")]
    Malformed(String),
    #[error("secrets are sealed and no key was configured for this state")]
    NoKey,
}

#[derive(Clone)]
pub struct Crypter {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Crypter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Crypter(..)")
    }
}

/// Parses a key given as 64 hex digits or as base64 of 32 bytes.
pub fn parse_key(s: &str) -> Result<[u8; 32], SecretsError> {
    let s = s.trim();
    let bytes = if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(s).map_err(|e| SecretsError::BadKey(e.to_string()))?
    } else {
        B64.decode(s).map_err(|_| {
            SecretsError::BadKey("expected 64 hex digits or base64 of 32 bytes".into())
        })?
    };
    bytes
        .try_into()
        .map_err(|_| SecretsError::BadKey("expected 32 bytes (AES-256)".into()))
}

pub fn random_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut k);
    k
}

pub fn random_salt() -> [u8; 16] {
    let mut s = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut s);
    s
}

impl Crypter {
    pub fn new(key: &[u8; 32]) -> Self {
        Crypter {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    pub fn from_passphrase(passphrase: &str, salt: &[u8]) -> Self {
        let mut key = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(passphrase.as_bytes(), salt, PBKDF2_ROUNDS, &mut key);
        Self::new(&key)
    }

    pub fn encrypt(&self, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        B64.encode(out)
    }

    pub fn decrypt(&self, sealed: &str) -> Result<Vec<u8>, SecretsError> {
        let raw = B64
            .decode(sealed)
            .map_err(|e| SecretsError::Malformed(e.to_string()))?;
        if raw.len() < 12 + 16 {
            return Err(SecretsError::Malformed("too short".into()));
        }
        let (nonce, ct) = raw.split_at(12);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| SecretsError::WrongKey)
    }

    /// A token stored beside the state so a wrong key is detected at open.
    pub fn key_check(&self) -> String {
        self.encrypt(KEY_CHECK_PLAINTEXT.as_bytes())
    }

    pub fn verify(&self, key_check: &str) -> Result<(), SecretsError> {
        match self.decrypt(key_check) {
            Ok(p) if p == KEY_CHECK_PLAINTEXT.as_bytes() => Ok(()),
            _ => Err(SecretsError::WrongKey),
        }
    }

    /// Replaces every `$secret` with a `$sealed` ciphertext.
    pub fn seal(&self, v: &Value) -> Value {
        value::map(v, &mut |x| {
            value::as_secret(x).map(|inner| {
                let plain =
                    serde_json::to_vec(&value::reveal(inner)).expect("JSON value serializes");
                serde_json::json!({ value::SEALED: self.encrypt(&plain) })
            })
        })
    }

    /// Replaces every `$sealed` with the `$secret` it came from.
    pub fn unseal(&self, v: &Value) -> Result<Value, SecretsError> {
        let mut err = None;
        let out = value::map(v, &mut |x| {
            let sealed = value::as_sealed(x)?;
            match self.decrypt(sealed).and_then(|p| {
                serde_json::from_slice::<Value>(&p)
                    .map_err(|e| SecretsError::Malformed(e.to_string()))
            }) {
                Ok(inner) => Some(value::secret(inner)),
                Err(e) => {
                    err.get_or_insert(e);
                    Some(Value::Null)
                }
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seal_roundtrip_hides_plaintext() {
        let c = Crypter::new(&random_key());
        let v = json!({"pw": {"$secret": "hunter2-plaintext"}, "n": 1});
        let sealed = c.seal(&v);
        let text = serde_json::to_string(&sealed).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(value::as_sealed(&sealed["pw"]).is_some());
        assert_eq!(c.unseal(&sealed).unwrap(), v);
    }

    #[test]
    fn wrong_key_is_detected() {
        let a = Crypter::new(&random_key());
        let b = Crypter::new(&random_key());
        assert_eq!(b.verify(&a.key_check()), Err(SecretsError::WrongKey));
        a.verify(&a.key_check()).unwrap();
        let sealed = a.seal(&json!({"$secret": 1}));
        assert_eq!(b.unseal(&sealed), Err(SecretsError::WrongKey));
    }

    #[test]
    fn passphrase_keys_depend_on_salt() {
        let a = Crypter::from_passphrase("pass", b"salt-one-16bytes");
        let b = Crypter::from_passphrase("pass", b"salt-two-16bytes");
        assert!(b.verify(&a.key_check()).is_err());
        let a2 = Crypter::from_passphrase("pass", b"salt-one-16bytes");
        a2.verify(&a.key_check()).unwrap();
    }

    #[test]
    fn key_parsing() {
        assert!(parse_key(&"ab".repeat(32)).is_ok());
        assert!(parse_key("short").is_err());
        assert!(parse_key(&B64.encode([7u8; 32])).is_ok());
    }
}
