//! Who is asking: the organiser (bearer token) or a person of a session
//! (their join token), and what each may have. Every handler states its
//! rule with one of these; none checks a token by hand.

use crate::app::staff::StaffLogin;
use crate::app::{Admitted, App};
use crate::directory::staff::NewAuditEntry;
use crate::error::ApiError;
use crate::evidence::render::Lang;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use cadre_protocol::staff::StaffRole;
use cadre_protocol::{ErrorCode, Role};
use serde::Deserialize;

/// The organiser, proven by the bearer token.
pub struct Organiser;

impl FromRequestParts<App> for Organiser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "this needs the organiser token: Authorization: Bearer <token>",
            ));
        }
        check_organiser(&parts.headers, app)
    }
}

/// Checks the `Authorization: Bearer` header against the organiser token.
pub(super) fn check_organiser(headers: &HeaderMap, app: &App) -> Result<Organiser, ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if crate::directory::keys::secrets_match(given.trim(), app.organiser_token()) {
        Ok(Organiser)
    } else {
        Err(ApiError::new(
            ErrorCode::Unauthorized,
            "the organiser token is wrong",
        ))
    }
}

/// Who is asking for a document: the organiser (bearer token) or a person
/// of a session (their join token in `?token=`).
pub(super) enum Access {
    Organiser,
    Member(Box<Admitted>),
    /// A person a facilitator removed, with their revoked link: their own
    /// documents only (session id, person id).
    Removed(String, String),
}

impl FromRequestParts<App> for Access {
    type Rejection = ApiError;

    /// The bearer token when the request has one (it is then the only
    /// credential looked at), otherwise the join token in `?token=`,
    /// admitted as for a join.
    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            return check_organiser(&parts.headers, app).map(|Organiser| Access::Organiser);
        }
        let Query(q) = Query::<TokenQuery>::try_from_uri(&parts.uri).map_err(|e| {
            ApiError::new(ErrorCode::InvalidInput, format!("query: {e}"))
                .with_status(StatusCode::BAD_REQUEST)
        })?;
        // The console: a staff login acts as the organiser (CSRF-checked
        // and audited like any staff write).
        if q.token.is_empty()
            && let Some(who) = staff_or_organiser(parts, app).await?
        {
            debug_assert!(matches!(who, StaffOrOrganiser::Staff(_)));
            return Ok(Access::Organiser);
        }
        match app.admit(&q.token).await {
            Ok(admitted) => Ok(Access::Member(Box::new(admitted))),
            Err(e) if e.code == ErrorCode::TokenRevoked => {
                match app.removed_link(&q.token).await? {
                    Some((sid, pid)) => Ok(Access::Removed(sid, pid)),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}

impl Access {
    /// The organiser, or a facilitator of this session.
    pub(super) fn whole_session(&self, sid: &str) -> Result<(), ApiError> {
        match self {
            Access::Organiser => Ok(()),
            Access::Member(m) if m.session.id == sid && m.role == Role::Facilitator => Ok(()),
            Access::Member(m) if m.session.id != sid => Err(wrong_session()),
            Access::Member(_) => Err(ApiError::new(
                ErrorCode::Forbidden,
                "only the facilitator and the organiser get the whole session's documents",
            )),
            Access::Removed(s, _) if s != sid => Err(wrong_session()),
            Access::Removed(..) => Err(removed_own_only()),
        }
    }

    /// The organiser, or anyone of this session.
    pub(super) fn member(&self, sid: &str) -> Result<(), ApiError> {
        match self {
            Access::Member(m) if m.session.id != sid => Err(wrong_session()),
            Access::Removed(s, _) if s != sid => Err(wrong_session()),
            _ => Ok(()),
        }
    }

    /// The organiser, or a facilitator of this session: recordings are
    /// never handed to participants.
    pub(super) fn recordings(&self, sid: &str) -> Result<(), ApiError> {
        match self {
            Access::Member(m) if m.session.id == sid && m.role == Role::Participant => {
                Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "only the facilitator and the organiser get the recordings",
                ))
            }
            other => other.whole_session(sid),
        }
    }

    /// The organiser, a facilitator of this session, or the person.
    pub(super) fn person(&self, sid: &str, pid: &str) -> Result<(), ApiError> {
        match self {
            Access::Member(m) if m.session.id == sid && m.id == pid => Ok(()),
            Access::Removed(s, p) if s == sid && p == pid => Ok(()),
            Access::Member(m) if m.session.id == sid && m.role == Role::Participant => {
                Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "a participant gets their own proof only",
                ))
            }
            other => other.whole_session(sid),
        }
    }
}

fn removed_own_only() -> ApiError {
    ApiError::new(
        ErrorCode::Forbidden,
        "after a removal, this link gets the person's own documents only",
    )
}

pub(super) fn wrong_session() -> ApiError {
    ApiError::new(ErrorCode::WrongSession, "this link is for another session")
}

#[derive(Deserialize)]
pub(super) struct TokenQuery {
    #[serde(default)]
    pub(super) token: String,
    /// Language of rendered documents (`fr` when absent or unknown).
    #[serde(default)]
    pub(super) lang: String,
}

impl TokenQuery {
    pub(super) fn lang(&self) -> Lang {
        Lang::parse(&self.lang).unwrap_or_default()
    }
}

// -- Staff: the console's login cookie, its CSRF token, the audit of writes.

/// The name of the login cookie. Over HTTPS it is `__Host-cadre_staff`:
/// browsers then accept it only with `Secure`, `Path=/` and no `Domain`,
/// so no other host of the domain and no plain-HTTP page can plant or
/// shadow it. `__Host-` requires `Secure`, which a browser refuses on plain
/// HTTP, so a server on plain HTTP (a loopback demo, the tests) uses
/// `cadre_staff`.
pub(super) fn staff_cookie_name(app: &App) -> &'static str {
    if app.public_url().starts_with("https://") {
        "__Host-cadre_staff"
    } else {
        "cadre_staff"
    }
}

/// The header every state-changing staff request carries.
pub(super) const CSRF_HEADER: &str = "x-cadre-csrf";

/// The secret of the login cookie, when the request has one.
fn staff_cookie(parts: &Parts, app: &App) -> Option<String> {
    let name = staff_cookie_name(app);
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// The client's address, as the audit log keeps it.
pub(super) fn client_ip(parts: &Parts, app: &App) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|peer| app.client_address(peer.0, &parts.headers).ip)
}

/// The server's public origin (`scheme://host[:port]`), the only one whose
/// pages may act with a staff login.
pub(super) fn public_origin(app: &App) -> &str {
    let url = app.public_url();
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// Refuses a request whose `Origin` (when the browser sent one) is not the
/// server's: a page of another origin using a logged-in browser.
pub(super) fn check_origin(parts: &Parts, app: &App) -> Result<(), ApiError> {
    match parts.headers.get(header::ORIGIN) {
        None => Ok(()),
        Some(origin)
            if origin
                .to_str()
                .is_ok_and(|o| super::websocket::is_public_origin(app, o)) =>
        {
            Ok(())
        }
        Some(_) => Err(ApiError::new(
            ErrorCode::ForeignOrigin,
            format!(
                "this request comes from a page of another origin than {}; it is refused",
                public_origin(app)
            ),
        )),
    }
}

fn changes_state(parts: &Parts) -> bool {
    !matches!(
        parts.method,
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    )
}

fn route(parts: &Parts) -> String {
    let path = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| parts.uri.path().to_owned(), |m| m.as_str().to_owned());
    format!("{} {path}", parts.method)
}

/// A staff member logged in with the console's cookie. For a request that
/// changes something, the `Origin` (when present) is the server's and
/// `X-Cadre-CSRF` is the login's token; a refusal is written to the audit
/// log.
pub struct Staff {
    /// The login.
    pub login: StaffLogin,
    /// Where the request comes from.
    pub address: Option<String>,
}

impl Staff {
    /// The audit entry of an action by this staff member.
    pub(super) fn entry(&self, action: &str, target: Option<String>) -> NewAuditEntry {
        NewAuditEntry {
            actor: "staff",
            staff_id: Some(self.login.staff.id.clone()),
            email: Some(self.login.staff.email.clone()),
            action: action.to_owned(),
            target,
            address: self.address.clone(),
        }
    }
}

/// The login of the request's cookie, checked as [`Staff`] says; `None`
/// when there is no cookie.
async fn staff_login(parts: &Parts, app: &App) -> Result<Option<Staff>, ApiError> {
    let Some(secret) = staff_cookie(parts, app) else {
        return Ok(None);
    };
    let Some(login) = app.staff_session(&secret).await? else {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "this login has ended or never existed; log in again",
        ));
    };
    let staff = Staff {
        login,
        address: client_ip(parts, app).map(|ip| ip.to_string()),
    };
    let refusal = check_origin(parts, app).err().or_else(|| {
        let given = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        (changes_state(parts)
            && !crate::directory::keys::secrets_match(given, &staff.login.csrf))
        .then(|| {
            ApiError::new(
                ErrorCode::CsrfToken,
                if given.is_empty() {
                    "this request changes something: it needs the X-Cadre-CSRF header of the login"
                } else {
                    "the X-Cadre-CSRF header is not this login's; reload the console"
                },
            )
        })
    });
    if let Some(e) = refusal {
        app.audit(staff.entry(
            "csrf_refused",
            Some(format!("{} ({})", route(parts), e.code)),
        ))
        .await;
        return Err(e);
    }
    Ok(Some(staff))
}

impl FromRequestParts<App> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        staff_login(parts, app)
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "log in to the console first"))
    }
}

/// A staff member with the administrator role; a coordinator is refused
/// (403 `forbidden`, written to the audit log).
pub struct Administrator(pub Staff);

impl FromRequestParts<App> for Administrator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let staff = Staff::from_request_parts(parts, app).await?;
        if staff.login.staff.role != StaffRole::Administrator {
            app.audit(staff.entry("forbidden", Some(route(parts))))
                .await;
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "only an administrator manages staff accounts and reads the audit log",
            ));
        }
        Ok(Administrator(staff))
    }
}

/// The organiser token (scripts, the API) or a staff login (the console),
/// each allowed what the organiser may do. Every write is appended to the
/// audit log with who made it.
pub enum StaffOrOrganiser {
    /// The bearer token.
    Organiser,
    /// A staff login.
    Staff(Box<Staff>),
}

impl StaffOrOrganiser {
    /// Refuses a coordinator (403 `forbidden`, in the audit log) what only
    /// the organiser token or an administrator may change: `what`, said
    /// in the refusal.
    pub(super) async fn administrator(&self, app: &App, what: &str) -> Result<(), ApiError> {
        if let StaffOrOrganiser::Staff(staff) = self
            && staff.login.staff.role != StaffRole::Administrator
        {
            app.audit(staff.entry("forbidden", Some(what.to_owned())))
                .await;
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("only an administrator changes {what}"),
            ));
        }
        Ok(())
    }

    /// The audit entry of `action` by whoever this is, for a handler that
    /// records a read (writes are recorded by the extractor itself).
    pub(super) fn audit_entry(
        &self,
        action: &str,
        target: Option<String>,
        address: Option<String>,
    ) -> NewAuditEntry {
        match self {
            StaffOrOrganiser::Staff(staff) => staff.entry(action, target),
            StaffOrOrganiser::Organiser => NewAuditEntry {
                actor: "organiser_token",
                action: action.to_owned(),
                target,
                address,
                ..Default::default()
            },
        }
    }
}

/// [`StaffOrOrganiser`], or `None` when the request carries neither the
/// bearer token nor a login cookie.
async fn staff_or_organiser(
    parts: &Parts,
    app: &App,
) -> Result<Option<StaffOrOrganiser>, ApiError> {
    let who = if parts.headers.contains_key(header::AUTHORIZATION) {
        check_organiser(&parts.headers, app)?;
        StaffOrOrganiser::Organiser
    } else {
        match staff_login(parts, app).await? {
            Some(staff) => StaffOrOrganiser::Staff(Box::new(staff)),
            None => return Ok(None),
        }
    };
    if changes_state(parts) {
        let entry = match &who {
            StaffOrOrganiser::Staff(staff) => {
                staff.entry(&route(parts), Some(parts.uri.path().to_owned()))
            }
            StaffOrOrganiser::Organiser => NewAuditEntry {
                actor: "organiser_token",
                action: route(parts),
                target: Some(parts.uri.path().to_owned()),
                address: client_ip(parts, app).map(|ip| ip.to_string()),
                ..Default::default()
            },
        };
        app.audit(entry).await;
    }
    Ok(Some(who))
}

impl FromRequestParts<App> for StaffOrOrganiser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        staff_or_organiser(parts, app).await?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthorized,
                "this needs the organiser token (Authorization: Bearer <token>) or a staff login",
            )
        })
    }
}

/// [`StaffOrOrganiser`] when the request carries the bearer token or a
/// login cookie (checked, CSRF included), `None` when it carries neither:
/// for routes that also serve a person's join link.
pub struct MaybeStaffOrOrganiser(pub Option<StaffOrOrganiser>);

impl FromRequestParts<App> for MaybeStaffOrOrganiser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(MaybeStaffOrOrganiser(staff_or_organiser(parts, app).await?))
    }
}
