//! The documents people download: proofs and sheets (JWS, JSON, CSV, PDF),
//! the ledger export and consistency proofs, recordings, calendar files.
//! Each states who may have it through [`Access`].

use super::access::{Access, StaffOrOrganiser, TokenQuery, wrong_session};
use super::filename::{named_attachment, readable, slug};
use crate::app::App;
use crate::error::ApiError;
use crate::evidence::ledger::LedgerError;
use crate::evidence::render::Lang;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use cadre_protocol::ErrorCode;
use cadre_protocol::proof::Consistency;
use chrono::TimeZone;
use serde::Deserialize;

/// The session as an `.ics` event (after a postponement, the new date), for
/// a person of the session with their link.
pub(super) async fn calendar(
    State(app): State<App>,
    Path(sid): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, ApiError> {
    let who = app.admit(&q.token).await?;
    if who.session.id != sid {
        return Err(wrong_session());
    }
    let text = app.calendar(&sid, &q.token).await?;
    Ok(attachment(
        "text/calendar; charset=utf-8",
        &format!("seance-{sid}.ics"),
        text,
    ))
}

pub(super) async fn recordings(
    State(app): State<App>,
    Path(sid): Path<String>,
    Query(q): Query<TokenQuery>,
    access: Access,
) -> Result<Json<cadre_protocol::api::Recordings>, ApiError> {
    access.recordings(&sid)?;
    Ok(Json(app.recordings(&sid, &q.token).await?))
}

pub(super) async fn recording_file(
    State(app): State<App>,
    Path((sid, segment, file)): Path<(String, u64, String)>,
    headers: axum::http::HeaderMap,
    access: Access,
) -> Result<Response, ApiError> {
    access.recordings(&sid)?;
    let (path, content_type, _) = app.recording_file(&sid, segment, &file).await?;
    let handle = tokio::fs::File::open(&path).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ApiError::new(
                ErrorCode::NotFound,
                "this recording file is missing on disk",
            )
        } else {
            ApiError::new(
                ErrorCode::Internal,
                format!("cannot read the recording: {e}"),
            )
        }
    })?;
    // The length on disk, not the one recorded: a file altered since would
    // otherwise break the response instead of failing its hash check.
    let bytes = handle
        .metadata()
        .await
        .map_err(|e| {
            ApiError::new(
                ErrorCode::Internal,
                format!("cannot read the recording: {e}"),
            )
        })?
        .len();
    // A `<video>` asks for byte ranges to seek; one range is served.
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| byte_range(r, bytes));
    let mut handle = handle;
    let (start, len) = range.unwrap_or((0, bytes));
    if start > 0 {
        use tokio::io::AsyncSeekExt;
        handle
            .seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::Internal,
                    format!("cannot read the recording: {e}"),
                )
            })?;
    }
    use tokio::io::AsyncReadExt;
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(handle.take(len)));
    let mut response = attachment(content_type, &file, body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_LENGTH, header::HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if range.is_some() {
        *response.status_mut() = axum::http::StatusCode::PARTIAL_CONTENT;
        let end = start + len - 1;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{bytes}")) {
            response.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(response)
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` within a file of `size` bytes, as
/// (start, length); anything else (several ranges, out of the file) is
/// answered with the whole file.
fn byte_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.checked_sub(n.min(size))?, size - 1)
        }
        (a, "") => (a.parse().ok()?, size - 1),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(size - 1)),
    };
    (start <= end && start < size).then_some((start, end - start + 1))
}

#[derive(Deserialize)]
pub(super) struct ConsistencyQuery {
    from: Option<String>,
    to: Option<String>,
}

/// The consistency proof between the log's first `from` and first `to`
/// entries, for anyone of the session (their link) or the organiser. It
/// holds subtree hashes only, nothing of anyone's entries, so a participant
/// can link a receipt they kept to their proof's tree head.
pub(super) async fn consistency(
    State(app): State<App>,
    Path(sid): Path<String>,
    Query(q): Query<ConsistencyQuery>,
    access: Access,
) -> Result<Json<Consistency>, ApiError> {
    access.member(&sid)?;
    let size = |name: &str, value: &Option<String>| -> Result<u64, ApiError> {
        let value = value.as_deref().ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidInput,
                format!("`{name}` is missing: the size of a tree head (its tree_size)"),
            )
        })?;
        value.parse().map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidInput,
                format!("`{name}` must be a number of entries, not {value:?}"),
            )
        })
    };
    let (from, to) = (size("from", &q.from)?, size("to", &q.to)?);
    let s = sid.clone();
    app.catalog().run(move |c| c.session(&s)).await?;
    let path = app
        .ledger()
        .consistency_proof(&sid, from, to)
        .await
        .map_err(|e| match e {
            LedgerError::Range(m) | LedgerError::Invalid(m) => {
                ApiError::new(ErrorCode::InvalidInput, m)
            }
            other => ApiError::internal("reading the ledger", other),
        })?;
    Ok(Json(Consistency::new(&sid, from, to, &path)))
}

#[derive(Deserialize)]
pub(super) struct CsvQuery {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    lang: String,
}

/// The sheet as CSV: for a spreadsheet in France by default (`;`, decimal
/// commas, words in `lang`), or `?format=rfc4180` for programs (`,`, ISO
/// times, English keys, totals rows).
pub(super) async fn sheet_csv(
    State(app): State<App>,
    Path(sid): Path<String>,
    Query(q): Query<CsvQuery>,
    access: Access,
) -> Result<Response, ApiError> {
    let machine = match q.format.as_deref() {
        None | Some("") => false,
        Some("rfc4180") => true,
        Some(other) => {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("format: `rfc4180` or none (a spreadsheet's CSV), not {other:?}"),
            ));
        }
    };
    access.whole_session(&sid)?;
    let sheet = app.attendance_sheet(&sid).await?;
    let text = if machine {
        sheet.to_csv()
    } else {
        let lang = crate::evidence::render::Lang::parse(&q.lang).unwrap_or_default();
        crate::evidence::render::sheet_csv(&sheet, lang)
            .map_err(|e| ApiError::internal("writing the sheet", e))?
    };
    Ok(attachment(
        "text/csv; charset=utf-8",
        &format!("emargement-{sid}.csv"),
        text,
    ))
}

pub(super) async fn sheet_json(
    State(app): State<App>,
    Path(sid): Path<String>,
    access: Access,
) -> Result<Response, ApiError> {
    access.whole_session(&sid)?;
    Ok(Json(app.attendance_sheet(&sid).await?).into_response())
}

pub(super) async fn proof_jws(
    State(app): State<App>,
    Path((sid, pid)): Path<(String, String)>,
    access: Access,
) -> Result<Response, ApiError> {
    access.person(&sid, &pid)?;
    let issued = app.issue_proof(&sid, &pid).await?;
    Ok(attachment(
        "application/jose; charset=utf-8",
        &format!("attestation-{pid}.jws"),
        issued.jws,
    ))
}

pub(super) async fn proof_json(
    State(app): State<App>,
    Path((sid, pid)): Path<(String, String)>,
    access: Access,
) -> Result<Response, ApiError> {
    access.person(&sid, &pid)?;
    let issued = app.issue_proof(&sid, &pid).await?;
    Ok(Json(serde_json::json!({
        "jws": issued.jws,
        "sha256": issued.sha256(),
        "proof": issued.proof,
    }))
    .into_response())
}

/// The session's whole ledger for an auditor: entries as JSON lines, then
/// the signed tree heads.
pub(super) async fn ledger_export(
    _: StaffOrOrganiser,
    State(app): State<App>,
    Path(sid): Path<String>,
) -> Result<Response, ApiError> {
    let s = sid.clone();
    app.catalog().run(move |c| c.session(&s)).await?;
    let text =
        app.ledger().export(&sid).await.map_err(|e| {
            ApiError::new(ErrorCode::Internal, format!("ledger export failed: {e}"))
        })?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/jsonl; charset=utf-8".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"ledger-{sid}.jsonl\""),
            ),
        ],
        text,
    )
        .into_response())
}

pub(super) async fn proof_pdf(
    State(app): State<App>,
    Path((sid, pid)): Path<(String, String)>,
    Query(q): Query<TokenQuery>,
    access: Access,
) -> Result<Response, ApiError> {
    access.person(&sid, &pid)?;
    let lang = q.lang();
    let (issued, pdf) = app.certificate_pdf(&sid, &pid, lang).await?;
    let (ascii, utf8) = record_file_names(&issued.proof, lang);
    let mut resp = named_attachment("application/pdf", &ascii, &utf8, pdf);
    if let Ok(v) = HeaderValue::from_str(&issued.sha256()) {
        resp.headers_mut().insert("x-proof-sha256", v);
    }
    Ok(resp)
}

pub(super) async fn sheet_pdf(
    State(app): State<App>,
    Path(sid): Path<String>,
    Query(q): Query<TokenQuery>,
    access: Access,
) -> Result<Response, ApiError> {
    access.whole_session(&sid)?;
    let pdf = app.sheet_pdf(&sid, q.lang()).await?;
    Ok(attachment(
        "application/pdf",
        &format!("emargement-{sid}.pdf"),
        pdf,
    ))
}

/// The relevé's file names: `releve-presence-<session>-<person>-<date>.pdf`
/// in ASCII, and the same words with their accents. The date is the
/// session's planned day, in its time zone.
fn record_file_names(p: &cadre_protocol::proof::AttendanceProof, lang: Lang) -> (String, String) {
    let date = p
        .session
        .time_zone
        .parse::<chrono_tz::Tz>()
        .ok()
        .and_then(|tz| tz.timestamp_millis_opt(p.session.planned_start).single())
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let name = match slug(&p.person.name) {
        n if n.is_empty() => slug(&p.person.id),
        n => n,
    };
    let ascii: Vec<String> = [
        "releve-presence".to_owned(),
        slug(&p.session.title),
        name,
        date.clone(),
    ]
    .into_iter()
    .filter(|piece| !piece.is_empty())
    .collect();
    let title = match lang {
        Lang::Fr => "Relevé de présence",
        Lang::En => "Attendance record",
    };
    let utf8: Vec<String> = [
        title.to_owned(),
        readable(&p.session.title),
        readable(&p.person.name),
        date,
    ]
    .into_iter()
    .filter(|piece| !piece.is_empty())
    .collect();
    (
        format!("{}.pdf", ascii.join("-")),
        format!("{}.pdf", utf8.join(" - ")),
    )
}

fn attachment(content_type: &str, filename: &str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}
