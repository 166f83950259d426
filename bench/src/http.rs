//! The few REST calls the bench makes (creating sessions, reading
//! `/metrics`), over plain HTTP with reqwest or over HTTPS by hand.
//!
//! HTTPS goes through hyper's HTTP/1 client over our own rustls stream, not
//! reqwest: reqwest's rustls feature would be unified into every crate of
//! the workspace built in the same cargo command, and a reqwest client
//! built without a crypto provider then panics (the server's time-stamp
//! client, the tests' clients).

use anyhow::{Context, Result, anyhow};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// A client for one server's REST API.
#[derive(Clone)]
pub enum Http {
    /// `http://`.
    Plain(reqwest::Client),
    /// `https://`, trusting the given roots only.
    Tls(Arc<rustls::ClientConfig>, Duration),
}

/// The TLS handshake over `tcp` with the server at `authority`
/// (`host:port`), checking its certificate for that host.
pub async fn tls_over(
    config: &Arc<rustls::ClientConfig>,
    authority: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    let name = ServerName::try_from(host.to_owned()).context("the server's name")?;
    Ok(tokio_rustls::TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await?)
}

/// An answer: status and body.
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Http {
    /// `POST url` with a JSON body and a bearer token.
    pub async fn post_json(&self, url: &str, bearer: &str, body: &[u8]) -> Result<Answer> {
        match self {
            Http::Plain(client) => {
                let resp = client
                    .post(url)
                    .bearer_auth(bearer)
                    .header("content-type", "application/json")
                    .body(body.to_vec())
                    .send()
                    .await
                    .with_context(|| format!("POST {url}"))?;
                answer(resp).await
            }
            Http::Tls(config, timeout) => {
                tls_request(config, *timeout, "POST", url, bearer, Some(body)).await
            }
        }
    }

    /// `GET url` with a bearer token.
    pub async fn get(&self, url: &str, bearer: &str) -> Result<Answer> {
        match self {
            Http::Plain(client) => {
                let resp = client
                    .get(url)
                    .bearer_auth(bearer)
                    .send()
                    .await
                    .with_context(|| format!("GET {url}"))?;
                answer(resp).await
            }
            Http::Tls(config, timeout) => {
                tls_request(config, *timeout, "GET", url, bearer, None).await
            }
        }
    }
}

async fn answer(resp: reqwest::Response) -> Result<Answer> {
    let status = resp.status().as_u16();
    let body = resp.bytes().await.context("reading the answer")?.to_vec();
    Ok(Answer { status, body })
}

async fn tls_request(
    config: &Arc<rustls::ClientConfig>,
    timeout: Duration,
    method: &str,
    url: &str,
    bearer: &str,
    body: Option<&[u8]>,
) -> Result<Answer> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| anyhow!("not an https URL: {url}"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let exchange = async {
        let tcp = TcpStream::connect(authority)
            .await
            .with_context(|| format!("connecting to {authority}"))?;
        let tls = tls_over(config, authority, tcp)
            .await
            .with_context(|| format!("TLS with {authority}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
        let driving = tokio::spawn(connection);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::AUTHORIZATION, format!("Bearer {bearer}"));
        if body.is_some() {
            request = request.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let request = request.body(Full::new(Bytes::copy_from_slice(body.unwrap_or_default())))?;
        let resp = sender.send_request(request).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes().to_vec();
        driving.abort();
        Ok::<_, anyhow::Error>(Answer { status, body })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| anyhow!("{method} {url}: no answer within {timeout:?}"))?
        .with_context(|| format!("{method} {url}"))
}
