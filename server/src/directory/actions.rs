//! Actions in the catalogue: what a funder pays for (title, nature, planned
//! hours), its beneficiaries, its sessions, and the article 2.1.7 changes
//! recorded for one beneficiary.
//!
//! A session added to an action enrols the action's beneficiaries as its
//! participants: one `people` row per beneficiary and session, linked by
//! `people.beneficiary_id`, so that attendance stays per session (as the
//! ledger has it) and the certificate adds the sessions up per beneficiary.
//!
//! Changes are append-only: triggers refuse to update or delete them, so a
//! change is kept as it was recorded (who, when, why), forever.

use super::catalog::{
    Catalog, CatalogError, CatalogResult, Link, Person, Session, SessionDetail, email_field,
    text_field, zone_field,
};
use super::sql::{Row, Sql};
use crate::directory::keys::random_id;
use crate::sql_params;
use cadre_protocol::action::{
    ActionChange, ActionChangeKind, ActionNature, NewAction, NewActionChange, NewActionSession,
    NewBeneficiary,
};
use cadre_protocol::api::{NewPerson, NewSession, UiLang};
use cadre_protocol::{Refusal, Role};
use chrono::{DateTime, Utc};
use rusqlite::Connection;

/// The most beneficiaries an action takes: a session takes 50 people, one
/// of them its facilitator.
pub const MAX_BENEFICIARIES: usize = 49;
const MAX_HOURS: f64 = 2000.0;
const MAX_REASON: usize = 500;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS actions (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    nature TEXT NOT NULL,
    planned_minutes INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS beneficiaries (
    id TEXT PRIMARY KEY,
    action_id TEXT NOT NULL REFERENCES actions(id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    employer TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS beneficiaries_by_action ON beneficiaries(action_id, position);
CREATE TABLE IF NOT EXISTS action_sessions (
    session_id TEXT PRIMARY KEY REFERENCES sessions(id),
    action_id TEXT NOT NULL REFERENCES actions(id)
) STRICT;
CREATE INDEX IF NOT EXISTS sessions_by_action ON action_sessions(action_id);
CREATE TABLE IF NOT EXISTS action_changes (
    id TEXT PRIMARY KEY,
    action_id TEXT NOT NULL REFERENCES actions(id),
    beneficiary_id TEXT NOT NULL REFERENCES beneficiaries(id),
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    by TEXT NOT NULL,
    at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS changes_by_beneficiary ON action_changes(beneficiary_id, at);
CREATE TRIGGER IF NOT EXISTS action_changes_kept BEFORE UPDATE ON action_changes
BEGIN SELECT RAISE(ABORT, 'article 2.1.7 changes are kept as recorded'); END;
CREATE TRIGGER IF NOT EXISTS action_changes_not_deleted BEFORE DELETE ON action_changes
BEGIN SELECT RAISE(ABORT, 'article 2.1.7 changes are kept as recorded'); END;
";

/// Creates the action tables and adds `people.beneficiary_id` to a
/// catalogue made before actions existed.
pub(super) fn migrate(conn: &Connection) -> CatalogResult<()> {
    conn.execute_batch(SCHEMA)?;
    let has_column = conn
        .prepare("SELECT 1 FROM pragma_table_info('people') WHERE name = 'beneficiary_id'")?
        .exists([])?;
    if !has_column {
        conn.execute_batch(
            "ALTER TABLE people ADD COLUMN beneficiary_id TEXT REFERENCES beneficiaries(id);",
        )?;
    }
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS people_by_beneficiary ON people(beneficiary_id);",
    )?;
    let has_lang = conn
        .prepare("SELECT 1 FROM pragma_table_info('beneficiaries') WHERE name = 'lang'")?
        .exists([])?;
    if !has_lang {
        conn.execute_batch("ALTER TABLE beneficiaries ADD COLUMN lang TEXT;")?;
    }
    let has_zone = conn
        .prepare("SELECT 1 FROM pragma_table_info('beneficiaries') WHERE name = 'time_zone'")?
        .exists([])?;
    if !has_zone {
        conn.execute_batch("ALTER TABLE beneficiaries ADD COLUMN time_zone TEXT;")?;
    }
    Ok(())
}

/// An action as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// `a_…`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Nature.
    pub nature: ActionNature,
    /// Planned duration, minutes.
    pub planned_minutes: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A beneficiary as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beneficiary {
    /// `b_…`.
    pub id: String,
    /// Their action.
    pub action_id: String,
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: Option<String>,
    /// Employer.
    pub employer: Option<String>,
    /// The language of their mails, when chosen for them.
    pub lang: Option<UiLang>,
    /// The time zone of their mails' dates, when not each session's.
    pub time_zone: Option<String>,
}

/// An action with its beneficiaries, sessions and changes.
#[derive(Debug, Clone)]
pub struct ActionDetail {
    /// The action.
    pub action: Action,
    /// Beneficiaries in the order given.
    pub beneficiaries: Vec<Beneficiary>,
    /// Sessions by planned start.
    pub sessions: Vec<Session>,
    /// Every change, oldest first.
    pub changes: Vec<ActionChange>,
}

impl ActionDetail {
    /// When the action was interrupted for `bid` (ms).
    pub fn interrupted_at(&self, bid: &str) -> Option<i64> {
        interrupted_at(&self.changes, bid)
    }
}

/// The session `new` describes, for an action: its facilitators, then the
/// beneficiaries given as participants.
fn session_of_action(
    action: &Action,
    new: &NewActionSession,
    organisation: &str,
    enrolled: &[Beneficiary],
) -> CatalogResult<NewSession> {
    if new.facilitators.is_empty() {
        return Err(CatalogError::Invalid(
            "facilitators: at least one facilitator".into(),
        ));
    }
    let people = new
        .facilitators
        .iter()
        .map(|f| NewPerson {
            name: f.name.clone(),
            email: f.email.clone(),
            role: Role::Facilitator,
            lang: None,
            time_zone: None,
        })
        .chain(enrolled.iter().map(|b| NewPerson {
            name: b.name.clone(),
            email: b.email.clone(),
            role: Role::Participant,
            lang: b.lang,
            time_zone: b.time_zone.clone(),
        }))
        .collect();
    Ok(NewSession {
        title: new
            .title
            .clone()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| action.title.clone()),
        kind: new.kind.unwrap_or(action.nature.session_kind()),
        organisation: organisation.to_owned(),
        planned_start: new.planned_start.clone(),
        planned_end: new.planned_end.clone(),
        time_zone: new.time_zone.clone(),
        sponsor: None,
        media: new.media,
        people,
    })
}

/// Records that a session written in `tx` belongs to the action, and which
/// beneficiary each participant is (they follow the `facilitators`, in the
/// order given).
fn link_to_action(
    tx: &dyn Sql,
    aid: &str,
    created: &SessionDetail,
    facilitators: usize,
    enrolled: &[Beneficiary],
) -> CatalogResult<()> {
    tx.execute(
        "INSERT INTO action_sessions (session_id, action_id) VALUES (?1, ?2)",
        &sql_params![&created.session.id, aid],
    )?;
    for ((person, _), b) in created.people[facilitators..].iter().zip(enrolled) {
        tx.execute(
            "UPDATE people SET beneficiary_id = ?1 WHERE id = ?2",
            &sql_params![&b.id, &person.id],
        )?;
    }
    Ok(())
}

/// A new beneficiary of action `aid`, each field checked and named
/// `{prefix}name`…, with its new id.
fn valid_beneficiary(prefix: &str, b: &NewBeneficiary, aid: &str) -> CatalogResult<Beneficiary> {
    let name = text_field(&format!("{prefix}name"), &b.name, 120)?;
    let email = email_field(&format!("{prefix}email"), b.email.as_deref())?;
    let employer = match &b.employer {
        Some(e) if !e.trim().is_empty() => Some(text_field(&format!("{prefix}employer"), e, 200)?),
        _ => None,
    };
    Ok(Beneficiary {
        id: format!(
            "b_{}",
            random_id(9).map_err(|e| CatalogError::Task(e.to_string()))?
        ),
        action_id: aid.to_owned(),
        name,
        email,
        employer,
        lang: b.lang,
        time_zone: zone_field(&format!("{prefix}time_zone"), b.time_zone.as_deref())?
            .map(|z| z.name().to_owned()),
    })
}

/// The index of an earlier beneficiary with `b`'s e-mail (compared
/// without case), if any.
fn same_email(earlier: &[Beneficiary], b: &Beneficiary) -> Option<usize> {
    let address = b.email.as_deref()?;
    earlier.iter().position(|e| {
        e.email
            .as_deref()
            .is_some_and(|x| x.eq_ignore_ascii_case(address))
    })
}

fn interrupted_at(changes: &[ActionChange], bid: &str) -> Option<i64> {
    changes
        .iter()
        .find(|c| c.beneficiary_id == bid && c.kind == ActionChangeKind::Interrupted)
        .and_then(|c| DateTime::parse_from_rfc3339(&c.at).ok())
        .map(|t| t.timestamp_millis())
}

/// What recording a change did.
#[derive(Debug, Clone)]
pub struct RecordedChange {
    /// The change.
    pub change: ActionChange,
    /// The beneficiary's places in the action's sessions (session, person),
    /// to tell them live.
    pub places: Vec<(String, String)>,
    /// Places whose link an interruption revoked (later sessions).
    pub revoked: Vec<(String, String)>,
}

impl Catalog {
    /// Validates and stores a new action with its beneficiaries and the
    /// sessions it is given, all in one transaction: a session that does
    /// not validate leaves nothing behind, and its error names it.
    /// `organisation` is printed on the sessions' documents.
    pub fn create_action(
        &self,
        new: &NewAction,
        organisation: &str,
        link_window: impl Fn(&Session) -> (DateTime<Utc>, DateTime<Utc>),
        seal: impl Fn(&Person, &Link) -> Option<Vec<u8>>,
    ) -> CatalogResult<ActionDetail> {
        let title = text_field("title", &new.title, 200)?;
        if !new.planned_hours.is_finite()
            || new.planned_hours <= 0.0
            || new.planned_hours > MAX_HOURS
        {
            return Err(CatalogError::Invalid(format!(
                "planned_hours: more than 0 and at most {MAX_HOURS}, got {}",
                new.planned_hours
            )));
        }
        let planned_minutes = (new.planned_hours * 60.0).round() as i64;
        if new.beneficiaries.is_empty() || new.beneficiaries.len() > MAX_BENEFICIARIES {
            return Err(CatalogError::Invalid(format!(
                "beneficiaries: between 1 and {MAX_BENEFICIARIES}"
            )));
        }
        let mut beneficiaries = Vec::with_capacity(new.beneficiaries.len());
        let id = |prefix: &str| -> CatalogResult<String> {
            Ok(format!(
                "{prefix}_{}",
                random_id(9).map_err(|e| CatalogError::Task(e.to_string()))?
            ))
        };
        let action = Action {
            id: id("a")?,
            title,
            nature: new.nature,
            planned_minutes,
            created_at: Utc::now(),
        };
        for (i, b) in new.beneficiaries.iter().enumerate() {
            let b = valid_beneficiary(&format!("beneficiaries[{i}]."), b, &action.id)?;
            if let Some(first) = same_email(&beneficiaries, &b) {
                let email = b.email.as_deref().unwrap_or_default();
                return Err(CatalogError::invalid(
                    Refusal::DuplicateEmail,
                    &[("email", email)],
                    format!(
                        "beneficiaries[{i}].email: {email} is already beneficiaries[{first}]'s; \
                         one person is enrolled once"
                    ),
                ));
            }
            beneficiaries.push(b);
        }
        let mut sessions = self.in_sql_transaction(|tx| {
            tx.execute(
                "INSERT INTO actions (id, title, nature, planned_minutes, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                &sql_params![
                    &action.id,
                    &action.title,
                    action.nature.as_str(),
                    action.planned_minutes,
                    action.created_at.timestamp_millis()
                ],
            )?;
            for (position, b) in beneficiaries.iter().enumerate() {
                insert_beneficiary(tx, b, position as i64)?;
            }
            let mut sessions = Vec::with_capacity(new.sessions.len());
            let count = new.sessions.len();
            for (i, s) in new.sessions.iter().enumerate() {
                let named = |e: CatalogError| match e {
                    CatalogError::Invalid(m) => CatalogError::Invalid(format!(
                        "sessions[{i}] (session {} of {count}): {m}",
                        i + 1
                    )),
                    other => other,
                };
                let session =
                    session_of_action(&action, s, organisation, &beneficiaries).map_err(named)?;
                let created = super::catalog::insert_session(tx, &session, &link_window, &seal)
                    .map_err(named)?;
                link_to_action(
                    tx,
                    &action.id,
                    &created,
                    s.facilitators.len(),
                    &beneficiaries,
                )?;
                sessions.push(created.session);
            }
            Ok(sessions)
        })?;
        sessions.sort_by_key(|s| s.planned_start);
        Ok(ActionDetail {
            action,
            beneficiaries,
            sessions,
            changes: Vec::new(),
        })
    }

    /// Every action with its counts of beneficiaries and sessions, newest first.
    pub fn list_actions(&self) -> CatalogResult<Vec<(Action, usize, usize)>> {
        let rows = self.with_sql(|db| {
            db.query(
                &format!(
                    "SELECT {ACTION_COLUMNS}, \
                     (SELECT COUNT(*) FROM beneficiaries b WHERE b.action_id = a.id), \
                     (SELECT COUNT(*) FROM action_sessions s WHERE s.action_id = a.id) \
                     FROM actions a ORDER BY a.created_at DESC, a.id"
                ),
                &[],
            )
        })?;
        rows.iter()
            .map(|row| {
                Ok((
                    action_row(row)?,
                    row.get::<i64>(5)? as usize,
                    row.get::<i64>(6)? as usize,
                ))
            })
            .collect()
    }

    /// One action with everything about it.
    pub fn action(&self, aid: &str) -> CatalogResult<ActionDetail> {
        let (action, beneficiaries, session_ids, changes) = self.with_sql(|db| {
            let action = db
                .query_opt(
                    &format!("SELECT {ACTION_COLUMNS} FROM actions a WHERE a.id = ?1"),
                    &sql_params![aid],
                )?
                .ok_or_else(|| CatalogError::NotFound(format!("no action {aid}")))?;
            let action = action_row(&action)?;
            let beneficiaries = db
                .query(
                    "SELECT id, action_id, name, email, employer, lang, time_zone \
                     FROM beneficiaries WHERE action_id = ?1 ORDER BY position",
                    &sql_params![aid],
                )?
                .iter()
                .map(|row| {
                    Ok(Beneficiary {
                        id: row.get(0)?,
                        action_id: row.get(1)?,
                        name: row.get(2)?,
                        email: row.get(3)?,
                        employer: row.get(4)?,
                        // An unknown tag (edited by hand) is the server's default.
                        lang: row.get::<Option<String>>(5)?.and_then(|l| l.parse().ok()),
                        time_zone: row.get(6)?,
                    })
                })
                .collect::<CatalogResult<Vec<_>>>()?;
            let session_ids = db
                .query(
                    "SELECT a.session_id FROM action_sessions a \
                     JOIN sessions s ON s.id = a.session_id \
                     WHERE a.action_id = ?1 ORDER BY s.planned_start, s.created_at, s.id",
                    &sql_params![aid],
                )?
                .iter()
                .map(|row| row.get::<String>(0))
                .collect::<Result<Vec<_>, _>>()?;
            let changes = changes(db, aid)?;
            Ok::<_, CatalogError>((action, beneficiaries, session_ids, changes))
        })?;
        let sessions = session_ids
            .iter()
            .map(|sid| self.session(sid))
            .collect::<CatalogResult<Vec<_>>>()?;
        Ok(ActionDetail {
            action,
            beneficiaries,
            sessions,
            changes,
        })
    }

    /// Adds a session to an action: its facilitators, then the action's
    /// beneficiaries (except those whose action was interrupted) as
    /// participants, each linked to their beneficiary, all in one
    /// transaction.
    pub fn add_action_session(
        &self,
        aid: &str,
        new: &NewActionSession,
        organisation: &str,
        link_window: impl Fn(&Session) -> (DateTime<Utc>, DateTime<Utc>),
        seal: impl Fn(&Person, &Link) -> Option<Vec<u8>>,
    ) -> CatalogResult<SessionDetail> {
        let detail = self.action(aid)?;
        let enrolled: Vec<Beneficiary> = detail
            .beneficiaries
            .iter()
            .filter(|b| detail.interrupted_at(&b.id).is_none())
            .cloned()
            .collect();
        if enrolled.is_empty() {
            return Err(CatalogError::Conflict(format!(
                "the action {aid} was interrupted for every beneficiary: a new session would have no one"
            )));
        }
        let session = session_of_action(&detail.action, new, organisation, &enrolled)?;
        let facilitators = new.facilitators.len();
        let interrupted = detail
            .changes
            .iter()
            .filter(|c| c.kind == ActionChangeKind::Interrupted)
            .count();
        self.create_session_with(&session, link_window, seal, |tx, created| {
            // Re-read under the write: an interruption recorded since the
            // read above keeps its beneficiary out.
            let stopped: i64 = count(
                tx,
                "SELECT COUNT(*) FROM action_changes WHERE action_id = ?1 AND kind = 'interrupted'",
                &sql_params![aid],
            )?;
            if stopped as usize != interrupted {
                return Err(CatalogError::Conflict(
                    "the action changed while the session was being added; try again".into(),
                ));
            }
            link_to_action(tx, aid, created, facilitators, &enrolled)
        })
    }

    /// Adds a beneficiary to an action after it was created (a late
    /// enrolment): they join every session of the action that has not
    /// ended, as a participant linked to them, all in one transaction.
    /// Returns them and the sessions they were added to.
    pub fn add_beneficiary(
        &self,
        aid: &str,
        new: &NewBeneficiary,
        link_window: impl Fn(&Session) -> (DateTime<Utc>, DateTime<Utc>),
        seal: impl Fn(&Person, &Link) -> Option<Vec<u8>>,
    ) -> CatalogResult<(Beneficiary, Vec<String>)> {
        let beneficiary = valid_beneficiary("", new, aid)?;
        let sessions = self.in_sql_transaction(|tx| {
            let row = tx
                .query_opt(
                    "SELECT (SELECT COUNT(*) FROM actions WHERE id = ?1), COUNT(*), MAX(position) \
                     FROM beneficiaries WHERE action_id = ?1",
                    &sql_params![aid],
                )?
                .ok_or_else(|| CatalogError::Corrupt("COUNT(*) without a row".into()))?;
            let (known, count, last): (i64, i64, Option<i64>) =
                (row.get(0)?, row.get(1)?, row.get(2)?);
            if known == 0 {
                return Err(CatalogError::NotFound(format!("no action {aid}")));
            }
            if count as usize >= MAX_BENEFICIARIES {
                return Err(CatalogError::conflict(
                    Refusal::ActionFull,
                    &[("max", &MAX_BENEFICIARIES.to_string())],
                    format!(
                        "the action {aid} already has {MAX_BENEFICIARIES} beneficiaries, the \
                         most it takes"
                    ),
                ));
            }
            if let Some(address) = &beneficiary.email {
                let enrolled: Option<String> = tx
                    .query_opt(
                        "SELECT name FROM beneficiaries WHERE action_id = ?1 \
                         AND lower(email) = lower(?2)",
                        &sql_params![aid, address],
                    )?
                    .map(|row| row.get(0))
                    .transpose()?;
                if let Some(name) = enrolled {
                    return Err(CatalogError::conflict(
                        Refusal::AlreadyEnrolled,
                        &[("email", address), ("name", &name)],
                        format!(
                            "{address} is already the e-mail of {name}, a beneficiary of this \
                             action: one person is enrolled once"
                        ),
                    ));
                }
            }
            insert_beneficiary(tx, &beneficiary, last.map_or(0, |p| p + 1))?;
            let sessions: Vec<String> = tx
                .query(
                    "SELECT x.session_id FROM action_sessions x \
                     JOIN sessions s ON s.id = x.session_id \
                     WHERE x.action_id = ?1 AND s.state != 'ended' ORDER BY s.planned_start",
                    &sql_params![aid],
                )?
                .iter()
                .map(|row| row.get(0))
                .collect::<Result<_, _>>()?;
            let person = NewPerson {
                name: beneficiary.name.clone(),
                email: beneficiary.email.clone(),
                role: Role::Participant,
                lang: beneficiary.lang,
                time_zone: beneficiary.time_zone.clone(),
            };
            for sid in &sessions {
                super::catalog::add_person_in(
                    tx,
                    sid,
                    &person,
                    Some(&beneficiary.id),
                    &link_window,
                    &seal,
                )?;
            }
            Ok(sessions)
        })?;
        Ok((beneficiary, sessions))
    }

    /// The action a session belongs to, if any.
    pub fn action_of_session(&self, sid: &str) -> CatalogResult<Option<Action>> {
        let row = self.with_sql(|db| {
            db.query_opt(
                &format!(
                    "SELECT {ACTION_COLUMNS} FROM actions a \
                     JOIN action_sessions s ON s.action_id = a.id WHERE s.session_id = ?1"
                ),
                &sql_params![sid],
            )
        })?;
        row.as_ref().map(action_row).transpose()
    }

    /// The beneficiary a person of a session is, if they came from an action.
    pub fn beneficiary_of(&self, pid: &str) -> CatalogResult<Option<String>> {
        let row = self.with_sql(|db| {
            db.query_opt(
                "SELECT beneficiary_id FROM people WHERE id = ?1",
                &sql_params![pid],
            )
        })?;
        Ok(row
            .map(|r| r.get::<Option<String>>(0))
            .transpose()?
            .flatten())
    }

    /// The beneficiary's place in each session of the action (session id
    /// to person), by planned start.
    pub fn places_of(&self, bid: &str) -> CatalogResult<Vec<Person>> {
        let rows = self.with_sql(|db| {
            db.query(
                &format!(
                    "SELECT {} FROM people p JOIN sessions s ON s.id = p.session_id \
                     WHERE p.beneficiary_id = ?1 ORDER BY s.planned_start, s.created_at, s.id",
                    super::catalog::PERSON_COLUMNS
                ),
                &sql_params![bid],
            )
        })?;
        rows.iter()
            .map(|r| super::catalog::person_at(r, 0))
            .collect()
    }

    /// One person.
    pub fn person(&self, pid: &str) -> CatalogResult<Person> {
        let row = self.with_sql(|db| {
            db.query_opt(
                &format!(
                    "SELECT {} FROM people p WHERE p.id = ?1",
                    super::catalog::PERSON_COLUMNS
                ),
                &sql_params![pid],
            )
        })?;
        let row = row.ok_or_else(|| CatalogError::NotFound(format!("no person {pid}")))?;
        super::catalog::person_at(&row, 0)
    }

    /// The changes recorded for one beneficiary, oldest first.
    pub fn changes_of(&self, bid: &str) -> CatalogResult<Vec<ActionChange>> {
        self.with_sql(|db| {
            let aid: Option<String> = db
                .query_opt(
                    "SELECT action_id FROM beneficiaries WHERE id = ?1",
                    &sql_params![bid],
                )?
                .map(|r| r.get(0))
                .transpose()?;
            let Some(aid) = aid else {
                return Ok(Vec::new());
            };
            Ok(changes(db, &aid)?
                .into_iter()
                .filter(|c| c.beneficiary_id == bid)
                .collect())
        })
    }

    /// Records an article 2.1.7 change for one beneficiary. A pause needs
    /// the action to be running for them, a resumption a pause; nothing
    /// follows an interruption. An interruption revokes the beneficiary's
    /// links to the sessions that start after it.
    pub fn record_change(
        &self,
        aid: &str,
        bid: &str,
        new: &NewActionChange,
        by: &str,
    ) -> CatalogResult<RecordedChange> {
        let reason = text_field("reason", &new.reason, MAX_REASON)?;
        let detail = self.action(aid)?;
        if !detail.beneficiaries.iter().any(|b| b.id == bid) {
            return Err(CatalogError::NotFound(format!(
                "no beneficiary {bid} in action {aid}"
            )));
        }
        let mine: Vec<&ActionChange> = detail
            .changes
            .iter()
            .filter(|c| c.beneficiary_id == bid)
            .collect();
        if mine.iter().any(|c| c.kind == ActionChangeKind::Interrupted) {
            return Err(CatalogError::conflict(
                Refusal::Interrupted,
                &[],
                format!("the action was interrupted for {bid}: nothing more can be recorded"),
            ));
        }
        let paused = mine
            .iter()
            .rev()
            .find(|c| matches!(c.kind, ActionChangeKind::Paused | ActionChangeKind::Resumed))
            .is_some_and(|c| c.kind == ActionChangeKind::Paused);
        match new.kind {
            ActionChangeKind::Paused if paused => {
                return Err(CatalogError::Conflict(format!(
                    "the action is already paused for {bid}"
                )));
            }
            ActionChangeKind::Resumed if !paused => {
                return Err(CatalogError::Conflict(format!(
                    "the action is not paused for {bid}: there is nothing to resume"
                )));
            }
            _ => {}
        }
        let now = Utc::now();
        let change = ActionChange {
            id: format!(
                "c_{}",
                random_id(9).map_err(|e| CatalogError::Task(e.to_string()))?
            ),
            action_id: aid.to_owned(),
            beneficiary_id: bid.to_owned(),
            kind: new.kind,
            reason,
            by: by.to_owned(),
            at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        let places: Vec<(String, String)> = self
            .places_of(bid)?
            .into_iter()
            .map(|p| (p.session_id, p.id))
            .collect();
        let later: Vec<(String, String)> = places
            .iter()
            .filter(|(sid, _)| {
                detail
                    .sessions
                    .iter()
                    .any(|s| &s.id == sid && s.planned_start > now)
            })
            .cloned()
            .collect();
        let revoked = self.in_sql_transaction(|tx| {
            // Checked again under the write: two interruptions racing record one.
            let stopped = count(
                tx,
                "SELECT COUNT(*) FROM action_changes WHERE beneficiary_id = ?1 \
                 AND kind = 'interrupted'",
                &sql_params![bid],
            )?;
            if stopped > 0 {
                return Err(CatalogError::conflict(
                    Refusal::Interrupted,
                    &[],
                    format!("the action was interrupted for {bid}: nothing more can be recorded"),
                ));
            }
            tx.execute(
                "INSERT INTO action_changes (id, action_id, beneficiary_id, kind, reason, by, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                &sql_params![
                    &change.id,
                    &change.action_id,
                    &change.beneficiary_id,
                    change.kind.as_str(),
                    &change.reason,
                    &change.by,
                    now.timestamp_millis()
                ],
            )?;
            let mut revoked = Vec::new();
            if new.kind == ActionChangeKind::Interrupted {
                for (sid, pid) in &later {
                    tx.execute(
                        "UPDATE links SET revoked_at = ?1 WHERE person_id = ?2 \
                         AND revoked_at IS NULL",
                        &sql_params![now.timestamp(), pid],
                    )?;
                    revoked.push((sid.clone(), pid.clone()));
                }
            }
            Ok(revoked)
        })?;
        Ok(RecordedChange {
            change,
            places,
            revoked,
        })
    }
}

impl Catalog {
    /// The changes recorded at or after `since_ms`, each with where its
    /// beneficiary is and, for an interruption, the places it revoked: what
    /// a server tells live about a change another process (the CLI) wrote.
    pub fn changes_since(&self, since_ms: i64) -> CatalogResult<Vec<RecordedChange>> {
        let actions: Vec<String> = self
            .with_sql(|db| {
                db.query(
                    "SELECT DISTINCT action_id FROM action_changes WHERE at >= ?1",
                    &sql_params![since_ms],
                )
            })?
            .iter()
            .map(|row| row.get(0))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for aid in actions {
            let detail = self.action(&aid)?;
            for change in detail.changes {
                let Ok(at) = DateTime::parse_from_rfc3339(&change.at) else {
                    continue;
                };
                if at.timestamp_millis() < since_ms {
                    continue;
                }
                let places: Vec<(String, String)> = self
                    .places_of(&change.beneficiary_id)?
                    .into_iter()
                    .map(|p| (p.session_id, p.id))
                    .collect();
                let revoked = if change.kind == ActionChangeKind::Interrupted {
                    places
                        .iter()
                        .filter(|(sid, _)| {
                            detail
                                .sessions
                                .iter()
                                .any(|s| &s.id == sid && s.planned_start > at)
                        })
                        .cloned()
                        .collect()
                } else {
                    Vec::new()
                };
                out.push(RecordedChange {
                    change,
                    places,
                    revoked,
                });
            }
        }
        Ok(out)
    }
}

fn changes(db: &dyn Sql, aid: &str) -> CatalogResult<Vec<ActionChange>> {
    db.query(
        "SELECT id, action_id, beneficiary_id, kind, reason, by, at FROM action_changes \
         WHERE action_id = ?1 ORDER BY at, id",
        &sql_params![aid],
    )?
    .iter()
    .map(|row| {
        let kind: String = row.get(3)?;
        Ok(ActionChange {
            id: row.get(0)?,
            action_id: row.get(1)?,
            beneficiary_id: row.get(2)?,
            kind: kind.parse().map_err(CatalogError::Corrupt)?,
            reason: row.get(4)?,
            by: row.get(5)?,
            at: DateTime::from_timestamp_millis(row.get(6)?)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })
    })
    .collect()
}

/// The first column of the first row, a count.
fn count(db: &dyn Sql, sql: &str, params: &[super::sql::Param<'_>]) -> CatalogResult<i64> {
    let row = db
        .query_opt(sql, params)?
        .ok_or_else(|| CatalogError::Corrupt("COUNT(*) without a row".into()))?;
    Ok(row.get(0)?)
}

/// Writes beneficiary `b` at `position` of their action.
fn insert_beneficiary(tx: &dyn Sql, b: &Beneficiary, position: i64) -> CatalogResult<()> {
    tx.execute(
        "INSERT INTO beneficiaries (id, action_id, position, name, email, employer, lang, \
         time_zone) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &sql_params![
            &b.id,
            &b.action_id,
            position,
            &b.name,
            b.email.as_deref(),
            b.employer.as_deref(),
            b.lang.map(UiLang::tag),
            b.time_zone.as_deref(),
        ],
    )?;
    Ok(())
}

/// An action's columns as [`action_row`] reads them, `a` standing for the
/// table.
const ACTION_COLUMNS: &str = "a.id, a.title, a.nature, a.planned_minutes, a.created_at";

fn action_row(row: &Row) -> CatalogResult<Action> {
    let nature: String = row.get(2)?;
    Ok(Action {
        id: row.get(0)?,
        title: row.get(1)?,
        nature: nature.parse().map_err(CatalogError::Corrupt)?,
        planned_minutes: row.get(3)?,
        created_at: DateTime::from_timestamp_millis(row.get(4)?).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catalogue_made_before_actions_gets_the_beneficiary_column_once() {
        let dir = tempfile::tempdir().expect("a directory");
        {
            // The people table as it was before actions.
            let conn = Connection::open(dir.path().join(crate::directory::catalog::DB_FILE))
                .expect("open");
            conn.execute_batch(
                "CREATE TABLE sessions (id TEXT PRIMARY KEY, title TEXT NOT NULL, kind TEXT NOT NULL, \
                 organisation TEXT NOT NULL, planned_start INTEGER NOT NULL, planned_end INTEGER NOT NULL, \
                 time_zone TEXT NOT NULL, sponsor TEXT, state TEXT NOT NULL, created_at INTEGER NOT NULL) STRICT;
                 CREATE TABLE people (id TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id), \
                 position INTEGER NOT NULL, name TEXT NOT NULL, email TEXT, role TEXT NOT NULL) STRICT;
                 INSERT INTO sessions VALUES ('s_old', 'Ancienne', 'formation', 'Org', 0, 3600000, \
                 'Europe/Paris', NULL, 'ended', 0);
                 INSERT INTO people VALUES ('p_old', 's_old', 0, 'Karim', NULL, 'participant');",
            )
            .expect("the old schema");
        }
        for _ in 0..2 {
            let catalog = Catalog::open(dir.path()).expect("opens and migrates");
            let columns: Vec<String> = catalog
                .with_sql(|db| db.query("SELECT name FROM pragma_table_info('people')", &[]))
                .expect("pragma")
                .iter()
                .map(|row| row.get(0))
                .collect::<Result<_, _>>()
                .expect("names");
            assert_eq!(
                columns.iter().filter(|c| *c == "beneficiary_id").count(),
                1,
                "{columns:?}"
            );
            assert_eq!(catalog.beneficiary_of("p_old").expect("read"), None);
            assert_eq!(
                catalog.people("s_old").expect("people").len(),
                1,
                "rows kept"
            );
            // Sessions from before the media mode follow the deployment's.
            let old = catalog.session("s_old").expect("the old session reads");
            assert_eq!(old.media, None);
        }
    }
}
