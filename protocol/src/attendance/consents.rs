//! A person's consent decisions as their proof states them, from their own
//! `consent` entries.

use super::text;
use crate::evidence::{Entry, kind};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One decision of a person on a consent, as their proof states it: from
/// one of their `consent` entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentDecision {
    /// Server time of the decision, UTC ms.
    pub ts: i64,
    /// What it is about: `recording` or `sponsor_share`.
    pub consent: String,
    /// Granted (`true`), or refused or withdrawn (`false`).
    pub granted: bool,
    /// SHA-256 of the exact wording the person was shown, hex.
    pub text_sha256: String,
}

/// `person`'s consent decisions, in log order: each of their `consent`
/// entries that names a consent and says whether it is granted. The latest
/// decision on a consent counts; none means no.
pub fn consent_history(entries: &[Entry], person: &str) -> Vec<ConsentDecision> {
    let mut own: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.kind == kind::CONSENT && e.actor == person)
        .collect();
    own.sort_by_key(|e| e.seq);
    own.into_iter()
        .filter_map(|e| {
            let p = e.payload_value();
            Some(ConsentDecision {
                ts: e.ts,
                consent: text(&p, "consent")?.to_owned(),
                granted: p.get("granted")?.as_bool()?,
                text_sha256: text(&p, "text_sha256").unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

/// What a decision did, read with the person's earlier decisions on the
/// same consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionEffect {
    /// The consent is granted.
    Granted,
    /// Not granted, and it was not granted before: a refusal.
    Refused,
    /// Not granted, after a grant: a withdrawal.
    Withdrawn,
}

/// The effect of each decision of a history (in log order, as
/// [`consent_history`] gives it).
pub fn decision_effects(history: &[ConsentDecision]) -> Vec<DecisionEffect> {
    let mut latest: HashMap<&str, bool> = HashMap::new();
    history
        .iter()
        .map(|d| {
            let before = latest.insert(d.consent.as_str(), d.granted);
            match (d.granted, before) {
                (true, _) => DecisionEffect::Granted,
                (false, Some(true)) => DecisionEffect::Withdrawn,
                (false, _) => DecisionEffect::Refused,
            }
        })
        .collect()
}
