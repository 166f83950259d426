//! The staff console's REST bodies (`/api/staff/…`): staff accounts, the
//! login answer and the audit log. Staff are the organisation's
//! coordinators and administrators; they are never people of a session.

use serde::{Deserialize, Serialize};

/// What a staff member may do in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Everything a coordinator does, plus staff accounts and the audit log.
    Administrator,
    /// Sessions, actions, documents.
    Coordinator,
}

impl StaffRole {
    /// The wire and catalogue name.
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Administrator => "administrator",
            StaffRole::Coordinator => "coordinator",
        }
    }

    /// The role named `s`.
    pub fn parse(s: &str) -> Option<StaffRole> {
        match s {
            "administrator" => Some(StaffRole::Administrator),
            "coordinator" => Some(StaffRole::Coordinator),
            _ => None,
        }
    }
}

/// A staff account as the console shows it (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffView {
    /// `st_…`.
    pub id: String,
    /// The login, lower-cased.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: StaffRole,
    /// Creation time (UTC ms).
    pub created_at: i64,
    /// When the account was disabled (UTC ms); a disabled account cannot log in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<i64>,
    /// Failed logins since the last success or lock.
    pub failed_attempts: u32,
    /// Locked after repeated failures until this time (UTC ms), when still
    /// in the future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<i64>,
}

/// `POST /api/staff/login` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StaffLogin {
    /// The login (case-insensitive).
    pub email: String,
    /// The password.
    pub password: String,
}

/// The answer to a login and to `GET /api/staff/me`: who is logged in, and
/// the token every state-changing request of this login carries in the
/// `X-Cadre-CSRF` header.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StaffMe {
    /// The staff member.
    pub staff: StaffView,
    /// The CSRF token tied to this login.
    pub csrf: String,
}

/// `POST /api/staff` body: an administrator adds a staff member.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewStaff {
    /// The login.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: StaffRole,
    /// The first password (at least 12 characters), told to the person.
    pub password: String,
}

/// `PATCH /api/staff/{id}` body: any of the fields.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StaffChange {
    /// A new role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<StaffRole>,
    /// Disable (true) or enable again (false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// Lift a lock after repeated failures.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unlock: bool,
    /// A new password (at least 12 characters); their logins end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Order of writing (never reused).
    pub seq: i64,
    /// Server time (UTC ms).
    pub at: i64,
    /// Who: `staff` (see `staff_id`), `organiser_token`, `command_line`, or
    /// `anonymous` (a failed login).
    pub actor: String,
    /// The staff member, when one acted or was named by a login attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_id: Option<String>,
    /// The e-mail of the staff member, or the one a failed login tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// What: `login`, `login_failed`, `logout`, `staff_added`, `staff_changed`,
    /// `csrf_refused`, `forbidden`, or the method and route of a write.
    pub action: String,
    /// The object: a staff id, a request path with its ids, a reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// From which address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// `GET /api/staff/audit`: newest first; `next_before` pages on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditPage {
    /// The entries, newest first.
    pub entries: Vec<AuditEntry>,
    /// Pass as `?before=` for the next (older) page; absent at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}
