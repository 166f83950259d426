//! Actions (what a funder pays for: a 35 h formation, a 24 h bilan, a VAE
//! accompaniment), made of several sessions; their beneficiaries; the
//! changes article 2.1.7 allows for one beneficiary (adapted, paused,
//! resumed, interrupted early); the organisation's identity (the
//! *dispensateur*); and the signed *certificat de réalisation* per
//! beneficiary per action ([`RealisationCertificate`]), checked offline by
//! [`verify_certificate`].
//!
//! The certificate carries no free text beyond names and titles: no reason,
//! nobody else. Per session it carries the digest of the person's detailed
//! proof and the signed tree head it was issued under, so that an auditor
//! can match it with the detailed record without the record's content.

use crate::evidence::{Jwks, JwsError, TREE_HEAD_TYP, TreeHead, unverified_payload, verify_jws};
use crate::proof::{Check, Verdict};
pub use crate::quiz::QuizTally;
use crate::{SessionKind, SessionState};
use serde::{Deserialize, Serialize};

/// The nature of an action, as the ministry's model lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionNature {
    /// Action de formation.
    Formation,
    /// Bilan de compétences.
    Bilan,
    /// Action de validation des acquis de l'expérience.
    Vae,
    /// Action de formation par apprentissage.
    Apprentissage,
}

impl ActionNature {
    /// Every nature, in the model's order.
    pub const ALL: [ActionNature; 4] = [
        ActionNature::Formation,
        ActionNature::Bilan,
        ActionNature::Vae,
        ActionNature::Apprentissage,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionNature::Formation => "formation",
            ActionNature::Bilan => "bilan",
            ActionNature::Vae => "vae",
            ActionNature::Apprentissage => "apprentissage",
        }
    }

    /// The nature of a session that belongs to no action: a bilan or a VAE
    /// session is one; everything else is counted as formation.
    pub fn of_kind(kind: SessionKind) -> ActionNature {
        match kind {
            SessionKind::Bilan => ActionNature::Bilan,
            SessionKind::Vae => ActionNature::Vae,
            _ => ActionNature::Formation,
        }
    }

    /// The kind of the sessions of an action of this nature, unless given.
    pub fn session_kind(self) -> SessionKind {
        match self {
            ActionNature::Bilan => SessionKind::Bilan,
            ActionNature::Vae => SessionKind::Vae,
            ActionNature::Formation | ActionNature::Apprentissage => SessionKind::Formation,
        }
    }
}

impl std::str::FromStr for ActionNature {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ActionNature::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| {
                format!("unknown nature {s:?}: expected formation, bilan, vae or apprentissage")
            })
    }
}

impl std::fmt::Display for ActionNature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A beneficiary of a new action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewBeneficiary {
    /// Name as printed on the certificate (not empty, at most 120 characters).
    pub name: String,
    /// E-mail, for sending links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The employer (printed "salarié(e) de l'entreprise …"), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer: Option<String>,
    /// The language their mails are written in (the server's default
    /// when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<crate::api::UiLang>,
    /// The IANA time zone their mails give the dates in (each session's
    /// when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// `POST /api/actions` body (also `cadre action create --file`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAction {
    /// Title (intitulé), not empty, at most 200 characters.
    pub title: String,
    /// Nature.
    pub nature: ActionNature,
    /// Planned duration, hours (more than 0, at most 2,000; quarter hours).
    pub planned_hours: f64,
    /// Beneficiaries (1 to 49: a session takes 50 people, one of them a
    /// facilitator).
    pub beneficiaries: Vec<NewBeneficiary>,
    /// Sessions created with the action, in the same transaction: the
    /// action exists with all of them or not at all. Empty: sessions are
    /// added later (`POST /api/actions/{aid}/sessions`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<NewActionSession>,
}

/// A beneficiary read from a CSV file, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedBeneficiary {
    /// Line of the file (1 is the header line).
    pub line: usize,
    /// The beneficiary as `POST /api/actions` takes them.
    #[serde(flatten)]
    pub beneficiary: NewBeneficiary,
}

/// Why a line of a CSV file was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionKind {
    /// The name is empty.
    EmptyName,
    /// A value is longer than a beneficiary's field takes.
    TooLong,
    /// A value holds control or bidirectional-override characters.
    ControlCharacters,
    /// The e-mail is not an address.
    InvalidEmail,
    /// The e-mail is already on an earlier line.
    DuplicateEmail,
    /// A value starts like a spreadsheet formula.
    Formula,
    /// The line has another number of fields than the header.
    FieldCount,
    /// The language is neither French nor English.
    UnknownLanguage,
    /// The time zone is not an IANA zone name.
    UnknownTimeZone,
}

/// A line of a CSV file that was not taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedLine {
    /// Line of the file.
    pub line: usize,
    /// What is wrong, for a client to word it.
    pub kind: RejectionKind,
    /// The column it is about (as the header names it), if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// For a duplicate e-mail: the earlier line that has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_line: Option<usize>,
    /// The reason, as a sentence.
    pub reason: String,
}

/// Why a whole CSV file was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportFileProblem {
    /// Not UTF-8: `line` is the first line that is not.
    NotUtf8,
    /// No header line.
    Empty,
    /// The header line names no name column: `headers` are those it has.
    NoNameColumn,
    /// More lines of people (`count`) than an action takes (`limit`).
    TooManyPeople,
    /// Not CSV a reader can follow (an unclosed quote…), at `line`.
    Unreadable,
    /// Larger than `limit` bytes (413).
    TooLarge,
}

/// `POST /api/actions/import` refusal of the whole file (422, or 413 when
/// too large): the usual error body (`code`, `message`) and what a client
/// needs to word it in the person's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRefusal {
    /// `invalid_input`.
    pub code: crate::ErrorCode,
    /// The sentence, in English.
    pub message: String,
    /// What is wrong.
    pub problem: ImportFileProblem,
    /// The line it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// How many lines of people the file has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// The limit passed (people, or bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// The file's headers, for `no_name_column`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
}

/// `POST /api/actions/import` answer: what a CSV file of beneficiaries
/// holds. Nothing is stored; the client sends the beneficiaries with
/// `POST /api/actions` once no line is rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportPreview {
    /// The delimiter guessed from the header line (`;`, `,` or a tab).
    pub delimiter: String,
    /// The beneficiaries read, in the file's order.
    pub beneficiaries: Vec<ImportedBeneficiary>,
    /// Every line not taken, with its reason.
    pub rejected: Vec<RejectedLine>,
    /// Columns present and not used (`Civilité`, `Téléphone`…), as named.
    pub ignored_columns: Vec<String>,
}

/// A facilitator of a session added to an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFacilitator {
    /// Display name.
    pub name: String,
    /// E-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `POST /api/actions/{aid}/sessions` body: a session of the action. Its
/// participants are the action's beneficiaries (except those whose action
/// was interrupted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewActionSession {
    /// Title; the action's title when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Kind; from the action's nature when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SessionKind>,
    /// Planned start, as for a session.
    pub planned_start: String,
    /// Planned end.
    pub planned_end: String,
    /// IANA time zone; `Europe/Paris` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// How the session's media travels; the deployment's choice when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<crate::session::MediaMode>,
    /// At least one facilitator.
    pub facilitators: Vec<NewFacilitator>,
}

/// What article 2.1.7 lets the organisation do for one beneficiary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionChangeKind {
    /// The action was adapted to the person (content, rhythm, means).
    Adapted,
    /// The action is paused for the person for a time.
    Paused,
    /// A paused action goes on.
    Resumed,
    /// The action ended early for the person: later sessions no longer
    /// admit them; the certificate states the hours done and this date.
    Interrupted,
}

impl ActionChangeKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionChangeKind::Adapted => "adapted",
            ActionChangeKind::Paused => "paused",
            ActionChangeKind::Resumed => "resumed",
            ActionChangeKind::Interrupted => "interrupted",
        }
    }
}

impl std::str::FromStr for ActionChangeKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            ActionChangeKind::Adapted,
            ActionChangeKind::Paused,
            ActionChangeKind::Resumed,
            ActionChangeKind::Interrupted,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| {
            format!("unknown change {s:?}: expected adapted, paused, resumed or interrupted")
        })
    }
}

/// `POST /api/actions/{aid}/beneficiaries/{bid}/changes` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewActionChange {
    /// What changes.
    pub kind: ActionChangeKind,
    /// Why (required, at most 500 characters): told to the person, never
    /// printed on the certificate.
    pub reason: String,
}

/// A recorded change (append-only: kept as recorded, never rewritten).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionChange {
    /// `c_…`.
    pub id: String,
    /// The action.
    pub action_id: String,
    /// The beneficiary it is about.
    pub beneficiary_id: String,
    /// What changed.
    pub kind: ActionChangeKind,
    /// Why.
    pub reason: String,
    /// Who decided (`organiser`).
    pub by: String,
    /// When, RFC 3339 UTC.
    pub at: String,
}

/// A beneficiary as the organiser sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeneficiaryView {
    /// `b_…`.
    pub id: String,
    /// Name.
    pub name: String,
    /// E-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Employer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer: Option<String>,
    /// The language of their mails, when chosen for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<crate::api::UiLang>,
    /// The time zone of their mails' dates, when not each session's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// When the action was interrupted for them, RFC 3339 UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted_at: Option<String>,
    /// Article 2.1.7 changes, oldest first.
    pub changes: Vec<ActionChange>,
}

/// A session of an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionSessionView {
    /// Session id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Planned start, RFC 3339 UTC.
    pub planned_start: String,
    /// Planned end, RFC 3339 UTC.
    pub planned_end: String,
    /// IANA time zone the session's dates are shown in.
    pub time_zone: String,
    /// State.
    pub state: SessionState,
    /// Ended because staff cancelled it before it ran.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
}

/// An action as the organiser sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionView {
    /// `a_…`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Nature.
    pub nature: ActionNature,
    /// Planned hours.
    pub planned_hours: f64,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// Beneficiaries in the order given.
    pub beneficiaries: Vec<BeneficiaryView>,
    /// Sessions by planned start.
    pub sessions: Vec<ActionSessionView>,
}

/// `GET /api/actions` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionSummary {
    /// `a_…`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Nature.
    pub nature: ActionNature,
    /// Planned hours.
    pub planned_hours: f64,
    /// Number of beneficiaries.
    pub beneficiaries: usize,
    /// Number of sessions.
    pub sessions: usize,
}

/// The action a session belongs to, as the lobby and the call show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRef {
    /// `a_…`.
    pub id: String,
    /// Title.
    pub title: String,
}

/// The organisation's identity as given (`PUT /api/organisation`): every
/// field optional; those present replace the stored ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganisationUpdate {
    /// Name (dénomination).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Legal representative's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representative_name: Option<String>,
    /// Their quality (`directrice`, `gérant`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representative_quality: Option<String>,
    /// Postal address, one line each (1 to 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Vec<String>>,
    /// SIRET: 14 digits (spaces allowed), Luhn-checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub siret: Option<String>,
    /// Numéro de déclaration d'activité: 11 digits (spaces allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nda: Option<String>,
    /// The place printed after "Fait à".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
}

/// The organisation's identity as stored (`GET /api/organisation`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganisationView {
    /// Name.
    pub name: Option<String>,
    /// Legal representative's name.
    pub representative_name: Option<String>,
    /// Their quality.
    pub representative_quality: Option<String>,
    /// Address lines (empty: not given).
    pub address: Vec<String>,
    /// SIRET, 14 digits.
    pub siret: Option<String>,
    /// NDA, 11 digits.
    pub nda: Option<String>,
    /// "Fait à".
    pub place: Option<String>,
    /// The signature-and-stamp image's content type, when one is stored.
    pub signature: Option<SignatureImageInfo>,
    /// Fields a certificate needs that are missing (empty: complete).
    pub missing: Vec<String>,
}

/// A stored signature-and-stamp image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureImageInfo {
    /// `image/png` or `image/jpeg`.
    pub content_type: String,
    /// Size in bytes.
    pub bytes: usize,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
}

/// `typ` of a certificate's payload (and, with `+jws`, of its JWS header).
pub const CERTIFICATE_TYP: &str = "cadre.certificat-realisation";
/// Version of the certificate format this build issues.
pub const CERTIFICATE_VERSION: u32 = 1;

/// The dispensateur, as the certificate states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateOrganisation {
    /// Name.
    pub name: String,
    /// Legal representative's name.
    pub representative_name: String,
    /// Their quality.
    pub representative_quality: String,
    /// Address lines.
    pub address: Vec<String>,
    /// SIRET.
    pub siret: String,
    /// NDA.
    pub nda: String,
    /// "Fait à".
    pub place: String,
}

/// The action, as the certificate states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateAction {
    /// `a_…`, or the session id for a session that belongs to no action.
    pub id: String,
    /// Title.
    pub title: String,
    /// Nature.
    pub nature: ActionNature,
    /// Planned hours.
    pub planned_hours: f64,
}

/// The beneficiary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateBeneficiary {
    /// `b_…`, or the person id for a session that belongs to no action.
    pub id: String,
    /// Name.
    pub name: String,
    /// Employer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer: Option<String>,
}

/// One session of the action, for this person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateSession {
    /// Session id.
    pub id: String,
    /// The person's id in it (the actor of their ledger entries).
    pub person_id: String,
    /// Planned start, UTC ms.
    pub planned_start: i64,
    /// Planned end, UTC ms.
    pub planned_end: i64,
    /// Time attended (present, suspended time excluded), seconds: the
    /// detailed proof's total.
    pub attended_seconds: i64,
    /// First connection, UTC ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_join: Option<i64>,
    /// Last disconnection, UTC ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_leave: Option<i64>,
    /// SHA-256 (hex) of the person's detailed proof of this session, as
    /// issued with this certificate.
    pub proof_sha256: String,
    /// The session's signed tree head that proof was issued under.
    pub tree_head: String,
    /// The quizzes put to the person in this session and how many they
    /// completed, counted from that proof's entries (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quizzes: Option<QuizTally>,
}

/// The signed certificat de réalisation of one beneficiary for one action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealisationCertificate {
    /// Always [`CERTIFICATE_TYP`].
    pub typ: String,
    /// [`CERTIFICATE_VERSION`].
    pub v: u32,
    /// Issue time, UTC ms.
    pub issued_at: i64,
    /// IANA time zone the dates are in.
    pub time_zone: String,
    /// The dispensateur.
    pub organisation: CertificateOrganisation,
    /// The action.
    pub action: CertificateAction,
    /// The beneficiary.
    pub beneficiary: CertificateBeneficiary,
    /// Every session of the action the person was enrolled in, by start.
    pub sessions: Vec<CertificateSession>,
    /// First day attended, `YYYY-MM-DD` (none: never attended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_day: Option<String>,
    /// Last day: the last day attended, or the interruption's date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_day: Option<String>,
    /// Sum of the sessions' attended time, seconds.
    pub attended_seconds: i64,
    /// When the action was interrupted for the person, UTC ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted_at: Option<i64>,
    /// The sessions' quizzes added up: "évaluations réalisées : 2/2"
    /// (absent: no quiz was put to the person).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quizzes: Option<QuizTally>,
}

/// The sessions' quizzes added up (none when no quiz was put to the
/// person).
pub fn certificate_quizzes(sessions: &[CertificateSession]) -> Option<QuizTally> {
    let total = sessions
        .iter()
        .filter_map(|s| s.quizzes)
        .fold(QuizTally::default(), |t, q| QuizTally {
            opened: t.opened + q.opened,
            completed: t.completed + q.completed,
        });
    (total.opened > 0).then_some(total)
}

/// The dates a certificate states: the first and last day attended in
/// `tz`, the interruption's date replacing the last one.
pub fn certificate_days(
    sessions: &[CertificateSession],
    interrupted_at: Option<i64>,
    tz: &str,
) -> (Option<String>, Option<String>) {
    let day = |ms: i64| {
        crate::attendance::local_time(ms, tz)
            .get(..10)
            .unwrap_or_default()
            .to_owned()
    };
    let attended = sessions.iter().filter(|s| s.attended_seconds > 0);
    let first = attended.clone().filter_map(|s| s.first_join).min().map(day);
    let last = match interrupted_at {
        Some(at) => Some(day(at)),
        None => attended.filter_map(|s| s.last_leave).max().map(day),
    };
    (first, last)
}

/// Names of the checks [`verify_certificate`] runs.
pub mod check {
    /// The certificate's signature with a published key.
    pub const SIGNATURE: &str = "certificate signature";
    /// Its type and version.
    pub const FORMAT: &str = "certificate format";
    /// Each session's tree head: signed, for that session.
    pub const TREE_HEADS: &str = "session tree heads";
    /// The totals and dates follow from the sessions.
    pub const TOTALS: &str = "totals and dates recomputed";
}

fn failure(what: &str, e: &JwsError) -> String {
    match e {
        JwsError::UnknownKey(kid) => {
            format!(
                "the {what} is signed with key {kid:?}, which is not among the published keys given"
            )
        }
        JwsError::BadSignature(kid) => format!(
            "the {what}'s signature does not verify with published key {kid:?}: the file was altered or signed by another key"
        ),
        other => format!("the {what} is not a valid signature: {other}"),
    }
}

/// Whether a compact JWS's payload says it is a certificate (unverified:
/// to choose the checks to run).
pub fn is_certificate(jws: &str) -> bool {
    unverified_payload(jws)
        .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok())
        .is_some_and(|v| v.get("typ").and_then(|t| t.as_str()) == Some(CERTIFICATE_TYP))
}

/// Checks a certificate with the published keys only: its signature, its
/// format, each session's tree head (signed by a published key, for that
/// session, issued no later than the certificate), and that the totals and
/// the dates follow from the sessions' figures.
pub fn verify_certificate(jws: &str, jwks: &Jwks) -> Verdict {
    let mut checks = Vec::new();
    let mut push = |name: &str, ok: bool, detail: String| {
        checks.push(Check {
            name: name.to_owned(),
            ok,
            detail,
        })
    };
    let payload = match verify_jws(jws, jwks) {
        Ok(v) => {
            push(
                check::SIGNATURE,
                true,
                format!("signed with published key {:?}", v.kid),
            );
            Some(v.payload)
        }
        Err(e) => {
            push(check::SIGNATURE, false, failure("certificate", &e));
            unverified_payload(jws)
        }
    };
    let cert = payload.and_then(|p| serde_json::from_slice::<RealisationCertificate>(&p).ok());
    let Some(cert) = cert else {
        push(
            check::FORMAT,
            false,
            "the payload is not a certificat de réalisation".to_owned(),
        );
        return finish(checks);
    };
    if cert.typ == CERTIFICATE_TYP && cert.v == CERTIFICATE_VERSION {
        push(
            check::FORMAT,
            true,
            format!("{CERTIFICATE_TYP} version {CERTIFICATE_VERSION}"),
        );
    } else {
        push(
            check::FORMAT,
            false,
            format!(
                "typ {:?} version {}, expected {CERTIFICATE_TYP:?} version {CERTIFICATE_VERSION}",
                cert.typ, cert.v
            ),
        );
    }
    let mut head_failures = Vec::new();
    for s in &cert.sessions {
        match verify_jws(&s.tree_head, jwks) {
            Err(e) => head_failures.push(format!("{}: {}", s.id, failure("tree head", &e))),
            Ok(v) => match serde_json::from_slice::<TreeHead>(&v.payload) {
                Ok(h) if h.typ == TREE_HEAD_TYP && h.sid == s.id && h.ts <= cert.issued_at => {}
                Ok(h) if h.sid != s.id => {
                    head_failures.push(format!("{}: the tree head is of session {:?}", s.id, h.sid))
                }
                Ok(_) => head_failures.push(format!(
                    "{}: the tree head is not a tree head issued before the certificate",
                    s.id
                )),
                Err(e) => head_failures.push(format!("{}: tree head payload: {e}", s.id)),
            },
        }
        if s.proof_sha256.len() != 64 || !s.proof_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            head_failures.push(format!("{}: the proof digest is not 64 hex digits", s.id));
        }
    }
    if head_failures.is_empty() {
        push(
            check::TREE_HEADS,
            true,
            format!(
                "{} session(s), each with a signed tree head of its own",
                cert.sessions.len()
            ),
        );
    } else {
        push(check::TREE_HEADS, false, head_failures.join("; "));
    }
    let mut total_failures = Vec::new();
    let sum: i64 = cert.sessions.iter().map(|s| s.attended_seconds).sum();
    if sum != cert.attended_seconds {
        total_failures.push(format!(
            "the sessions add up to {sum} s, the certificate states {} s",
            cert.attended_seconds
        ));
    }
    if cert.sessions.iter().any(|s| s.attended_seconds < 0) {
        total_failures.push("a session's attended time is negative".to_owned());
    }
    if certificate_quizzes(&cert.sessions) != cert.quizzes {
        total_failures.push(format!(
            "the sessions give the quizzes {:?}, the certificate states {:?}",
            certificate_quizzes(&cert.sessions),
            cert.quizzes
        ));
    }
    if cert
        .sessions
        .iter()
        .filter_map(|s| s.quizzes)
        .any(|q| q.completed > q.opened)
    {
        total_failures.push("a session states more quizzes completed than put".to_owned());
    }
    let (first, last) = certificate_days(&cert.sessions, cert.interrupted_at, &cert.time_zone);
    if first != cert.first_day || last != cert.last_day {
        total_failures.push(format!(
            "the sessions give the dates {first:?} to {last:?}, the certificate states {:?} to {:?}",
            cert.first_day, cert.last_day
        ));
    }
    if total_failures.is_empty() {
        push(
            check::TOTALS,
            true,
            format!(
                "{} attended from {} to {}{}",
                hours_minutes(cert.attended_seconds),
                cert.first_day.as_deref().unwrap_or("-"),
                cert.last_day.as_deref().unwrap_or("-"),
                cert.quizzes.map_or(String::new(), |q| format!(
                    ", {}/{} quizzes completed",
                    q.completed, q.opened
                ))
            ),
        );
    } else {
        push(check::TOTALS, false, total_failures.join("; "));
    }
    finish(checks)
}

fn finish(checks: Vec<Check>) -> Verdict {
    Verdict {
        ok: !checks.is_empty() && checks.iter().all(|c| c.ok),
        checks,
    }
}

/// `12 h 05 min`: how a certificate states a duration.
pub fn hours_minutes(seconds: i64) -> String {
    let minutes = seconds.max(0) / 60;
    format!("{} h {:02} min", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Signer;

    fn certificate(signer: &Signer, other: &Signer) -> RealisationCertificate {
        // 2026-12-03 09:00 and 2026-12-10 14:00, Paris.
        let (d3, d10) = (1_796_284_800_000, 1_796_907_600_000);
        let session = |id: &str, at: i64, seconds: i64, by: &Signer| CertificateSession {
            id: id.into(),
            person_id: format!("p_{id}"),
            planned_start: at,
            planned_end: at + 3 * 3_600_000,
            attended_seconds: seconds,
            first_join: (seconds > 0).then_some(at + 60_000),
            last_leave: (seconds > 0).then_some(at + 60_000 + seconds * 1000),
            proof_sha256: "ab".repeat(32),
            tree_head: by.tree_head(id, &["{}".to_owned()], 1, at + 4 * 3_600_000),
            quizzes: (seconds > 0).then_some(QuizTally {
                opened: 1,
                completed: 1,
            }),
        };
        let sessions = vec![
            session("s_1", d3, 3 * 3600, signer),
            session("s_2", d10, 2 * 3600 + 5 * 60, signer),
            session("s_3", d10 + 86_400_000, 0, other),
        ];
        let (first_day, last_day) = certificate_days(&sessions, None, "Europe/Paris");
        let quizzes = certificate_quizzes(&sessions);
        RealisationCertificate {
            typ: CERTIFICATE_TYP.into(),
            v: CERTIFICATE_VERSION,
            issued_at: d10 + 5 * 86_400_000,
            time_zone: "Europe/Paris".into(),
            organisation: CertificateOrganisation {
                name: "Formations Horizon".into(),
                representative_name: "Claire Dubois".into(),
                representative_quality: "directrice".into(),
                address: vec!["69003 Lyon".into()],
                siret: "12345678900007".into(),
                nda: "84691234569".into(),
                place: "Lyon".into(),
            },
            action: CertificateAction {
                id: "a_1".into(),
                title: "Gestion de projet".into(),
                nature: ActionNature::Formation,
                planned_hours: 35.0,
            },
            beneficiary: CertificateBeneficiary {
                id: "b_1".into(),
                name: "Karim Benali".into(),
                employer: None,
            },
            attended_seconds: sessions.iter().map(|s| s.attended_seconds).sum(),
            sessions,
            quizzes,
            first_day,
            last_day,
            interrupted_at: None,
        }
    }

    #[test]
    fn dates_are_the_first_and_last_day_attended_or_the_interruption() {
        let signer = Signer::new("k1");
        let c = certificate(&signer, &signer);
        assert_eq!(c.first_day.as_deref(), Some("2026-12-03"));
        assert_eq!(
            c.last_day.as_deref(),
            Some("2026-12-10"),
            "s_3 was not attended"
        );
        let (_, last) = certificate_days(&c.sessions, Some(1_797_000_000_000), "Europe/Paris");
        assert_eq!(last.as_deref(), Some("2026-12-11"));
        assert_eq!(hours_minutes(c.attended_seconds), "5 h 05 min");
    }

    #[test]
    fn a_consistent_certificate_verifies_and_each_inconsistency_is_named() {
        let signer = Signer::new("k1");
        let jwks = signer.jwks();
        let good = certificate(&signer, &signer);
        let verdict = verify_certificate(&signer.sign_json(&good), &jwks);
        assert!(verdict.ok, "{verdict:?}");

        let mut sum = good.clone();
        sum.attended_seconds += 60;
        let verdict = verify_certificate(&signer.sign_json(&sum), &jwks);
        assert!(!verdict.check(check::TOTALS).expect("totals").ok);

        let mut quizzes = good.clone();
        quizzes.quizzes = Some(QuizTally {
            opened: 2,
            completed: 3,
        });
        let verdict = verify_certificate(&signer.sign_json(&quizzes), &jwks);
        assert!(!verdict.check(check::TOTALS).expect("totals").ok);

        let mut dates = good.clone();
        dates.first_day = Some("2026-12-01".into());
        let verdict = verify_certificate(&signer.sign_json(&dates), &jwks);
        assert!(!verdict.check(check::TOTALS).expect("totals").ok);

        let mut moved = good.clone();
        moved.sessions[0].id = "s_9".into();
        let verdict = verify_certificate(&signer.sign_json(&moved), &jwks);
        let heads = verdict.check(check::TREE_HEADS).expect("heads");
        assert!(!heads.ok && heads.detail.contains("s_9"), "{heads:?}");

        let foreign = certificate(&signer, &Signer::new("k2"));
        let verdict = verify_certificate(&signer.sign_json(&foreign), &jwks);
        assert!(!verdict.check(check::TREE_HEADS).expect("heads").ok);

        let verdict = verify_certificate(&Signer::new("k2").sign_json(&good), &jwks);
        assert!(!verdict.check(check::SIGNATURE).expect("signature").ok);
        assert!(!verdict.ok);
    }
}
