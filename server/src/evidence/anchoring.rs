//! Anchoring the ledger with the operator's RFC 3161 time-stamping
//! authority (docs/evidence.md, "Anchoring"): a task that, every anchoring
//! period and when a session ends, time-stamps a signed tree head of each
//! log that grew since its last anchor, and stores the token beside the
//! head in the ledger's append-only `anchors` table.
//!
//! It runs off the append path: appends never wait for it, and a TSA that
//! is down or answers nonsense only delays anchors (logged, retried every
//! `retry` until it answers). Tokens are checked before they are stored
//! (status, imprint, nonce, signature, and that `genTime` is not before the
//! head's time, which a verifier would refuse), so a stored anchor is one
//! `cadre verify` accepts.

use crate::evidence::ledger::{AnchorRow, Ledger, LedgerError};
use cadre_protocol::anchor::{self, AnchorError};
use ring::rand::{SecureRandom, SystemRandom};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Default time between anchoring passes.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(10 * 60);
/// Default time before a failed anchoring is tried again.
pub const DEFAULT_RETRY: Duration = Duration::from_secs(60);
/// How long one time-stamp request may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response read from a TSA (a token with a certificate chain is a
/// few kilobytes).
const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// Session ends waiting to be anchored; when full, the next periodic pass
/// anchors them anyway.
const QUEUE: usize = 256;

/// The operator's anchoring settings.
#[derive(Debug, Clone)]
pub struct AnchorConfig {
    /// The TSA's URL (`http://…`); anchoring is off without one.
    pub tsa_url: Option<String>,
    /// Time between passes; a pass anchors only logs that grew.
    pub period: Duration,
    /// Time before a failed pass or session anchor is tried again.
    pub retry: Duration,
}

impl Default for AnchorConfig {
    fn default() -> Self {
        AnchorConfig {
            tsa_url: None,
            period: DEFAULT_PERIOD,
            retry: DEFAULT_RETRY,
        }
    }
}

/// Why one anchoring did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AnchorFailure {
    /// Reading the log or storing the token failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The TSA could not be reached or answered with an HTTP error.
    #[error("time-stamping authority unreachable or failing: {0}")]
    Http(String),
    /// The TSA's answer is not a token for this head.
    #[error(transparent)]
    Token(#[from] AnchorError),
    /// The token is valid but stamps a time before the head's: one of the
    /// two clocks is wrong, and a verifier would refuse the anchor.
    #[error(
        "the TSA's time {gen_time} ms is before the tree head's {head_ts} ms: check this \
         server's clock"
    )]
    Clock {
        /// The token's genTime.
        gen_time: i64,
        /// The head's time.
        head_ts: i64,
    },
    /// The system random generator failed (nonces).
    #[error("no randomness available")]
    Random,
}

/// Where sessions that just ended are announced, so their logs are anchored
/// at once rather than at the next pass. Cheap to clone; does nothing when
/// anchoring is off.
#[derive(Debug, Clone, Default)]
pub struct AnchorQueue {
    tx: Option<mpsc::Sender<String>>,
}

impl AnchorQueue {
    /// A queue and, when a TSA is configured, the receiving end the
    /// [`Anchorer`] runs on.
    pub fn new(config: &AnchorConfig) -> (AnchorQueue, Option<mpsc::Receiver<String>>) {
        if config.tsa_url.is_none() {
            return (AnchorQueue { tx: None }, None);
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        (AnchorQueue { tx: Some(tx) }, Some(rx))
    }

    /// Asks for `sid` to be anchored soon. Never waits: when the queue is
    /// full the periodic pass covers the session.
    pub fn session_ended(&self, sid: &str) {
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(sid.to_owned());
        }
    }
}

/// The anchoring task's state.
pub struct Anchorer {
    ledger: Ledger,
    url: String,
    http: reqwest::Client,
    rng: SystemRandom,
}

impl Anchorer {
    /// An anchorer sending requests to `url`.
    pub fn new(ledger: Ledger, url: String) -> Result<Anchorer, AnchorFailure> {
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| AnchorFailure::Http(e.to_string()))?;
        Ok(Anchorer {
            ledger,
            url,
            http,
            rng: SystemRandom::new(),
        })
    }

    /// Anchors every grown log now (what the previous run left unanchored
    /// included), then every `period`, and each session announced on
    /// `ended` as it comes; until `stop`.
    pub async fn run(
        self,
        config: AnchorConfig,
        mut ended: mpsc::Receiver<String>,
        stop: CancellationToken,
    ) {
        let mut next = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                Some(sid) = ended.recv() => {
                    if let Err(e) = self.anchor(&sid).await {
                        warn!(sid, "anchoring an ended session failed, will retry: {e}");
                        next = next.min(tokio::time::Instant::now() + config.retry);
                    }
                }
                () = tokio::time::sleep_until(next) => {
                    let ok = self.pass().await;
                    next = tokio::time::Instant::now()
                        + if ok { config.period } else { config.retry };
                }
            }
        }
    }

    /// Anchors every log that grew since its last anchor; false when one
    /// of them failed (they are all tried).
    pub async fn pass(&self) -> bool {
        let grown = match self.ledger.anchor_progress(None).await {
            Ok(p) => p,
            Err(e) => {
                warn!("anchoring: cannot read the ledger: {e}");
                return false;
            }
        };
        let mut ok = true;
        for p in grown.into_iter().filter(|p| p.entries > p.anchored) {
            if let Err(e) = self.anchor(&p.sid).await {
                warn!(sid = p.sid, "anchoring failed, will retry: {e}");
                ok = false;
            }
        }
        ok
    }

    /// Anchors `sid`'s log if it grew since its last anchor; returns the
    /// stored anchor, or `None` when there was nothing new to anchor.
    pub async fn anchor(&self, sid: &str) -> Result<Option<AnchorRow>, AnchorFailure> {
        let progress = self.ledger.anchor_progress(Some(sid)).await?;
        let Some(p) = progress.first() else {
            return Ok(None);
        };
        if p.entries <= p.anchored {
            return Ok(None);
        }
        // Reuses the latest head when the log has not grown since it.
        let head = self.ledger.tree_head(sid).await?;
        let imprint = anchor::imprint(&head.jws);
        let mut nonce = [0u8; 8];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| AnchorFailure::Random)?;
        let nonce = u64::from_be_bytes(nonce);
        let query = anchor::request(&imprint, nonce)?;
        let reply = self.post(query).await?;
        let (token, stamp) = anchor::accept_response(&reply, &imprint, nonce)?;
        // The same tolerance the verifier applies: genTime is whole seconds
        // give or take the stated accuracy.
        if stamp.gen_time + 999 + stamp.accuracy_ms < head.head.ts {
            return Err(AnchorFailure::Clock {
                gen_time: stamp.gen_time,
                head_ts: head.head.ts,
            });
        }
        let row = AnchorRow {
            sid: sid.to_owned(),
            tree_size: head.head.tree_size,
            head_jws: head.jws,
            gen_time: stamp.gen_time,
            token,
        };
        self.ledger.record_anchor(row.clone()).await?;
        info!(
            sid,
            tree_size = row.tree_size,
            serial = stamp.serial,
            "tree head anchored"
        );
        Ok(Some(row))
    }

    async fn post(&self, query: Vec<u8>) -> Result<Vec<u8>, AnchorFailure> {
        let http = |e: &dyn std::fmt::Display| AnchorFailure::Http(format!("{}: {e}", self.url));
        let response = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/timestamp-query")
            .body(query)
            .send()
            .await
            .map_err(|e| http(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(http(&format!("answered {status}")));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(http(&"the answer is too large for a time-stamp"));
        }
        let body = response.bytes().await.map_err(|e| http(&e))?;
        if body.len() > MAX_RESPONSE_BYTES {
            return Err(http(&"the answer is too large for a time-stamp"));
        }
        Ok(body.to_vec())
    }
}
