//! A staff member logged in to the console, as the browser holds it: the
//! cookie the server set, and the CSRF token the console sends with each
//! write.

use crate::TestServer;
use cadre_protocol::staff::StaffRole;
use cadre_server::directory::staff;
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

/// A password long enough for the server's rule.
pub const PASSWORD: &str = "un mot de passe assez long";

/// A login's cookie and CSRF token.
pub struct StaffLogin {
    /// `name=value`, as the browser sends it back.
    pub cookie: String,
    /// What the console puts in `X-Cadre-CSRF`.
    pub csrf: String,
}

impl StaffLogin {
    /// Adds a staff member with [`PASSWORD`] in the catalogue and logs
    /// them in through the API; panics unless the login succeeds.
    pub async fn new(server: &TestServer, email: &str, name: &str, role: StaffRole) -> StaffLogin {
        let (e, n) = (email.to_owned(), name.to_owned());
        server
            .app()
            .catalog()
            .run(move |c| {
                let hash = staff::hash_password(PASSWORD)?;
                staff::add(c, &e, &n, role, &hash, 0)
            })
            .await
            .expect("add a staff member");
        let response = server
            .http()
            .post(server.url("/api/staff/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), StatusCode::OK, "{email} logs in");
        let cookie = response
            .headers()
            .get(SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("a login cookie")
            .to_owned();
        let body: Value = response.json().await.expect("a JSON login answer");
        StaffLogin {
            cookie,
            csrf: body["csrf"].as_str().expect("a CSRF token").to_owned(),
        }
    }

    /// `request` with the login's cookie and CSRF token, as the console
    /// sends a write.
    pub fn write(&self, request: RequestBuilder) -> RequestBuilder {
        request
            .header(COOKIE, &self.cookie)
            .header("X-Cadre-CSRF", &self.csrf)
    }

    /// `POST path` with a JSON body, as the console sends it.
    pub async fn post(&self, server: &TestServer, path: &str, body: &Value) -> (StatusCode, Value) {
        let request = self.write(server.http().post(server.url(path)).json(body));
        server.send(request).await
    }
}
