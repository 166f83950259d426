//! Setups several suite modules share: who is in the session, and the
//! waits they repeat.

use crate::Client;
use cadre_protocol::Role;
use serde_json::{Value, json};

/// A facilitator and two participants, with full names as documents show
/// them (proofs, sheets, consents).
pub const PEOPLE: [(&str, Role); 3] = [
    ("Claire Martin", Role::Facilitator),
    ("Karim Benali", Role::Participant),
    ("Sophie Dubois", Role::Participant),
];

/// [`PEOPLE`] and two more participants, for what is counted over a group
/// (consents, the sponsor's aggregates).
pub const PEOPLE_OF_FIVE: [(&str, Role); 5] = [
    PEOPLE[0],
    PEOPLE[1],
    PEOPLE[2],
    ("Lucas Moreau", Role::Participant),
    ("Amina Diallo", Role::Participant),
];

/// A facilitator and two participants by first name, for the roster, relay
/// and connection tests.
pub const TRIO: [(&str, Role); 3] = [
    ("Claire", Role::Facilitator),
    ("Karim", Role::Participant),
    ("Léa", Role::Participant),
];

/// A time as the protocol writes dates of a postponement (RFC 3339, seconds).
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Client {
    /// Skips to the `session_state` whose notice is `action` (suspend,
    /// resume, postpone, end, remove) and returns it.
    pub async fn session_notice(&mut self, action: &str) -> Value {
        let (m, _) = self
            .skip_until(action, |m| {
                m["type"] == "session_state" && m["notice"]["action"] == action
            })
            .await;
        m
    }
}

/// A complete identity of the organisation, as a certificate needs it
/// (`PUT /api/organisation`).
pub fn identity() -> Value {
    json!({
        "name": "Formations Horizon",
        "representative_name": "Claire Dubois",
        "representative_quality": "directrice",
        "address": ["12 rue des Lilas", "69003 Lyon"],
        "siret": "123 456 789 00007",
        "nda": "84 69 12345 69",
        "place": "Lyon",
    })
}
