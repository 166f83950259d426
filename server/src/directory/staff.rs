//! Staff accounts, their logins and the audit log, in the catalogue.
//!
//! - `staff`: one row per coordinator or administrator; the e-mail is the
//!   login, stored lower-cased so that it is unique whatever its case; the
//!   password as an Argon2id PHC string; the count of failed logins and the
//!   time a lock after repeated failures ends.
//! - `staff_sessions`: a login in a browser. Only the SHA-256 of the cookie's
//!   256-bit secret is stored, so a copy of the database opens no console.
//! - `staff_audit`: who did what, when, from where. Append-only: this module
//!   has no update or delete path, and triggers refuse both.
//!
//! Calls are blocking; async callers go through [`Catalog::run`].

use super::catalog::{Catalog, CatalogError, CatalogResult};
use super::sql::{Row, Sql};
use crate::directory::keys::random_id;
use crate::sql_params;
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use cadre_protocol::staff::{AuditEntry, StaffRole, StaffView};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS staff (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('administrator', 'coordinator')),
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    disabled_at INTEGER,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER
) STRICT;
CREATE TABLE IF NOT EXISTS staff_sessions (
    id_hash BLOB PRIMARY KEY,
    staff_id TEXT NOT NULL REFERENCES staff(id),
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS staff_sessions_by_staff ON staff_sessions(staff_id);
CREATE TABLE IF NOT EXISTS staff_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    staff_id TEXT,
    email TEXT,
    action TEXT NOT NULL,
    target TEXT,
    address TEXT
) STRICT;
CREATE TRIGGER IF NOT EXISTS staff_audit_no_update BEFORE UPDATE ON staff_audit
BEGIN SELECT RAISE(ABORT, 'the staff audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS staff_audit_no_delete BEFORE DELETE ON staff_audit
BEGIN SELECT RAISE(ABORT, 'the staff audit log is append-only'); END;
";

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted: Argon2 takes any length, but a megabyte
/// password is only a way to make the server work.
pub const MAX_PASSWORD_BYTES: usize = 1024;
const MAX_EMAIL: usize = 254;
const MAX_NAME: usize = 120;
/// Longest text kept in an audit entry's fields.
const MAX_AUDIT_FIELD: usize = 500;

/// A staff account with what the login needs.
#[derive(Debug, Clone)]
pub struct StaffRecord {
    /// What the console shows.
    pub view: StaffView,
    /// Argon2id PHC string.
    pub password_hash: String,
}

/// The e-mail as stored and compared: trimmed and lower-cased.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Checks a login e-mail's form (not its existence).
pub fn check_email(email: &str) -> CatalogResult<String> {
    let email = normalise_email(email);
    let valid = email.len() <= MAX_EMAIL
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    if valid {
        Ok(email)
    } else {
        Err(CatalogError::Invalid(format!(
            "email: {email:?} is not an e-mail address (name@domain, at most {MAX_EMAIL} characters)"
        )))
    }
}

/// Refuses a password too short to resist guessing, or too long to hash.
pub fn check_password(password: &str, email: &str) -> CatalogResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.trim().is_empty() {
        return Err(CatalogError::Invalid(format!(
            "password: at least {MIN_PASSWORD_CHARS} characters are needed"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(CatalogError::Invalid(format!(
            "password: at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    if normalise_email(password) == normalise_email(email) {
        return Err(CatalogError::Invalid(
            "password: it must not be the e-mail address".into(),
        ));
    }
    Ok(())
}

fn check_name(name: &str) -> CatalogResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(CatalogError::Invalid(format!(
            "name: between 1 and {MAX_NAME} characters, no control characters"
        )));
    }
    if let Some(c) = cadre_protocol::bidi_control(name) {
        return Err(CatalogError::Invalid(cadre_protocol::bidi_control_refusal(
            "name", c,
        )));
    }
    Ok(name.to_owned())
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane: OWASP's
/// recommendation), as a PHC string carrying its salt and parameters.
/// CPU-heavy: call it off the async runtime.
pub fn hash_password(password: &str) -> CatalogResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CatalogError::Task(format!("password hashing: {e}")))
}

/// Whether `password` matches the PHC string `hash` (false for a hash that
/// does not parse). CPU-heavy: call it off the async runtime.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Adds a staff account; the e-mail must be unused.
pub fn add(
    catalog: &Catalog,
    email: &str,
    name: &str,
    role: StaffRole,
    password_hash: &str,
    now: i64,
) -> CatalogResult<StaffView> {
    let email = check_email(email)?;
    let name = check_name(name)?;
    let id = format!(
        "st_{}",
        random_id(12).map_err(|e| CatalogError::Task(e.to_string()))?
    );
    catalog.with_sql(|db| {
        let taken = db
            .query_opt("SELECT 1 FROM staff WHERE email = ?1", &sql_params![&email])?
            .is_some();
        let refusal = || {
            CatalogError::conflict(
                cadre_protocol::Refusal::StaffEmailTaken,
                &[("email", &email)],
                format!("a staff account already uses {email}"),
            )
        };
        if taken {
            return Err(refusal());
        }
        db.execute(
            "INSERT INTO staff (id, email, name, role, password_hash, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            &sql_params![&id, &email, &name, role.as_str(), password_hash, now],
        )
        // Taken meanwhile by another node sharing the database.
        .map_err(|e| {
            if e.is_unique_violation() {
                refusal()
            } else {
                e.into()
            }
        })?;
        Ok(())
    })?;
    Ok(StaffView {
        id,
        email,
        name,
        role,
        created_at: now,
        disabled_at: None,
        failed_attempts: 0,
        locked_until: None,
    })
}

const COLUMNS: &str =
    "id, email, name, role, created_at, disabled_at, failed_attempts, locked_until, password_hash";

fn record(row: &Row) -> CatalogResult<StaffRecord> {
    let role: String = row.get(3)?;
    let id: String = row.get(0)?;
    let role = StaffRole::parse(&role)
        .ok_or_else(|| CatalogError::Corrupt(format!("staff {id}: role {role:?}")))?;
    Ok(StaffRecord {
        view: StaffView {
            id,
            email: row.get(1)?,
            name: row.get(2)?,
            role,
            created_at: row.get(4)?,
            disabled_at: row.get(5)?,
            failed_attempts: row.get::<i64>(6)?.clamp(0, i64::from(u32::MAX)) as u32,
            locked_until: row.get(7)?,
        },
        password_hash: row.get(8)?,
    })
}

fn by_id_in(db: &dyn Sql, id: &str) -> CatalogResult<Option<StaffRecord>> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM staff WHERE id = ?1"),
        &sql_params![id],
    )?
    .as_ref()
    .map(record)
    .transpose()
}

/// Every staff account, by e-mail.
pub fn list(catalog: &Catalog) -> CatalogResult<Vec<StaffView>> {
    let rows = catalog
        .with_sql(|db| db.query(&format!("SELECT {COLUMNS} FROM staff ORDER BY email"), &[]))?;
    rows.iter().map(|r| record(r).map(|rec| rec.view)).collect()
}

/// The account whose login is `email` (any case).
pub fn by_email(catalog: &Catalog, email: &str) -> CatalogResult<Option<StaffRecord>> {
    let row = catalog.with_sql(|db| {
        db.query_opt(
            &format!("SELECT {COLUMNS} FROM staff WHERE email = ?1"),
            &sql_params![&normalise_email(email)],
        )
    })?;
    row.as_ref().map(record).transpose()
}

/// The account `id`.
pub fn by_id(catalog: &Catalog, id: &str) -> CatalogResult<StaffRecord> {
    catalog
        .with_sql(|db| by_id_in(db, id))?
        .ok_or_else(|| CatalogError::NotFound(format!("no staff account {id}")))
}

/// Counts a failed login; the `max`-th in a row locks the account until
/// `now + lock_ms`. A lock that has ended starts a new count.
pub fn record_failure(
    catalog: &Catalog,
    id: &str,
    now: i64,
    max: u32,
    lock_ms: i64,
) -> CatalogResult<()> {
    catalog.with_sql(|db| {
        db.execute(
            "UPDATE staff SET \
               failed_attempts = CASE WHEN locked_until IS NOT NULL AND locked_until <= ?2 \
                                      THEN 1 ELSE failed_attempts + 1 END, \
               locked_until = CASE WHEN locked_until IS NOT NULL AND locked_until > ?2 \
                                   THEN locked_until \
                                   WHEN locked_until IS NOT NULL THEN NULL \
                                   WHEN failed_attempts + 1 >= ?3 THEN ?2 + ?4 \
                                   ELSE NULL END \
             WHERE id = ?1",
            &sql_params![id, now, i64::from(max), lock_ms],
        )
    })?;
    Ok(())
}

/// A successful login clears the count of failures.
pub fn record_success(catalog: &Catalog, id: &str) -> CatalogResult<()> {
    catalog.with_sql(|db| {
        db.execute(
            "UPDATE staff SET failed_attempts = 0, locked_until = NULL WHERE id = ?1",
            &sql_params![id],
        )
    })?;
    Ok(())
}

/// Changes a role; `None` leaves it.
pub fn set_role(catalog: &Catalog, id: &str, role: StaffRole) -> CatalogResult<()> {
    let n = catalog.with_sql(|db| {
        db.execute(
            "UPDATE staff SET role = ?2 WHERE id = ?1",
            &sql_params![id, role.as_str()],
        )
    })?;
    found(n, id)
}

/// Disables (ending every login of the account) or enables again.
pub fn set_disabled(catalog: &Catalog, id: &str, disabled: bool, now: i64) -> CatalogResult<()> {
    let n = catalog.in_sql_transaction(|db| {
        let n = if disabled {
            db.execute(
                "UPDATE staff SET disabled_at = COALESCE(disabled_at, ?2) WHERE id = ?1",
                &sql_params![id, now],
            )?
        } else {
            db.execute(
                "UPDATE staff SET disabled_at = NULL WHERE id = ?1",
                &sql_params![id],
            )?
        };
        if disabled {
            end_logins(db, id)?;
        }
        Ok(n)
    })?;
    found(n, id)
}

/// Lifts a lock after repeated failures.
pub fn unlock(catalog: &Catalog, id: &str) -> CatalogResult<()> {
    let n = catalog.with_sql(|db| {
        db.execute(
            "UPDATE staff SET failed_attempts = 0, locked_until = NULL WHERE id = ?1",
            &sql_params![id],
        )
    })?;
    found(n, id)
}

/// Replaces the password (lifting any lock) and ends every login of the
/// account.
pub fn set_password(catalog: &Catalog, id: &str, password_hash: &str) -> CatalogResult<()> {
    let n = catalog.in_sql_transaction(|db| {
        let n = db.execute(
            "UPDATE staff SET password_hash = ?2, failed_attempts = 0, locked_until = NULL \
             WHERE id = ?1",
            &sql_params![id, password_hash],
        )?;
        end_logins(db, id)?;
        Ok(n)
    })?;
    found(n, id)
}

/// Ends every login of account `id`.
fn end_logins(db: &dyn Sql, id: &str) -> CatalogResult<()> {
    db.execute(
        "DELETE FROM staff_sessions WHERE staff_id = ?1",
        &sql_params![id],
    )?;
    Ok(())
}

/// The other enabled administrators than `id`: the console refuses to
/// leave the organisation without one.
pub fn other_administrators(catalog: &Catalog, id: &str) -> CatalogResult<i64> {
    let row = catalog.with_sql(|db| {
        db.query_opt(
            "SELECT COUNT(*) FROM staff WHERE role = 'administrator' AND disabled_at IS NULL \
             AND id <> ?1",
            &sql_params![id],
        )
    })?;
    Ok(row.map(|r| r.get::<i64>(0)).transpose()?.unwrap_or(0))
}

fn found(n: u64, id: &str) -> CatalogResult<()> {
    if n == 0 {
        Err(CatalogError::NotFound(format!("no staff account {id}")))
    } else {
        Ok(())
    }
}

// -- Logins in a browser.

/// Stores a new login under the hash of its secret.
pub fn open_session(
    catalog: &Catalog,
    id_hash: &[u8],
    staff_id: &str,
    now: i64,
) -> CatalogResult<()> {
    catalog.with_sql(|db| {
        db.execute(
            "INSERT INTO staff_sessions (id_hash, staff_id, created_at, last_seen_at) \
             VALUES (?1, ?2, ?3, ?3)",
            &sql_params![id_hash, staff_id, now],
        )
    })?;
    Ok(())
}

/// The staff member of a login still valid at `now` (not idle for
/// `idle_ms`, not older than `absolute_ms`, account enabled), its last use
/// moved to `now`. An expired login is deleted.
pub fn session(
    catalog: &Catalog,
    id_hash: &[u8],
    now: i64,
    idle_ms: i64,
    absolute_ms: i64,
) -> CatalogResult<Option<StaffRecord>> {
    catalog.with_sql(|db| {
        let Some(found) = db.query_opt(
            "SELECT staff_id, created_at, last_seen_at FROM staff_sessions WHERE id_hash = ?1",
            &sql_params![id_hash],
        )?
        else {
            return Ok(None);
        };
        let (staff_id, created, last_seen): (String, i64, i64) =
            (found.get(0)?, found.get(1)?, found.get(2)?);
        if now - last_seen >= idle_ms || now - created >= absolute_ms {
            db.execute(
                "DELETE FROM staff_sessions WHERE id_hash = ?1",
                &sql_params![id_hash],
            )?;
            return Ok(None);
        }
        let Some(staff) = by_id_in(db, &staff_id)?.filter(|s| s.view.disabled_at.is_none()) else {
            return Ok(None);
        };
        db.execute(
            "UPDATE staff_sessions SET last_seen_at = ?2 WHERE id_hash = ?1",
            &sql_params![id_hash, now],
        )?;
        Ok(Some(staff))
    })
}

/// Ends a login.
pub fn close_session(catalog: &Catalog, id_hash: &[u8]) -> CatalogResult<()> {
    catalog.with_sql(|db| {
        db.execute(
            "DELETE FROM staff_sessions WHERE id_hash = ?1",
            &sql_params![id_hash],
        )
    })?;
    Ok(())
}

// -- The audit log.

/// An entry to append (its `seq` and time are given by the catalogue).
#[derive(Debug, Clone, Default)]
pub struct NewAuditEntry {
    /// `staff`, `organiser_token`, `command_line`, `anonymous`.
    pub actor: &'static str,
    /// The staff member acting or named.
    pub staff_id: Option<String>,
    /// Their e-mail, or the one a failed login tried.
    pub email: Option<String>,
    /// What.
    pub action: String,
    /// On what.
    pub target: Option<String>,
    /// From where.
    pub address: Option<String>,
}

fn bounded(text: Option<String>) -> Option<String> {
    text.map(|t| {
        let t: String = t.chars().filter(|c| !c.is_control()).collect();
        match t.char_indices().nth(MAX_AUDIT_FIELD) {
            Some((cut, _)) => format!("{}…", &t[..cut]),
            None => t,
        }
    })
}

/// Appends an entry.
pub fn append(catalog: &Catalog, entry: NewAuditEntry, now: i64) -> CatalogResult<()> {
    catalog.with_sql(|db| append_with(db, entry, now))
}

fn append_with(db: &dyn Sql, entry: NewAuditEntry, now: i64) -> CatalogResult<()> {
    let (email, action, target) = (
        bounded(entry.email),
        bounded(Some(entry.action)),
        bounded(entry.target),
    );
    db.execute(
        "INSERT INTO staff_audit (at, actor, staff_id, email, action, target, address) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &sql_params![
            now,
            entry.actor,
            entry.staff_id.as_ref(),
            email.as_ref(),
            action.as_ref(),
            target.as_ref(),
            entry.address.as_ref(),
        ],
    )?;
    Ok(())
}

/// Up to `limit` entries older than `before` (all when none), newest first.
pub fn audit_page(
    catalog: &Catalog,
    before: Option<i64>,
    limit: u32,
) -> CatalogResult<Vec<AuditEntry>> {
    let rows = catalog.with_sql(|db| {
        db.query(
            "SELECT seq, at, actor, staff_id, email, action, target, address FROM staff_audit \
             WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
            &sql_params![before.unwrap_or(i64::MAX), i64::from(limit)],
        )
    })?;
    rows.iter()
        .map(|r| {
            Ok(AuditEntry {
                seq: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                staff_id: r.get(3)?,
                email: r.get(4)?,
                action: r.get(5)?,
                target: r.get(6)?,
                address: r.get(7)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        (dir, catalog)
    }

    #[test]
    fn the_audit_log_refuses_updates_and_deletes() {
        let (_dir, catalog) = catalog();
        let entry = NewAuditEntry {
            actor: "command_line",
            action: "staff_added".into(),
            ..Default::default()
        };
        append(&catalog, entry, 1).unwrap();
        let update = catalog.with_sql(|db| db.execute("UPDATE staff_audit SET action = 'x'", &[]));
        assert!(update.unwrap_err().to_string().contains("append-only"));
        let delete = catalog.with_sql(|db| db.execute("DELETE FROM staff_audit", &[]));
        assert!(delete.unwrap_err().to_string().contains("append-only"));
    }

    #[test]
    fn five_failures_lock_and_a_lock_that_ended_starts_a_new_count() {
        let (_dir, catalog) = catalog();
        let s = add(
            &catalog,
            "A@Example.org",
            "A",
            StaffRole::Coordinator,
            "x",
            0,
        )
        .unwrap();
        assert_eq!(s.email, "a@example.org");
        for _ in 0..4 {
            record_failure(&catalog, &s.id, 100, 5, 1000).unwrap();
        }
        assert_eq!(by_id(&catalog, &s.id).unwrap().view.locked_until, None);
        record_failure(&catalog, &s.id, 100, 5, 1000).unwrap();
        assert_eq!(
            by_id(&catalog, &s.id).unwrap().view.locked_until,
            Some(1100)
        );
        // More failures while locked do not extend the lock.
        record_failure(&catalog, &s.id, 500, 5, 1000).unwrap();
        assert_eq!(
            by_id(&catalog, &s.id).unwrap().view.locked_until,
            Some(1100)
        );
        record_failure(&catalog, &s.id, 2000, 5, 1000).unwrap();
        let after = by_id(&catalog, &s.id).unwrap().view;
        assert_eq!((after.locked_until, after.failed_attempts), (None, 1));
    }

    #[test]
    fn passwords_are_checked_for_length_and_hashed_as_argon2id() {
        assert!(check_password("short", "a@b.c").is_err());
        assert!(check_password("a@b.c-but-long", "a@b.c-but-long").is_err());
        assert!(check_password("twelve chars!", "a@b.c").is_ok());
        let hash = hash_password("twelve chars!").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(&hash, "twelve chars!"));
        assert!(!verify_password(&hash, "twelve chars?"));
        assert!(!verify_password("not a hash", "twelve chars!"));
    }
}
