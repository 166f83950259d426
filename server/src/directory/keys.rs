//! The server's Ed25519 signing keys and the organiser token, kept in the
//! data directory (mode 0600) and generated on first start.
//!
//! The current key signs join links, tree heads and proofs; every key of the
//! set (see [`set`]: the current one, those added for a rotation, those
//! retired by one) is published as a JWKS so that anyone can verify without
//! a secret, whichever key signed.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

// The key set: current, published and retired keys, `cadre keys …`.
pub mod set;
pub use set::{KeySet, KeyState, SetKey};

/// File name of the PKCS#8 (DER) Ed25519 key in the data directory.
pub const SIGNING_KEY_FILE: &str = "signing-key.pk8";
/// File name of the organiser bearer token in the data directory.
pub const ORGANISER_TOKEN_FILE: &str = "organiser-token";

/// Errors reading or creating key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing a key file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The key file does not hold an Ed25519 PKCS#8 key.
    #[error("{0} is not an Ed25519 PKCS#8 key")]
    Invalid(PathBuf),
    /// The organiser token file exists but holds no token.
    #[error(
        "the organiser token file {0} is empty: write the organiser token into it, \
         delete it to have a new token generated at the next start, \
         or pass --organiser-token (CADRE_ORGANISER_TOKEN)"
    )]
    EmptyOrganiserToken(PathBuf),
    /// The system random generator failed.
    #[error("no randomness available")]
    Random,
    /// The key set's state file, or a key it names, is not what it must be.
    #[error("{}: {reason}", path.display())]
    Set {
        /// The file at fault (the state file, or a key file).
        path: PathBuf,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// A key id that cannot be one.
    #[error(
        "{0:?} is not a key id (16 characters of A-Z, a-z, 0-9, - and _, as `cadre keys list` \
         shows them); nothing was changed"
    )]
    MalformedKid(String),
    /// No key of the set has this id.
    #[error("no key {kid} in the key set (it holds {known}); nothing was changed")]
    UnknownKid {
        /// The id asked for.
        kid: String,
        /// The ids there are.
        known: String,
    },
    /// A key that signed must stay published.
    #[error(
        "the key {kid} is {state}: it signed links, tree heads or proofs, and must stay \
         published for ever so that the ledger's evidence stays verifiable; nothing was changed"
    )]
    MustStayPublished {
        /// The key.
        kid: String,
        /// `current` or `retired`.
        state: &'static str,
    },
}

/// The signing key with its id.
pub struct SigningKey {
    pkcs8: Vec<u8>,
    public: [u8; 32],
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// What [`load_or_create`] found.
pub struct Loaded<T> {
    /// The value.
    pub value: T,
    /// True when it was generated just now (so it can be printed once).
    pub created: bool,
}

impl SigningKey {
    /// Loads the first key (`signing-key.pk8`) from `dir`, generating it on
    /// first start.
    pub fn load_or_create(dir: &Path) -> Result<Loaded<SigningKey>, KeyError> {
        let path = dir.join(SIGNING_KEY_FILE);
        let (pkcs8, created) = match fs::read(&path) {
            Ok(bytes) => (bytes, false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let doc = Self::generate()?;
                write_private(&path, &doc)?;
                (doc, true)
            }
            Err(source) => return Err(KeyError::Io { path, source }),
        };
        Ok(Loaded {
            value: Self::from_pkcs8(pkcs8, &path)?,
            created,
        })
    }

    /// Reads the key in `path`; creates nothing.
    pub fn read(path: &Path) -> Result<SigningKey, KeyError> {
        let pkcs8 = fs::read(path).map_err(|source| KeyError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_pkcs8(pkcs8, path)
    }

    /// A new PKCS#8 document.
    fn generate() -> Result<Vec<u8>, KeyError> {
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| KeyError::Random)
    }

    /// The key in `pkcs8`, read from `path` (named if it is not a key).
    fn from_pkcs8(pkcs8: Vec<u8>, path: &Path) -> Result<SigningKey, KeyError> {
        let pair =
            Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| KeyError::Invalid(path.to_owned()))?;
        let mut public = [0u8; 32];
        public.copy_from_slice(pair.public_key().as_ref());
        Ok(SigningKey {
            kid: key_id(&public),
            pkcs8,
            public,
        })
    }

    /// The key id (`kid`): the first 16 characters of the base64url SHA-256
    /// of the public key, so it is derived, never configured.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public
    }

    /// The PKCS#8 document, for the JWT encoder.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// This key as one JWK.
    pub fn jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP",
            crv: "Ed25519",
            alg: "EdDSA",
            use_: "sig",
            kid: self.kid.clone(),
            x: URL_SAFE_NO_PAD.encode(self.public),
        }
    }
}

/// A public key in JWK form (RFC 8037).
#[derive(Debug, Clone, Serialize)]
pub struct Jwk {
    /// Always `OKP`.
    pub kty: &'static str,
    /// Always `Ed25519`.
    pub crv: &'static str,
    /// Always `EdDSA`.
    pub alg: &'static str,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: &'static str,
    /// Key id.
    pub kid: String,
    /// The public key, base64url.
    pub x: String,
}

/// `/.well-known/jwks.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Jwks {
    /// The published keys.
    pub keys: Vec<Jwk>,
}

fn key_id(public: &[u8; 32]) -> String {
    let digest = Sha256::digest(public);
    URL_SAFE_NO_PAD.encode(digest)[..16].to_owned()
}

/// Loads the organiser token from `dir`, generating a random one on first start.
pub fn organiser_token(dir: &Path) -> Result<Loaded<String>, KeyError> {
    let path = dir.join(ORGANISER_TOKEN_FILE);
    match fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => Ok(Loaded {
            value: s.trim().to_owned(),
            created: false,
        }),
        Ok(_) => Err(KeyError::EmptyOrganiserToken(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = random_id(32)?;
            write_private(&path, token.as_bytes())?;
            Ok(Loaded {
                value: token,
                created: true,
            })
        }
        Err(source) => Err(KeyError::Io { path, source }),
    }
}

/// File in the data directory holding the TURN shared secret.
pub const TURN_SECRET_FILE: &str = "turn-secret";

/// Loads the TURN shared secret from `dir`, generating a random one on
/// first start (give the same to coturn as `static-auth-secret`).
pub fn turn_secret(dir: &Path) -> Result<Loaded<String>, KeyError> {
    let path = dir.join(TURN_SECRET_FILE);
    match fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => Ok(Loaded {
            value: s.trim().to_owned(),
            created: false,
        }),
        Ok(_) => Err(KeyError::Io {
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the TURN secret file is empty: write the secret into it, delete it to have \
                 one generated, or pass --turn-secret (CADRE_TURN_SECRET)",
            ),
            path,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = random_id(32)?;
            write_private(&path, secret.as_bytes())?;
            Ok(Loaded {
                value: secret,
                created: true,
            })
        }
        Err(source) => Err(KeyError::Io { path, source }),
    }
}

/// `bytes` random bytes, base64url: ids and secrets that cannot be guessed.
pub fn random_id(bytes: usize) -> Result<String, KeyError> {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| KeyError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// An id that names something without guarding it (a request, a
/// connection), from the thread's CSPRNG: unpredictable all the same, and
/// without the system call [`random_id`] makes for each one (two per join).
/// Never for a secret: those come from [`random_id`].
pub fn name_id(bytes: usize) -> String {
    use rand::RngCore as _;
    let mut buf = [0u8; 32];
    let buf = &mut buf[..bytes.min(32)];
    rand::rng().fill_bytes(buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Writes a secret so that only the owner can read it, and never replaces an
/// existing file (two processes starting at once must not fork the key).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Compares two secrets without leaking where they differ: both sides are
/// hashed first, so timing depends only on the digests.
pub fn secrets_match(given: &str, expected: &str) -> bool {
    Sha256::digest(given.as_bytes()) == Sha256::digest(expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_and_reloaded() {
        let dir = tempdir();
        let first = SigningKey::load_or_create(&dir).unwrap();
        assert!(first.created);
        let again = SigningKey::load_or_create(&dir).unwrap();
        assert!(!again.created);
        assert_eq!(first.value.public_key(), again.value.public_key());
        assert_eq!(first.value.kid().len(), 16);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join(SIGNING_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let token = organiser_token(&dir).unwrap();
        assert!(token.created);
        assert_eq!(organiser_token(&dir).unwrap().value, token.value);
        assert!(secrets_match(&token.value, &token.value));
        assert!(!secrets_match("other", &token.value));
        fs::remove_dir_all(dir).unwrap();
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cadre-keys-{}", random_id(8).unwrap()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
