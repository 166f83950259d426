//! The application state shared by every request and connection, and the
//! operations the REST API, the CLI and the WebSocket need: create and read
//! sessions, mint links, admit a token, revoke.

// Actions, identity, certificat de réalisation.
pub mod actions;
pub mod address_limits;
pub mod answers;
// A session's title, a person's name, e-mail, mail language or zone corrected.
pub mod corrections;
pub mod difficulties;
// The dossier d'audit of an action: one zip for an auditor.
pub mod dossier;
// People and sessions added from the console: by hand, late, duplicated.
pub mod enrolment;
pub mod equipment;
// Beneficiaries read from a training office's CSV file (a preview).
pub mod import;
// Invitations by e-mail: queueing them, the queue's view.
pub mod invitations;
// Staff's live view of a session: connected now, sign-ins, alerts.
pub mod live_view;
// What every node's live rooms hear of a change made through any node.
pub mod live_events;
// A session moved or cancelled from the console.
pub mod planning;
pub mod proofs;
// Appreciation questionnaires: invitations, answers kept apart, aggregates.
pub mod questionnaires;
pub mod recordings;
// What a removed person's link still opens.
pub mod removal;
pub mod sponsor;
// The key set read again on SIGHUP and when its state file changes.
pub mod signing_keys;
// Staff logins: password checks, lockout, the audit log.
pub mod staff;

use crate::config::Config;
use crate::directory::catalog::{Admission, Catalog, Link, Person, Session, SessionDetail};
use crate::directory::keys::{Jwks, KeySet};
use crate::directory::links::{ISSUER, JOIN_AUDIENCE, JoinClaims, LinkError, LinkSigner};
use crate::error::ApiError;
use crate::evidence::jws::JwsSigner;
use crate::evidence::ledger::Ledger;
use crate::live::session::{Registry, SessionSettings};
use crate::recording::Recorder;
use address_limits::{AddressLimits, AddressLimitsConfig};
use cadre_protocol::api::Consents;
use cadre_protocol::api::{LinkView, NewSession, PersonView, Revoked, SessionSummary, SessionView};
use cadre_protocol::attendance::Schedule;
use cadre_protocol::evidence::{Entry, kind};
use cadre_protocol::signalling::{Me, SessionInfo};
use cadre_protocol::{ErrorCode, Role};
use chrono::{DateTime, SecondsFormat, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Limits applied to every connection.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Sustained messages per second.
    pub rate_per_second: u32,
    /// Burst above the sustained rate.
    pub rate_burst: u32,
    /// Queue towards the client.
    pub outbound_queue: usize,
    /// Ping period; silence for three periods ends the connection.
    pub heartbeat_interval: Duration,
    /// Longest wait for the client's close frame once the server's is sent.
    pub close_grace: Duration,
}

/// Who is connecting, decided before the upgrade.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// The session's sponsor, if any (decides the consent wordings).
    pub sponsor: Option<String>,
    /// This person's consent decisions ([`App::admit`](crate::App::admit) reads them;
    /// a connection leaves them undecided: its session's actor has them).
    pub consents: cadre_protocol::api::Consents,
    /// Everyone in the session, for a facilitator's console (empty for a
    /// participant, and for a connection: its session's actor has them).
    pub people: Vec<cadre_protocol::signalling::Me>,
    /// The session's plan, for half-days.
    pub schedule: Schedule,
    /// Where the connection comes from (socket address; evidence).
    pub ip: String,
    /// `X-Forwarded-For`, kept as a claim when a proxy sets it.
    pub forwarded_for: Option<String>,
    /// The trusted proxy the connection came through, when `ip` is the
    /// client it named.
    pub via: Option<String>,
    /// The browser's user agent (evidence).
    pub user_agent: String,
    /// Participant id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The session as shown to clients.
    pub session: SessionInfo,
}

/// Cheap-to-clone handle on everything a request needs.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    catalog: Catalog,
    ledger: Ledger,
    jws: JwsSigner,
    /// The key set in service: what `/.well-known/jwks.json` publishes;
    /// `jws` and `signer` sign with its current key (see `signing_keys`).
    keys: std::sync::RwLock<Arc<KeySet>>,
    signer: LinkSigner,
    organiser_token: String,
    public_url: String,
    link_lead: Duration,
    link_grace: Duration,
    registry: Arc<Registry>,
    recorder: Arc<Recorder>,
    recording_retention: Duration,
    limits: Limits,
    connections: Arc<Semaphore>,
    addresses: Arc<AddressLimits>,
    per_address_connections: usize,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    /// TURN credentials to renew and the embedded server's figures.
    turn: crate::turn::TurnSetup,
    /// The anchoring settings and the queue of ended sessions, taken once
    /// by the server that runs the anchoring task (none when it is off).
    anchoring: std::sync::Mutex<
        Option<(
            crate::evidence::anchoring::AnchorConfig,
            tokio::sync::mpsc::Receiver<String>,
        )>,
    >,
    // What people see.
    default_lang: cadre_protocol::api::UiLang,
    evidence_kept_years: u32,
    privacy_contact: Option<String>,
    /// Difficulty answers already sent live, so that the watcher of the
    /// catalogue does not send them twice (see `answers`).
    told: answers::Told,
    told_changes: answers::ToldChanges,
    /// The equipment check's peers.
    checks: crate::equipment::Checks,
    /// The counters `/metrics` reports.
    metrics: Arc<crate::metrics::Metrics>,
    /// The bearer token that opens `/metrics` on the main address.
    metrics_token: Option<String>,
    /// `/readyz` fails below this much free space in the data directory.
    min_free_disk_bytes: u64,
    data_dir: std::path::PathBuf,
    /// The further checks other parts register for `/readyz`.
    readiness: crate::readiness::Checks,
    // Behind a reverse proxy, and TLS.
    /// The proxies whose `X-Forwarded-*` headers are believed.
    trusted_proxies: crate::proxy::TrustedProxies,
    /// True when this process runs the TLS handshakes itself.
    serves_tls: bool,
    // Mail (docs/operations.md, "Mail").
    /// How mail is sent; none: it is not.
    mail: Option<crate::mail::MailSettings>,
    /// Wakes the sender when mail is queued.
    mail_wake: Arc<tokio::sync::Notify>,
    /// Staff logins: the bound on password checks, failures per address.
    staff: staff::StaffAuth,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("public_url", &self.inner.public_url)
            .finish_non_exhaustive()
    }
}

impl App {
    /// The anchoring task's settings and queue, once (for the server that
    /// runs it); `None` when no TSA is configured.
    pub(crate) fn take_anchoring(
        &self,
    ) -> Option<(
        crate::evidence::anchoring::AnchorConfig,
        tokio::sync::mpsc::Receiver<String>,
    )> {
        self.inner
            .anchoring
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Assembles the state from opened parts.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: &Config,
        catalog: Catalog,
        ledger: Ledger,
        recorder: Arc<Recorder>,
        keys: KeySet,
        organiser_token: String,
        public_url: String,
        shutdown: CancellationToken,
        tracker: TaskTracker,
        turn: crate::turn::TurnSetup,
    ) -> App {
        let (anchor, anchor_rx) = crate::evidence::anchoring::AnchorQueue::new(&config.anchoring);
        // The ledger's own signer (tree heads), so that a rotation reaches
        // it with the proofs'.
        let jws = ledger.signer().clone();
        jws.use_key(keys.current());
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let mail_wake = Arc::new(tokio::sync::Notify::new());
        let registry = Registry::new(
            SessionSettings {
                ice_servers: config.ice_servers.clone(),
                turn: turn.credentials.clone(),
                ice_policy: config.ice_policy,
                heartbeat_interval: config.heartbeat_interval,
                quality: config.quality.clone(),
                anchor,
                media_mode: config.media_mode,
                forwarded_members: config.forwarded_members,
                forwarding_capacity: crate::forward::Capacity::new(config.forwarded_streams),
                media_ip: config.media_ip,
                metrics: Arc::clone(&metrics),
                mail: config.mail.as_ref().map(|_| Arc::clone(&mail_wake)),
            },
            tracker.clone(),
            ledger.clone(),
            Arc::clone(&recorder),
            catalog.clone(),
        );
        App {
            inner: Arc::new(Inner {
                catalog,
                ledger,
                jws,
                signer: LinkSigner::for_set(&keys),
                keys: std::sync::RwLock::new(Arc::new(keys)),
                organiser_token,
                public_url: public_url.trim_end_matches('/').to_owned(),
                link_lead: config.link_lead,
                link_grace: config.link_grace,
                registry,
                recorder,
                recording_retention: config.recording_retention,
                limits: Limits {
                    rate_per_second: config.rate_per_second,
                    rate_burst: config.rate_burst,
                    outbound_queue: config.outbound_queue.max(1),
                    heartbeat_interval: config.heartbeat_interval,
                    close_grace: config.close_grace,
                },
                connections: Arc::new(Semaphore::new(config.max_connections)),
                addresses: AddressLimits::new(AddressLimitsConfig {
                    connections: config.per_address_connections,
                    admissions_per_second: f64::from(config.per_address_admissions_per_second),
                    admission_burst: config.per_address_admission_burst,
                }),
                per_address_connections: config.per_address_connections,
                checks: crate::equipment::Checks::new(
                    config.media_ip,
                    tracker.clone(),
                    shutdown.clone(),
                ),
                shutdown,
                tracker,
                turn,
                anchoring: std::sync::Mutex::new(
                    anchor_rx.map(|rx| (config.anchoring.clone(), rx)),
                ),
                default_lang: config.default_lang,
                evidence_kept_years: config.evidence_kept_years,
                privacy_contact: config.privacy_contact.clone(),
                told: answers::Told::default(),
                told_changes: answers::ToldChanges::default(),
                metrics,
                metrics_token: config.metrics_token.clone(),
                min_free_disk_bytes: config.min_free_disk_mb.saturating_mul(1024 * 1024),
                data_dir: config.data_dir.clone(),
                readiness: crate::readiness::Checks::default(),
                trusted_proxies: config.trusted_proxies.clone(),
                serves_tls: config.tls.is_some(),
                mail: config.mail.clone(),
                mail_wake,
                staff: staff::StaffAuth::default(),
            }),
        }
    }

    /// The server's counters: what `/metrics` reports, and where a TURN
    /// server counts its allocations.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.inner.metrics
    }

    /// The text `/metrics` answers now.
    pub fn render_metrics(&self) -> String {
        crate::metrics::render(
            &self.inner.metrics,
            self.inner.registry.live_sessions(),
            self.inner.ledger.metrics(),
            self.inner.recorder.metrics(),
            self.inner.turn.status.as_ref(),
        )
    }

    /// The bearer token that opens `/metrics` on the main address (none:
    /// `/metrics` is not served there).
    pub fn metrics_token(&self) -> Option<&str> {
        self.inner.metrics_token.as_deref()
    }

    /// The data directory (its free space is a readiness check).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.inner.data_dir
    }

    /// `/readyz` fails below this many free bytes in the data directory.
    pub fn min_free_disk_bytes(&self) -> u64 {
        self.inner.min_free_disk_bytes
    }

    /// The further readiness checks (the embedded TURN server's is one).
    pub fn readiness(&self) -> &crate::readiness::Checks {
        &self.inner.readiness
    }

    /// TURN credentials to mint, when people get TURN servers.
    pub fn turn_credentials(&self) -> Option<&Arc<crate::turn::TurnCredentials>> {
        self.inner.turn.credentials.as_ref()
    }

    /// The embedded TURN server's figures (live allocations, listening),
    /// when it runs: for `/metrics` and `/readyz`.
    pub fn turn_status(&self) -> Option<&crate::turn::TurnStatus> {
        self.inner.turn.status.as_ref()
    }

    /// The recorder.
    pub fn recorder(&self) -> &Arc<Recorder> {
        &self.inner.recorder
    }

    /// How long recordings are kept.
    pub fn recording_retention(&self) -> Duration {
        self.inner.recording_retention
    }

    /// The interface language when a person chose none.
    pub fn default_lang(&self) -> cadre_protocol::api::UiLang {
        self.inner.default_lang
    }

    /// The lobby notice's data-protection facts, for a session that chose
    /// `media` (or not).
    pub fn evidence_notice(
        &self,
        media: Option<cadre_protocol::session::MediaMode>,
    ) -> cadre_protocol::api::EvidenceNotice {
        cadre_protocol::api::EvidenceNotice {
            evidence_kept_years: self.inner.evidence_kept_years,
            recording_retention_days: self.inner.recording_retention.as_secs() / 86_400,
            contact: self.inner.privacy_contact.clone(),
            media: media.unwrap_or(self.inner.registry.settings().media_mode),
        }
    }

    pub(crate) fn told(&self) -> &answers::Told {
        &self.inner.told
    }

    pub(crate) fn told_changes(&self) -> &answers::ToldChanges {
        &self.inner.told_changes
    }

    /// The organiser bearer token.
    pub fn organiser_token(&self) -> &str {
        &self.inner.organiser_token
    }

    /// Base URL of links.
    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    /// The catalogue.
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// Signs and checks links (join and sponsor).
    pub fn signer(&self) -> &LinkSigner {
        &self.inner.signer
    }

    /// Signs documents (proofs) with the server key.
    pub fn jws(&self) -> &JwsSigner {
        &self.inner.jws
    }

    /// The evidence ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.inner.ledger
    }

    /// The live sessions.
    pub fn registry(&self) -> Arc<Registry> {
        Arc::clone(&self.inner.registry)
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    pub(crate) fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    pub(crate) fn tracker(&self) -> &TaskTracker {
        &self.inner.tracker
    }

    pub(crate) fn connection_permit(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.inner.connections).try_acquire_owned().ok()
    }

    /// Where a request from `peer` comes from: the peer, or the client a
    /// trusted proxy names (see [`crate::proxy`]).
    pub fn client_address(
        &self,
        peer: std::net::SocketAddr,
        headers: &axum::http::HeaderMap,
    ) -> crate::proxy::ClientAddress {
        self.inner.trusted_proxies.client(peer, headers)
    }

    /// True when this process serves HTTPS itself (`--tls-cert`).
    pub fn serves_tls(&self) -> bool {
        self.inner.serves_tls
    }

    /// Connections allowed at once from one address (0: no limit).
    pub fn per_address_connections(&self) -> usize {
        self.inner.per_address_connections
    }

    /// The per-address connection and admission limits.
    pub fn address_limits(&self) -> &Arc<AddressLimits> {
        &self.inner.addresses
    }

    /// The published keys: every key of the set, the current one first.
    pub fn jwks(&self) -> Jwks {
        self.key_set().jwks()
    }

    /// The validity window of a session's links.
    pub fn link_window(&self, session: &Session) -> (DateTime<Utc>, DateTime<Utc>) {
        link_window(session, self.inner.link_lead, self.inner.link_grace)
    }

    /// Validates and stores a session; returns it with everyone's link.
    pub async fn create_session(&self, new: NewSession) -> Result<SessionView, ApiError> {
        let (lead, grace) = (self.inner.link_lead, self.inner.link_grace);
        let app = self.clone();
        let detail = self
            .inner
            .catalog
            .run(move |c| {
                c.create_session(
                    &new,
                    |s| link_window(s, lead, grace),
                    |p, l| app.link_seal(p, l),
                )
            })
            .await?;
        self.view(detail)
    }

    /// One session with its links.
    pub async fn session_view(&self, sid: &str) -> Result<SessionView, ApiError> {
        let sid = sid.to_owned();
        let detail = self
            .inner
            .catalog
            .run(move |c| c.session_detail(&sid))
            .await?;
        self.view(detail)
    }

    /// Every session.
    pub async fn list_sessions(&self) -> Result<Vec<SessionSummary>, ApiError> {
        let rows = self.inner.catalog.run(|c| c.list_sessions()).await?;
        Ok(rows
            .into_iter()
            .map(|(s, people)| SessionSummary {
                state: s.state,
                cancelled: s.cancelled,
                id: s.id,
                title: s.title,
                kind: s.kind,
                planned_start: rfc3339(s.planned_start),
                planned_end: rfc3339(s.planned_end),
                time_zone: s.time_zone.name().to_owned(),
                people,
            })
            .collect())
    }

    /// Revokes a person's links and closes their live connection.
    pub async fn revoke(&self, sid: &str, pid: &str) -> Result<Revoked, ApiError> {
        let (s, p) = (sid.to_owned(), pid.to_owned());
        let person = self
            .inner
            .catalog
            .run(move |c| c.revoke_person(&s, &p))
            .await?;
        let disconnected = self.inner.registry.revoke(sid, &person.id).await;
        self.tell_other_nodes(live_events::LiveEvent::Revoked {
            sid: sid.to_owned(),
            pid: person.id.clone(),
        })
        .await;
        tracing::info!(sid, pid, disconnected, "link revoked");
        Ok(Revoked {
            id: person.id,
            disconnected,
        })
    }

    /// Lets a removed or revoked person back in (their same link works
    /// again), recorded in the ledger.
    pub async fn readmit(&self, sid: &str, pid: &str) -> Result<Revoked, ApiError> {
        let (s, p) = (sid.to_owned(), pid.to_owned());
        let person = self.inner.catalog.run(move |c| c.readmit(&s, &p)).await?;
        let event = crate::evidence::ledger::NewEvent {
            sid: sid.to_owned(),
            kind: kind::READMITTED,
            actor: cadre_protocol::evidence::ACTOR_ORGANISER.to_owned(),
            payload: serde_json::json!({"participant": person.id}),
            client_ts: None,
        };
        self.inner.ledger.append(event).await.map_err(|e| {
            ApiError::new(
                ErrorCode::Internal,
                format!("recording the re-admission: {e}"),
            )
        })?;
        tracing::info!(sid, pid, "re-admitted");
        Ok(Revoked {
            id: person.id,
            disconnected: false,
        })
    }

    /// The session as an `.ics` event for the person whose link this is.
    pub async fn calendar(&self, sid: &str, token: &str) -> Result<String, ApiError> {
        let s = sid.to_owned();
        let session = self.inner.catalog.run(move |c| c.session(&s)).await?;
        let (sequence, reason) = self.postponements(sid).await?;
        let cancelled = self.cancellation(sid).await?;
        let reason = match (&cancelled, reason) {
            (Some(r), _) => format!("Séance annulée : {r}"),
            (None, Some(r)) => format!("Séance reportée : {r}"),
            (None, None) => String::new(),
        };
        let description = if reason.is_empty() {
            session.organisation.clone()
        } else {
            format!(
                "{}
{reason}",
                session.organisation
            )
        };
        let url = format!("{}/j/{}", self.inner.public_url, token);
        Ok(crate::directory::calendar::ics(
            &crate::directory::calendar::Event {
                uid: &session.id,
                summary: &session.title,
                start: session.planned_start,
                end: session.planned_end,
                url: &url,
                description: &description,
                sequence: sequence + u32::from(cancelled.is_some()),
                cancelled: cancelled.is_some(),
                stamp: Utc::now(),
                invitation: None,
            },
        ))
    }

    /// Why staff cancelled the session, if they did: an `end` decided by
    /// the organiser (staff end only a session not under way).
    pub(crate) async fn cancellation(&self, sid: &str) -> Result<Option<String>, ApiError> {
        let entries = self.log(sid, u64::MAX).await?;
        Ok(entries
            .iter()
            .rfind(|e| {
                e.kind == kind::SESSION_STATE
                    && e.actor == cadre_protocol::evidence::ACTOR_ORGANISER
                    && e.payload_value().get("action").and_then(|a| a.as_str()) == Some("end")
            })
            .map(|e| {
                e.payload_value()
                    .get("reason")
                    .and_then(|r| r.as_str())
                    .unwrap_or_default()
                    .to_owned()
            }))
    }

    /// How many times the session was postponed (the calendar event's
    /// SEQUENCE), and the last postponement's reason.
    pub(crate) async fn postponements(&self, sid: &str) -> Result<(u32, Option<String>), ApiError> {
        let entries = self.log(sid, u64::MAX).await?;
        let postponements: Vec<&Entry> = entries
            .iter()
            .filter(|e| {
                e.kind == kind::SESSION_STATE
                    && e.payload_value().get("action").and_then(|a| a.as_str()) == Some("postpone")
            })
            .collect();
        let reason = postponements.last().and_then(|e| {
            e.payload_value()
                .get("reason")
                .and_then(|r| r.as_str())
                .map(str::to_owned)
        });
        Ok((postponements.len() as u32, reason))
    }

    /// Checks a join token end to end: signature and window, then the link
    /// in the catalogue (exists, matches, not revoked), then the session.
    /// `consents` holds the person's decisions as the ledger has them now.
    pub async fn admit(&self, token: &str) -> Result<Admitted, ApiError> {
        let mut who = self.admission(token, Origin::default(), true).await?;
        who.consents = self.consents(&who.session.id, &who.id).await?;
        Ok(who)
    }

    /// [`App::admit`] for a connection, noting where it comes from. It
    /// leaves `consents` undecided, `people` empty and the session's
    /// facilitators and action unread: the session's actor reads them once
    /// when it starts (they are the same for every join), and holds
    /// everyone's decisions, ordered with those written through it.
    pub async fn admit_from(&self, token: &str, origin: Origin) -> Result<Admitted, ApiError> {
        self.admission(token, origin, false).await
    }

    /// The admission; `described` adds what a page shows of the session
    /// (its facilitators, its action, and everyone for a facilitator).
    async fn admission(
        &self,
        token: &str,
        origin: Origin,
        described: bool,
    ) -> Result<Admitted, ApiError> {
        // A current link's catalogue entry is read before its signature is
        // checked: when the entry holds the link's seal, the text is the
        // one this server signed and the Ed25519 check is not needed.
        // Nothing read is used until the link is known to be authentic.
        let signer = &self.inner.signer;
        let (claims, checked) = match signer.claims_before_signature(token) {
            Some(claims) => (claims, false),
            None => match signer.verify(token) {
                Ok(claims) => (claims, true),
                Err(e) if e.code == ErrorCode::TokenExpired => {
                    (self.postponed_link(token, e).await?, true)
                }
                Err(e) => return Err(e.into()),
            },
        };
        let (jti, sid, sub) = (claims.jti.clone(), claims.sid.clone(), claims.sub.clone());
        let (admission, seal, facilitators, people, action) = self
            .inner
            .catalog
            .run_serial(move |c| {
                let (admission, seal) = c.admit_sealed(&jti, &sid, &sub)?;
                let Admission::Admitted { person, .. } = &admission else {
                    return Ok((admission, seal, Vec::new(), Vec::new(), None));
                };
                if !described {
                    return Ok((admission, seal, Vec::new(), Vec::new(), None));
                }
                let people = if person.role == Role::Facilitator {
                    c.people(&sid)?
                } else {
                    Vec::new()
                };
                // Which action the certificate covers.
                let action = c.action_of_session(&sid)?;
                Ok((admission, seal, c.facilitators(&sid)?, people, action))
            })
            .await?;
        let sealed = seal.is_some_and(|seal| signer.sealed(token, &seal));
        if !checked && !sealed {
            // Whatever the catalogue said, a link that is not authentic is
            // refused for that.
            signer.verify(token)?;
        }
        match admission {
            Admission::Admitted { session, person } => {
                if person.role != claims.role {
                    return Err(ApiError::new(
                        ErrorCode::TokenMalformed,
                        "this link's role does not match the session's records",
                    ));
                }
                let (info, schedule) = live_session(&session, facilitators, action);
                Ok(Admitted {
                    sponsor: session.sponsor.clone(),
                    consents: Consents::default(),
                    people: people
                        .into_iter()
                        .map(|p| Me {
                            id: p.id,
                            name: p.name,
                            role: p.role,
                        })
                        .collect(),
                    schedule,
                    ip: origin.ip,
                    forwarded_for: origin.forwarded_for,
                    via: origin.via,
                    user_agent: origin.user_agent,
                    id: person.id,
                    name: person.name,
                    role: person.role,
                    session: info,
                })
            }
            Admission::Revoked(at) => Err(ApiError::new(
                ErrorCode::TokenRevoked,
                format!("this link was revoked at {}", rfc3339(at)),
            )),
            Admission::UnknownLink => Err(ApiError::new(
                ErrorCode::NotFound,
                "this link names no person of this session",
            )),
        }
    }

    /// A link past its `exp` still opens a session that was postponed after
    /// the link was minted, while the new window lasts: the same links stay
    /// valid. A link minted for the current window (a forged `exp`, or a
    /// session never moved) stays expired.
    async fn postponed_link(
        &self,
        token: &str,
        expired: LinkError,
    ) -> Result<JoinClaims, ApiError> {
        let Ok(claims) = self.inner.signer.verify_ignoring_expiry(token) else {
            return Err(expired.into());
        };
        let (jti, sid) = (claims.jti.clone(), claims.sid.clone());
        let found = self
            .inner
            .catalog
            .run(move |c| Ok((c.link_expiry(&jti)?, c.session(&sid).ok())))
            .await?;
        let (Some(minted_until), Some(session)) = found else {
            return Err(expired.into());
        };
        let (_, until) = self.link_window(&session);
        let moved = until > minted_until + chrono::Duration::seconds(1);
        if moved && Utc::now() <= until {
            Ok(claims)
        } else {
            Err(expired.into())
        }
    }

    /// A person's current consent decisions, from the ledger. Asked at
    /// every join, so it reads only the person's consent entries.
    pub async fn consents(&self, sid: &str, pid: &str) -> Result<Consents, ApiError> {
        let (consents, _) = self
            .ledger()
            .consents(sid, pid)
            .await
            .map_err(|e| ApiError::internal("reading the ledger", e))?;
        Ok(consents)
    }

    fn view(&self, detail: SessionDetail) -> Result<SessionView, ApiError> {
        let s = detail.session;
        let people = detail
            .people
            .into_iter()
            .map(|(person, link)| {
                let link = self.link_view(&person, &link)?;
                Ok(PersonView {
                    id: person.id,
                    name: person.name,
                    email: person.email,
                    role: person.role,
                    lang: person.lang,
                    time_zone: person.time_zone.map(|z| z.name().to_owned()),
                    link,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(SessionView {
            id: s.id,
            title: s.title,
            kind: s.kind,
            organisation: s.organisation,
            planned_start: rfc3339(s.planned_start),
            planned_end: rfc3339(s.planned_end),
            time_zone: s.time_zone.name().to_owned(),
            sponsor: s.sponsor,
            state: s.state,
            cancelled: s.cancelled,
            created_at: rfc3339(s.created_at),
            people,
        })
    }

    /// The seal of a new link (see `links.rs`); without one the link is
    /// still valid, checked by its signature at each first join.
    pub(crate) fn link_seal(&self, person: &Person, link: &Link) -> Option<Vec<u8>> {
        match self.inner.signer.seal(&join_claims(person, link)) {
            Ok(seal) => Some(seal),
            Err(e) => {
                tracing::warn!("a link could not be sealed: {e}");
                None
            }
        }
    }

    fn link_view(&self, person: &Person, link: &Link) -> Result<LinkView, ApiError> {
        let token = self.inner.signer.mint(&join_claims(person, link))?;
        Ok(LinkView {
            url: format!("{}/j/{}", self.inner.public_url, token),
            token,
            not_before: rfc3339(link.not_before),
            expires_at: rfc3339(link.expires_at),
            revoked: link.revoked_at.is_some(),
        })
    }
}

/// Where a connection comes from, kept as evidence.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// Socket peer address.
    pub ip: String,
    /// `X-Forwarded-For` as sent (a claim).
    pub forwarded_for: Option<String>,
    /// The trusted proxy's address when `ip` is the client it named.
    pub via: Option<String>,
    /// `User-Agent` as sent.
    pub user_agent: String,
}

/// What a link says: minting is deterministic, so these claims give the
/// same text each time.
fn join_claims(person: &Person, link: &Link) -> JoinClaims {
    JoinClaims {
        iss: ISSUER.to_owned(),
        aud: JOIN_AUDIENCE.to_owned(),
        sub: person.id.clone(),
        sid: person.session_id.clone(),
        role: person.role,
        nbf: link.not_before.timestamp(),
        exp: link.expires_at.timestamp(),
        iat: link.issued_at.timestamp(),
        jti: link.jti.clone(),
    }
}

fn link_window(
    session: &Session,
    lead: Duration,
    grace: Duration,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let lead = chrono::Duration::from_std(lead).unwrap_or_default();
    let grace = chrono::Duration::from_std(grace).unwrap_or_default();
    (session.planned_start - lead, session.planned_end + grace)
}

/// What a session's live room is started with: its public view (with the
/// action it belongs to) and its planned window.
pub(crate) fn live_session(
    s: &Session,
    facilitators: Vec<String>,
    action: Option<crate::directory::actions::Action>,
) -> (SessionInfo, Schedule) {
    let info = SessionInfo {
        action: action.map(|a| cadre_protocol::action::ActionRef {
            id: a.id,
            title: a.title,
        }),
        ..session_info(s, facilitators)
    };
    let schedule = Schedule {
        planned_start: s.planned_start.timestamp_millis(),
        planned_end: s.planned_end.timestamp_millis(),
        time_zone: s.time_zone.name().to_owned(),
    };
    (info, schedule)
}

/// The public view of a session for clients.
pub fn session_info(s: &Session, facilitators: Vec<String>) -> SessionInfo {
    SessionInfo {
        id: s.id.clone(),
        title: s.title.clone(),
        kind: s.kind,
        organisation: s.organisation.clone(),
        planned_start: rfc3339(s.planned_start),
        planned_end: rfc3339(s.planned_end),
        time_zone: s.time_zone.name().to_owned(),
        facilitators,
        state: s.state,
        action: None,
        media: s.media,
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
