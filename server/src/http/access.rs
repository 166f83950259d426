//! Who is asking: the organiser (bearer token) or a person of a session
//! (their join token), and what each may have. Every handler states its
//! rule with one of these; none checks a token by hand.

use crate::app::{Admitted, App};
use crate::error::ApiError;
use crate::evidence::render::Lang;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
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
