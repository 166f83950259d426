//! Staff accounts, the console's login and the audit log.
//!
//! A login answers a cookie that is `HttpOnly`, `SameSite=Strict`, `Path=/`
//! (named `cadre_staff` on plain HTTP) and a CSRF token; `/api/staff/me`
//! answers the same token. A wrong password and an unknown e-mail get the
//! same status and body; five failures in a row lock the account, answered
//! like any failure, until an administrator lifts the lock or its time
//! passes; ten failures from one address refuse that address's logins
//! (429). A coordinator is refused every administrator route (403
//! `forbidden`) and nothing changes. A staff write without the login's
//! `X-Cadre-CSRF` header, with another one, or from a page of another
//! origin is refused (403 `csrf_token` / `foreign_origin`) and changes
//! nothing; a forged, expired, logged-out or disabled login is refused. The
//! organiser token keeps working. Each case leaves its line in the audit
//! log. `cadre staff` adds the first administrator from the command line.

use cadre_protocol::staff::{AuditEntry, StaffRole, StaffView};
use cadre_server::directory::staff;
use cadre_tests::{StatusCode, TestServer};
use reqwest::header::{COOKIE, ORIGIN, SET_COOKIE};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

/// Adds an account directly in the server's catalogue.
async fn add_staff(server: &TestServer, email: &str, role: StaffRole) -> StaffView {
    let email = email.to_owned();
    server
        .app()
        .catalog()
        .run(move |c| {
            let hash = staff::hash_password(PASSWORD)?;
            staff::add(c, &email, "Camille Durand", role, &hash, 0)
        })
        .await
        .expect("add a staff account")
}

/// A staff login as a browser holds it.
struct Login {
    /// `name=value`, as the browser sends it back.
    cookie: String,
    /// The whole `Set-Cookie` header.
    set_cookie: String,
    csrf: String,
}

/// `POST /api/staff/login`: status, body, `Set-Cookie`.
async fn try_login(
    server: &TestServer,
    email: &str,
    password: &str,
    origin: Option<&str>,
) -> (StatusCode, Value, Option<String>) {
    let mut request = server
        .http()
        .post(server.url("/api/staff/login"))
        .json(&json!({"email": email, "password": password}));
    if let Some(origin) = origin {
        request = request.header(ORIGIN, origin);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let set_cookie = response
        .headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().expect("ASCII cookie").to_owned());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, set_cookie)
}

async fn login(server: &TestServer, email: &str) -> Login {
    let (status, body, set_cookie) = try_login(server, email, PASSWORD, None).await;
    assert_eq!(status, StatusCode::OK, "login of {email}: {body}");
    let set_cookie = set_cookie.expect("a login sets its cookie");
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();
    Login {
        cookie,
        set_cookie,
        csrf: body["csrf"].as_str().expect("a CSRF token").to_owned(),
    }
}

/// A request with the login's cookie; with its CSRF header when `csrf`.
fn with(
    request: reqwest::RequestBuilder,
    login: &Login,
    csrf: Option<&str>,
) -> reqwest::RequestBuilder {
    let request = request.header(COOKIE, &login.cookie);
    match csrf {
        Some(token) => request.header("X-Cadre-CSRF", token),
        None => request,
    }
}

async fn staff_get(server: &TestServer, login: &Login, path: &str) -> (StatusCode, Value) {
    server
        .send(with(server.http().get(server.url(path)), login, None))
        .await
}

async fn staff_post(
    server: &TestServer,
    login: &Login,
    path: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let token = login.csrf.clone();
    server
        .send(with(
            server.http().post(server.url(path)).json(body),
            login,
            Some(&token),
        ))
        .await
}

async fn staff_patch(
    server: &TestServer,
    login: &Login,
    path: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let token = login.csrf.clone();
    server
        .send(with(
            server.http().patch(server.url(path)).json(body),
            login,
            Some(&token),
        ))
        .await
}

/// The whole audit log, oldest first, read from the catalogue.
async fn audit(server: &TestServer) -> Vec<AuditEntry> {
    let mut all = server
        .app()
        .catalog()
        .run(|c| staff::audit_page(c, None, 10_000))
        .await
        .expect("read the audit log");
    all.reverse();
    all
}

fn actions(log: &[AuditEntry]) -> Vec<&str> {
    log.iter().map(|e| e.action.as_str()).collect()
}

/// Changes a login's times in the database (the clock cannot be moved in a
/// real server): `column` moved `hours` back for every login.
fn age_logins(server: &TestServer, column: &str, hours: i64) {
    let db = rusqlite::Connection::open(server.data_file("cadre.sqlite3")).expect("open");
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    db.execute(
        &format!("UPDATE staff_sessions SET {column} = {column} - ?1"),
        [hours * 3600 * 1000],
    )
    .expect("age the logins");
}

fn session_body() -> Value {
    json!({
        "title": "Module 1",
        "kind": "formation",
        "organisation": "Organisme",
        "planned_start": "2026-12-03T09:00",
        "planned_end": "2026-12-03T12:30",
        "time_zone": "Europe/Paris",
        "people": [{"name": "Claire Martin", "role": "facilitator"}]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_sets_a_strict_http_only_cookie_and_me_gives_its_csrf_token() {
    let server = TestServer::start().await;
    let admin = add_staff(&server, "Admin@Example.org", StaffRole::Administrator).await;
    // The e-mail is the login whatever its case.
    let login = login(&server, "ADMIN@example.ORG").await;
    let attributes: Vec<&str> = login.set_cookie.split(';').map(str::trim).collect();
    assert!(
        login.cookie.starts_with("cadre_staff="),
        "{}",
        login.set_cookie
    );
    for wanted in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            attributes.contains(&wanted),
            "{wanted} in {}",
            login.set_cookie
        );
    }
    // Plain HTTP: a Secure cookie would never come back.
    assert!(!attributes.contains(&"Secure"), "{}", login.set_cookie);
    // 256 bits of secret, base64url.
    assert_eq!(login.cookie.len(), "cadre_staff=".len() + 43);

    let (status, me) = staff_get(&server, &login, "/api/staff/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["staff"]["id"], admin.id.as_str());
    assert_eq!(me["staff"]["role"], "administrator");
    assert_eq!(me["csrf"], login.csrf.as_str());
    assert!(me["staff"].get("password_hash").is_none());

    let (status, body) = server.get_public("/api/staff/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "unauthorized");

    let log = audit(&server).await;
    let entry = log
        .iter()
        .find(|e| e.action == "login")
        .expect("a login entry");
    assert_eq!(entry.staff_id.as_deref(), Some(admin.id.as_str()));
    assert_eq!(entry.address.as_deref(), Some("127.0.0.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let server = TestServer::start().await;
    let known = add_staff(&server, "claire@example.org", StaffRole::Coordinator).await;
    let wrong = try_login(&server, "claire@example.org", "not the password!", None).await;
    let unknown = try_login(&server, "nobody@example.org", PASSWORD, None).await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!((wrong.0, &wrong.1), (unknown.0, &unknown.1));
    assert_eq!(wrong.1["code"], "unauthorized");
    assert_eq!((wrong.2, unknown.2), (None, None), "no cookie on a failure");

    let log = audit(&server).await;
    let failed: Vec<_> = log.iter().filter(|e| e.action == "login_failed").collect();
    assert_eq!(failed.len(), 2, "{log:?}");
    assert_eq!(failed[0].staff_id.as_deref(), Some(known.id.as_str()));
    assert_eq!(failed[0].target.as_deref(), Some("wrong password"));
    assert_eq!(failed[1].staff_id, None);
    assert_eq!(failed[1].email.as_deref(), Some("nobody@example.org"));
    assert_eq!(failed[1].target.as_deref(), Some("unknown e-mail address"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failures_lock_an_account_until_an_administrator_lifts_it_or_time_passes() {
    let server = TestServer::start().await;
    add_staff(&server, "admin@example.org", StaffRole::Administrator).await;
    let claire = add_staff(&server, "claire@example.org", StaffRole::Coordinator).await;
    let admin = login(&server, "admin@example.org").await;
    let (_, refused) = try_login(&server, "claire@example.org", "wrong password!", None)
        .await
        .into_parts();
    for _ in 1..5 {
        try_login(&server, "claire@example.org", "wrong password!", None).await;
    }
    // The right password now: refused, with the same answer as a wrong one.
    let (status, body, cookie) = try_login(&server, "claire@example.org", PASSWORD, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, refused, "a lock is not told to whoever tries");
    assert_eq!(cookie, None);
    let log = audit(&server).await;
    assert_eq!(
        log.last().and_then(|e| e.target.as_deref()),
        Some("account locked")
    );

    // The administrator sees the lock and lifts it.
    let (status, all) = staff_get(&server, &admin, "/api/staff").await;
    assert_eq!(status, StatusCode::OK);
    let listed = all
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == claire.id.as_str())
        .unwrap();
    assert!(listed["locked_until"].as_i64().unwrap() > cadre_tests::now());
    let path = format!("/api/staff/{}", claire.id);
    let (status, body) = staff_patch(&server, &admin, &path, &json!({"unlock": true})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("locked_until").is_none(), "{body}");
    login(&server, "claire@example.org").await;

    // Locked again, on a restarted server (the per-address count is kept
    // in memory: eleven failures from loopback would hit it); the lock is
    // in the catalogue, and its end (moved into the past) frees it.
    server.stop().await;
    let server = server.restart_with(|_| {}).await;
    for _ in 0..5 {
        try_login(&server, "claire@example.org", "wrong password!", None).await;
    }
    assert_eq!(
        try_login(&server, "claire@example.org", PASSWORD, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let db = rusqlite::Connection::open(server.data_file("cadre.sqlite3")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    db.execute(
        "UPDATE staff SET locked_until = locked_until - 16 * 60 * 1000 WHERE id = ?1",
        [&claire.id],
    )
    .unwrap();
    login(&server, "claire@example.org").await;
    let log = audit(&server).await;
    assert!(
        log.iter().any(|e| e.action == "staff_changed"
            && e.target.as_deref().unwrap_or("").ends_with("unlocked")),
        "{log:?}"
    );
}

trait IntoParts {
    fn into_parts(self) -> (StatusCode, Value);
}

impl IntoParts for (StatusCode, Value, Option<String>) {
    fn into_parts(self) -> (StatusCode, Value) {
        (self.0, self.1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_failures_from_one_address_refuse_its_logins() {
    let server = TestServer::start().await;
    add_staff(&server, "admin@example.org", StaffRole::Administrator).await;
    // Unknown e-mails: no account is locked, only the address counts.
    for i in 0..10 {
        let (status, _, _) =
            try_login(&server, &format!("guess{i}@example.org"), PASSWORD, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let response = server
        .http()
        .post(server.url("/api/staff/login"))
        .json(&json!({"email": "admin@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get("retry-after").is_some());
    assert!(response.headers().get(SET_COOKIE).is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    let log = audit(&server).await;
    assert_eq!(actions(&log).last(), Some(&"login_refused"), "{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_is_refused_administrator_actions_and_nothing_changes() {
    let server = TestServer::start().await;
    add_staff(&server, "admin@example.org", StaffRole::Administrator).await;
    let coordinator = add_staff(&server, "claire@example.org", StaffRole::Coordinator).await;
    let claire = login(&server, "claire@example.org").await;
    let before = server.app().catalog().run(staff::list).await.unwrap();

    let new = json!({"email": "x@example.org", "name": "X", "role": "administrator",
                     "password": "a long enough password"});
    let self_path = format!("/api/staff/{}", coordinator.id);
    let refusals = [
        staff_get(&server, &claire, "/api/staff").await,
        staff_get(&server, &claire, "/api/staff/audit").await,
        staff_post(&server, &claire, "/api/staff", &new).await,
        staff_patch(
            &server,
            &claire,
            &self_path,
            &json!({"role": "administrator"}),
        )
        .await,
    ];
    for (status, body) in &refusals {
        assert_eq!(*status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["code"], "forbidden");
    }
    let after = server.app().catalog().run(staff::list).await.unwrap();
    assert_eq!(before, after, "nothing changed");

    // What a coordinator does: the sessions, with the CSRF token.
    let (status, body) = staff_post(&server, &claire, "/api/sessions", &session_body()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, list) = staff_get(&server, &claire, "/api/sessions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);

    let log = audit(&server).await;
    assert_eq!(
        log.iter().filter(|e| e.action == "forbidden").count(),
        4,
        "{log:?}"
    );
    let write = log
        .iter()
        .find(|e| e.action == "POST /api/sessions")
        .expect("the session's creation is in the audit log");
    assert_eq!(write.actor, "staff");
    assert_eq!(write.staff_id.as_deref(), Some(coordinator.id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_administrator_changes_the_organisations_identity_a_coordinator_reads_it() {
    let server = TestServer::start().await;
    add_staff(&server, "admin@example.org", StaffRole::Administrator).await;
    add_staff(&server, "claire@example.org", StaffRole::Coordinator).await;
    let admin = login(&server, "admin@example.org").await;
    let claire = login(&server, "claire@example.org").await;
    let put = |login: &Login, path: &str| {
        with(
            server.http().put(server.url(path)),
            login,
            Some(&login.csrf),
        )
    };
    let (status, body) = server
        .send(put(&admin, "/api/organisation").json(&json!({"name": "Formations Horizon"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = staff_get(&server, &claire, "/api/organisation").await;
    assert_eq!(before.0, StatusCode::OK, "a coordinator reads it");
    assert_eq!(before.1["name"], "Formations Horizon");

    // A PNG's signature bytes and a little more: a valid image's start.
    let png = [
        &[0x89u8, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a][..],
        &[0u8; 64][..],
    ]
    .concat();
    let refusals = [
        server
            .send(put(&claire, "/api/organisation").json(&json!({"name": "Autre nom"})))
            .await,
        server
            .send(
                put(&claire, "/api/organisation/signature")
                    .header("content-type", "image/png")
                    .body(png),
            )
            .await,
        server
            .send(with(
                server
                    .http()
                    .delete(server.url("/api/organisation/signature")),
                &claire,
                Some(&claire.csrf),
            ))
            .await,
    ];
    for (status, body) in &refusals {
        assert_eq!(*status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["code"], "forbidden");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("administrator")),
            "{body}"
        );
    }
    assert_eq!(
        staff_get(&server, &claire, "/api/organisation").await,
        before,
        "nothing changed"
    );
    let log = audit(&server).await;
    assert_eq!(
        log.iter()
            .filter(|e| e.action == "forbidden"
                && e.target.as_deref() == Some("the organisation's identity"))
            .count(),
        3,
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_without_the_csrf_token_or_from_another_origin_is_refused_and_changes_nothing() {
    let server = TestServer::start().await;
    add_staff(&server, "admin@example.org", StaffRole::Administrator).await;
    let admin = login(&server, "admin@example.org").await;
    let new = json!({"email": "x@example.org", "name": "X", "role": "coordinator",
                     "password": "a long enough password"});
    let post = || server.http().post(server.url("/api/staff")).json(&new);

    let (status, body) = server.send(with(post(), &admin, None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "csrf_token");
    let (status, body) = server.send(with(post(), &admin, Some("forged"))).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::FORBIDDEN, json!("csrf_token"))
    );
    let foreign = with(post(), &admin, Some(&admin.csrf)).header(ORIGIN, "http://evil.example");
    let (status, body) = server.send(foreign).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::FORBIDDEN, json!("foreign_origin"))
    );
    // A session write through the organiser routes, the same.
    let session = server
        .http()
        .post(server.url("/api/sessions"))
        .json(&session_body());
    let (status, body) = server.send(with(session, &admin, None)).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::FORBIDDEN, json!("csrf_token"))
    );
    // A logout is a write too: the login stays.
    let logout = server.http().post(server.url("/api/staff/logout"));
    assert_eq!(
        server.send(with(logout, &admin, None)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        staff_get(&server, &admin, "/api/staff/me").await.0,
        StatusCode::OK
    );

    assert_eq!(
        server.app().catalog().run(staff::list).await.unwrap().len(),
        1
    );
    assert_eq!(server.session_count().await, 0);
    // The same request from the server's own origin passes.
    let own = with(post(), &admin, Some(&admin.csrf)).header(ORIGIN, server.public_url());
    let (status, body) = server.send(own).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // A login form on another site cannot log a browser in.
    let (status, body, cookie) = try_login(
        &server,
        "admin@example.org",
        PASSWORD,
        Some("http://evil.example"),
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::FORBIDDEN, json!("foreign_origin"))
    );
    assert_eq!(cookie, None);

    let log = audit(&server).await;
    assert_eq!(
        log.iter().filter(|e| e.action == "csrf_refused").count(),
        5,
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_expired_or_logged_out_login_is_refused() {
    let server = TestServer::start().await;
    add_staff(&server, "admin@example.org", StaffRole::Administrator).await;
    let forged = Login {
        cookie: format!("cadre_staff={}", "A".repeat(43)),
        set_cookie: String::new(),
        csrf: String::new(),
    };
    let (status, body) = staff_get(&server, &forged, "/api/staff/me").await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("unauthorized"))
    );

    // The secure cookie's name on a plain-HTTP server is not this server's.
    let real = login(&server, "admin@example.org").await;
    let renamed = Login {
        cookie: real.cookie.replacen("cadre_staff", "__Host-cadre_staff", 1),
        set_cookie: String::new(),
        csrf: real.csrf.clone(),
    };
    assert_eq!(
        staff_get(&server, &renamed, "/api/staff/me").await.0,
        StatusCode::UNAUTHORIZED
    );

    // Logout ends the login on the server: the old cookie no longer works.
    let logout = with(
        server.http().post(server.url("/api/staff/logout")),
        &real,
        Some(&real.csrf),
    );
    let response = logout.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = response.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(
        staff_get(&server, &real, "/api/staff/me").await.0,
        StatusCode::UNAUTHORIZED
    );

    // Idle for two hours: ended.
    let idle = login(&server, "admin@example.org").await;
    age_logins(&server, "last_seen_at", 2);
    assert_eq!(
        staff_get(&server, &idle, "/api/staff/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    // Used a minute ago, but begun twelve hours ago: ended.
    let old = login(&server, "admin@example.org").await;
    age_logins(&server, "created_at", 12);
    assert_eq!(
        staff_get(&server, &old, "/api/staff/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    // A fresh one is fine, and each use keeps it alive.
    let fresh = login(&server, "admin@example.org").await;
    age_logins(&server, "last_seen_at", 1);
    assert_eq!(
        staff_get(&server, &fresh, "/api/staff/me").await.0,
        StatusCode::OK
    );
    age_logins(&server, "last_seen_at", 1);
    assert_eq!(
        staff_get(&server, &fresh, "/api/staff/me").await.0,
        StatusCode::OK
    );

    let log = audit(&server).await;
    assert!(actions(&log).contains(&"logout"), "{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_adds_changes_and_disables_staff_and_the_journal_pages() {
    let server = TestServer::start().await;
    let admin_account = add_staff(&server, "admin@example.org", StaffRole::Administrator).await;
    let admin = login(&server, "admin@example.org").await;

    let weak = json!({"email": "hugo@example.org", "name": "Hugo", "role": "coordinator",
                      "password": "short"});
    let (status, body) = staff_post(&server, &admin, "/api/staff", &weak).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("invalid_input"))
    );
    let bad_email = json!({"email": "hugo", "name": "Hugo", "role": "coordinator",
                           "password": PASSWORD});
    assert_eq!(
        staff_post(&server, &admin, "/api/staff", &bad_email)
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let bad_role = json!({"email": "hugo@example.org", "name": "Hugo", "role": "owner",
                          "password": PASSWORD});
    assert_eq!(
        staff_post(&server, &admin, "/api/staff", &bad_role).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        server.app().catalog().run(staff::list).await.unwrap().len(),
        1
    );

    let good = json!({"email": "Hugo@Example.org", "name": "Hugo Petit", "role": "coordinator",
                      "password": PASSWORD});
    let (status, hugo) = staff_post(&server, &admin, "/api/staff", &good).await;
    assert_eq!(status, StatusCode::CREATED, "{hugo}");
    assert_eq!(hugo["email"], "hugo@example.org");
    let (status, body) = staff_post(&server, &admin, "/api/staff", &good).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::CONFLICT, json!("conflict"))
    );

    let hugo_login = login(&server, "hugo@example.org").await;
    let path = format!("/api/staff/{}", hugo["id"].as_str().unwrap());
    let (status, body) =
        staff_patch(&server, &admin, &path, &json!({"role": "administrator"})).await;
    assert_eq!(
        (status, body["role"].clone()),
        (StatusCode::OK, json!("administrator"))
    );
    let (status, body) = staff_patch(&server, &admin, &path, &json!({"disabled": true})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["disabled_at"].is_i64());
    // Disabled: their login ended, and a new one fails like any other.
    assert_eq!(
        staff_get(&server, &hugo_login, "/api/staff/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        try_login(&server, "hugo@example.org", PASSWORD, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // Nobody removes their own administrator role or disables themselves.
    let own = format!("/api/staff/{}", admin_account.id);
    for change in [json!({"disabled": true}), json!({"role": "coordinator"})] {
        let (status, body) = staff_patch(&server, &admin, &own, &change).await;
        assert_eq!(
            (status, body["code"].clone()),
            (StatusCode::CONFLICT, json!("conflict"))
        );
    }
    assert_eq!(
        staff_patch(&server, &admin, &own, &json!({})).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // The journal, newest first, by pages.
    let (status, page) = staff_get(&server, &admin, "/api/staff/audit?limit=2").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries[0]["seq"].as_i64() > entries[1]["seq"].as_i64());
    let before = page["next_before"].as_i64().expect("more pages");
    let (_, next) = staff_get(
        &server,
        &admin,
        &format!("/api/staff/audit?before={before}&limit=500"),
    )
    .await;
    let older = next["entries"].as_array().unwrap();
    assert!(older.iter().all(|e| e["seq"].as_i64().unwrap() < before));
    let all: Vec<&str> = entries
        .iter()
        .chain(older)
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for wanted in ["login", "staff_added", "staff_changed", "login_failed"] {
        assert!(all.contains(&wanted), "{wanted} in {all:?}");
    }
    assert_eq!(next.get("next_before"), None);
    for bad in ["limit=0", "limit=501", "before=yesterday"] {
        let (status, body) = staff_get(&server, &admin, &format!("/api/staff/audit?{bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_organiser_token_still_works_and_its_writes_are_audited() {
    let server = TestServer::start().await;
    let (status, body) = server.post("/api/sessions", &session_body()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = server.get("/api/sessions").await;
    assert_eq!(status, StatusCode::OK);
    // The staff routes are the console's: the token does not open them.
    assert_eq!(server.get("/api/staff").await.0, StatusCode::UNAUTHORIZED);
    // Neither credential: refused, with both named.
    let (status, body) = server.get_public("/api/sessions").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["message"].as_str().unwrap().contains("staff login"),
        "{body}"
    );

    let log = audit(&server).await;
    assert_eq!(log.len(), 1, "reads are not audited: {log:?}");
    assert_eq!(log[0].actor, "organiser_token");
    assert_eq!(log[0].action, "POST /api/sessions");
    assert_eq!(log[0].address.as_deref(), Some("127.0.0.1"));
}

/// `cadre --data-dir DIR staff ARGS…` with `stdin`: exit status, stdout, stderr.
async fn cadre_staff(
    data_dir: &std::path::Path,
    args: &[&str],
    stdin: &str,
) -> (i32, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(crate::reports::cadre_binary());
    for (name, _) in std::env::vars() {
        if name.starts_with("CADRE_") {
            cmd.env_remove(name);
        }
    }
    let mut child = cmd
        .arg("--data-dir")
        .arg(data_dir)
        .arg("staff")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run cadre");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = child.wait_with_output().await.expect("cadre ends");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cadre_staff_adds_the_first_administrator_who_then_logs_in() {
    let dir = tempfile::tempdir().unwrap();
    let add = [
        "add",
        "--email",
        "Admin@Example.org",
        "--name",
        "Anne Admin",
        "--role",
        "administrator",
        "--password-stdin",
    ];
    let (code, _, err) = cadre_staff(dir.path(), &add, "too short\n").await;
    assert_ne!(code, 0);
    assert!(err.contains("at least 12 characters"), "{err}");
    let (code, out, err) = cadre_staff(dir.path(), &["list", "--json"], "").await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        json!([]),
        "nothing added"
    );

    let (code, out, err) = cadre_staff(dir.path(), &add, &format!("{PASSWORD}\n")).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("admin@example.org"), "{out}");
    let (code, _, err) = cadre_staff(dir.path(), &add, &format!("{PASSWORD}\n")).await;
    assert_ne!(code, 0);
    assert!(err.contains("already"), "{err}");
    let bad_role = [
        "add",
        "--email",
        "b@example.org",
        "--name",
        "B",
        "--role",
        "owner",
        "--password-stdin",
    ];
    assert_ne!(
        cadre_staff(dir.path(), &bad_role, &format!("{PASSWORD}\n"))
            .await
            .0,
        0
    );

    let (_, out, _) = cadre_staff(dir.path(), &["list", "--json"], "").await;
    let listed: Vec<StaffView> = serde_json::from_str(&out).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].role, StaffRole::Administrator);
    assert!(!out.contains("argon2"), "no hash is printed: {out}");

    // A server on that directory lets the administrator in.
    let server = TestServer::start_on(dir, |_| {}).await;
    let admin = login(&server, "admin@example.org").await;
    assert_eq!(
        staff_get(&server, &admin, "/api/staff").await.0,
        StatusCode::OK
    );

    // Reset from the command line while the server runs: the login ends,
    // the new password works, the old one no longer does.
    let data_dir = server.data_file("");
    let reset = [
        "reset-password",
        "--email",
        "admin@example.org",
        "--password-stdin",
    ];
    let (code, _, err) = cadre_staff(&data_dir, &reset, "another long password\n").await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        staff_get(&server, &admin, "/api/staff/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        try_login(&server, "admin@example.org", PASSWORD, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        try_login(&server, "admin@example.org", "another long password", None)
            .await
            .0,
        StatusCode::OK
    );
    let (code, _, err) =
        cadre_staff(&data_dir, &["disable", "--email", "nobody@example.org"], "").await;
    assert_ne!(code, 0);
    assert!(err.contains("no staff account"), "{err}");
    let (code, _, err) =
        cadre_staff(&data_dir, &["disable", "--email", "admin@example.org"], "").await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        try_login(&server, "admin@example.org", "another long password", None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let log = audit(&server).await;
    let by_cli: Vec<_> = log.iter().filter(|e| e.actor == "command_line").collect();
    assert_eq!(by_cli.len(), 3, "{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_https_the_cookie_is_secure_and_named_host() {
    let server =
        TestServer::start_with(|c| c.public_url = Some("https://cadre.example".into())).await;
    add_staff(&server, "admin@example.org", StaffRole::Administrator).await;
    let admin = login(&server, "admin@example.org").await;
    assert!(
        admin.cookie.starts_with("__Host-cadre_staff="),
        "{}",
        admin.set_cookie
    );
    let attributes: Vec<&str> = admin.set_cookie.split(';').map(str::trim).collect();
    for wanted in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            attributes.contains(&wanted),
            "{wanted} in {}",
            admin.set_cookie
        );
    }
    assert!(!admin.set_cookie.contains("Domain"), "{}", admin.set_cookie);
    assert_eq!(
        staff_get(&server, &admin, "/api/staff/me").await.0,
        StatusCode::OK
    );
    // The plain name is not this server's cookie.
    let plain = Login {
        cookie: admin
            .cookie
            .replacen("__Host-cadre_staff", "cadre_staff", 1),
        set_cookie: String::new(),
        csrf: admin.csrf.clone(),
    };
    assert_eq!(
        staff_get(&server, &plain, "/api/staff/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    // The public origin, however written, passes; its plain-HTTP twin does not.
    let new = json!({"email": "x@example.org", "name": "X", "role": "coordinator",
                     "password": "a long enough password"});
    let request = |origin: &str| {
        with(
            server.http().post(server.url("/api/staff")).json(&new),
            &admin,
            Some(&admin.csrf),
        )
        .header(ORIGIN, origin)
    };
    let (status, body) = server.send(request("http://cadre.example")).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::FORBIDDEN, json!("foreign_origin"))
    );
    let (status, body) = server.send(request("HTTPS://Cadre.Example:443")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
