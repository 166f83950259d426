//! Evidence formats: ledger entries, signed tree heads, and JWS handling with
//! published keys. See `docs/evidence.md` for the prose.
//!
//! Everything an auditor needs to check a proof offline lives here or in
//! [`crate::merkle`], so the verifier depends on this crate only.

use crate::merkle::{self, Hash};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Version of the entry format.
pub const ENTRY_VERSION: u32 = 1;

/// Event kinds recorded in the ledger.
pub mod kind {
    /// A WebSocket connection was admitted.
    pub const CONNECTION_OPENED: &str = "connection_opened";
    /// A connection ended (with its reason and last time seen).
    pub const CONNECTION_CLOSED: &str = "connection_closed";
    /// Summary of a connection's heartbeats over a stretch of time.
    pub const HEARTBEATS: &str = "heartbeats";
    /// The tab became visible or hidden.
    pub const VISIBILITY: &str = "visibility";
    /// The window gained or lost focus.
    pub const FOCUS: &str = "focus";
    /// Camera or microphone switched.
    pub const MEDIA: &str = "media";
    /// A sign-in window opened for a half-day slot.
    pub const SIGNIN_OPENED: &str = "signin_opened";
    /// A person signed in for a slot.
    pub const SIGNED_IN: &str = "signed_in";
    /// The facilitator countersigned a person's slot.
    pub const COUNTERSIGNED: &str = "countersigned";
    /// The session changed state (with a reason).
    pub const SESSION_STATE: &str = "session_state";
    /// The server process started (brackets runs in the log).
    pub const SERVER_STARTED: &str = "server_started";
    /// The server process is stopping.
    pub const SERVER_STOPPING: &str = "server_stopping";
    /// A person granted or withdrew a consent (`consent`, `granted`,
    /// `text_sha256` of the wording they saw).
    pub const CONSENT: &str = "consent";
    /// A facilitator armed or disarmed recording (`armed`).
    pub const RECORDING_ARMED: &str = "recording_armed";
    /// A recording segment opened: `segment`, `participants` (everyone
    /// connected, each having granted `recording`).
    pub const RECORDING_STARTED: &str = "recording_started";
    /// A recording segment closed: `segment`, `reason`, `started_at`,
    /// `closed_at` (when media stopped being accepted), `participants`
    /// (everyone recorded in it) and `files` (`participant`, `track`,
    /// `name`, `bytes`, `sha256`).
    pub const RECORDING_STOPPED: &str = "recording_stopped";
    /// Recording files were deleted at the end of their retention period:
    /// `segment`, `files` (`name`, `sha256`), `retention_days`.
    pub const RECORDING_PURGED: &str = "recording_purged";
    /// A playable file made from a closed segment's raw files (a person's
    /// WebM, or the composed view), with its hash and its sources' hashes.
    pub const RECORDING_DERIVED: &str = "recording_derived";
    /// A per-minute summary of a person's connection quality (actor: the
    /// person): `minute`, `samples`, `score`, figures.
    pub const QUALITY: &str = "quality";
    /// The server alerted the facilitators about the session's health:
    /// `rule`, `people` (who, figures, since when), `suggested`.
    pub const ALERT: &str = "alert";
    /// A facilitator removed a person from the session: `participant`,
    /// `reason`.
    pub const REMOVED: &str = "removed";
    /// The organiser let a removed or revoked person back in:
    /// `participant`.
    pub const READMITTED: &str = "readmitted";
    /// The session's media began to pass through the organisation's server
    /// (`route`: `forwarded`), or stopped to (`peer`): `route`, `mode`
    /// (`auto`, `forwarded`), `connected` (how many people were).
    pub const MEDIA_ROUTE: &str = "media_route";
    // The three difficulty kinds keep the wire name `report` in stored
    // ledgers (and their payload's `report` field is the difficulty's id).
    /// A person filed a difficulty report: `report`, `text`.
    pub const DIFFICULTY_FILED: &str = "report_filed";
    /// The organiser answered a difficulty in writing: `report`, `answer`.
    pub const DIFFICULTY_ANSWERED: &str = "report_answered";
    /// A difficulty was closed: `report`.
    pub const DIFFICULTY_CLOSED: &str = "report_closed";
    /// A facilitator opened a quiz: `quiz` (its id), `title`, `questions`
    /// (how many). Never the questions' text, the right answers or anyone's
    /// answers.
    pub const QUIZ_OPENED: &str = "quiz_opened";
    /// A person completed a quiz (actor: the person): `quiz`. Neither their
    /// answers nor their score.
    pub const QUIZ_COMPLETED: &str = "quiz_completed";
    /// A person was invited to an appreciation questionnaire (actor: the
    /// person): `questionnaire`, `at` (`session_end`, `action_end`),
    /// `scope` (the session or action it is about). Never the answer, nor
    /// whether they answered.
    pub const QUESTIONNAIRE_INVITED: &str = "questionnaire_invited";
}

/// What a consent entry is about.
pub mod consent {
    /// Recording of the session.
    pub const RECORDING: &str = "recording";
    /// Sharing one's nominative attendance with the sponsor.
    pub const SPONSOR_SHARE: &str = "sponsor_share";

    use super::{Entry, kind};

    /// Whether `person`'s latest recorded decision on `consent` is a grant.
    /// No entry means no consent: consent is never presumed.
    pub fn granted(entries: &[Entry], person: &str, consent: &str) -> bool {
        decision(entries, person, consent) == Some(true)
    }

    /// `person`'s latest recorded decision on `consent`, `None` if they
    /// never decided.
    pub fn decision(entries: &[Entry], person: &str, consent: &str) -> Option<bool> {
        latest(entries, person, consent).map(|(_, granted)| granted)
    }

    /// `person`'s latest recorded decision on `consent` with the sequence
    /// number of its entry, so that decisions read at different times can
    /// be ordered as the log orders them.
    pub fn latest(entries: &[Entry], person: &str, consent: &str) -> Option<(u64, bool)> {
        entries
            .iter()
            .filter(|e| e.kind == kind::CONSENT && e.actor == person)
            .filter(|e| e.payload_value().get("consent").and_then(|c| c.as_str()) == Some(consent))
            .max_by_key(|e| e.seq)
            .and_then(|e| {
                let granted = e.payload_value().get("granted").and_then(|g| g.as_bool())?;
                Some((e.seq, granted))
            })
    }
}

/// Actor of events not done by a person.
pub const ACTOR_SERVER: &str = "server";
/// Actor of events done by the organiser through the API or CLI.
pub const ACTOR_ORGANISER: &str = "organiser";

/// One ledger entry. Serialising it gives its canonical text (fields in
/// declaration order, no whitespace); the leaf hash is taken over exactly
/// the stored text, never over a re-serialisation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// [`ENTRY_VERSION`].
    pub v: u32,
    /// Session id.
    pub sid: String,
    /// Position in the session's log, from 0.
    pub seq: u64,
    /// Server time, UTC milliseconds.
    pub ts: i64,
    /// Event kind ([`kind`]).
    pub kind: String,
    /// Participant id, or [`ACTOR_SERVER`] / [`ACTOR_ORGANISER`].
    pub actor: String,
    /// Kind-specific object, kept as written.
    pub payload: Box<RawValue>,
    /// The client's claimed time, when it sent one.
    pub client_ts: Option<i64>,
    /// 16 random bytes, hex: hides this entry's hash from guessing.
    pub salt: String,
}

impl Entry {
    /// The canonical text to store and hash.
    pub fn canonical(&self) -> String {
        // A struct of strings, numbers and a raw value always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads an entry from its stored text.
    pub fn parse(text: &str) -> Result<Entry, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The payload as a JSON value.
    pub fn payload_value(&self) -> serde_json::Value {
        serde_json::from_str(self.payload.get()).unwrap_or(serde_json::Value::Null)
    }
}

/// The leaf hash of an entry's stored text.
pub fn entry_hash(text: &str) -> Hash {
    merkle::leaf_hash(text.as_bytes())
}

/// The payload of a signed tree head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeHead {
    /// Always `cadre.tree-head`.
    pub typ: String,
    /// Format version (1).
    pub v: u32,
    /// Session id.
    pub sid: String,
    /// Number of entries covered.
    pub tree_size: u64,
    /// Merkle root, hex.
    pub root: String,
    /// Signing time, UTC milliseconds.
    pub ts: i64,
}

/// `typ` of a tree head.
pub const TREE_HEAD_TYP: &str = "cadre.tree-head";

impl TreeHead {
    /// The root as bytes, if well formed.
    pub fn root_hash(&self) -> Option<Hash> {
        merkle::from_hex(&self.root)
    }
}

/// One public key of a JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// Key id.
    pub kid: String,
    /// Public key, base64url.
    pub x: String,
}

/// A set of published keys (`/.well-known/jwks.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// Why a JWS does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Not three base64url parts with a JSON header.
    #[error("not a compact JWS: {0}")]
    Malformed(String),
    /// The header's `alg` is not `EdDSA`.
    #[error("algorithm {0:?} is not EdDSA")]
    Algorithm(String),
    /// No published key has the header's `kid`.
    #[error("no published key has id {0:?}")]
    UnknownKey(String),
    /// The signature does not verify with that key.
    #[error("the signature does not verify with key {0:?}")]
    BadSignature(String),
}

/// A verified JWS: its key id and payload bytes.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The key that signed it.
    pub kid: String,
    /// The payload, decoded.
    pub payload: Vec<u8>,
}

#[derive(Deserialize)]
struct JwsHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// Verifies a compact JWS signed with Ed25519 by one of `keys`.
pub fn verify_jws(token: &str, keys: &Jwks) -> Result<Verified, JwsError> {
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed(
            "expected three dot-separated parts".into(),
        ));
    };
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwsError::Malformed(format!("the {what} is not base64url")))
    };
    let header: JwsHeader = serde_json::from_slice(&decode(h, "header")?)
        .map_err(|_| JwsError::Malformed("the header is not JSON with an alg".into()))?;
    if header.alg != "EdDSA" {
        return Err(JwsError::Algorithm(header.alg));
    }
    let kid = header.kid.unwrap_or_default();
    let key = keys
        .keys
        .iter()
        .find(|k| k.kid == kid && k.kty == "OKP" && k.crv == "Ed25519")
        .ok_or_else(|| JwsError::UnknownKey(kid.clone()))?;
    let public = URL_SAFE_NO_PAD
        .decode(&key.x)
        .map_err(|_| JwsError::UnknownKey(kid.clone()))?;
    let signature = decode(s, "signature")?;
    let signed = &token[..h.len() + 1 + p.len()];
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &public)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| JwsError::BadSignature(kid.clone()))?;
    Ok(Verified {
        kid,
        payload: decode(p, "payload")?,
    })
}

/// Reads a JWS payload without verifying it (to show what a broken file
/// claims; never to trust it).
pub fn unverified_payload(token: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(token.trim().split('.').nth(1)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_text_is_canonical_and_hash_is_over_the_text() {
        let e = Entry {
            v: ENTRY_VERSION,
            sid: "s_a".into(),
            seq: 3,
            ts: 1_795_710_822_362,
            kind: kind::FOCUS.into(),
            actor: "p_a".into(),
            payload: RawValue::from_string(r#"{"connection_id":"c_1","focused":false}"#.into())
                .unwrap(),
            client_ts: None,
            salt: "00".repeat(16),
        };
        let text = e.canonical();
        assert_eq!(
            text,
            r#"{"v":1,"sid":"s_a","seq":3,"ts":1795710822362,"kind":"focus","actor":"p_a","payload":{"connection_id":"c_1","focused":false},"client_ts":null,"salt":"00000000000000000000000000000000"}"#
        );
        let back = Entry::parse(&text).unwrap();
        assert_eq!(back.canonical(), text);
        assert_eq!(entry_hash(&text), merkle::leaf_hash(text.as_bytes()));
    }

    #[test]
    fn consent_is_the_latest_decision_and_never_presumed() {
        let entry = |seq: u64, actor: &str, payload: &str| Entry {
            v: ENTRY_VERSION,
            sid: "s".into(),
            seq,
            ts: seq as i64,
            kind: kind::CONSENT.into(),
            actor: actor.into(),
            payload: RawValue::from_string(payload.into()).unwrap(),
            client_ts: None,
            salt: String::new(),
        };
        let share = consent::SPONSOR_SHARE;
        assert!(!consent::granted(&[], "p_a", share));
        let log = vec![
            entry(0, "p_a", r#"{"consent":"sponsor_share","granted":true}"#),
            entry(1, "p_b", r#"{"consent":"sponsor_share","granted":true}"#),
            entry(2, "p_b", r#"{"consent":"sponsor_share","granted":false}"#),
            entry(3, "p_c", r#"{"consent":"recording","granted":true}"#),
        ];
        assert!(consent::granted(&log, "p_a", share));
        assert!(!consent::granted(&log, "p_b", share), "withdrawn");
        assert!(!consent::granted(&log, "p_c", share), "another consent");
        assert!(consent::granted(&log, "p_c", consent::RECORDING));
    }

    #[test]
    fn jws_verification_rejects_what_it_must() {
        let key = crate::testing::Signer::new("k1");
        let jwks = key.jwks();
        let sign = |header: &str, payload: &str| key.sign_with_header(header, payload);
        let good = sign(r#"{"alg":"EdDSA","kid":"k1"}"#, r#"{"a":1}"#);
        assert_eq!(verify_jws(&good, &jwks).unwrap().payload, br#"{"a":1}"#);
        let unknown = sign(r#"{"alg":"EdDSA","kid":"k2"}"#, "{}");
        assert!(matches!(
            verify_jws(&unknown, &jwks),
            Err(JwsError::UnknownKey(_))
        ));
        let hs = sign(r#"{"alg":"HS256","kid":"k1"}"#, "{}");
        assert!(matches!(
            verify_jws(&hs, &jwks),
            Err(JwsError::Algorithm(_))
        ));
        let mut parts: Vec<&str> = good.split('.').collect();
        let other_payload = URL_SAFE_NO_PAD.encode(r#"{"a":2}"#);
        parts[1] = &other_payload;
        assert!(matches!(
            verify_jws(&parts.join("."), &jwks),
            Err(JwsError::BadSignature(_))
        ));
        assert!(matches!(
            verify_jws("a.b", &jwks),
            Err(JwsError::Malformed(_))
        ));
    }
}
