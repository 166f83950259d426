//! Corrections staff make after the fact: a session's title; a person's
//! name, e-mail, mail language or time zone (a beneficiary's on every one
//! of their places at once, so that the certificate and each session's
//! sheet agree); and the mark of a session staff cancelled.
//!
//! A correction is allowed after the session too: a misspelt name is most
//! often found on the certificate. Documents already issued keep what they
//! said (they are signed); those issued afterwards carry the correction,
//! and the audit log keeps the value before it. A role never changes here:
//! a join link names its role, and the ledger has it.

use super::catalog::{
    Catalog, CatalogError, CatalogResult, MAX_NAME, MAX_TITLE, Person, Session, email_field,
    session_in, text_field, zone_field,
};
use super::sql::Sql;
use crate::sql_params;
use cadre_protocol::Refusal;
use cadre_protocol::api::{PersonCorrection, UiLang};
use chrono_tz::Tz;

const MAX_EMPLOYER: usize = 200;

/// What a correction changed, for the audit log and the live room.
#[derive(Debug, Clone)]
pub struct Corrected {
    /// The fields changed, each with its value before and after
    /// (`name: « A » → « B »`), empty when nothing changed.
    pub changes: Vec<String>,
    /// The name is among them (a live room is told).
    pub renamed: bool,
    /// Every person row the correction reached (one, or each place of a
    /// beneficiary), as they are now.
    pub people: Vec<Person>,
}

/// A correction checked field by field: `Some` for each field to change.
#[derive(Debug, Default)]
struct Checked {
    name: Option<String>,
    email: Option<Option<String>>,
    lang: Option<Option<UiLang>>,
    time_zone: Option<Option<Tz>>,
    employer: Option<Option<String>>,
}

impl Checked {
    /// Whether the name changes from `current`.
    fn renames(&self, current: &str) -> bool {
        self.name.as_deref().is_some_and(|n| n != current)
    }
}

fn checked(c: &PersonCorrection, employer_allowed: bool) -> CatalogResult<Checked> {
    if c.employer.is_some() && !employer_allowed {
        return Err(CatalogError::Invalid(
            "employer: only a beneficiary of an action has one (correct them on the action)".into(),
        ));
    }
    let lang = match c.lang.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(tag) => Some(Some(tag.parse::<UiLang>().map_err(|e| {
            CatalogError::Invalid(format!("lang: {e}, or empty for the server's default"))
        })?)),
    };
    let checked = Checked {
        name: c
            .name
            .as_deref()
            .map(|n| text_field("name", n, MAX_NAME))
            .transpose()?,
        email: c
            .email
            .as_deref()
            .map(|e| email_field("email", Some(e)))
            .transpose()?,
        lang,
        time_zone: c
            .time_zone
            .as_deref()
            .map(|z| zone_field("time_zone", Some(z)))
            .transpose()?,
        employer: match c.employer.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(e) => Some(Some(text_field("employer", e, MAX_EMPLOYER)?)),
        },
    };
    if checked.name.is_none()
        && checked.email.is_none()
        && checked.lang.is_none()
        && checked.time_zone.is_none()
        && checked.employer.is_none()
    {
        return Err(CatalogError::invalid(
            Refusal::NothingToCorrect,
            &[],
            "nothing to correct: give name, email, lang or time_zone",
        ));
    }
    Ok(checked)
}

fn quoted(v: Option<&str>) -> String {
    v.map_or_else(|| "(aucun)".to_owned(), |v| format!("« {v} »"))
}

/// A person's or beneficiary's correctable values as they are now.
struct Current<'a> {
    name: &'a str,
    email: Option<&'a str>,
    lang: Option<UiLang>,
    time_zone: Option<&'a str>,
    employer: Option<&'a str>,
}

/// The fields of `c` that differ from the current values, as the audit
/// log words them.
fn differences(c: &Checked, now: &Current<'_>) -> Vec<String> {
    let Current {
        name,
        email,
        lang,
        time_zone,
        employer,
    } = *now;
    let mut out = Vec::new();
    if let Some(new) = c.name.as_deref().filter(|_| c.renames(name)) {
        out.push(format!(
            "name: {} → {}",
            quoted(Some(name)),
            quoted(Some(new))
        ));
    }
    if let Some(new) = c.email.as_ref().filter(|e| e.as_deref() != email) {
        out.push(format!(
            "email: {} → {}",
            quoted(email),
            quoted(new.as_deref())
        ));
    }
    if let Some(new) = c.lang.filter(|l| *l != lang) {
        out.push(format!(
            "lang: {} → {}",
            quoted(lang.map(UiLang::tag)),
            quoted(new.map(UiLang::tag))
        ));
    }
    if let Some(new) = c.time_zone.filter(|z| z.map(|z| z.name()) != time_zone) {
        out.push(format!(
            "time_zone: {} → {}",
            quoted(time_zone),
            quoted(new.map(|z| z.name()))
        ));
    }
    if let Some(new) = c.employer.as_ref().filter(|e| e.as_deref() != employer) {
        out.push(format!(
            "employer: {} → {}",
            quoted(employer),
            quoted(new.as_deref())
        ));
    }
    out
}

/// Writes the fields `c` changes that people and beneficiaries share to
/// row `id` of `table` (`people` or `beneficiaries`, never a request's
/// text).
fn write_shared(tx: &dyn Sql, table: &'static str, id: &str, c: &Checked) -> CatalogResult<()> {
    let set = |column: &str, value: Option<&str>| {
        tx.execute(
            &format!("UPDATE {table} SET {column} = ?1 WHERE id = ?2"),
            &sql_params![value, id],
        )
    };
    if let Some(name) = &c.name {
        set("name", Some(name))?;
    }
    if let Some(email) = &c.email {
        set("email", email.as_deref())?;
    }
    if let Some(lang) = c.lang {
        set("lang", lang.map(UiLang::tag))?;
    }
    if let Some(zone) = c.time_zone {
        set("time_zone", zone.map(|z| z.name()))?;
    }
    Ok(())
}

/// Writes `c` to the person rows `pids` in `tx`, and follows an e-mail
/// change in their mails not sent yet: they go to the new address, or,
/// the address removed, are given up (nothing left to send to).
fn write_people(tx: &dyn Sql, pids: &[String], c: &Checked) -> CatalogResult<()> {
    for pid in pids {
        write_shared(tx, "people", pid, c)?;
        if let Some(email) = &c.email {
            match email {
                Some(address) => tx.execute(
                    "UPDATE mails SET recipient = ?1 WHERE person_id = ?2 AND state = 'pending'",
                    &sql_params![address, pid],
                )?,
                None => tx.execute(
                    "UPDATE mails SET state = 'failed', \
                     last_error = 'the address was removed before the mail went' \
                     WHERE person_id = ?1 AND state = 'pending'",
                    &sql_params![pid],
                )?,
            };
        }
    }
    Ok(())
}

fn people_in(tx: &dyn Sql, pids: &[String]) -> CatalogResult<Vec<Person>> {
    pids.iter()
        .map(|pid| {
            let row = tx
                .query_opt(
                    &format!(
                        "SELECT {} FROM people p WHERE p.id = ?1",
                        super::catalog::PERSON_COLUMNS
                    ),
                    &sql_params![pid],
                )?
                .ok_or_else(|| CatalogError::NotFound(format!("no person {pid}")))?;
            super::catalog::person_at(&row, 0)
        })
        .collect()
}

impl Catalog {
    /// Corrects a session's title; answers the title before and the
    /// session now.
    pub fn retitle_session(&self, sid: &str, title: &str) -> CatalogResult<(String, Session)> {
        let title = text_field("title", title, MAX_TITLE)?;
        self.in_sql_transaction(|tx| {
            let before = session_in(tx, sid)?;
            tx.execute(
                "UPDATE sessions SET title = ?1 WHERE id = ?2",
                &sql_params![&title, sid],
            )?;
            let after = session_in(tx, sid)?;
            Ok((before.title, after))
        })
    }

    /// Corrects a person of session `sid`. A participant who is a
    /// beneficiary of an action is corrected as the beneficiary: their
    /// name, e-mail and language change on the action and on each of their
    /// places.
    pub fn correct_person(
        &self,
        sid: &str,
        pid: &str,
        correction: &PersonCorrection,
    ) -> CatalogResult<Corrected> {
        let c = checked(correction, false)?;
        self.in_sql_transaction(|tx| {
            let found = tx.query_opt(
                "SELECT beneficiary_id, session_id FROM people WHERE id = ?1",
                &sql_params![pid],
            )?;
            let beneficiary = match found {
                Some(row) if row.get::<String>(1)? == sid => row.get::<Option<String>>(0)?,
                _ => {
                    return Err(CatalogError::NotFound(format!(
                        "no person {pid} in session {sid}"
                    )));
                }
            };
            Ok(match beneficiary {
                Some(bid) => correct_beneficiary_in(tx, &bid, &c)?,
                None => {
                    let before = people_in(tx, &[pid.to_owned()])?;
                    let p = &before[0];
                    let changes = differences(
                        &c,
                        &Current {
                            name: &p.name,
                            email: p.email.as_deref(),
                            lang: p.lang,
                            time_zone: p.time_zone.map(|z| z.name()),
                            employer: None,
                        },
                    );
                    write_people(tx, &[pid.to_owned()], &c)?;
                    Corrected {
                        changes,
                        renamed: c.renames(&p.name),
                        people: people_in(tx, &[pid.to_owned()])?,
                    }
                }
            })
        })
    }

    /// Corrects a beneficiary of action `aid` (their employer too), on the
    /// action and on each of their places.
    pub fn correct_beneficiary(
        &self,
        aid: &str,
        bid: &str,
        correction: &PersonCorrection,
    ) -> CatalogResult<Corrected> {
        let c = checked(correction, true)?;
        self.in_sql_transaction(|tx| {
            let of: Option<String> = tx
                .query_opt(
                    "SELECT action_id FROM beneficiaries WHERE id = ?1",
                    &sql_params![bid],
                )?
                .map(|row| row.get(0))
                .transpose()?;
            if of.as_deref() != Some(aid) {
                return Err(CatalogError::NotFound(format!(
                    "no beneficiary {bid} in action {aid}"
                )));
            }
            correct_beneficiary_in(tx, bid, &c)
        })
    }
}

/// Marks a session as cancelled by staff, at `at_ms`, in the transaction
/// that queues the cancellation's mails.
pub(crate) fn mark_cancelled(db: &dyn Sql, sid: &str, at_ms: i64) -> CatalogResult<()> {
    db.execute(
        "UPDATE sessions SET cancelled_at = ?1 WHERE id = ?2 AND cancelled_at IS NULL",
        &sql_params![at_ms, sid],
    )?;
    Ok(())
}

fn correct_beneficiary_in(tx: &dyn Sql, bid: &str, c: &Checked) -> CatalogResult<Corrected> {
    let row = tx
        .query_opt(
            "SELECT name, email, employer, lang, time_zone FROM beneficiaries WHERE id = ?1",
            &sql_params![bid],
        )?
        .ok_or_else(|| CatalogError::NotFound(format!("no beneficiary {bid}")))?;
    let name: String = row.get(0)?;
    let email: Option<String> = row.get(1)?;
    let employer: Option<String> = row.get(2)?;
    let lang = row.get::<Option<String>>(3)?.and_then(|l| l.parse().ok());
    let time_zone: Option<String> = row.get(4)?;
    if let Some(Some(address)) = &c.email {
        let other: Option<String> = tx
            .query_opt(
                "SELECT name FROM beneficiaries WHERE id <> ?1 AND lower(email) = lower(?2) \
                 AND action_id = (SELECT action_id FROM beneficiaries WHERE id = ?1)",
                &sql_params![bid, address],
            )?
            .map(|row| row.get(0))
            .transpose()?;
        if let Some(other) = other {
            return Err(CatalogError::conflict(
                Refusal::AlreadyEnrolled,
                &[("email", address), ("name", &other)],
                format!(
                    "{address} is already the e-mail of {other}, another beneficiary of this action"
                ),
            ));
        }
    }
    let changes = differences(
        c,
        &Current {
            name: &name,
            email: email.as_deref(),
            lang,
            time_zone: time_zone.as_deref(),
            employer: employer.as_deref(),
        },
    );
    write_shared(tx, "beneficiaries", bid, c)?;
    if let Some(employer) = &c.employer {
        tx.execute(
            "UPDATE beneficiaries SET employer = ?1 WHERE id = ?2",
            &sql_params![employer.as_deref(), bid],
        )?;
    }
    let pids: Vec<String> = tx
        .query(
            "SELECT id FROM people WHERE beneficiary_id = ?1",
            &sql_params![bid],
        )?
        .iter()
        .map(|row| row.get(0))
        .collect::<Result<_, _>>()?;
    write_people(tx, &pids, c)?;
    Ok(Corrected {
        changes,
        renamed: c.renames(&name),
        people: people_in(tx, &pids)?,
    })
}
