//! Consent wordings. A consent is recorded with the SHA-256 of the exact
//! text the person was shown, so a decision is always tied to what it was
//! given for; changing a wording changes its hash, and older decisions stay
//! attached to the older text.

use crate::evidence::consent::{RECORDING, SPONSOR_SHARE};
use crate::merkle::to_hex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One consent's wording in one language, as shown to the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentText {
    /// `recording` or `sponsor_share`.
    pub consent: String,
    /// `fr` or `en`.
    pub lang: String,
    /// The exact text.
    pub text: String,
    /// SHA-256 of the text's UTF-8 bytes, hex: what a decision records.
    pub sha256: String,
}

/// The wordings of a session: recording always; sharing with the sponsor
/// only when the session has a sponsor.
pub fn texts(sponsor: Option<&str>) -> Vec<ConsentText> {
    let mut out = vec![
        text(
            RECORDING,
            "fr",
            "J'accepte que cette séance soit enregistrée (image, son et écrans partagés). Je peux retirer mon accord à tout moment : l'enregistrement s'arrête alors immédiatement.",
        ),
        text(
            RECORDING,
            "en",
            "I agree that this session is recorded (video, sound and shared screens). I can withdraw my agreement at any time: recording then stops at once.",
        ),
    ];
    if let Some(sponsor) = sponsor.map(str::trim).filter(|s| !s.is_empty()) {
        out.push(text(
            SPONSOR_SHARE,
            "fr",
            &format!(
                "J'accepte que ma présence nominative (heures de connexion, émargements, taux de réalisation) soit communiquée à {sponsor}. Sans cet accord, {sponsor} ne reçoit que des chiffres agrégés et anonymes."
            ),
        ));
        out.push(text(
            SPONSOR_SHARE,
            "en",
            &format!(
                "I agree that my nominative attendance (connection times, sign-ins, completion) is shared with {sponsor}. Without this agreement, {sponsor} only receives anonymous aggregate figures."
            ),
        ));
    }
    out
}

fn text(consent: &str, lang: &str, text: &str) -> ConsentText {
    ConsentText {
        consent: consent.to_owned(),
        lang: lang.to_owned(),
        text: text.to_owned(),
        sha256: to_hex(&Sha256::digest(text.as_bytes()).into()),
    }
}

/// Whether `sha256` is the hash of a wording of `consent` for this session.
pub fn known(texts: &[ConsentText], consent: &str, sha256: &str) -> bool {
    texts
        .iter()
        .any(|t| t.consent == consent && t.sha256.eq_ignore_ascii_case(sha256))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wordings_are_hashed_and_sponsor_share_needs_a_sponsor() {
        let without = texts(None);
        assert!(without.iter().all(|t| t.consent == RECORDING));
        let with = texts(Some("Entreprise Exemple"));
        let share: Vec<_> = with.iter().filter(|t| t.consent == SPONSOR_SHARE).collect();
        assert_eq!(share.len(), 2);
        assert!(share.iter().all(|t| t.text.contains("Entreprise Exemple")));
        for t in &with {
            assert_eq!(t.sha256, to_hex(&Sha256::digest(t.text.as_bytes()).into()));
            assert!(known(&with, &t.consent, &t.sha256));
        }
        let fr_recording = &with[0].sha256;
        assert!(
            !known(&with, SPONSOR_SHARE, fr_recording),
            "a hash is bound to its consent"
        );
        assert!(!known(&without, SPONSOR_SHARE, &share[0].sha256));
    }
}
