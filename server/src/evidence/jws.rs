//! Signing JSON documents as compact JWS with the server's Ed25519 key:
//! tree heads now, attendance proofs later.
//!
//! This module only signs. Verification belongs to
//! [`cadre_protocol::evidence::verify_jws`], which an auditor runs offline
//! with the published JWKS; the tests here sign with this module and verify
//! with that one, so the two cannot drift apart unnoticed.

use crate::directory::keys::SigningKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use std::sync::{Arc, RwLock};

/// Header `typ` of a signed tree head (the payload's own `typ` is
/// [`cadre_protocol::evidence::TREE_HEAD_TYP`]).
pub const TREE_HEAD_JWS_TYP: &str = "cadre.tree-head+jws";

/// Header `typ` when the caller names none (RFC 7515 §4.1.9: compact JWS).
pub const DEFAULT_JWS_TYP: &str = "JOSE";

/// Why a document could not be signed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JwsError {
    /// The payload did not serialise, or the key refused to sign.
    #[error("could not sign: {0}")]
    Sign(String),
}

/// Signs documents with the server's current key; cheap to clone, and
/// every clone signs with the key last given to [`JwsSigner::use_key`]
/// (the ledger's clone as the proofs' one), so a rotation reaches them all.
#[derive(Clone)]
pub struct JwsSigner {
    current: Arc<RwLock<Arc<CurrentKey>>>,
}

struct CurrentKey {
    kid: String,
    encoding: EncodingKey,
}

impl std::fmt::Debug for JwsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwsSigner")
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

impl JwsSigner {
    /// A signer for `key`; the header carries its `kid`.
    pub fn new(key: &SigningKey) -> Self {
        JwsSigner {
            current: Arc::new(RwLock::new(Arc::new(CurrentKey::of(key)))),
        }
    }

    /// Signs with `key` from now on, in this signer and all its clones.
    pub fn use_key(&self, key: &SigningKey) {
        let next = Arc::new(CurrentKey::of(key));
        // A panic while swapping an Arc cannot leave it half-written.
        match self.current.write() {
            Ok(mut guard) => *guard = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    fn key(&self) -> Arc<CurrentKey> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The key id the next signature's header carries (to know which key
    /// signed a given JWS, read its header: [`kid_of`]).
    pub fn kid(&self) -> String {
        self.key().kid.clone()
    }

    /// Signs `payload` as a compact JWS with header
    /// `{"typ":"JOSE","alg":"EdDSA","kid":…}`.
    pub fn sign<T: Serialize>(&self, payload: &T) -> Result<String, JwsError> {
        self.sign_typed(DEFAULT_JWS_TYP, payload)
    }

    /// Signs `payload` with header `typ` set to `typ`, so a reader can tell a
    /// tree head from a proof before parsing the payload.
    pub fn sign_typed<T: Serialize>(&self, typ: &str, payload: &T) -> Result<String, JwsError> {
        let key = self.key();
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(typ.to_owned());
        header.kid = Some(key.kid.clone());
        // jsonwebtoken signs any Serialize value, not only JWT claims: the
        // payload is base64url(JSON), exactly what verify_jws decodes.
        jsonwebtoken::encode(&header, payload, &key.encoding)
            .map_err(|e| JwsError::Sign(e.to_string()))
    }
}

impl CurrentKey {
    fn of(key: &SigningKey) -> Self {
        CurrentKey {
            kid: key.kid().to_owned(),
            encoding: EncodingKey::from_ed_der(key.pkcs8()),
        }
    }
}

/// The `kid` in a compact JWS's header: the key that signed it.
pub fn kid_of(jws: &str) -> Option<String> {
    jsonwebtoken::decode_header(jws).ok()?.kid
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::keys::{self, SigningKey};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use cadre_protocol::evidence::{self, TREE_HEAD_TYP, TreeHead};

    /// The server's JWKS as an auditor receives it: serialised by the server,
    /// parsed by the protocol crate.
    fn published(key: &SigningKey) -> evidence::Jwks {
        let served = keys::Jwks {
            keys: vec![key.jwk()],
        };
        serde_json::from_str(&serde_json::to_string(&served).unwrap()).unwrap()
    }

    fn head() -> TreeHead {
        TreeHead {
            typ: TREE_HEAD_TYP.into(),
            v: 1,
            sid: "s_a".into(),
            tree_size: 3,
            root: "ab".repeat(32),
            ts: 1_795_710_822_362,
        }
    }

    #[test]
    fn signed_heads_verify_with_the_published_keys_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::load_or_create(dir.path()).unwrap().value;
        let signer = JwsSigner::new(&key);
        let token = signer.sign_typed(TREE_HEAD_JWS_TYP, &head()).unwrap();

        let verified = evidence::verify_jws(&token, &published(&key)).unwrap();
        assert_eq!(verified.kid, key.kid());
        let back: TreeHead = serde_json::from_slice(&verified.payload).unwrap();
        assert_eq!(back, head());

        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["kid"], key.kid());
        assert_eq!(header["typ"], TREE_HEAD_JWS_TYP);
        let plain = signer.sign(&head()).unwrap();
        assert!(evidence::verify_jws(&plain, &published(&key)).is_ok());

        // Another server's key does not verify it, even under the same kid.
        let other_dir = tempfile::tempdir().unwrap();
        let other = SigningKey::load_or_create(other_dir.path()).unwrap().value;
        let mut impostor = published(&other);
        impostor.keys[0].kid = key.kid().to_owned();
        assert!(matches!(
            evidence::verify_jws(&token, &impostor),
            Err(evidence::JwsError::BadSignature(_))
        ));

        // A changed payload (a larger tree) does not verify.
        let mut forged = head();
        forged.tree_size = 4;
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[1] = &forged_payload;
        assert!(matches!(
            evidence::verify_jws(&parts.join("."), &published(&key)),
            Err(evidence::JwsError::BadSignature(_))
        ));
    }

    /// After `use_key`, every clone signs with the new key; what the old
    /// one signed still verifies with a JWKS holding both.
    #[test]
    fn a_rotation_reaches_every_clone() {
        let dir = tempfile::tempdir().unwrap();
        let old = SigningKey::load_or_create(dir.path()).unwrap().value;
        let other_dir = tempfile::tempdir().unwrap();
        let new = SigningKey::load_or_create(other_dir.path()).unwrap().value;
        let signer = JwsSigner::new(&old);
        let ledger_clone = signer.clone();
        let before = ledger_clone.sign_typed(TREE_HEAD_JWS_TYP, &head()).unwrap();
        signer.use_key(&new);
        let after = ledger_clone.sign_typed(TREE_HEAD_JWS_TYP, &head()).unwrap();
        assert_eq!(kid_of(&before).as_deref(), Some(old.kid()));
        assert_eq!(kid_of(&after).as_deref(), Some(new.kid()));
        assert_eq!(ledger_clone.kid(), new.kid());
        let both: evidence::Jwks = serde_json::from_str(
            &serde_json::to_string(&keys::Jwks {
                keys: vec![new.jwk(), old.jwk()],
            })
            .unwrap(),
        )
        .unwrap();
        assert_eq!(evidence::verify_jws(&before, &both).unwrap().kid, old.kid());
        assert_eq!(evidence::verify_jws(&after, &both).unwrap().kid, new.kid());
        assert!(evidence::verify_jws(&after, &published(&old)).is_err());
    }
}
