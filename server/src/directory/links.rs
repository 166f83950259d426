//! Join links: EdDSA JWTs naming one person in one session, valid in the
//! session's window. Minting is deterministic (Ed25519 signatures are), so a
//! link printed twice is the same link.
//!
//! Verification is strict on purpose: only `EdDSA`, a `kid` of the key set
//! (the current key, or one published for or retired by a rotation), the `cadre`
//! issuer and `cadre:join` audience, `nbf` and `exp` both checked with a few
//! seconds of leeway. Each failure maps to one stable [`ErrorCode`].
//!
//! Each link the server mints is also *sealed*: an HMAC-SHA-256 of its exact
//! text under a key derived from the signing key that signed it, kept in the catalogue next
//! to the link. A presented link whose seal matches is the very text this
//! server signed, so its signature need not be checked again (the Ed25519
//! check is most of a first join's own work); one without a seal, or whose
//! seal does not match, gets the full check. Someone who can write the
//! catalogue but not read the key cannot make a seal.

use crate::directory::keys::{KeySet, SigningKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cadre_protocol::{ErrorCode, Role};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::{hkdf, hmac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

/// Issuer of every cadre token.
pub const ISSUER: &str = "cadre";
/// Audience of join links (other token kinds, such as sponsor report links,
/// get their own audience so one can never pass for the other).
pub const JOIN_AUDIENCE: &str = "cadre:join";
/// Audience of sponsor report links: a sponsor link never opens a session,
/// and a join link never opens a report.
pub const SPONSOR_AUDIENCE: &str = "cadre:sponsor";
/// Audience of an appreciation questionnaire's invitation link.
pub const QUESTIONNAIRE_AUDIENCE: &str = "cadre:questionnaire";
/// Clock skew tolerated on `nbf` and `exp`.
const LEEWAY_SECONDS: u64 = 5;

/// The claims of a join link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinClaims {
    /// Issuer, [`ISSUER`].
    pub iss: String,
    /// Audience, [`JOIN_AUDIENCE`].
    pub aud: String,
    /// Participant id.
    pub sub: String,
    /// Session id.
    pub sid: String,
    /// Role in the session.
    pub role: Role,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Link id.
    pub jti: String,
}

/// The claims of a sponsor report link: read-only, one session, expiring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SponsorClaims {
    /// Issuer, [`ISSUER`].
    pub iss: String,
    /// Audience, [`SPONSOR_AUDIENCE`].
    pub aud: String,
    /// The session reported on.
    pub sub: String,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Link id.
    pub jti: String,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LinkError {
    /// Stable code.
    pub code: ErrorCode,
    /// Human sentence.
    pub message: String,
}

impl LinkError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        LinkError {
            code,
            message: message.into(),
        }
    }
}

/// Join links whose signature was checked, kept for a re-join: most of a
/// returning person's admission is the Ed25519 check (about 45 µs), and a
/// class reconnecting after a network cut presents the same links again.
const VERIFIED_KEPT: usize = 1024;

/// Signs and checks join links with the server's keys: the current key
/// signs, every key of the set checks (a link keeps its `kid`, so a link
/// minted before a rotation admits until it expires).
pub struct LinkSigner {
    /// The keys, replaced whole by [`LinkSigner::use_keys`].
    keys: RwLock<Arc<LinkKeys>>,
    validation: Validation,
    sponsor_validation: Validation,
    questionnaire_validation: Validation,
    lenient_validation: Validation,
    early_validation: Validation,
    /// SHA-256 of a link's exact text → its claims, for links whose
    /// signature this signer checked. Only the window is checked again on a
    /// hit; revocation is always the catalogue's. Emptied when the keys
    /// change.
    verified: Mutex<HashMap<[u8; 32], JoinClaims>>,
}

/// One key set's material for links.
struct LinkKeys {
    /// The kid that signs.
    current: String,
    /// Every key of the set by kid, the current one included.
    by_kid: HashMap<String, LinkKey>,
}

/// What one key does for links.
struct LinkKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Seals links this key signed (see the module's comment): derived
    /// from the key, so a seal written under one key is checked with the
    /// same key after a rotation.
    seal_key: hmac::Key,
}

/// Separates the seal key from any other use of the signing key.
const SEAL_SALT: &[u8] = b"cadre join-link seal v1";

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSigner")
            .field("kid", &self.keys().current)
            .finish_non_exhaustive()
    }
}

impl LinkKeys {
    fn of(set: &KeySet) -> Self {
        LinkKeys {
            current: set.current().kid().to_owned(),
            by_kid: set
                .keys()
                .iter()
                .map(|k| (k.key.kid().to_owned(), LinkKey::of(&k.key)))
                .collect(),
        }
    }

    fn current(&self) -> (&str, &LinkKey) {
        let key = self
            .by_kid
            .get(&self.current)
            .expect("the current key is one of the set's");
        (&self.current, key)
    }
}

impl LinkKey {
    fn of(key: &SigningKey) -> Self {
        LinkKey {
            encoding: EncodingKey::from_ed_der(key.pkcs8()),
            decoding: DecodingKey::from_ed_der(key.public_key()),
            seal_key: hkdf::Salt::new(hkdf::HKDF_SHA256, SEAL_SALT)
                .extract(key.pkcs8())
                .expand(&[b"join links"], hmac::HMAC_SHA256)
                .map(hmac::Key::from)
                .expect("one HMAC-SHA-256 key is within HKDF's output"),
        }
    }
}

impl LinkSigner {
    /// A signer for `key` alone.
    pub fn new(key: &SigningKey) -> Self {
        Self::with_keys(LinkKeys {
            current: key.kid().to_owned(),
            by_kid: HashMap::from([(key.kid().to_owned(), LinkKey::of(key))]),
        })
    }

    /// A signer for a key set: its current key signs, all its keys check.
    pub fn for_set(set: &KeySet) -> Self {
        Self::with_keys(LinkKeys::of(set))
    }

    fn with_keys(keys: LinkKeys) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.validate_exp = true;
        validation.set_audience(&[JOIN_AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
        let mut sponsor_validation = validation.clone();
        sponsor_validation.set_audience(&[SPONSOR_AUDIENCE]);
        let mut questionnaire_validation = validation.clone();
        questionnaire_validation.set_audience(&[QUESTIONNAIRE_AUDIENCE]);
        let mut lenient_validation = validation.clone();
        lenient_validation.validate_exp = false;
        let mut early_validation = validation.clone();
        early_validation.validate_nbf = false;
        LinkSigner {
            keys: RwLock::new(Arc::new(keys)),
            validation,
            sponsor_validation,
            questionnaire_validation,
            lenient_validation,
            early_validation,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// Signs with `set`'s current key and checks with all its keys from
    /// now on (a rotation, read again from the data directory).
    pub fn use_keys(&self, set: &KeySet) {
        let next = Arc::new(LinkKeys::of(set));
        // A panic while swapping an Arc cannot leave it half-written.
        match self.keys.write() {
            Ok(mut guard) => *guard = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        // A link checked under a key that has left the set must be
        // checked again.
        self.verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn keys(&self) -> Arc<LinkKeys> {
        match self.keys.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The kid that signs new links.
    pub fn kid(&self) -> String {
        self.keys().current.clone()
    }

    fn sign<T: Serialize>(&self, claims: &T) -> Result<String, LinkError> {
        let keys = self.keys();
        let (kid, key) = keys.current();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|e| LinkError::new(ErrorCode::Internal, format!("could not sign link: {e}")))
    }

    /// The seal of the link `claims` mint, to keep with it in the catalogue.
    /// It is made with the key that signs the link (the current one).
    pub fn seal(&self, claims: &JoinClaims) -> Result<Vec<u8>, LinkError> {
        let keys = self.keys();
        let (_, key) = keys.current();
        let token = self.mint(claims)?;
        Ok(hmac::sign(&key.seal_key, token.as_bytes())
            .as_ref()
            .to_vec())
    }

    /// Whether `seal` is this server's seal of exactly `token` (compared in
    /// constant time), under the key the token's header names.
    pub fn sealed(&self, token: &str, seal: &[u8]) -> bool {
        let token = token.trim();
        let Some(kid) = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid) else {
            return false;
        };
        let keys = self.keys();
        keys.by_kid
            .get(&kid)
            .is_some_and(|key| hmac::verify(&key.seal_key, token.as_bytes(), seal).is_ok())
    }

    /// A join link's claims when everything [`LinkSigner::verify`] checks
    /// holds *except the signature*, which is left unchecked: the caller
    /// must then find the link's seal ([`LinkSigner::sealed`]) or call
    /// `verify`. `None` when anything is off; `verify` then says what.
    pub fn claims_before_signature(&self, token: &str) -> Option<JoinClaims> {
        let token = token.trim();
        // One reading of the header: what is off here, `verify` explains.
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::EdDSA
            || !self.keys().by_kid.contains_key(header.kid.as_deref()?)
        {
            return None;
        }
        let claims: JoinClaims = jsonwebtoken::dangerous::insecure_decode_claims(token).ok()?;
        let now = chrono::Utc::now().timestamp();
        let leeway = LEEWAY_SECONDS as i64;
        let current = claims.nbf - leeway <= now && now < claims.exp + leeway;
        (current && claims.iss == ISSUER && claims.aud == JOIN_AUDIENCE).then_some(claims)
    }

    /// Signs a sponsor report link.
    pub fn mint_sponsor(&self, claims: &SponsorClaims) -> Result<String, LinkError> {
        self.sign(claims)
    }

    /// Signs an appreciation questionnaire's invitation link (the claims
    /// of a sponsor link, whose subject is the invitation).
    pub fn mint_questionnaire(&self, claims: &SponsorClaims) -> Result<String, LinkError> {
        self.mint_sponsor(claims)
    }

    /// Checks a questionnaire invitation link as strictly as a join link.
    pub fn verify_questionnaire(&self, token: &str) -> Result<SponsorClaims, LinkError> {
        self.verify_with(token, &self.questionnaire_validation)
    }

    /// Checks a sponsor report link as strictly as a join link.
    pub fn verify_sponsor(&self, token: &str) -> Result<SponsorClaims, LinkError> {
        self.verify_with(token, &self.sponsor_validation)
    }

    /// Signs `claims` into a token, with the current key.
    pub fn mint(&self, claims: &JoinClaims) -> Result<String, LinkError> {
        self.sign(claims)
    }

    /// Checks a token's form, algorithm, key, signature and validity window.
    /// Revocation and the session's existence are the caller's business.
    pub fn verify(&self, token: &str) -> Result<JoinClaims, LinkError> {
        let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        let now = chrono::Utc::now().timestamp();
        let leeway = LEEWAY_SECONDS as i64;
        {
            let mut kept = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(claims) = kept.get(&digest) {
                if claims.nbf - leeway <= now && now < claims.exp + leeway {
                    return Ok(claims.clone());
                }
                // Out of its window: the full check says why.
                kept.remove(&digest);
            }
        }
        let claims: JoinClaims = self.verify_with(token, &self.validation)?;
        let mut kept = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() >= VERIFIED_KEPT
            && let Some(any) = kept.keys().next().copied()
        {
            kept.remove(&any);
        }
        kept.insert(digest, claims.clone());
        Ok(claims)
    }

    /// [`LinkSigner::verify`] except that a passed `exp` is accepted (it
    /// must still be present): for difficulty reports, taken after the
    /// session for a while. The caller decides how long after (see
    /// `reports.rs`); everything else is checked as strictly.
    pub fn verify_ignoring_expiry(&self, token: &str) -> Result<JoinClaims, LinkError> {
        self.verify_with(token, &self.lenient_validation)
    }

    /// [`LinkSigner::verify`] except that a link whose window has not
    /// opened yet (`nbf` to come) is accepted: for the equipment check,
    /// which people run from their invitation before the session. Its
    /// `exp` is checked as for a join.
    pub fn verify_before_window(&self, token: &str) -> Result<JoinClaims, LinkError> {
        self.verify_with(token, &self.early_validation)
    }

    fn verify_with<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Result<T, LinkError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(LinkError::new(
                ErrorCode::TokenMissing,
                "no join token given",
            ));
        }
        let alg = header_alg(token)?;
        if alg != "EdDSA" {
            return Err(LinkError::new(
                ErrorCode::TokenAlgorithm,
                format!("links are signed with EdDSA; this token says {alg:?}"),
            ));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| {
            LinkError::new(
                ErrorCode::TokenMalformed,
                format!("unreadable token header: {e}"),
            )
        })?;
        let keys = self.keys();
        let Some(key) = header.kid.as_deref().and_then(|kid| keys.by_kid.get(kid)) else {
            return Err(LinkError::new(
                ErrorCode::TokenSignature,
                "this link was not signed by this server's keys",
            ));
        };
        jsonwebtoken::decode::<T>(token, &key.decoding, validation)
            .map(|data| data.claims)
            .map_err(|e| classify(e.kind(), token))
    }
}

/// Reads `alg` from the header ourselves: the library refuses unknown
/// algorithms such as `none` as a JSON error, which would hide the reason.
fn header_alg(token: &str) -> Result<String, LinkError> {
    let malformed =
        |why: &str| LinkError::new(ErrorCode::TokenMalformed, format!("malformed link: {why}"));
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("a token has three dot-separated parts"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| malformed("the header is not base64url"))?;
    #[derive(Deserialize)]
    struct AlgOnly {
        alg: String,
    }
    serde_json::from_slice::<AlgOnly>(&bytes)
        .map(|h| h.alg)
        .map_err(|_| malformed("the header is not a JSON object with an alg"))
}

fn classify(kind: &ErrorKind, token: &str) -> LinkError {
    match kind {
        ErrorKind::ExpiredSignature => {
            let when = claim_time(token, "exp");
            LinkError::new(ErrorCode::TokenExpired, format!("this link expired{when}"))
        }
        ErrorKind::ImmatureSignature => {
            let when = claim_time(token, "nbf");
            LinkError::new(
                ErrorCode::TokenNotYetValid,
                format!("this link is not valid yet; it opens{when}"),
            )
        }
        ErrorKind::InvalidSignature => LinkError::new(
            ErrorCode::TokenSignature,
            "the link's signature does not verify",
        ),
        ErrorKind::InvalidAlgorithm => LinkError::new(
            ErrorCode::TokenAlgorithm,
            "links are signed with EdDSA only",
        ),
        ErrorKind::InvalidAudience | ErrorKind::InvalidIssuer => LinkError::new(
            ErrorCode::TokenMalformed,
            "this token is not a link of this kind",
        ),
        other => LinkError::new(
            ErrorCode::TokenMalformed,
            format!("malformed link: {other:?}"),
        ),
    }
}

/// ` at <time>` from an unverified claim, only to word an error message.
fn claim_time(token: &str, claim: &str) -> String {
    let value = token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get(claim).and_then(|t| t.as_i64()))
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0));
    match value {
        Some(t) => format!(
            " at {}",
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::keys::SigningKey;

    fn signer() -> (LinkSigner, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "cadre-links-{}",
            crate::directory::keys::random_id(8).unwrap()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let key = SigningKey::load_or_create(&dir).unwrap().value;
        (LinkSigner::new(&key), dir)
    }

    /// `token` with one character of its signature changed.
    fn flip(token: &str) -> String {
        let mut bytes = token.as_bytes().to_vec();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    }

    fn claims(nbf: i64, exp: i64) -> JoinClaims {
        JoinClaims {
            iss: ISSUER.into(),
            aud: JOIN_AUDIENCE.into(),
            sub: "p_a".into(),
            sid: "s_a".into(),
            role: Role::Participant,
            nbf,
            exp,
            iat: nbf,
            jti: "l_a".into(),
        }
    }

    #[test]
    fn round_trip_and_window() {
        let (signer, dir) = signer();
        let now = chrono::Utc::now().timestamp();
        let good = claims(now - 10, now + 3600);
        let token = signer.mint(&good).unwrap();
        assert_eq!(
            signer.mint(&good).unwrap(),
            token,
            "minting is deterministic"
        );
        assert_eq!(signer.verify(&token).unwrap(), good);

        let expired = signer.mint(&claims(now - 7200, now - 3600)).unwrap();
        assert_eq!(
            signer.verify(&expired).unwrap_err().code,
            ErrorCode::TokenExpired
        );
        let early = signer.mint(&claims(now + 3600, now + 7200)).unwrap();
        assert_eq!(
            signer.verify(&early).unwrap_err().code,
            ErrorCode::TokenNotYetValid
        );

        let flipped = flip(&token);
        assert_eq!(
            signer.verify(&flipped).unwrap_err().code,
            ErrorCode::TokenSignature
        );

        assert_eq!(signer.verify("").unwrap_err().code, ErrorCode::TokenMissing);
        assert_eq!(
            signer.verify("a.b").unwrap_err().code,
            ErrorCode::TokenMalformed
        );
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            token.split('.').nth(1).unwrap()
        );
        assert_eq!(
            signer.verify(&none).unwrap_err().code,
            ErrorCode::TokenAlgorithm
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A link checked once is not checked again, but its window is: a kept
    /// link that has expired since is refused as expired, and one changed
    /// by a single character is never taken for it.
    #[test]
    fn a_kept_link_still_expires_and_a_changed_one_is_checked() {
        let (signer, dir) = signer();
        let now = chrono::Utc::now().timestamp();
        let good = claims(now - 10, now + 3600);
        let token = signer.mint(&good).unwrap();
        assert_eq!(signer.verify(&token).unwrap(), good);
        assert_eq!(signer.verify(&token).unwrap(), good, "kept");
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // The same link, as if its window had passed since it was kept.
        signer
            .verified
            .lock()
            .unwrap()
            .insert(digest, claims(now - 7200, now - 3600));
        assert_eq!(
            signer.verify(&token).unwrap(),
            good,
            "refused from the cache, then checked in full"
        );
        let past = claims(now - 7200, now - 3600);
        let expired = signer.mint(&past).unwrap();
        let digest: [u8; 32] = Sha256::digest(expired.as_bytes()).into();
        signer.verified.lock().unwrap().insert(digest, past);
        assert_eq!(
            signer.verify(&expired).unwrap_err().code,
            ErrorCode::TokenExpired
        );
        let flipped = flip(&token);
        assert_eq!(
            signer.verify(&flipped).unwrap_err().code,
            ErrorCode::TokenSignature
        );
        for i in 0..(VERIFIED_KEPT as i64 + 10) {
            let mut other = claims(now - 10, now + 3600);
            other.jti = format!("l_{i}");
            signer.verify(&signer.mint(&other).unwrap()).unwrap();
        }
        assert_eq!(
            signer.verified.lock().unwrap().len(),
            VERIFIED_KEPT,
            "bounded"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn expiry_can_be_ignored_and_nothing_else() {
        let (signer, dir) = signer();
        let now = chrono::Utc::now().timestamp();
        let expired = claims(now - 7200, now - 3600);
        let token = signer.mint(&expired).unwrap();
        assert_eq!(
            signer.verify(&token).unwrap_err().code,
            ErrorCode::TokenExpired
        );
        assert_eq!(signer.verify_ignoring_expiry(&token).unwrap(), expired);
        let early = signer.mint(&claims(now + 3600, now + 7200)).unwrap();
        assert_eq!(
            signer.verify_ignoring_expiry(&early).unwrap_err().code,
            ErrorCode::TokenNotYetValid
        );
        let flipped = flip(&token);
        assert_eq!(
            signer.verify_ignoring_expiry(&flipped).unwrap_err().code,
            ErrorCode::TokenSignature
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A seal belongs to one text and one key; the claims read before the
    /// signature are those of a current join link only.
    #[test]
    fn a_seal_fits_one_text_under_one_key() {
        let (other, other_dir) = signer();
        let (signer, dir) = signer();
        let now = chrono::Utc::now().timestamp();
        let good = claims(now - 10, now + 3600);
        let token = signer.mint(&good).unwrap();
        let seal = signer.seal(&good).unwrap();
        assert!(signer.sealed(&token, &seal));
        assert!(
            signer.sealed(&format!(" {token}\n"), &seal),
            "trimmed like verify"
        );
        assert!(!signer.sealed(&flip(&token), &seal));
        assert!(!other.sealed(&token, &seal), "another server's key");
        assert!(!signer.sealed(&token, &other.seal(&good).unwrap()));
        assert!(!signer.sealed(&token, &Sha256::digest(token.as_bytes())));

        assert_eq!(signer.claims_before_signature(&token), Some(good.clone()));
        // The signature is not what this checks: the caller must.
        assert_eq!(signer.claims_before_signature(&flip(&token)), Some(good));
        let expired = signer.mint(&claims(now - 7200, now - 3600)).unwrap();
        let early = signer.mint(&claims(now + 3600, now + 7200)).unwrap();
        let elsewhere = other.mint(&claims(now - 10, now + 3600)).unwrap();
        let mut sponsor = claims(now - 10, now + 3600);
        sponsor.aud = SPONSOR_AUDIENCE.into();
        let sponsor = signer.mint(&sponsor).unwrap();
        // The same kid and claims under a header naming another algorithm.
        let kid = jsonwebtoken::decode_header(&token).unwrap().kid;
        let header = serde_json::json!({"typ": "JWT", "alg": "HS256", "kid": kid});
        let (_, rest) = token.split_once('.').unwrap();
        let other_alg = format!(
            "{}.{rest}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap())
        );
        for (what, token) in [
            ("another algorithm", other_alg),
            ("expired", expired),
            ("not yet valid", early),
            ("another kid", elsewhere),
            ("another audience", sponsor),
            ("garbage", "a.b.c".to_owned()),
        ] {
            assert_eq!(signer.claims_before_signature(&token), None, "{what}");
        }
        std::fs::remove_dir_all(dir).unwrap();
        std::fs::remove_dir_all(other_dir).unwrap();
    }

    /// A link minted and sealed before a rotation still verifies, and its
    /// seal still matches, after it; new links carry the new kid; a key
    /// taken out of the set no longer opens anything.
    #[test]
    fn links_outlive_a_rotation_of_the_key_set() {
        use crate::directory::keys::set;
        let dir = tempfile::tempdir().unwrap();
        let keys = KeySet::load_or_create(dir.path()).unwrap().value;
        let signer = LinkSigner::for_set(&keys);
        let old_kid = signer.kid();
        let now = chrono::Utc::now().timestamp();
        let good = claims(now - 10, now + 3600);
        let old = signer.mint(&good).unwrap();
        let old_seal = signer.seal(&good).unwrap();
        assert_eq!(signer.verify(&old).unwrap(), good);

        let added = set::add(dir.path()).unwrap();
        signer.use_keys(&KeySet::load(dir.path()).unwrap());
        assert_eq!(signer.kid(), old_kid, "a published key does not sign");
        set::activate(dir.path(), &added).unwrap();
        signer.use_keys(&KeySet::load(dir.path()).unwrap());
        assert_eq!(signer.kid(), added);

        let new = signer.mint(&good).unwrap();
        assert_eq!(jsonwebtoken::decode_header(&new).unwrap().kid, Some(added));
        assert_ne!(new, old);
        assert_eq!(signer.verify(&old).unwrap(), good, "the retired key checks");
        assert_eq!(signer.verify(&new).unwrap(), good);
        assert!(signer.sealed(&old, &old_seal), "an old seal, the old key");
        assert!(!signer.sealed(&new, &old_seal), "a seal fits one text");
        assert!(signer.sealed(&new, &signer.seal(&good).unwrap()));
        assert_eq!(signer.claims_before_signature(&old), Some(good.clone()));
        assert_eq!(
            signer.verify(&flip(&old)).unwrap_err().code,
            ErrorCode::TokenSignature
        );

        // A signer that knows only the new key refuses the old links.
        let only_new = LinkSigner::new(
            &SigningKey::read(
                &dir.path()
                    .join("keys")
                    .join(format!("{}.pk8", signer.kid())),
            )
            .unwrap(),
        );
        assert_eq!(only_new.verify(&new).unwrap(), good);
        assert_eq!(
            only_new.verify(&old).unwrap_err().code,
            ErrorCode::TokenSignature
        );
        assert!(!only_new.sealed(&old, &old_seal));
        assert_eq!(only_new.claims_before_signature(&old), None);
    }
}
