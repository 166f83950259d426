//! Time-limited TURN credentials, the scheme coturn calls `use-auth-secret`
//! (draft-uberti-behave-turn-rest): the user name is `EXPIRY:ID` (EXPIRY in
//! seconds since the Unix epoch), the password is
//! `base64(HMAC-SHA1(secret, user name))`. Whoever holds the secret mints
//! them; a TURN server holding the same secret checks them without asking
//! anyone. Pure: the caller passes the time in.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cadre_protocol::signalling::IceServer;
use ring::hmac;
use std::time::Duration;

/// Mints credentials for the TURN URLs people are given.
#[derive(Clone)]
pub struct TurnCredentials {
    key: hmac::Key,
    urls: Vec<String>,
    validity: Duration,
}

impl std::fmt::Debug for TurnCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("TurnCredentials")
            .field("urls", &self.urls)
            .field("validity", &self.validity)
            .finish_non_exhaustive()
    }
}

impl TurnCredentials {
    /// Credentials under `secret` for `urls`, each valid for `validity`.
    pub fn new(secret: &str, urls: Vec<String>, validity: Duration) -> Self {
        TurnCredentials {
            key: key(secret),
            urls,
            validity,
        }
    }

    /// The URLs credentials are minted for.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// How long a minted credential is valid.
    pub fn validity(&self) -> Duration {
        self.validity
    }

    /// When a connection sends fresh credentials: some minutes before the
    /// last ones expire (a fifth of the validity, at most ten minutes), so
    /// that an ICE restart near the end still has a valid pair.
    pub fn renew_after(&self) -> Duration {
        let margin = (self.validity / 5).min(Duration::from_secs(600));
        self.validity
            .saturating_sub(margin)
            .max(Duration::from_secs(1))
    }

    /// One ICE server entry for `id` (a participant id: TURN servers log
    /// user names, so never a personal name), valid from `now_unix` for the
    /// configured time.
    pub fn mint(&self, id: &str, now_unix: u64) -> IceServer {
        let expiry = now_unix.saturating_add(self.validity.as_secs().max(1));
        let username = format!("{expiry}:{id}");
        let credential = password(&self.key, &username);
        IceServer {
            urls: self.urls.clone(),
            username: Some(username),
            credential: Some(credential),
        }
    }
}

/// Why a TURN user name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The user name does not start with an expiry time.
    #[error("the TURN user name does not start with an expiry time (EXPIRY:ID)")]
    Malformed,
    /// The expiry time has passed.
    #[error("the TURN credential expired at {0} (Unix time)")]
    Expired(u64),
}

/// The HMAC key of a shared secret.
pub fn key(secret: &str) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes())
}

/// The password of `username` under `key`.
pub fn password(key: &hmac::Key, username: &str) -> String {
    STANDARD.encode(hmac::sign(key, username.as_bytes()).as_ref())
}

/// The expiry a user name carries, refused when it has passed at
/// `now_unix`. Whether the password matches is the TURN message
/// integrity's business (the key is derived from [`password`]).
pub fn check_expiry(username: &str, now_unix: u64) -> Result<u64, CredentialError> {
    let expiry = username
        .split(':')
        .next()
        .and_then(|e| e.parse::<u64>().ok())
        .ok_or(CredentialError::Malformed)?;
    if expiry < now_unix {
        return Err(CredentialError::Expired(expiry));
    }
    Ok(expiry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_password_is_coturns_hmac_of_the_user_name() {
        let c = TurnCredentials::new(
            "s3cret",
            vec!["turn:h:3478".into()],
            Duration::from_secs(7200),
        );
        let s = c.mint("p_abc", 1_000);
        assert_eq!(s.username.as_deref(), Some("8200:p_abc"));
        // Reference value: `printf %s 8200:p_abc | openssl dgst -sha1 -hmac s3cret -binary | base64`.
        let expected = "T+2dGmf56DA3aCWSJ4oqF/j34Oo=";
        assert_eq!(s.credential.as_deref(), Some(expected));
        assert_eq!(expected.len(), 28, "20 bytes of SHA-1 in base64");
    }

    #[test]
    fn expiry_is_checked_and_malformed_names_refused() {
        assert_eq!(check_expiry("200:p", 100), Ok(200));
        assert_eq!(check_expiry("200:p", 200), Ok(200));
        assert_eq!(
            check_expiry("200:p", 201),
            Err(CredentialError::Expired(200))
        );
        assert_eq!(check_expiry("alice", 1), Err(CredentialError::Malformed));
        assert_eq!(check_expiry(":p", 1), Err(CredentialError::Malformed));
    }

    #[test]
    fn renewal_comes_before_expiry_with_a_bounded_margin() {
        let two_hours = TurnCredentials::new("s", vec![], Duration::from_secs(7200));
        assert_eq!(two_hours.renew_after(), Duration::from_secs(6600));
        let short = TurnCredentials::new("s", vec![], Duration::from_secs(10));
        assert_eq!(short.renew_after(), Duration::from_secs(8));
    }
}
