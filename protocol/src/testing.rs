//! What tests need to forge evidence the way the server makes it: an
//! Ed25519 key that signs compact JWS ([`Signer`]), ledger entries built
//! from their parts ([`event`]; `.canonical()` is the stored text), inclusion paths
//! ([`evidence_for`], [`with_paths`]) and the export file ([`export`]).
//!
//! Compiled for this crate's tests, and for other crates' tests with the
//! `testing` feature (the server's dev-dependency, the integration suite).
//! Not for production: it panics on what a test would never give it.

use crate::attendance::ProofScope;
use crate::evidence::{ENTRY_VERSION, Entry, Jwk, Jwks, TREE_HEAD_TYP, TreeHead, entry_hash};
use crate::merkle::{self, Hash};
use crate::proof::{
    EvidenceEntry, TREE_HEAD_VERSION, TreeHeadsLine, jws_compact, jws_signing_input,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::Serialize;
use serde_json::value::RawValue;

/// A fresh Ed25519 key under a key id, signing as the server signs: compact
/// JWS with the header `{"alg":"EdDSA","kid":…}`.
pub struct Signer {
    pair: Ed25519KeyPair,
    pkcs8: Vec<u8>,
    kid: String,
}

impl Signer {
    /// A new random key. Two signers under the same `kid` are an impostor
    /// and the real key.
    pub fn new(kid: &str) -> Signer {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
            .expect("generate an Ed25519 key")
            .as_ref()
            .to_vec();
        Signer {
            pair: Ed25519KeyPair::from_pkcs8(&pkcs8).expect("read the generated key"),
            pkcs8,
            kid: kid.to_owned(),
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key as PKCS#8 (v2) DER, for libraries that sign JWTs.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key as published.
    pub fn jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            kid: self.kid.clone(),
            x: URL_SAFE_NO_PAD.encode(self.pair.public_key().as_ref()),
        }
    }

    /// A JWKS holding this key alone.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: vec![self.jwk()],
        }
    }

    /// `payload` signed as a compact JWS.
    pub fn sign(&self, payload: &[u8]) -> String {
        let input = jws_signing_input(&self.kid, payload);
        jws_compact(&input, self.pair.sign(input.as_bytes()).as_ref())
    }

    /// `payload` as JSON, signed (a proof, a tree head, …).
    pub fn sign_json(&self, payload: &impl Serialize) -> String {
        self.sign(&serde_json::to_vec(payload).expect("serialise a payload"))
    }

    /// A compact JWS with `header` as given, whatever it says (`HS256`,
    /// another `kid`, …): what an attacker sends a verifier.
    pub fn sign_with_header(&self, header: &str, payload: &str) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        jws_compact(&input, self.pair.sign(input.as_bytes()).as_ref())
    }

    /// A signed tree head of session `sid` over the first `size` of
    /// `texts`, at `ts`.
    pub fn tree_head(&self, sid: &str, texts: &[String], size: usize, ts: i64) -> String {
        let head = TreeHead {
            typ: TREE_HEAD_TYP.into(),
            v: TREE_HEAD_VERSION,
            sid: sid.into(),
            tree_size: size as u64,
            root: merkle::to_hex(&merkle::root(&leaves(&texts[..size]))),
            ts,
        };
        self.sign_json(&head)
    }
}

/// A ledger entry of session `sid` at position `seq`, as the ledger stores
/// it (its salt is `seq` in 32 hex digits, so that a log built twice is the
/// same log).
pub fn event(
    sid: &str,
    seq: u64,
    ts: i64,
    kind: &str,
    actor: &str,
    payload: &serde_json::Value,
) -> Entry {
    Entry {
        v: ENTRY_VERSION,
        sid: sid.into(),
        seq,
        ts,
        kind: kind.into(),
        actor: actor.into(),
        payload: RawValue::from_string(payload.to_string()).expect("a JSON value prints as JSON"),
        client_ts: None,
        salt: format!("{seq:032x}"),
    }
}

/// The Merkle leaves of entry texts.
pub fn leaves(texts: &[String]) -> Vec<Hash> {
    texts.iter().map(|t| entry_hash(t)).collect()
}

/// The entries at `indices` of `texts`, each with its inclusion path in the
/// tree of all of `texts`.
pub fn with_paths(texts: &[String], indices: &[usize]) -> Vec<EvidenceEntry> {
    let leaves = leaves(texts);
    indices
        .iter()
        .map(|&i| {
            let path = merkle::inclusion_proof(&leaves, i).expect("an index inside the log");
            EvidenceEntry::new(i as u64, texts[i].clone(), &path)
        })
        .collect()
}

/// The entries of `person`'s proof with their paths, selected as the
/// server selects them ([`ProofScope`]).
pub fn evidence_for(texts: &[String], person: &str) -> Vec<EvidenceEntry> {
    let all: Vec<Entry> = texts
        .iter()
        .map(|t| Entry::parse(t).expect("an entry text"))
        .collect();
    let scope = ProofScope::new(&all, person);
    let chosen: Vec<usize> = (0..texts.len())
        .filter(|&i| scope.contains(&all[i]))
        .collect();
    with_paths(texts, &chosen)
}

/// A ledger export: one entry text a line, then the tree heads line.
pub fn export(texts: &[String], heads: &[String]) -> String {
    let mut s = String::new();
    for t in texts {
        s.push_str(t);
        s.push('\n');
    }
    let line = TreeHeadsLine {
        tree_heads: heads.to_vec(),
        ..Default::default()
    };
    s.push_str(&serde_json::to_string(&line).expect("serialise the tree heads"));
    s.push('\n');
    s
}
