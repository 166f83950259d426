//! Printable renderings of attendance evidence, as PDF:
//!
//! - [`certificate_pdf`]: one person's *relevé de présence* (the detailed
//!   record of one session), the readable side of their signed proof (its
//!   annex prints the proof's SHA-256 so paper and file can be matched);
//! - [`attendance_sheet_pdf`]: the session's *feuille d'émargement*, one table
//!   per half-day, for the facilitator and the organiser.
//!
//! The inputs are plain structs built by the caller from the protocol's
//! attendance types ([`PersonAttendance`]) plus strings: this module derives
//! nothing, it lays out what it is given.
//!
//! # Text and fonts
//! Names may be in any script. Noto Sans (Latin, Greek, Cyrillic) with Noto
//! Sans Arabic, Hebrew, Armenian, Georgian, Devanagari and Thai are compiled
//! in (`server/assets/fonts/`, SIL OFL 1.1, about 1.9 MB) and subset into each
//! document. Text is ordered with the Unicode Bidirectional Algorithm and
//! shaped (joined Arabic, marks, ligatures), so right-to-left names print as
//! they are read. Chinese, Japanese and Korean are not bundled (a CJK font is
//! 4–20 MB): give one with [`Renderer::with_fallback_font`]; without it such
//! characters print as empty boxes (the text is still in the file).
//!
//! # Output
//! A4, fonts embedded, PDF/A-2u when every character has a glyph (plain PDF
//! 1.7 otherwise, as PDF/A forbids missing glyphs). The bytes depend only on
//! the input: the one time-dependent value, the creation date, is an input
//! (`generated_at`).

mod certificate;
mod image;
mod labels;
mod layout;
mod pdf;
// The certificat de réalisation per beneficiary per action.
mod realisation;
mod sheet;
// The sheet as a spreadsheet CSV.
mod spreadsheet;
pub use spreadsheet::sheet_csv;
#[cfg(test)]
mod tests;
mod text;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use cadre_protocol::attendance::{Conditions, ConsentDecision, PersonAttendance, RecordedSegment};
use cadre_protocol::proof::ControlEvent;
use cadre_protocol::{Role, SessionKind};
use serde::{Deserialize, Serialize};

pub use image::{MAX_PICTURE_BYTES, Picture};
pub use realisation::organisation_numbers;
use text::{FontFace, FontSet};

/// Language of the printed text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Français.
    #[default]
    Fr,
    /// English.
    En,
}

impl Lang {
    /// `fr` or `en` (case-insensitive; a region suffix such as `fr-FR` is
    /// accepted).
    pub fn parse(s: &str) -> Option<Lang> {
        let primary = s.split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The BCP 47 tag written in the PDF.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }
}

/// The training organisation (*organisme de formation*), as printed at the
/// top of each document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    /// Name.
    pub name: String,
    /// Further lines, printed under the name as given: address, SIRET,
    /// *numéro de déclaration d'activité*… May be empty.
    pub details: Vec<String>,
}

/// The session, as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Session id (`s_…`).
    pub id: String,
    /// Title of the action.
    pub title: String,
    /// Kind of action (printed translated: *action de formation*, *bilan de
    /// compétences*, …).
    pub kind: SessionKind,
    /// Planned start, UTC ms.
    pub planned_start: i64,
    /// Planned end, UTC ms.
    pub planned_end: i64,
    /// IANA time zone: every time is printed in it.
    pub time_zone: String,
}

/// A drawn signature: strokes of `[x, y, t]` points, origin at the pad's top
/// left, x and y in 0..=1000 (both divided by the pad's longer side, so the
/// shape is kept), t in ms. Printed fitted to its box, undistorted.
pub type Strokes = Vec<Vec<[i64; 3]>>;

/// Input of [`certificate_pdf`]: one person's certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    /// Language of the document.
    pub lang: Lang,
    /// The organisation that issues it.
    pub organisation: Organisation,
    /// The session.
    pub session: SessionInfo,
    /// The person's id (`p_…`), as in the proof.
    pub person_id: String,
    /// The person's name, any script.
    pub person_name: String,
    /// The person's role.
    pub person_role: Role,
    /// The person's attendance, as in the proof.
    pub attendance: PersonAttendance,
    /// The proof's control events: the session's suspensions, resumptions,
    /// postponements (with the new dates) and end, each with who acted and
    /// the reason, and the person's own removal and re-admission. Server
    /// runs and recording being armed are not printed.
    pub control: Vec<ControlEvent>,
    /// Names of the people who may have acted (the session's facilitators),
    /// by id; an id not found prints as "the facilitator".
    pub actors: BTreeMap<String, String>,
    /// The person's connection conditions, as in the proof (0 minutes: not
    /// measured).
    pub conditions: Conditions,
    /// Quizzes put to the person and completed in this session, from the
    /// proof's entries (none put: no line). Never an answer or a score.
    pub quizzes: Option<cadre_protocol::quiz::QuizTally>,
    /// The person's consent decisions, in log order, as in the proof.
    pub consents: Vec<ConsentDecision>,
    /// The recording segments the person appears in, with their own files,
    /// as in the proof.
    pub recordings: Vec<RecordedSegment>,
    /// SHA-256 of the proof (the JWS text), lowercase hex.
    pub proof_sha256: String,
    /// `kid` of the key that signed the proof.
    pub key_id: String,
    /// Size of the tree head the proof was issued under (the annex).
    pub tree_size: u64,
    /// Root hash of that tree head, hex.
    pub tree_root: String,
    /// Where the public keys are published (JWKS URL).
    pub jwks_url: String,
    /// The proof's `issued_at`, UTC ms.
    pub issued_at: i64,
    /// When this PDF is made, UTC ms: printed in the footer and written as
    /// the PDF's creation date.
    pub generated_at: i64,
}

/// One person's row in each half-day table of the sheet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SheetPerson {
    /// Name, any script.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Attendance (half-days the person has no entry for print as absent).
    pub attendance: PersonAttendance,
    /// Drawn signatures by slot (`2026-12-03.am`), when the person drew one.
    pub signatures: BTreeMap<String, Strokes>,
}

/// Input of [`attendance_sheet_pdf`]: the session's sheet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sheet {
    /// Language of the document.
    pub lang: Lang,
    /// The organisation.
    pub organisation: Organisation,
    /// The session.
    pub session: SessionInfo,
    /// Everyone enrolled, printed in this order in every table.
    pub people: Vec<SheetPerson>,
    /// The half-day slots to print, in order (`2026-12-03.am`, …). When
    /// empty, the slots found in the people's attendance are used.
    pub slots: Vec<String>,
    /// The session's control events, for its course: only the
    /// `session_state` ones are printed, without their reason or who acted
    /// (a funder reads the sheet). Give them with `reason` and `by` unset.
    pub course: Vec<ControlEvent>,
    /// Size of the ledger tree head the figures were derived at.
    pub tree_size: u64,
    /// Root hash of that tree head, hex.
    pub tree_root: String,
    /// When this PDF is made, UTC ms (footer and PDF creation date).
    pub generated_at: i64,
    /// The organisation's signature, printed after the tables when its
    /// legal representative is known.
    #[serde(default)]
    pub stamp: Option<SheetStamp>,
}

/// The organisation's signature on the sheet: who signs for it and, when
/// the organisation gave one, its signature-and-stamp picture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SheetStamp {
    /// "Claire Dubois, directrice".
    pub representative: String,
    /// PNG or JPEG bytes, checked when stored.
    pub picture: Option<Vec<u8>>,
}

// The organisation's identity and the certificat de
// réalisation per beneficiary per action.

/// The organisation's identity (the *dispensateur*), complete: what the
/// certificat de réalisation prints about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganisationIdentity {
    /// Name.
    pub name: String,
    /// Legal representative's name.
    pub representative_name: String,
    /// Their quality (`directrice`…).
    pub representative_quality: String,
    /// Postal address lines.
    pub address: Vec<String>,
    /// SIRET, 14 digits.
    pub siret: String,
    /// Numéro de déclaration d'activité, 11 digits.
    pub nda: String,
    /// The place printed after "Fait à".
    pub place: String,
    /// The signature-and-stamp image (PNG or JPEG bytes, checked when
    /// stored), to draw in the signature box.
    pub signature_image: Option<Vec<u8>>,
}

/// Input of [`realisation_pdf`]: one beneficiary's certificate for one
/// action. Only what the ministry's model prints, plus the seal's note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Realisation {
    /// Language.
    pub lang: Lang,
    /// The dispensateur.
    pub organisation: OrganisationIdentity,
    /// The action's title.
    pub action_title: String,
    /// Its nature (one box of the model is crossed).
    pub nature: cadre_protocol::action::ActionNature,
    /// The beneficiary's name.
    pub beneficiary_name: String,
    /// Their employer, if given.
    pub employer: Option<String>,
    /// First day attended, `YYYY-MM-DD`.
    pub first_day: Option<String>,
    /// Last day attended, or the interruption's date.
    pub last_day: Option<String>,
    /// Time attended over the action's sessions, seconds.
    pub attended_seconds: i64,
    /// When the action was interrupted for the person, UTC ms (a neutral
    /// mention, no reason).
    pub interrupted_at: Option<i64>,
    /// Quizzes put to the person and completed ("évaluations réalisées :
    /// 2/2"; none put: no line). Never an answer or a score.
    pub quizzes: Option<cadre_protocol::quiz::QuizTally>,
    /// IANA time zone of the dates.
    pub time_zone: String,
    /// The signed certificate's issue time, UTC ms ("Fait à …, le …").
    pub issued_at: i64,
    /// SHA-256 of the signed certificate (JWS text), hex.
    pub certificate_sha256: String,
    /// Where the public keys are published.
    pub jwks_url: String,
    /// When this PDF is made, UTC ms.
    pub generated_at: i64,
}

/// One beneficiary's *certificat de réalisation* for one action, on the
/// ministry's model, one A4 page.
pub fn realisation_pdf(c: &Realisation) -> Result<Vec<u8>, RenderError> {
    realisation::render(&shared()?.fonts, c, true)
}

/// Why a document could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The session's time zone is not a known IANA name.
    #[error("unknown time zone {0:?}")]
    TimeZone(String),
    /// A font could not be read.
    #[error("font: {0}")]
    Font(String),
    /// The PDF could not be written.
    #[error("PDF: {0}")]
    Pdf(String),
    /// The organisation's signature-and-stamp picture is not usable.
    #[error("{0}")]
    Picture(String),
}

/// The fonts documents are made with. [`certificate_pdf`] and
/// [`attendance_sheet_pdf`] use a shared one with the bundled fonts; make
/// your own to add a fallback font (CJK).
pub struct Renderer {
    fonts: FontSet,
}

static BUNDLED: [(&[u8], &str); 10] = [
    (
        include_bytes!("../../../assets/fonts/NotoSans-Regular.ttf"),
        "Noto Sans",
    ),
    (
        include_bytes!("../../../assets/fonts/NotoSans-Bold.ttf"),
        "Noto Sans Bold",
    ),
    (
        include_bytes!("../../../assets/fonts/NotoSansArabic-Regular.ttf"),
        "Noto Sans Arabic",
    ),
    (
        include_bytes!("../../../assets/fonts/NotoSansArabic-Bold.ttf"),
        "Noto Sans Arabic Bold",
    ),
    (
        include_bytes!("../../../assets/fonts/NotoSansHebrew-Regular.ttf"),
        "Noto Sans Hebrew",
    ),
    (
        include_bytes!("../../../assets/fonts/NotoSansHebrew-Bold.ttf"),
        "Noto Sans Hebrew Bold",
    ),
    (
        include_bytes!("../../../assets/fonts/NotoSansArmenian-Regular.ttf"),
        "Noto Sans Armenian",
    ),
    (
        include_bytes!("../../../assets/fonts/NotoSansGeorgian-Regular.ttf"),
        "Noto Sans Georgian",
    ),
    (
        include_bytes!("../../../assets/fonts/NotoSansDevanagari-Regular.ttf"),
        "Noto Sans Devanagari",
    ),
    (
        include_bytes!("../../../assets/fonts/NotoSansThai-Regular.ttf"),
        "Noto Sans Thai",
    ),
];

impl Renderer {
    /// The bundled fonts.
    pub fn new() -> Result<Renderer, RenderError> {
        let faces = BUNDLED
            .iter()
            .map(|(data, name)| {
                FontFace::load(data, 0).map_err(|e| RenderError::Font(format!("{name}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Regular: Noto Sans, then the other scripts. Bold: the bold faces
        // where there is one, else the regular.
        let regular = vec![0, 2, 4, 6, 7, 8, 9];
        let bold = vec![1, 3, 5, 6, 7, 8, 9];
        Ok(Renderer {
            fonts: FontSet::new(faces, regular, bold),
        })
    }

    /// Adds a font tried after the bundled ones, for characters they lack
    /// (e.g. Debian's `NotoSansCJK-Regular.ttc`, `index` 0 for Japanese,
    /// 2 for Simplified Chinese). The bytes are kept for the life of the
    /// process: call this once, at start-up.
    pub fn with_fallback_font(
        mut self,
        data: Vec<u8>,
        index: u32,
    ) -> Result<Renderer, RenderError> {
        let data: &'static [u8] = Box::leak(data.into_boxed_slice());
        self.fonts.push_fallback(FontFace::load(data, index)?);
        Ok(self)
    }

    /// A person's certificate (see [`certificate_pdf`]).
    pub fn certificate_pdf(&self, c: &Certificate) -> Result<Vec<u8>, RenderError> {
        certificate::render(&self.fonts, c, true)
    }

    /// A session's sheet (see [`attendance_sheet_pdf`]).
    pub fn attendance_sheet_pdf(&self, s: &Sheet) -> Result<Vec<u8>, RenderError> {
        sheet::render(&self.fonts, s, true)
    }
}

fn shared() -> Result<&'static Renderer, RenderError> {
    static SHARED: LazyLock<Result<Renderer, String>> =
        LazyLock::new(|| Renderer::new().map_err(|e| e.to_string()));
    SHARED.as_ref().map_err(|e| RenderError::Font(e.clone()))
}

/// A person's *relevé de présence* (attendance record of one session),
/// one or more A4 pages: organisation, person, session, modality, planned
/// dates, per half-day connections, connected and present time, completion,
/// sign-in and countersignature, totals, the course of the session
/// (suspensions, postponements, end, the person's own removal) and the
/// person's connection conditions, the person's consent decisions and
/// recorded segments, then an annex for the auditor: the proof's SHA-256,
/// the key, the ledger's state and how to verify.
pub fn certificate_pdf(c: &Certificate) -> Result<Vec<u8>, RenderError> {
    shared()?.certificate_pdf(c)
}

/// The session's *feuille d'émargement*: the neutral course of the session
/// (suspensions, postponements, end: times only), one table per half-day,
/// a row per person (times, durations, completion, sign-in,
/// countersignature, drawn signature), page numbers, and the ledger tree
/// head in every footer.
pub fn attendance_sheet_pdf(s: &Sheet) -> Result<Vec<u8>, RenderError> {
    shared()?.attendance_sheet_pdf(s)
}

// The words the documents print, for checks of what a PDF says without a
// PDF reader.

/// The text [`certificate_pdf`] draws for `c`, page after page, lines
/// joined by spaces (a wrapped sentence reads whole).
pub fn certificate_text(c: &Certificate) -> Result<String, RenderError> {
    let (pages, _) = certificate::layout(&shared()?.fonts, c)?;
    Ok(drawn_text(&pages))
}

/// The text [`attendance_sheet_pdf`] draws for `s`, as [`certificate_text`].
pub fn attendance_sheet_text(s: &Sheet) -> Result<String, RenderError> {
    let (pages, _) = sheet::layout(&shared()?.fonts, s)?;
    Ok(drawn_text(&pages))
}

fn drawn_text(pages: &[Vec<layout::Op>]) -> String {
    pages
        .iter()
        .flatten()
        .filter_map(|op| match op {
            layout::Op::Text { line, .. } => Some(line.text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}
