//! The staff console's routes: login and logout, who is logged in, staff
//! accounts (administrators), the audit log (administrators), and `/console`,
//! the client page. The rules (cookie, CSRF, roles) are the extractors of
//! `access.rs`; the login itself is `app/staff.rs`.

use super::access::{Administrator, Staff, check_origin, client_ip, staff_cookie_name};
use super::json_body;
use crate::app::App;
use crate::app::staff::{ABSOLUTE_EXPIRY, LoginSecret};
use crate::directory::staff;
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use cadre_protocol::ErrorCode;
use cadre_protocol::staff::{
    AuditPage, NewStaff, StaffChange, StaffLogin, StaffMe, StaffRole, StaffView,
};
use serde::Deserialize;

/// The staff routes.
pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/console", get(super::client_page))
        .route("/console/{*rest}", get(super::client_page))
        .route("/api/staff/login", post(login))
        .route("/api/staff/logout", post(logout))
        .route("/api/staff/me", get(me))
        .route("/api/staff", get(list).post(add))
        .route("/api/staff/{id}", patch(change))
        .route("/api/staff/audit", get(audit))
}

/// The `Set-Cookie` of a login (`secret`) or of its end (`None`).
fn cookie(app: &App, secret: Option<&LoginSecret>) -> HeaderValue {
    let name = staff_cookie_name(app);
    // `Secure` whenever the public address is HTTPS: the cookie then never
    // travels in clear, even through a proxy that also listens on HTTP.
    let secure = if name.starts_with("__Host-") {
        "; Secure"
    } else {
        ""
    };
    let value = match secret {
        Some(s) => format!(
            "{name}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            s.0,
            ABSOLUTE_EXPIRY.as_secs()
        ),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    // The secret is base64url: always a valid header value.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Where a login comes from, and its `Origin` checked: a login form on
/// another site must not log a browser in (login CSRF).
struct LoginRequest {
    ip: std::net::IpAddr,
}

impl FromRequestParts<App> for LoginRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        check_origin(parts, app)?;
        let ip = client_ip(parts, app).unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
        Ok(LoginRequest { ip })
    }
}

async fn login(
    State(app): State<App>,
    request: LoginRequest,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let given: StaffLogin = json_body(body, "login")?;
    let (staff, secret) = app
        .staff_login(&given.email, &given.password, request.ip)
        .await?;
    let me = StaffMe {
        staff,
        csrf: secret.csrf(),
    };
    let mut response = Json(me).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&app, Some(&secret)));
    Ok(response)
}

async fn logout(staff: Staff, State(app): State<App>) -> Result<Response, ApiError> {
    let hash = staff.login.secret_hash.clone();
    app.catalog()
        .run(move |c| staff::close_session(c, &hash))
        .await?;
    app.audit(staff.entry("logout", None)).await;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&app, None));
    Ok(response)
}

async fn me(staff: Staff) -> Json<StaffMe> {
    Json(StaffMe {
        staff: staff.login.staff,
        csrf: staff.login.csrf,
    })
}

async fn list(_: Administrator, State(app): State<App>) -> Result<Json<Vec<StaffView>>, ApiError> {
    let now = chrono::Utc::now().timestamp_millis();
    let mut all = app.catalog().run(staff::list).await?;
    // A lock that has ended is no longer one.
    for s in &mut all {
        if s.locked_until.is_some_and(|t| t <= now) {
            s.locked_until = None;
        }
    }
    Ok(Json(all))
}

async fn add(
    Administrator(admin): Administrator,
    State(app): State<App>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<StaffView>), ApiError> {
    let new: NewStaff = json_body(body, "staff member")?;
    let email = staff::check_email(&new.email)?;
    staff::check_password(&new.password, &email)?;
    let hash = app.hash_staff_password(new.password).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let (name, role) = (new.name, new.role);
    let view = app
        .catalog()
        .run(move |c| staff::add(c, &email, &name, role, &hash, now))
        .await?;
    app.audit(admin.entry(
        "staff_added",
        Some(format!(
            "{} {} ({})",
            view.id,
            view.email,
            view.role.as_str()
        )),
    ))
    .await;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn change(
    Administrator(admin): Administrator,
    State(app): State<App>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<StaffView>, ApiError> {
    let change: StaffChange = json_body(body, "change")?;
    let target = {
        let id = id.clone();
        app.catalog().run(move |c| staff::by_id(c, &id)).await?
    };
    let demotes = change.role == Some(StaffRole::Coordinator);
    if id == admin.login.staff.id && (demotes || change.disabled == Some(true)) {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "you cannot disable your own account or take away your own administrator role; \
             another administrator can",
        )
        .because(cadre_protocol::Refusal::OwnAccount, &[]));
    }
    let hash = match &change.password {
        Some(password) => {
            staff::check_password(password, &target.view.email)?;
            Some(app.hash_staff_password(password.clone()).await?)
        }
        None => None,
    };
    let mut said = Vec::new();
    if let Some(role) = change.role {
        said.push(format!("role {}", role.as_str()));
    }
    if let Some(disabled) = change.disabled {
        said.push(if disabled { "disabled" } else { "enabled" }.to_owned());
    }
    if change.unlock {
        said.push("unlocked".to_owned());
    }
    if hash.is_some() {
        said.push("password reset".to_owned());
    }
    if said.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "nothing to change: give role, disabled, unlock or password",
        ));
    }
    let now = chrono::Utc::now().timestamp_millis();
    let view = {
        let id = id.clone();
        app.catalog()
            .run(move |c| {
                if let Some(role) = change.role {
                    staff::set_role(c, &id, role)?;
                }
                if let Some(disabled) = change.disabled {
                    staff::set_disabled(c, &id, disabled, now)?;
                }
                if change.unlock {
                    staff::unlock(c, &id)?;
                }
                if let Some(hash) = &hash {
                    staff::set_password(c, &id, hash)?;
                }
                staff::by_id(c, &id).map(|r| r.view)
            })
            .await?
    };
    app.audit(admin.entry(
        "staff_changed",
        Some(format!("{} {}: {}", view.id, view.email, said.join(", "))),
    ))
    .await;
    Ok(Json(view))
}

#[derive(Deserialize)]
struct AuditQuery {
    before: Option<i64>,
    limit: Option<u32>,
}

/// Entries per page unless asked, and at most.
const AUDIT_PAGE: u32 = 50;
const AUDIT_PAGE_MAX: u32 = 500;

async fn audit(
    _: Administrator,
    State(app): State<App>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let Query(q) = query.map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidInput,
            format!("query: {e} (before: a number, limit: 1 to {AUDIT_PAGE_MAX})"),
        )
    })?;
    let limit = q.limit.unwrap_or(AUDIT_PAGE);
    if limit == 0 || limit > AUDIT_PAGE_MAX {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("limit: between 1 and {AUDIT_PAGE_MAX}"),
        ));
    }
    let entries = app
        .catalog()
        .run(move |c| staff::audit_page(c, q.before, limit))
        .await?;
    let next_before = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    Ok(Json(AuditPage {
        entries,
        next_before,
    }))
}
