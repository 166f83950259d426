//! A whole session's ledger export, verified with the published keys
//! ([`verify_export`]): the log is complete and in order, every signed tree
//! head's root is the log's root at its size, each receipt still holds, and
//! each RFC 3161 anchor stamps what the log still holds.

use super::payload::tree_head_of;
use super::verify::{Verdict, check, count, read_tree_head};
use crate::attendance;
use crate::evidence::{Entry, Jwks, TreeHead, entry_hash};
use crate::merkle::{self, Hash};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Version of the export's tree heads line that carries anchors.
pub const TREE_HEADS_LINE_VERSION: u32 = 2;

/// The line of an export that carries the signed tree heads and, from
/// version 2, the RFC 3161 anchors. A version 1 line (no `v`) has no
/// anchors; a verifier that predates them reads a version 2 line's heads
/// and ignores the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeHeadsLine {
    /// [`TREE_HEADS_LINE_VERSION`]; absent in version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<u32>,
    /// Signed tree heads (compact JWS), oldest first.
    pub tree_heads: Vec<String>,
    /// Time-stamps of tree heads by the operator's TSA, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anchors: Vec<ExportedAnchor>,
}

/// One anchor in an export: a tree head and the RFC 3161 token over the
/// SHA-256 of its JWS ([`crate::anchor::imprint`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedAnchor {
    /// The anchored tree head (compact JWS).
    pub tree_head: String,
    /// The time-stamp token (DER `ContentInfo`), standard base64.
    pub token: String,
}

/// Merkle roots of a log at chosen sizes, in one pass over its leaves
/// (compact range of perfect subtrees; RFC 6962 tree hash at each size).
pub(super) fn roots_at(leaves: &[Hash], sizes: &BTreeSet<u64>) -> BTreeMap<u64, Hash> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<(u32, Hash)> = Vec::new();
    if sizes.contains(&0) {
        out.insert(0, merkle::empty_root());
    }
    for (i, leaf) in leaves.iter().enumerate() {
        stack.push((0, *leaf));
        while stack.len() >= 2 && stack[stack.len() - 1].0 == stack[stack.len() - 2].0 {
            let (height, right) = stack.pop().unwrap_or_default();
            let (_, left) = stack.pop().unwrap_or_default();
            stack.push((height + 1, merkle::node_hash(&left, &right)));
        }
        let size = i as u64 + 1;
        if sizes.contains(&size) {
            let mut iter = stack.iter().rev();
            let mut root = iter.next().map(|s| s.1).unwrap_or_default();
            for (_, left) in iter {
                root = merkle::node_hash(left, &root);
            }
            out.insert(size, root);
        }
    }
    out
}

/// Verifies a ledger export (one entry text per line, then a
/// `{"tree_heads":[…]}` line) with the published keys, and each receipt (a
/// signed tree head a participant kept) against it: docs/evidence.md
/// "Verification" 5.
pub fn verify_export(text: &str, jwks: &Jwks, receipts: &[String]) -> Verdict {
    verify_export_anchored(text, jwks, receipts, None)
}

/// [`verify_export`], also checking each RFC 3161 anchor the export
/// carries; `tsa` is the auditor's trusted TSA certificates, without which
/// tokens are checked in themselves but not against a TSA (each anchor's
/// check says so).
pub fn verify_export_anchored(
    text: &str,
    jwks: &Jwks,
    receipts: &[String],
    tsa: Option<&[x509_cert::Certificate]>,
) -> Verdict {
    let mut r = Verdict::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut texts: Vec<&str> = Vec::new();
    let mut entries: Vec<Option<Entry>> = Vec::new();
    let mut heads: Vec<String> = Vec::new();
    let mut failures = Vec::new();
    let mut heads_lines = 0;
    let mut anchors: Vec<ExportedAnchor> = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let value: Result<serde_json::Value, _> = serde_json::from_str(line);
        match value {
            Ok(serde_json::Value::Object(o)) if o.contains_key("tree_heads") => {
                heads_lines += 1;
                match serde_json::from_str::<TreeHeadsLine>(line) {
                    Ok(h) => {
                        heads.extend(h.tree_heads);
                        anchors.extend(h.anchors);
                    }
                    Err(e) => failures.push(format!(
                        "line {}: the tree heads line is malformed: {e}",
                        n + 1
                    )),
                }
            }
            _ => match Entry::parse(line) {
                Ok(e) => {
                    texts.push(line);
                    entries.push(Some(e));
                }
                Err(e) => {
                    failures.push(format!("line {}: not a ledger entry: {e}", n + 1));
                    texts.push(line);
                    entries.push(None);
                }
            },
        }
    }
    if heads_lines == 0 {
        failures.push(
            "no {\"tree_heads\":[…]} line: the export is truncated or not a cadre ledger export"
                .to_owned(),
        );
    }
    let sid = entries
        .iter()
        .flatten()
        .next()
        .map(|e| e.sid.clone())
        .or_else(|| heads.iter().find_map(|h| tree_head_of(h)).map(|h| h.sid))
        .unwrap_or_default();
    r.outcome(
        check::EXPORT_FORMAT,
        &failures,
        format!(
            "{} of session {sid} and {}",
            count(entries.len(), "entry", "entries"),
            count(heads.len(), "signed tree head", "signed tree heads")
        ),
    );

    // Contiguous from 0, one session, time never going back.
    let mut failures = Vec::new();
    let mut last_ts = i64::MIN;
    for (i, e) in entries.iter().enumerate() {
        let Some(e) = e else { continue };
        if e.seq != i as u64 {
            failures.push(format!(
                "entry at position {i} has seq {}: an entry is missing, added or out of order",
                e.seq
            ));
        }
        if e.sid != sid {
            failures.push(format!(
                "entry {}: of session {:?}, not {sid:?}",
                e.seq, e.sid
            ));
        }
        if e.ts < last_ts {
            failures.push(format!(
                "entry {}: its time is before the previous entry's",
                e.seq
            ));
        }
        last_ts = last_ts.max(e.ts);
    }
    r.outcome(
        check::SEQUENCE,
        &failures,
        if entries.is_empty() {
            "the log is empty".to_owned()
        } else {
            format!(
                "seq runs from 0 to {} without a gap, one session, time never goes back",
                entries.len() - 1
            )
        },
    );

    let leaves: Vec<Hash> = texts.iter().map(|t| entry_hash(t)).collect();
    let n = leaves.len() as u64;
    let heads: Vec<_> = heads
        .iter()
        .enumerate()
        .map(|(i, jws)| read_tree_head(jws, jwks, &format!("tree head {}", i + 1)))
        .collect();
    let receipts: Vec<_> = receipts
        .iter()
        .map(|jws| read_tree_head(jws, jwks, "receipt"))
        .collect();
    let anchored: Vec<_> = anchors
        .iter()
        .enumerate()
        .map(|(i, a)| read_tree_head(&a.tree_head, jwks, &format!("anchored tree head {}", i + 1)))
        .collect();
    let sizes: BTreeSet<u64> = heads
        .iter()
        .chain(&receipts)
        .chain(&anchored)
        .filter_map(|h| h.0.as_ref().map(|h| h.tree_size))
        .filter(|&s| s <= n)
        .collect();
    let roots = roots_at(&leaves, &sizes);

    // Every tree head: signature, session, size, root.
    let mut failures = Vec::new();
    let mut largest: Option<&TreeHead> = None;
    for (i, (head, problems, _)) in heads.iter().enumerate() {
        failures.extend(problems.iter().cloned());
        let Some(h) = head else { continue };
        let label = format!("tree head {} (size {})", i + 1, h.tree_size);
        if h.sid != sid {
            failures.push(format!("{label} is of session {:?}, not {sid:?}", h.sid));
        }
        if h.tree_size > n {
            failures.push(format!(
                "{label} covers {} entries but the export holds {n}: the log was truncated",
                h.tree_size
            ));
            continue;
        }
        if h.root_hash() != roots.get(&h.tree_size).copied() {
            failures.push(format!(
                "{label}: the root over the first {} entries differs from the signed root: entries were changed, removed, added or reordered",
                h.tree_size
            ));
            continue;
        }
        if problems.is_empty() && largest.is_none_or(|l| l.tree_size < h.tree_size) {
            largest = Some(h);
        }
    }
    if heads.is_empty() {
        failures.push(
            "the export has no signed tree head: nothing binds its entries to the server's key"
                .into(),
        );
    } else if failures.is_empty() && largest.is_none_or(|l| l.tree_size < n) {
        failures.push(format!(
            "the last {} entries are covered by no signed tree head",
            n - largest.map_or(0, |l| l.tree_size)
        ));
    }
    r.outcome(
        check::TREE_HEADS,
        &failures,
        format!(
            "{} {}, each root equal to the root over the log's first entries; the latest covers all {n} entries",
            count(heads.len(), "signed tree head", "signed tree heads"),
            if heads.len() == 1 { "verifies" } else { "verify" }
        ),
    );

    // Receipts: the log still holds exactly what each receipt covered.
    let latest_root = largest.and_then(|l| l.root_hash());
    for (i, (head, problems, _)) in receipts.iter().enumerate() {
        let name = format!("{} {}", check::RECEIPT, i + 1);
        let mut failures = problems.clone();
        let mut success = String::new();
        if let Some(h) = head {
            if h.sid != sid {
                failures.push(format!(
                    "the receipt is of session {:?}, not {sid:?}",
                    h.sid
                ));
            } else if h.tree_size > n {
                failures.push(format!(
                    "the receipt covers {} entries but the export holds {n}: the log was truncated",
                    h.tree_size
                ));
            } else if h.root_hash() != roots.get(&h.tree_size).copied() {
                failures.push(format!(
                    "the log's first {} entries no longer hash to the receipt's root: the history it covers was rewritten",
                    h.tree_size
                ));
            } else if largest.is_none_or(|l| l.tree_size < h.tree_size) {
                success = format!(
                    "the log's first {} entries hash to the receipt's root, signed at {}",
                    h.tree_size,
                    attendance::local_time(h.ts, "UTC")
                );
            } else if let (Some(old), Some(new), Some(latest)) =
                (h.root_hash(), latest_root, largest)
            {
                let proof = merkle::consistency_proof(
                    &leaves[..latest.tree_size as usize],
                    h.tree_size as usize,
                )
                .unwrap_or_default();
                if h.tree_size == 0
                    || merkle::verify_consistency(h.tree_size, latest.tree_size, &old, &new, &proof)
                {
                    success = format!(
                        "the log of {} entries extends the receipt's {} entries signed at {} (RFC 6962 consistency proof verified)",
                        latest.tree_size,
                        h.tree_size,
                        attendance::local_time(h.ts, "UTC")
                    );
                } else {
                    failures.push("the latest tree head is not consistent with the receipt".into());
                }
            } else {
                failures
                    .push("no verified tree head of the log to check the receipt against".into());
            }
        }
        r.outcome(&name, &failures, success);
    }
    check_anchors(&mut r, &anchors, &anchored, tsa, &sid, n, &roots);
    r.finish()
}

/// The export's anchors, one check each (docs/evidence.md, "Anchoring"):
/// the token verifies and, given `tsa`, chains to a trusted TSA; it stamps
/// the anchored head's digest, not before the head's time, after the
/// previous anchor; and the log still holds, unchanged, what was anchored.
fn check_anchors(
    r: &mut Verdict,
    anchors: &[ExportedAnchor],
    heads: &[(Option<TreeHead>, Vec<String>, String)],
    tsa: Option<&[x509_cert::Certificate]>,
    sid: &str,
    n: u64,
    roots: &BTreeMap<u64, Hash>,
) {
    use crate::anchor;
    use base64::engine::general_purpose::STANDARD;
    if anchors.is_empty() {
        if tsa.is_some() {
            r.push(
                check::ANCHORS,
                false,
                "a trusted TSA certificate was given but the export carries no anchor: \
                 nothing shows the log as it was when it was time-stamped"
                    .to_owned(),
            );
        }
        return;
    }
    let utc = |ms: i64| attendance::local_time(ms, "UTC");
    let mut previous: Option<(i64, u64)> = None;
    for (i, (a, (head, problems, _))) in anchors.iter().zip(heads).enumerate() {
        let name = format!("{} {}", check::ANCHOR, i + 1);
        let mut failures = problems.clone();
        let stamp = STANDARD
            .decode(a.token.trim())
            .map_err(|e| format!("the token is not base64: {e}"))
            .and_then(|der| anchor::read_token(&der).map_err(|e| e.to_string()));
        let stamp = match stamp {
            Ok(s) => s,
            Err(e) => {
                failures.push(e);
                r.outcome(&name, &failures, String::new());
                continue;
            }
        };
        let at = utc(stamp.gen_time);
        let trust = match tsa {
            Some(trusted) => match stamp.chain_to(trusted) {
                Ok(root) => format!(
                    "signed by {:?}, which chains to the trusted {root:?}",
                    stamp.signer_name
                ),
                Err(e) => {
                    failures.push(e.to_string());
                    String::new()
                }
            },
            None => format!(
                "signed by {:?}, NOT checked against a trusted TSA (pass --tsa-cert with the \
                 TSA's certificate to check who stamped it)",
                stamp.signer_name
            ),
        };
        if let Err(e) = stamp.check_imprint(&anchor::imprint(&a.tree_head)) {
            failures.push(e.to_string());
        }
        let Some(h) = head else {
            r.outcome(&name, &failures, String::new());
            continue;
        };
        if h.sid != sid {
            failures.push(format!(
                "the anchored head is of session {:?}, not {sid:?}",
                h.sid
            ));
        }
        // genTime is whole seconds (the TSA rounds down) give or take its
        // stated accuracy: only a head signed after the latest instant the
        // stamp can stand for is stamped before it existed.
        if stamp.gen_time + 999 + stamp.accuracy_ms < h.ts {
            failures.push(format!(
                "stamped at {at}, before the anchored head's own time {}: the head was not \
                 what the TSA saw",
                utc(h.ts)
            ));
        }
        if let Some((t, size)) = previous
            && (stamp.gen_time < t || h.tree_size < size)
        {
            failures.push(format!(
                "stamped at {at} over {} entries, out of order after the previous anchor \
                 ({} over {size} entries)",
                h.tree_size,
                utc(t)
            ));
        }
        previous = Some((stamp.gen_time, h.tree_size));
        if h.tree_size > n {
            failures.push(format!(
                "the TSA saw {} entries at {at}; the log now holds {n}: it was truncated after \
                 it was anchored",
                h.tree_size
            ));
        } else if h.root_hash() != roots.get(&h.tree_size).copied() {
            failures.push(format!(
                "the log's first {} entries no longer hash to the root anchored at {at}: the \
                 log was rewritten after it was anchored",
                h.tree_size
            ));
        }
        r.outcome(
            &name,
            &failures,
            format!(
                "the log's first {} entries hash to the root time-stamped at {at} (token {}), {trust}",
                h.tree_size, stamp.serial
            ),
        );
    }
}
