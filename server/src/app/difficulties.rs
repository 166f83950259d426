//! Difficulty reports (cadre général des accompagnements, article 6: a
//! difficulty is recorded, handled traceably and answered in writing).
//!
//! A participant or a facilitator files a report with their join link,
//! during the session or after it; the organiser answers in writing (REST,
//! CLI) and closes it; the author reads the answer with the same link.
//!
//! Every change is written to the session's ledger first (`report_filed`,
//! `report_answered`, `report_closed`), durable before anything else, then
//! to the catalogue's `reports` table, which is the readable index. The
//! ledger is the record: if the catalogue write failed after it, the entry
//! still says what happened.
//!
//! Who sees what:
//! - a participant: their own reports only, with the answers;
//! - a facilitator of the session: every report of that session, authors
//!   included (they handle difficulties as they arise);
//! - the organiser (bearer token): every report, and alone answers and
//!   closes them.
//!
//! After the session: a join link whose `exp` has passed still files and
//! reads reports until [`AFTER_SESSION_DAYS`] days after the session's
//! planned end. Everything else about the link is checked as for a join
//! (signature, `kid`, issuer, audience, `nbf`, the link in the catalogue,
//! revocation, role).

use crate::app::App;
use crate::directory::catalog::{Admission, CatalogError, CatalogResult};
use crate::directory::sql::{Row, Sql};
use crate::error::ApiError;
use crate::evidence::ledger::NewEvent;
use crate::sql_params;
use cadre_protocol::difficulties::{Difficulty, DifficultyStatus, InboxDifficulty};
use cadre_protocol::evidence::{ACTOR_ORGANISER, kind};
use cadre_protocol::proof::push_record;
use cadre_protocol::signalling::Me;
use cadre_protocol::{ErrorCode, Role};
use chrono::Utc;

/// Longest report, in characters once trimmed.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest answer, in characters once trimmed.
pub const MAX_ANSWER_CHARS: usize = 8000;
/// Most reports one person may have open (unanswered) in one session.
pub const MAX_OPEN_PER_PERSON: i64 = 20;
/// Days after a session's planned end during which its links, even
/// expired, still file and read reports.
pub const AFTER_SESSION_DAYS: i64 = 90;
/// Clock skew tolerated on `exp`, as for joins.
const LEEWAY_SECONDS: i64 = 5;

/// Serialises report changes in this process, so that a check (open
/// count, status) and the writes that follow it are not interleaved with
/// another change. Reports are rare; one lock is plenty.
static WRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A person whose link opens reports.
#[derive(Debug, Clone)]
pub struct DifficultyAuthor {
    /// Their session.
    pub session_id: String,
    /// Who they are.
    pub me: Me,
}

const SELECT: &str = "SELECT r.id, r.session_id, r.author_id, p.name, p.role, r.text, r.status, \
     r.created_at, r.answer, r.answered_at, r.closed_at \
     FROM reports r JOIN people p ON p.id = r.author_id";

fn difficulty_row(row: &Row) -> CatalogResult<Difficulty> {
    let role: String = row.get(4)?;
    let status: String = row.get(6)?;
    let role = match role.as_str() {
        "facilitator" => Role::Facilitator,
        "participant" => Role::Participant,
        other => return Err(CatalogError::Corrupt(format!("role {other}"))),
    };
    let status = match status.as_str() {
        "open" => DifficultyStatus::Open,
        "answered" => DifficultyStatus::Answered,
        "closed" => DifficultyStatus::Closed,
        other => return Err(CatalogError::Corrupt(format!("report status {other}"))),
    };
    Ok(Difficulty {
        id: row.get(0)?,
        session_id: row.get(1)?,
        author: Me {
            id: row.get(2)?,
            name: row.get(3)?,
            role,
        },
        text: row.get(5)?,
        status,
        created_at: row.get(7)?,
        answer: row.get(8)?,
        answered_at: row.get(9)?,
        closed_at: row.get(10)?,
    })
}

/// Reports filed in the same millisecond keep the order the ledger gave
/// their filings (`filed_seq`; reports from before it was kept, by id).
const IN_FILING_ORDER: &str = "r.created_at, r.filed_seq, r.id";

fn query_difficulties(
    db: &dyn Sql,
    sid: &str,
    author: Option<&str>,
) -> CatalogResult<Vec<Difficulty>> {
    let sql = format!(
        "{SELECT} WHERE r.session_id = ?1 AND (?2 IS NULL OR r.author_id = ?2) \
         ORDER BY {IN_FILING_ORDER}"
    );
    db.query(&sql, &sql_params![sid, author])?
        .iter()
        .map(difficulty_row)
        .collect()
}

/// The most lines the inbox answers at once.
pub const MAX_INBOX: usize = 500;

/// Every session's reports in `status` (all when `None`), for the inbox:
/// open ones first, the longest waiting on top, then the others, newest
/// first; at most `limit`.
fn query_inbox(
    db: &dyn Sql,
    status: Option<DifficultyStatus>,
    limit: usize,
) -> CatalogResult<Vec<InboxDifficulty>> {
    let sql = "SELECT r.id, r.session_id, r.author_id, p.name, p.role, r.text, r.status, \
         r.created_at, r.answer, r.answered_at, r.closed_at, \
         s.title, s.planned_start, s.time_zone \
         FROM reports r JOIN people p ON p.id = r.author_id JOIN sessions s ON s.id = r.session_id \
         WHERE ?1 IS NULL OR r.status = ?1 \
         ORDER BY CASE WHEN r.status = 'open' THEN 0 ELSE 1 END, \
         CASE WHEN r.status = 'open' THEN r.created_at ELSE -r.created_at END, \
         r.session_id, r.filed_seq, r.id \
         LIMIT ?2";
    db.query(sql, &sql_params![status.map(|s| s.as_str()), limit as i64])?
        .iter()
        .map(|row| {
            Ok(InboxDifficulty {
                report: difficulty_row(row)?,
                session_title: row.get(11)?,
                planned_start: rfc3339(row.get(12)?),
                time_zone: row.get(13)?,
            })
        })
        .collect()
}

/// The reports answered or closed at `since` or later, any session.
pub(super) fn query_changed(db: &dyn Sql, since: i64) -> CatalogResult<Vec<Difficulty>> {
    let sql = format!("{SELECT} WHERE r.answered_at >= ?1 OR r.closed_at >= ?1");
    db.query(&sql, &sql_params![since])?
        .iter()
        .map(difficulty_row)
        .collect()
}

fn query_difficulty(db: &dyn Sql, sid: &str, rid: &str) -> CatalogResult<Difficulty> {
    let sql = format!("{SELECT} WHERE r.session_id = ?1 AND r.id = ?2");
    let row = db
        .query_opt(&sql, &sql_params![sid, rid])?
        .ok_or_else(|| CatalogError::NotFound(format!("no report {rid} in session {sid}")))?;
    difficulty_row(&row)
}

/// Trims `value` and checks its length; line breaks and tabs are kept,
/// other control characters refused.
fn text_field(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let invalid = |m: String| Err(ApiError::new(ErrorCode::InvalidInput, m));
    let v = value.trim();
    if v.is_empty() {
        return invalid(format!("{field}: must not be empty"));
    }
    let chars = v.chars().count();
    if chars > max {
        return invalid(format!(
            "{field}: at most {max} characters (this one has {chars})"
        ));
    }
    if v.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return invalid(format!("{field}: must not contain control characters"));
    }
    if let Some(c) = cadre_protocol::bidi_control(v) {
        return invalid(cadre_protocol::bidi_control_refusal(field, c));
    }
    Ok(v.to_owned())
}

impl App {
    /// The session and person, when `pid`'s link is revoked because a
    /// facilitator removed them (their latest `removed` entry is not
    /// followed by a re-admission).
    pub(crate) async fn removed_member(
        &self,
        sid: &str,
        pid: &str,
    ) -> Result<
        Option<(
            Box<crate::directory::catalog::Session>,
            crate::directory::catalog::Person,
        )>,
        ApiError,
    > {
        let entries = self.log(sid, u64::MAX).await?;
        let last = entries
            .iter()
            .filter(|e| {
                (e.kind == kind::REMOVED || e.kind == kind::READMITTED)
                    && e.payload_value()
                        .get("participant")
                        .and_then(|p| p.as_str())
                        == Some(pid)
            })
            .max_by_key(|e| e.seq);
        if last.is_none_or(|e| e.kind != kind::REMOVED) {
            return Ok(None);
        }
        let (s, p) = (sid.to_owned(), pid.to_owned());
        let found = self
            .catalog()
            .run(move |c| {
                let session = c.session(&s)?;
                let person = c.people(&s)?.into_iter().find(|x| x.id == p);
                Ok(person.map(|person| (Box::new(session), person)))
            })
            .await?;
        Ok(found)
    }

    /// Checks a join link for reports: genuine and current in the catalogue
    /// as for a join, but a link whose window has not opened yet is
    /// accepted, and an expired one until [`AFTER_SESSION_DAYS`] days after
    /// the session's planned end.
    /// A person a facilitator removed may still report (to contest it).
    pub async fn difficulty_author(&self, token: &str) -> Result<DifficultyAuthor, ApiError> {
        // Before the session too: someone whose equipment check failed
        // tells the organisation while there is time to help.
        let claims = match self.signer().verify_ignoring_expiry(token) {
            Err(e) if e.code == ErrorCode::TokenNotYetValid => {
                self.signer().verify_before_window(token)?
            }
            other => other?,
        };
        let (jti, sid, sub) = (claims.jti.clone(), claims.sid.clone(), claims.sub.clone());
        let admission = self
            .catalog()
            .run(move |c| c.admit(&jti, &sid, &sub))
            .await?;
        let (session, person) = match admission {
            Admission::Admitted { session, person } => (session, person),
            // Someone a facilitator removed keeps a written channel to
            // contest it (art. 6); a link the organiser revoked does not.
            Admission::Revoked(at) => match self.removed_member(&claims.sid, &claims.sub).await? {
                Some(found) => found,
                None => {
                    return Err(ApiError::new(
                        ErrorCode::TokenRevoked,
                        format!(
                            "this link was revoked at {}",
                            rfc3339(at.timestamp_millis())
                        ),
                    ));
                }
            },
            Admission::UnknownLink => {
                return Err(ApiError::new(
                    ErrorCode::NotFound,
                    "this link names no person of this session",
                ));
            }
        };
        if person.role != claims.role {
            return Err(ApiError::new(
                ErrorCode::TokenMalformed,
                "this link's role does not match the session's records",
            ));
        }
        let now = Utc::now();
        let expired = claims.exp.saturating_add(LEEWAY_SECONDS) < now.timestamp();
        let last_day = session.planned_end + chrono::Duration::days(AFTER_SESSION_DAYS);
        if expired && now > last_day {
            return Err(ApiError::new(
                ErrorCode::TokenExpired,
                format!(
                    "this link expired at {}; difficulties about this session were taken until {} \
                     ({AFTER_SESSION_DAYS} days after its end): write to the organisation instead",
                    rfc3339(claims.exp.saturating_mul(1000)),
                    rfc3339(last_day.timestamp_millis()),
                ),
            ));
        }
        Ok(DifficultyAuthor {
            session_id: session.id,
            me: Me {
                id: person.id,
                name: person.name,
                role: person.role,
            },
        })
    }

    /// Files a report by person `pid` of session `sid`: recorded in the
    /// ledger (`report_filed`, actor the author) before the catalogue.
    /// Callers have authenticated the person (a link, a live connection).
    pub async fn file_difficulty(
        &self,
        sid: &str,
        pid: &str,
        text: &str,
    ) -> Result<Difficulty, ApiError> {
        let text = text_field("text", text, MAX_TEXT_CHARS)?;
        let _guard = WRITES.lock().await;
        let (s, p) = (sid.to_owned(), pid.to_owned());
        let (author, open) = self
            .catalog()
            .run(move |c| {
                c.session(&s)?;
                let author = c
                    .people(&s)?
                    .into_iter()
                    .find(|x| x.id == p)
                    .ok_or_else(|| {
                        CatalogError::NotFound(format!("no person {p} in session {s}"))
                    })?;
                let open: i64 = c
                    .with_sql(|db| {
                        db.query_opt(
                            "SELECT COUNT(*) FROM reports WHERE session_id = ?1 \
                             AND author_id = ?2 AND status = 'open'",
                            &sql_params![&s, &p],
                        )
                    })?
                    .map(|row| row.get(0))
                    .transpose()?
                    .unwrap_or(0);
                Ok((author, open))
            })
            .await?;
        if open >= MAX_OPEN_PER_PERSON {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "you already have {open} reports waiting for an answer in this session \
                     (at most {MAX_OPEN_PER_PERSON})"
                ),
            ));
        }
        let id = format!(
            "r_{}",
            crate::directory::keys::random_id(12)
                .map_err(|e| ApiError::internal("report id", e))?
        );
        let appended = self
            .ledger()
            .append(NewEvent {
                sid: sid.to_owned(),
                kind: kind::DIFFICULTY_FILED,
                actor: author.id.clone(),
                payload: serde_json::json!({"report": id, "text": text}),
                client_ts: None,
            })
            .await
            .map_err(|e| ApiError::internal("recording the report", e))?;
        let report = Difficulty {
            id,
            session_id: sid.to_owned(),
            author: Me {
                id: author.id,
                name: author.name,
                role: author.role,
            },
            text,
            status: DifficultyStatus::Open,
            created_at: appended.ts,
            answer: None,
            answered_at: None,
            closed_at: None,
        };
        let row = report.clone();
        let filed_seq = i64::try_from(appended.seq).unwrap_or(i64::MAX);
        self.catalog()
            .run(move |c| {
                c.with_sql(|db| {
                    db.execute(
                        "INSERT INTO reports (id, session_id, author_id, text, status, \
                         created_at, filed_seq) VALUES (?1, ?2, ?3, ?4, 'open', ?5, ?6)",
                        &sql_params![
                            &row.id,
                            &row.session_id,
                            &row.author.id,
                            &row.text,
                            row.created_at,
                            filed_seq
                        ],
                    )
                })?;
                Ok(())
            })
            .await?;
        tracing::info!(sid, report = %report.id, author = %report.author.id, "difficulty report filed");
        self.tell_facilitators(&report).await;
        Ok(report)
    }

    /// Person `pid`'s own reports in session `sid`, oldest first, with the
    /// answers.
    pub async fn difficulties_of(&self, sid: &str, pid: &str) -> Result<Vec<Difficulty>, ApiError> {
        let (s, p) = (sid.to_owned(), pid.to_owned());
        Ok(self
            .catalog()
            .run(move |c| c.with_sql(|db| query_difficulties(db, &s, Some(&p))))
            .await?)
    }

    /// Every report of session `sid`, oldest first (`not_found` for an
    /// unknown session).
    pub async fn session_difficulties(&self, sid: &str) -> Result<Vec<Difficulty>, ApiError> {
        let s = sid.to_owned();
        Ok(self
            .catalog()
            .run(move |c| {
                c.session(&s)?;
                c.with_sql(|db| query_difficulties(db, &s, None))
            })
            .await?)
    }

    /// Every session's reports in `status` (all when `None`) for the
    /// console's inbox, open ones first (see [`query_inbox`]).
    pub async fn difficulty_inbox(
        &self,
        status: Option<DifficultyStatus>,
        limit: usize,
    ) -> Result<Vec<InboxDifficulty>, ApiError> {
        let limit = limit.min(MAX_INBOX);
        Ok(self
            .catalog()
            .run(move |c| c.with_sql(|db| query_inbox(db, status, limit)))
            .await?)
    }

    /// One report of session `sid`.
    pub async fn difficulty(&self, sid: &str, rid: &str) -> Result<Difficulty, ApiError> {
        let (s, r) = (sid.to_owned(), rid.to_owned());
        Ok(self
            .catalog()
            .run(move |c| c.with_sql(|db| query_difficulty(db, &s, &r)))
            .await?)
    }

    /// The organiser's written answer to report `rid` of session `sid`,
    /// closing it too if `close`. A closed report takes no answer
    /// (`conflict`); an answered one may be answered again (the ledger keeps
    /// every answer, the report shows the latest). Recorded in the ledger
    /// (`report_answered`, then `report_closed`) before the catalogue.
    pub async fn answer_difficulty(
        &self,
        sid: &str,
        rid: &str,
        answer: &str,
        close: bool,
    ) -> Result<Difficulty, ApiError> {
        let answer = text_field("answer", answer, MAX_ANSWER_CHARS)?;
        let _guard = WRITES.lock().await;
        let report = self.difficulty(sid, rid).await?;
        if report.status == DifficultyStatus::Closed {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "this report is closed; it takes no further answer",
            )
            .because(cadre_protocol::Refusal::ReportClosed, &[]));
        }
        let answered = self
            .ledger()
            .append(NewEvent {
                sid: sid.to_owned(),
                kind: kind::DIFFICULTY_ANSWERED,
                actor: ACTOR_ORGANISER.to_owned(),
                payload: serde_json::json!({"report": rid, "answer": answer}),
                client_ts: None,
            })
            .await
            .map_err(|e| ApiError::internal("recording the answer", e))?;
        let closed = if close {
            match self.record_close(sid, rid).await {
                Ok(ts) => Some(ts),
                Err(e) => {
                    // The answer is on record: the catalogue says so, and
                    // the close is reported as failed.
                    self.store_answer(sid, rid, &answer, answered.ts, None)
                        .await?;
                    return Err(e);
                }
            }
        } else {
            None
        };
        let report = self
            .store_answer(sid, rid, &answer, answered.ts, closed)
            .await?;
        tracing::info!(
            sid,
            report = rid,
            closed = close,
            "difficulty report answered"
        );
        Ok(report)
    }

    /// Closes report `rid` of session `sid` (`report_closed` in the ledger,
    /// then the catalogue). Only an answered report closes: article 6 wants
    /// a written answer first (`conflict` otherwise, and for a closed one).
    pub async fn close_difficulty(&self, sid: &str, rid: &str) -> Result<Difficulty, ApiError> {
        let _guard = WRITES.lock().await;
        let report = self.difficulty(sid, rid).await?;
        match report.status {
            DifficultyStatus::Closed => {
                return Err(
                    ApiError::new(ErrorCode::Conflict, "this report is already closed")
                        .because(cadre_protocol::Refusal::ReportClosed, &[]),
                );
            }
            DifficultyStatus::Open => {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "this report has no written answer yet: answer it (with close) instead",
                ));
            }
            DifficultyStatus::Answered => {}
        }
        let ts = self.record_close(sid, rid).await?;
        let (s, r) = (sid.to_owned(), rid.to_owned());
        let report = self
            .catalog()
            .run(move |c| {
                c.with_sql(|db| {
                    db.execute(
                        "UPDATE reports SET status = 'closed', closed_at = ?3 \
                         WHERE session_id = ?1 AND id = ?2",
                        &sql_params![&s, &r, ts],
                    )?;
                    query_difficulty(db, &s, &r)
                })
            })
            .await?;
        tracing::info!(sid, report = rid, "difficulty report closed");
        Ok(report)
    }

    async fn record_close(&self, sid: &str, rid: &str) -> Result<i64, ApiError> {
        let appended = self
            .ledger()
            .append(NewEvent {
                sid: sid.to_owned(),
                kind: kind::DIFFICULTY_CLOSED,
                actor: ACTOR_ORGANISER.to_owned(),
                payload: serde_json::json!({"report": rid}),
                client_ts: None,
            })
            .await
            .map_err(|e| ApiError::internal("recording the close", e))?;
        Ok(appended.ts)
    }

    async fn store_answer(
        &self,
        sid: &str,
        rid: &str,
        answer: &str,
        answered_at: i64,
        closed_at: Option<i64>,
    ) -> Result<Difficulty, ApiError> {
        let (s, r, a) = (sid.to_owned(), rid.to_owned(), answer.to_owned());
        let status = if closed_at.is_some() {
            DifficultyStatus::Closed
        } else {
            DifficultyStatus::Answered
        };
        Ok(self
            .catalog()
            .run(move |c| {
                c.with_sql(|db| {
                    db.execute(
                        "UPDATE reports SET status = ?3, answer = ?4, answered_at = ?5, \
                         closed_at = ?6 WHERE session_id = ?1 AND id = ?2",
                        &sql_params![&s, &r, status.as_str(), &a, answered_at, closed_at],
                    )?;
                    query_difficulty(db, &s, &r)
                })
            })
            .await?)
    }

    /// The session's reports as CSV (UTF-8 with a byte-order mark, times in
    /// the session's zone), as the attendance sheet is.
    pub async fn difficulties_csv(&self, sid: &str) -> Result<String, ApiError> {
        let s = sid.to_owned();
        let session = self.catalog().run(move |c| c.session(&s)).await?;
        let reports = self.session_difficulties(sid).await?;
        Ok(to_csv(&reports, session.time_zone.name()))
    }
}

/// Columns of the reports CSV.
pub const CSV_HEADER: [&str; 9] = [
    "id",
    "created_at",
    "author",
    "role",
    "status",
    "text",
    "answer",
    "answered_at",
    "closed_at",
];

/// Renders reports as CSV, times in `time_zone`.
pub fn to_csv(reports: &[Difficulty], time_zone: &str) -> String {
    let time = |t: Option<i64>| {
        t.map(|t| cadre_protocol::attendance::local_time(t, time_zone))
            .unwrap_or_default()
    };
    let mut out = String::from('\u{feff}');
    push_record(&mut out, CSV_HEADER.iter().map(|s| (*s).to_owned()));
    for r in reports {
        push_record(
            &mut out,
            [
                r.id.clone(),
                time(Some(r.created_at)),
                r.author.name.clone(),
                r.author.role.as_str().to_owned(),
                r.status.as_str().to_owned(),
                r.text.clone(),
                r.answer.clone().unwrap_or_default(),
                time(r.answered_at),
                time(r.closed_at),
            ]
            .into_iter(),
        );
    }
    out
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(text_field("text", "  a\nb  ", 10).unwrap(), "a\nb");
        assert_eq!(
            text_field("text", "   ", 10).unwrap_err().code,
            ErrorCode::InvalidInput
        );
        assert!(text_field("text", &"é".repeat(10), 10).is_ok());
        assert!(text_field("text", &"é".repeat(11), 10).is_err());
        assert!(text_field("text", "a\u{7}b", 10).is_err());
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let r = Difficulty {
            id: "r_1".into(),
            session_id: "s_1".into(),
            author: Me {
                id: "p_1".into(),
                name: "Karim".into(),
                role: Role::Participant,
            },
            text: "=HYPERLINK(\"x\"), le son coupe".into(),
            status: DifficultyStatus::Open,
            created_at: 1_796_284_800_000,
            answer: None,
            answered_at: None,
            closed_at: None,
        };
        let csv = to_csv(&[r], "Europe/Paris");
        assert!(csv.starts_with('\u{feff}'));
        let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(lines[0], CSV_HEADER.join(","));
        assert_eq!(
            lines[1],
            "r_1,2026-12-03T09:00:00+01:00,Karim,participant,open,\"'=HYPERLINK(\"\"x\"\"), le son coupe\",,,"
        );
    }
}
