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

/// Signs documents with the server key; cheap to clone.
#[derive(Clone)]
pub struct JwsSigner {
    kid: String,
    encoding: EncodingKey,
}

impl std::fmt::Debug for JwsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwsSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl JwsSigner {
    /// A signer for `key`; the header carries its `kid`.
    pub fn new(key: &SigningKey) -> Self {
        JwsSigner {
            kid: key.kid().to_owned(),
            encoding: EncodingKey::from_ed_der(key.pkcs8()),
        }
    }

    /// The key id written in every header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `payload` as a compact JWS with header
    /// `{"typ":"JOSE","alg":"EdDSA","kid":…}`.
    pub fn sign<T: Serialize>(&self, payload: &T) -> Result<String, JwsError> {
        self.sign_typed(DEFAULT_JWS_TYP, payload)
    }

    /// Signs `payload` with header `typ` set to `typ`, so a reader can tell a
    /// tree head from a proof before parsing the payload.
    pub fn sign_typed<T: Serialize>(&self, typ: &str, payload: &T) -> Result<String, JwsError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(typ.to_owned());
        header.kid = Some(self.kid.clone());
        // jsonwebtoken signs any Serialize value, not only JWT claims: the
        // payload is base64url(JSON), exactly what verify_jws decodes.
        jsonwebtoken::encode(&header, payload, &self.encoding)
            .map_err(|e| JwsError::Sign(e.to_string()))
    }
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
}
