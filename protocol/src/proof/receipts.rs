//! A participant's receipts checked against their proof: the RFC 6962
//! consistency document that links two signed roots ([`Consistency`]), the
//! « Dossier de vérification » that carries them ([`VerificationBundle`]),
//! and [`verify_proof_with_receipts`].

use super::verify::{Verdict, check, read_tree_head};
use super::{AttendanceProof, verify_proof};
use crate::attendance;
use crate::evidence::{Jwks, TreeHead, unverified_payload};
use crate::merkle::{self, Hash};
use serde::{Deserialize, Serialize};

/// `typ` of a consistency document.
pub const CONSISTENCY_TYP: &str = "cadre.consistency";
/// Version of the consistency document format.
pub const CONSISTENCY_VERSION: u32 = 1;

/// The RFC 6962 consistency proof between a session log's first `from` and
/// first `to` entries, as `GET /api/sessions/{sid}/ledger/consistency`
/// gives it. It is not signed and needs no signature: it only links two
/// roots that are signed (a receipt's and a proof's tree head), and a path
/// that links them cannot be forged without a hash collision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consistency {
    /// [`CONSISTENCY_TYP`].
    pub typ: String,
    /// [`CONSISTENCY_VERSION`].
    pub v: u32,
    /// Session id.
    pub sid: String,
    /// Size of the older tree.
    pub from: u64,
    /// Size of the newer tree.
    pub to: u64,
    /// The proof's hashes, hex, in RFC 6962 order (empty when `from` is 0
    /// or equals `to`).
    pub path: Vec<String>,
}

impl Consistency {
    /// The document for `path`, the proof from `from` to `to` entries.
    pub fn new(sid: &str, from: u64, to: u64, path: &[Hash]) -> Consistency {
        Consistency {
            typ: CONSISTENCY_TYP.to_owned(),
            v: CONSISTENCY_VERSION,
            sid: sid.to_owned(),
            from,
            to,
            path: path.iter().map(merkle::to_hex).collect(),
        }
    }
}

/// `typ` of a verification bundle.
pub const BUNDLE_TYP: &str = "cadre.verification-bundle";

/// What a participant's browser downloads as « Dossier de vérification »:
/// their proof, the receipts it kept, and the consistency proofs linking
/// each receipt to the proof's tree head, in one file that `cadre verify`
/// reads. Nothing in it is trusted for being there: each part is checked
/// as if given separately (other fields, such as the session's title, are
/// for people and ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationBundle {
    /// [`BUNDLE_TYP`].
    pub typ: String,
    /// Format version (1).
    pub v: u32,
    /// The attendance proof, compact JWS.
    pub proof: String,
    /// Receipts: signed tree heads, compact JWS.
    #[serde(default)]
    pub receipts: Vec<String>,
    /// Consistency proofs between receipts and the proof's tree head.
    #[serde(default)]
    pub consistency: Vec<Consistency>,
}

/// [`verify_proof`], then each receipt (a signed tree head a participant
/// kept) against the proof's tree head: the receipt verifies, is of the
/// proof's session, and one log extends the other, shown by one of
/// `consistency` (RFC 6962 §2.1.2). A participant can so show that the log
/// their proof was drawn from still holds, unchanged, what they were handed
/// a receipt for, without anyone else's entries.
pub fn verify_proof_with_receipts(
    jws: &str,
    jwks: &Jwks,
    receipts: &[String],
    consistency: &[Consistency],
) -> Verdict {
    let mut r = verify_proof(jws, jwks);
    let head = unverified_payload(jws)
        .and_then(|p| serde_json::from_slice::<AttendanceProof>(&p).ok())
        .map(|p| read_tree_head(&p.evidence.tree_head, jwks, "proof's tree head"));
    for (i, receipt) in receipts.iter().enumerate() {
        let name = format!("{} {}", check::RECEIPT, i + 1);
        let (receipt_head, mut failures, _) = read_tree_head(receipt, jwks, "receipt");
        let mut success = String::new();
        match (&receipt_head, &head) {
            (_, None) => failures
                .push("the proof carries no tree head to check the receipt against".to_owned()),
            (None, _) => {}
            (Some(receipt), Some((Some(head), problems, _))) if problems.is_empty() => {
                match receipt_against_head(receipt, head, consistency) {
                    Ok(s) => success = s,
                    Err(e) => failures.push(e),
                }
            }
            (Some(_), Some(_)) => failures.push(
                "the proof's tree head does not verify: no receipt can be checked against it"
                    .to_owned(),
            ),
        }
        r.outcome(&name, &failures, success);
    }
    r.finish()
}

/// Whether `receipt` and a proof's `head` are two states of one log.
pub(super) fn receipt_against_head(
    receipt: &TreeHead,
    head: &TreeHead,
    consistency: &[Consistency],
) -> Result<String, String> {
    if receipt.sid != head.sid {
        return Err(format!(
            "the receipt is of session {:?}, the proof of {:?}",
            receipt.sid, head.sid
        ));
    }
    let receipt_first = receipt.tree_size <= head.tree_size;
    let (old, new) = if receipt_first {
        (receipt, head)
    } else {
        (head, receipt)
    };
    let (Some(old_root), Some(new_root)) = (old.root_hash(), new.root_hash()) else {
        return Err("a root is not 64 hex digits".to_owned());
    };
    let signed = attendance::local_time(receipt.ts, "UTC");
    if old.tree_size == new.tree_size {
        return if old_root == new_root {
            Ok(format!(
                "the receipt, signed at {signed}, and the proof's tree head sign the same {} entries",
                old.tree_size
            ))
        } else {
            Err(format!(
                "the receipt and the proof's tree head both cover {} entries but sign different roots: the log was rewritten",
                old.tree_size
            ))
        };
    }
    if old.tree_size == 0 {
        return Ok(format!(
            "the receipt, signed at {signed}, covers an empty log: every log extends it"
        ));
    }
    let Some(doc) = consistency
        .iter()
        .find(|d| d.sid == head.sid && d.from == old.tree_size && d.to == new.tree_size)
    else {
        return Err(format!(
            "no consistency proof from {} to {} entries was given (--consistency); the server \
             gives it at /api/sessions/{}/ledger/consistency?from={}&to={}",
            old.tree_size, new.tree_size, head.sid, old.tree_size, new.tree_size
        ));
    };
    if doc.typ != CONSISTENCY_TYP || doc.v != CONSISTENCY_VERSION {
        return Err(format!(
            "the consistency proof has typ {:?} version {}, expected {CONSISTENCY_TYP:?} version {CONSISTENCY_VERSION}",
            doc.typ, doc.v
        ));
    }
    let path: Option<Vec<Hash>> = doc.path.iter().map(|h| merkle::from_hex(h)).collect();
    let Some(path) = path else {
        return Err("the consistency proof holds a hash that is not 64 hex digits".to_owned());
    };
    if !merkle::verify_consistency(old.tree_size, new.tree_size, &old_root, &new_root, &path) {
        return Err(format!(
            "the consistency proof does not link the root of {} entries to the root of {}: \
             the history between them was rewritten, or the proof is of another log",
            old.tree_size, new.tree_size
        ));
    }
    Ok(if receipt_first {
        format!(
            "the log of {} entries the proof was drawn from extends the receipt's {} entries signed at {signed} (RFC 6962 consistency proof verified)",
            new.tree_size, old.tree_size
        )
    } else {
        format!(
            "the receipt's log of {} entries, signed at {signed}, extends the {} entries the proof was drawn from (RFC 6962 consistency proof verified)",
            new.tree_size, old.tree_size
        )
    })
}
