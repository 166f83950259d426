//! Staff logins: the password check, the lockout, the per-address limit,
//! the login's secret and its CSRF token, and the audit entries they write.
//!
//! What an attacker learns from a failed login is one sentence, the same
//! whether the e-mail is unknown, the password wrong, the account locked or
//! disabled, and the work done for it is the same: an unknown e-mail is
//! checked against a fixed dummy hash with the same parameters.
//!
//! Argon2 is made to be slow (tens of milliseconds of one core per check):
//! every hash runs on the blocking pool, at most one per core at once, and
//! at most [`QUEUED_HASHES`] wait for their turn; beyond, a login is
//! answered 503 at once, so a flood of logins never takes the runtime's
//! threads from the calls.

use crate::app::App;
use crate::directory::staff::{self, NewAuditEntry, StaffRecord};
use crate::error::ApiError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cadre_protocol::ErrorCode;
use cadre_protocol::staff::StaffView;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Failed logins in a row that lock an account.
pub const LOCK_AFTER_FAILURES: u32 = 5;
/// How long a lock lasts unless an administrator lifts it.
pub const LOCK_DURATION: Duration = Duration::from_secs(15 * 60);
/// Failed logins one address may make within [`ADDRESS_WINDOW`]; beyond,
/// its logins are refused with 429 until the oldest leaves the window.
pub const ADDRESS_FAILURES: usize = 10;
/// The window of [`ADDRESS_FAILURES`].
pub const ADDRESS_WINDOW: Duration = Duration::from_secs(15 * 60);
/// A login unused this long ends.
pub const IDLE_EXPIRY: Duration = Duration::from_secs(2 * 3600);
/// A login ends this long after it began, however used.
pub const ABSOLUTE_EXPIRY: Duration = Duration::from_secs(12 * 3600);
/// Password checks waiting for a core; beyond, logins get 503.
pub const QUEUED_HASHES: usize = 64;
/// Addresses remembered at most; the oldest are forgotten first.
const MAX_ADDRESSES: usize = 10_000;

/// The one answer to every failed login.
pub const LOGIN_FAILED: &str = "the e-mail address or the password is wrong";

/// The login state shared by every request.
pub struct StaffAuth {
    /// One permit per core: hashes running now.
    hashing: Arc<Semaphore>,
    /// Hashes running or waiting.
    queue: Arc<Semaphore>,
    /// Recent failed logins per address (an IPv6 /64 counts as one).
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    /// The hash an unknown e-mail is checked against.
    dummy: OnceLock<String>,
}

impl Default for StaffAuth {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        StaffAuth {
            hashing: Arc::new(Semaphore::new(cores)),
            queue: Arc::new(Semaphore::new(QUEUED_HASHES)),
            failures: Mutex::new(HashMap::new()),
            dummy: OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for StaffAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffAuth").finish_non_exhaustive()
    }
}

fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::from(octets)
        }
        v4 => v4,
    }
}

impl StaffAuth {
    /// How long `ip` must wait before its next login, when it failed too
    /// often lately.
    fn address_wait(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let times = map.get_mut(&address_key(ip))?;
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= ADDRESS_WINDOW)
        {
            times.pop_front();
        }
        (times.len() >= ADDRESS_FAILURES)
            .then(|| {
                times
                    .front()
                    .map(|t| ADDRESS_WINDOW - now.duration_since(*t))
            })
            .flatten()
    }

    fn address_failed(&self, ip: IpAddr, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ADDRESSES && !map.contains_key(&address_key(ip)) {
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < ADDRESS_WINDOW)
            });
            if map.len() >= MAX_ADDRESSES {
                map.clear();
            }
        }
        let times = map.entry(address_key(ip)).or_default();
        times.push_back(now);
        while times.len() > ADDRESS_FAILURES {
            times.pop_front();
        }
    }

    /// Runs `work` (a hash or a check) on the blocking pool once a core is
    /// free; `None` when too many already wait.
    async fn hash<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let Ok(_queued) = Arc::clone(&self.queue).try_acquire_owned() else {
            return Err(ApiError::new(
                ErrorCode::AtCapacity,
                "too many logins at once; try again in a moment",
            )
            .with_retry_after(Duration::from_secs(1)));
        };
        let _running = Arc::clone(&self.hashing)
            .acquire_owned()
            .await
            .map_err(|e| ApiError::internal("password check", e))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| ApiError::internal("password check", e))
    }
}

/// A login's secret, as the cookie carries it.
pub struct LoginSecret(pub String);

impl LoginSecret {
    fn new() -> Result<LoginSecret, ApiError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| ApiError::internal("login", "no randomness"))?;
        Ok(LoginSecret(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// What the catalogue stores.
    pub fn hash(&self) -> Vec<u8> {
        Sha256::digest(self.0.as_bytes()).to_vec()
    }

    /// The CSRF token of this login: derived from the secret, so a page
    /// that cannot read the cookie (another origin) cannot compute it, and
    /// nothing more is stored.
    pub fn csrf(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"cadre staff csrf\0");
        h.update(self.0.as_bytes());
        URL_SAFE_NO_PAD.encode(h.finalize())
    }
}

/// A logged-in staff member, as a request proved it.
#[derive(Debug, Clone)]
pub struct StaffLogin {
    /// The account.
    pub staff: StaffView,
    /// The hash of the login's secret (to end it).
    pub secret_hash: Vec<u8>,
    /// The login's CSRF token.
    pub csrf: String,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl App {
    /// The login state.
    pub(crate) fn staff_auth(&self) -> &StaffAuth {
        &self.inner.staff
    }

    /// Appends to the audit log; a failure to write it is logged, not
    /// returned: the action it describes has already happened.
    pub async fn audit(&self, entry: NewAuditEntry) {
        if let Err(e) = self
            .catalog()
            .run(move |c| staff::append(c, entry, now_ms()))
            .await
        {
            tracing::error!(error = %e, "staff audit log: an entry could not be written");
        }
    }

    /// Checks an e-mail and password; on success opens a login.
    pub async fn staff_login(
        &self,
        email: &str,
        password: &str,
        ip: IpAddr,
    ) -> Result<(StaffView, LoginSecret), ApiError> {
        let auth = self.staff_auth();
        let address = Some(ip.to_string());
        if email.len() > 254 || password.len() > staff::MAX_PASSWORD_BYTES {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "the e-mail address or the password is too long",
            ));
        }
        if let Some(wait) = auth.address_wait(ip, Instant::now()) {
            self.audit(NewAuditEntry {
                actor: "anonymous",
                email: Some(staff::normalise_email(email)),
                action: "login_refused".into(),
                target: Some("too many failed logins from this address".into()),
                address,
                ..Default::default()
            })
            .await;
            return Err(ApiError::new(
                ErrorCode::RateLimited,
                "too many failed logins from this address; try again later",
            )
            .with_retry_after(wait));
        }
        let wanted = email.to_owned();
        let record = self
            .catalog()
            .run(move |c| staff::by_email(c, &wanted))
            .await?;
        let given = password.to_owned();
        let stored = record.as_ref().map(|r| r.password_hash.clone());
        let dummy = if stored.is_none() {
            Some(self.dummy_hash().await?)
        } else {
            None
        };
        let matches = auth
            .hash(move || {
                let hash = stored.or(dummy).unwrap_or_default();
                staff::verify_password(&hash, &given)
            })
            .await?;
        let now = now_ms();
        let refusal = match &record {
            None => Some("unknown e-mail address"),
            Some(r) if r.view.disabled_at.is_some() => Some("account disabled"),
            Some(r) if r.view.locked_until.is_some_and(|t| t > now) => Some("account locked"),
            Some(_) if !matches => Some("wrong password"),
            Some(_) => None,
        };
        if let Some(reason) = refusal {
            auth.address_failed(ip, Instant::now());
            let staff_id = record.as_ref().map(|r| r.view.id.clone());
            if let Some(id) = staff_id.clone().filter(|_| reason != "account disabled") {
                self.catalog()
                    .run(move |c| {
                        staff::record_failure(
                            c,
                            &id,
                            now,
                            LOCK_AFTER_FAILURES,
                            LOCK_DURATION.as_millis() as i64,
                        )
                    })
                    .await?;
            }
            self.audit(NewAuditEntry {
                actor: "anonymous",
                staff_id,
                email: Some(staff::normalise_email(email)),
                action: "login_failed".into(),
                target: Some(reason.into()),
                address,
            })
            .await;
            return Err(ApiError::new(ErrorCode::Unauthorized, LOGIN_FAILED));
        }
        let Some(StaffRecord { view, .. }) = record else {
            return Err(ApiError::new(ErrorCode::Unauthorized, LOGIN_FAILED));
        };
        let secret = LoginSecret::new()?;
        let (id, hash) = (view.id.clone(), secret.hash());
        self.catalog()
            .run(move |c| {
                staff::record_success(c, &id)?;
                staff::open_session(c, &hash, &id, now)
            })
            .await?;
        self.audit(NewAuditEntry {
            actor: "staff",
            staff_id: Some(view.id.clone()),
            email: Some(view.email.clone()),
            action: "login".into(),
            target: None,
            address,
        })
        .await;
        Ok((
            StaffView {
                failed_attempts: 0,
                locked_until: None,
                ..view
            },
            secret,
        ))
    }

    /// Makes the dummy hash ahead of the first login (see [`Self::staff_login`]).
    pub(crate) async fn prepare_staff_login(&self) {
        if let Err(e) = self.dummy_hash().await {
            tracing::warn!(error = %e.message, "staff login: the dummy hash could not be made ahead");
        }
    }

    /// The fixed hash unknown e-mails are checked against, made once.
    async fn dummy_hash(&self) -> Result<String, ApiError> {
        if let Some(hash) = self.staff_auth().dummy.get() {
            return Ok(hash.clone());
        }
        let hash = self
            .staff_auth()
            .hash(|| staff::hash_password("no account has this password"))
            .await??;
        Ok(self.staff_auth().dummy.get_or_init(|| hash).clone())
    }

    /// The staff member of the login whose secret is `secret`, when it is
    /// valid now.
    pub async fn staff_session(&self, secret: &str) -> Result<Option<StaffLogin>, ApiError> {
        let secret = LoginSecret(secret.to_owned());
        let hash = secret.hash();
        let key = hash.clone();
        let found = self
            .catalog()
            .run(move |c| {
                staff::session(
                    c,
                    &key,
                    now_ms(),
                    IDLE_EXPIRY.as_millis() as i64,
                    ABSOLUTE_EXPIRY.as_millis() as i64,
                )
            })
            .await?;
        Ok(found.map(|r| StaffLogin {
            staff: r.view,
            secret_hash: hash,
            csrf: secret.csrf(),
        }))
    }

    /// Hashes a password on the blocking pool, within the same bound as
    /// logins.
    pub async fn hash_staff_password(&self, password: String) -> Result<String, ApiError> {
        Ok(self
            .staff_auth()
            .hash(move || staff::hash_password(&password))
            .await??)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_ten_failures_until_the_first_leaves_the_window() {
        let auth = StaffAuth::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let start = Instant::now();
        for i in 0..ADDRESS_FAILURES {
            assert_eq!(auth.address_wait(ip, start), None, "after {i} failures");
            auth.address_failed(ip, start);
        }
        assert!(auth.address_wait(ip, start).is_some());
        assert_eq!(auth.address_wait("192.0.2.8".parse().unwrap(), start), None);
        assert_eq!(auth.address_wait(ip, start + ADDRESS_WINDOW), None);
    }

    #[test]
    fn one_ipv6_slash_64_counts_as_one_address() {
        let auth = StaffAuth::default();
        let start = Instant::now();
        for i in 0..ADDRESS_FAILURES {
            auth.address_failed(format!("2001:db8::{i:x}").parse().unwrap(), start);
        }
        assert!(
            auth.address_wait("2001:db8::ffff".parse().unwrap(), start)
                .is_some()
        );
    }
}
