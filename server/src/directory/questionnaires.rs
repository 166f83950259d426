//! Appreciation questionnaires in the catalogue: their definitions, where
//! they are attached, the invitations, and the answers.
//!
//! The answers and the invitations are kept apart so that an answer cannot
//! be traced to its author: an invitation says who was invited and only
//! *whether* they answered (no time, no answer id), which is what refuses
//! a second answer; an answer row holds the questionnaire, what it is
//! about and the answers, with no person, no invitation and no time.

use super::catalog::{Catalog, CatalogError, CatalogResult};
use crate::directory::keys::random_id;
use crate::evidence::ledger::{Ledger, NewEvent};
use crate::sql_params;
use cadre_protocol::Role;
use cadre_protocol::evidence::{Entry, kind};
use cadre_protocol::questionnaire::{
    Answer, Moment, NewQuestionnaire, Question, QuestionnaireUse, QuestionnaireView,
    questionnaire_refusal,
};
use chrono::{DateTime, SecondsFormat, Utc};

/// How long an invitation's links work.
pub const INVITATION_DAYS: i64 = 30;

/// Invites the participants of session `sid`, which has just ended, to the
/// questionnaires due (a session's to those who came to it, an action's to
/// all its beneficiaries), each invitation recorded in the ledger
/// (`questionnaire_invited`) before it can be seen. Returns how many were
/// made; a person already invited is not invited again.
///
/// Called before the end is applied to the connections, so that a page
/// told of the end finds its invitations at once.
pub async fn invite_due(catalog: &Catalog, ledger: &Ledger, sid: &str) -> Result<usize, String> {
    let s = sid.to_owned();
    let (due, people) = catalog
        .run(move |c| Ok((c.questionnaires_due(&s)?, c.people(&s)?)))
        .await
        .map_err(|e| e.to_string())?;
    if due.is_empty() {
        return Ok(0);
    }
    let came: Vec<String> = ledger
        .entries(sid)
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .filter_map(|e| Entry::parse(&e.text).ok())
        .filter(|e| e.kind == kind::CONNECTION_OPENED)
        .map(|e| e.actor)
        .collect();
    let expires = Utc::now() + chrono::Duration::days(INVITATION_DAYS);
    let mut made = 0;
    for d in due {
        for p in people.iter().filter(|p| p.role == Role::Participant) {
            if d.action.is_none() && !came.contains(&p.id) {
                continue;
            }
            let (q, scope, s, pid, action) = (
                d.questionnaire.id.clone(),
                d.scope.clone(),
                sid.to_owned(),
                p.id.clone(),
                d.action.clone(),
            );
            let invitation = catalog
                .run(move |c| {
                    let who = match action {
                        Some(_) => c.beneficiary_of(&pid)?.unwrap_or_else(|| pid.clone()),
                        None => pid.clone(),
                    };
                    c.invite(&q, &scope, &who, &s, &pid, expires)
                })
                .await
                .map_err(|e| e.to_string())?;
            if invitation.is_none() {
                continue;
            }
            let event = NewEvent {
                sid: sid.to_owned(),
                kind: kind::QUESTIONNAIRE_INVITED,
                actor: p.id.clone(),
                payload: serde_json::json!({
                    "questionnaire": d.questionnaire.id,
                    "at": d.at.as_str(),
                    "scope": d.scope,
                }),
                client_ts: None,
            };
            ledger.append(event).await.map_err(|e| e.to_string())?;
            made += 1;
        }
    }
    Ok(made)
}

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS questionnaires (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    questions TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS questionnaire_uses (
    target TEXT NOT NULL,
    at TEXT NOT NULL,
    questionnaire TEXT NOT NULL REFERENCES questionnaires(id),
    PRIMARY KEY (target, at)
) STRICT;
CREATE TABLE IF NOT EXISTS questionnaire_invitations (
    id TEXT PRIMARY KEY,
    questionnaire TEXT NOT NULL REFERENCES questionnaires(id),
    scope TEXT NOT NULL,
    who TEXT NOT NULL,
    session_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    invited_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    answered INTEGER NOT NULL DEFAULT 0,
    UNIQUE (questionnaire, scope, who)
) STRICT;
CREATE INDEX IF NOT EXISTS invitations_by_person ON questionnaire_invitations(session_id, person_id);
CREATE TABLE IF NOT EXISTS questionnaire_answers (
    questionnaire TEXT NOT NULL REFERENCES questionnaires(id),
    scope TEXT NOT NULL,
    answers TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS answers_by_scope ON questionnaire_answers(questionnaire, scope);
";

/// An invitation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// `qi_…`: the subject of its links.
    pub id: String,
    /// The questionnaire.
    pub questionnaire: String,
    /// The session or action it is about.
    pub scope: String,
    /// The session the person was invited from, and their id in it.
    pub session_id: String,
    /// Their id in that session.
    pub person_id: String,
    /// When the links stop working.
    pub expires_at: DateTime<Utc>,
    /// Whether it was answered.
    pub answered: bool,
}

/// A questionnaire due at a session's end: which, at which moment, and
/// what it is about (the session or its action, with its title).
#[derive(Debug, Clone)]
pub struct Due {
    /// The questionnaire.
    pub questionnaire: QuestionnaireView,
    /// At the session's end, or the action's.
    pub at: Moment,
    /// The session or action id.
    pub scope: String,
    /// Its title.
    pub about: String,
    /// The action, when the invitation is the action's (beneficiaries are
    /// invited once per action, whatever session they came from).
    pub action: Option<String>,
}

fn ms(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t).unwrap_or_default()
}

impl Catalog {
    /// Stores a questionnaire.
    pub fn create_questionnaire(&self, new: &NewQuestionnaire) -> CatalogResult<QuestionnaireView> {
        if let Some(why) = questionnaire_refusal(new) {
            return Err(CatalogError::Invalid(why));
        }
        let id = format!(
            "qn_{}",
            random_id(9).map_err(|e| CatalogError::Task(e.to_string()))?
        );
        let now = Utc::now();
        let questions = serde_json::to_string(&new.questions)
            .map_err(|e| CatalogError::Corrupt(e.to_string()))?;
        self.with_sql(|db| {
            db.execute(
                "INSERT INTO questionnaires (id, title, questions, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                &sql_params![&id, new.title.trim(), &questions, now.timestamp_millis()],
            )
        })?;
        self.questionnaire(&id)
    }

    /// Every questionnaire, oldest first.
    pub fn questionnaires(&self) -> CatalogResult<Vec<QuestionnaireView>> {
        let rows = self.with_sql(|db| {
            db.query("SELECT id FROM questionnaires ORDER BY created_at, id", &[])
        })?;
        rows.iter()
            .map(|row| self.questionnaire(&row.get::<String>(0)?))
            .collect()
    }

    /// One questionnaire with its uses.
    pub fn questionnaire(&self, id: &str) -> CatalogResult<QuestionnaireView> {
        let (row, uses) = self.with_sql(|db| {
            let row = db.query_opt(
                "SELECT title, questions, created_at FROM questionnaires WHERE id = ?1",
                &sql_params![id],
            )?;
            let uses = db.query(
                "SELECT target, at FROM questionnaire_uses WHERE questionnaire = ?1 \
                 ORDER BY target, at",
                &sql_params![id],
            )?;
            Ok::<_, CatalogError>((row, uses))
        })?;
        let Some(row) = row else {
            return Err(CatalogError::NotFound(format!("no questionnaire {id:?}")));
        };
        let questions: Vec<Question> = serde_json::from_str(&row.get::<String>(1)?)
            .map_err(|e| CatalogError::Corrupt(e.to_string()))?;
        let uses = uses
            .iter()
            .filter_map(|r| {
                Some(QuestionnaireUse {
                    target: r.get(0).ok()?,
                    at: Moment::parse(&r.get::<String>(1).ok()?)?,
                })
            })
            .collect();
        Ok(QuestionnaireView {
            id: id.to_owned(),
            title: row.get(0)?,
            questions,
            created_at: ms(row.get(2)?).to_rfc3339_opts(SecondsFormat::Secs, true),
            uses,
        })
    }

    /// Attaches a questionnaire to an action (`a_…`) or a session (`s_…`)
    /// at `at`, replacing the one attached there before; a session takes
    /// `session_end` only.
    pub fn attach_questionnaire(
        &self,
        id: &str,
        target: &str,
        at: Moment,
    ) -> CatalogResult<QuestionnaireView> {
        self.questionnaire(id)?;
        if target.starts_with("a_") {
            self.action(target)?;
        } else if target.starts_with("s_") {
            self.session(target)?;
            if at != Moment::SessionEnd {
                return Err(CatalogError::Invalid(
                    "at: a session's questionnaire is asked at its end (`session_end`); \
                     `action_end` is for an action"
                        .into(),
                ));
            }
        } else {
            return Err(CatalogError::Invalid(
                "target: an action (a_…) or a session (s_…)".into(),
            ));
        }
        self.with_sql(|db| {
            db.execute(
                "INSERT INTO questionnaire_uses (target, at, questionnaire) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (target, at) DO UPDATE SET questionnaire = excluded.questionnaire",
                &sql_params![target, at.as_str(), id],
            )
        })?;
        self.questionnaire(id)
    }

    /// The questionnaires due when session `sid` ends: the session's own,
    /// its action's at each session's end, and its action's at the
    /// action's end when `sid` is the action's last session.
    pub fn questionnaires_due(&self, sid: &str) -> CatalogResult<Vec<Due>> {
        let session = self.session(sid)?;
        let action = self.action_of_session(sid)?;
        let used = |target: &str, at: Moment| -> CatalogResult<Option<QuestionnaireView>> {
            let row = self.with_sql(|db| {
                db.query_opt(
                    "SELECT questionnaire FROM questionnaire_uses WHERE target = ?1 AND at = ?2",
                    &sql_params![target, at.as_str()],
                )
            })?;
            row.map(|r| self.questionnaire(&r.get::<String>(0)?))
                .transpose()
        };
        let mut due = Vec::new();
        if let Some(q) = used(sid, Moment::SessionEnd)? {
            due.push(Due {
                questionnaire: q,
                at: Moment::SessionEnd,
                scope: sid.to_owned(),
                about: session.title.clone(),
                action: None,
            });
        }
        if let Some(action) = action {
            if let Some(q) = used(&action.id, Moment::SessionEnd)?
                && !due.iter().any(|d| d.questionnaire.id == q.id)
            {
                due.push(Due {
                    questionnaire: q,
                    at: Moment::SessionEnd,
                    scope: sid.to_owned(),
                    about: session.title.clone(),
                    action: None,
                });
            }
            let detail = self.action(&action.id)?;
            let last = detail.sessions.last().is_some_and(|s| s.id == sid);
            if last && let Some(q) = used(&action.id, Moment::ActionEnd)? {
                due.push(Due {
                    questionnaire: q,
                    at: Moment::ActionEnd,
                    scope: action.id.clone(),
                    about: action.title.clone(),
                    action: Some(action.id.clone()),
                });
            }
        }
        Ok(due)
    }

    /// Records an invitation of `person_id` (of session `sid`, known as
    /// `who` across the scope) to answer `questionnaire` about `scope`;
    /// `None` when they were invited to it already.
    pub fn invite(
        &self,
        questionnaire: &str,
        scope: &str,
        who: &str,
        sid: &str,
        person_id: &str,
        expires_at: DateTime<Utc>,
    ) -> CatalogResult<Option<Invitation>> {
        let id = format!(
            "qi_{}",
            random_id(12).map_err(|e| CatalogError::Task(e.to_string()))?
        );
        let added = self.with_sql(|db| {
            db.execute(
                "INSERT INTO questionnaire_invitations \
                 (id, questionnaire, scope, who, session_id, person_id, invited_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
                &sql_params![
                    &id,
                    questionnaire,
                    scope,
                    who,
                    sid,
                    person_id,
                    Utc::now().timestamp_millis(),
                    expires_at.timestamp_millis()
                ],
            )
        })?;
        if added == 0 {
            return Ok(None);
        }
        self.invitation(&id).map(Some)
    }

    /// An invitation by id.
    pub fn invitation(&self, id: &str) -> CatalogResult<Invitation> {
        let row = self.with_sql(|db| {
            db.query_opt(
                "SELECT id, questionnaire, scope, session_id, person_id, expires_at, answered \
                 FROM questionnaire_invitations WHERE id = ?1",
                &sql_params![id],
            )
        })?;
        let row = row.ok_or_else(|| CatalogError::NotFound(format!("no invitation {id:?}")))?;
        Ok(Invitation {
            id: row.get(0)?,
            questionnaire: row.get(1)?,
            scope: row.get(2)?,
            session_id: row.get(3)?,
            person_id: row.get(4)?,
            expires_at: ms(row.get(5)?),
            answered: row.get::<i64>(6)? != 0,
        })
    }

    /// The invitations of a person of a session not answered yet and not
    /// expired.
    pub fn open_invitations(&self, sid: &str, person_id: &str) -> CatalogResult<Vec<Invitation>> {
        let rows = self.with_sql(|db| {
            db.query(
                "SELECT id FROM questionnaire_invitations \
                 WHERE session_id = ?1 AND person_id = ?2 AND answered = 0 AND expires_at > ?3 \
                 ORDER BY invited_at, id",
                &sql_params![sid, person_id, Utc::now().timestamp_millis()],
            )
        })?;
        rows.iter()
            .map(|row| self.invitation(&row.get::<String>(0)?))
            .collect()
    }

    /// Stores `answers` with invitation `id`, once: the invitation is
    /// marked answered and the answers are stored apart, without it, in
    /// one transaction.
    pub fn answer_questionnaire(&self, id: &str, answers: &[Option<Answer>]) -> CatalogResult<()> {
        let text =
            serde_json::to_string(answers).map_err(|e| CatalogError::Corrupt(e.to_string()))?;
        self.in_sql_transaction(|db| {
            let marked = db.execute(
                "UPDATE questionnaire_invitations SET answered = 1 WHERE id = ?1 AND answered = 0",
                &sql_params![id],
            )?;
            if marked == 0 {
                return Err(CatalogError::Conflict(
                    "this questionnaire was answered already with this invitation; \
                     the first answer stands"
                        .into(),
                ));
            }
            let row = db
                .query_opt(
                    "SELECT questionnaire, scope FROM questionnaire_invitations WHERE id = ?1",
                    &sql_params![id],
                )?
                .ok_or_else(|| CatalogError::NotFound(format!("no invitation {id:?}")))?;
            db.execute(
                "INSERT INTO questionnaire_answers (questionnaire, scope, answers) \
                 VALUES (?1, ?2, ?3)",
                &sql_params![&row.get::<String>(0)?, &row.get::<String>(1)?, &text],
            )?;
            Ok(())
        })
    }

    /// How many were invited to `questionnaire` about `scope`, and the
    /// answers given.
    pub fn questionnaire_answers(
        &self,
        questionnaire: &str,
        scope: &str,
    ) -> CatalogResult<(usize, Vec<Vec<Option<Answer>>>)> {
        let (invited, rows) = self.with_sql(|db| {
            let invited = db.query_opt(
                "SELECT COUNT(*) FROM questionnaire_invitations \
                 WHERE questionnaire = ?1 AND scope = ?2",
                &sql_params![questionnaire, scope],
            )?;
            let rows = db.query(
                "SELECT answers FROM questionnaire_answers WHERE questionnaire = ?1 AND scope = ?2",
                &sql_params![questionnaire, scope],
            )?;
            Ok::<_, CatalogError>((invited, rows))
        })?;
        let invited = invited.map(|r| r.get::<i64>(0)).transpose()?.unwrap_or(0);
        let answers = rows
            .iter()
            .map(|r| {
                serde_json::from_str(&r.get::<String>(0)?)
                    .map_err(|e| CatalogError::Corrupt(e.to_string()))
            })
            .collect::<CatalogResult<_>>()?;
        Ok((usize::try_from(invited).unwrap_or(0), answers))
    }
}
