//! A real RFC 3161 time-stamping authority for tests: `openssl ts -reply`
//! behind a small HTTP responder on `127.0.0.1:0`, with a throwaway CA and a
//! TSA certificate (critical `timeStamping` extended key usage) generated
//! by openssl in a temporary directory when it starts.
//!
//! [`TestTsa::set_down`] makes it answer 503, as an unreachable or failing
//! TSA would, so tests can show anchoring retries without blocking appends.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A running test TSA; stops when dropped.
pub struct TestTsa {
    addr: SocketAddr,
    state: Arc<TsaState>,
    stop: tokio_util::sync::CancellationToken,
    /// Keys, certificates, the openssl configuration and the serial file.
    dir: tempfile::TempDir,
}

struct TsaState {
    dir: PathBuf,
    down: AtomicBool,
    requests: AtomicUsize,
    granted: AtomicUsize,
    /// `openssl ts` rewrites its serial file on each reply: one at a time.
    reply: tokio::sync::Mutex<()>,
}

/// Runs openssl with `args` in `dir`, failing the test with its stderr.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (the tests need OpenSSL 3 on the PATH)");
    assert!(
        out.status.success(),
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestTsa {
    /// Generates a CA named `name` and a TSA certificate it issues, and
    /// starts answering time-stamp queries.
    pub async fn start(name: &str) -> TestTsa {
        let dir = tempfile::tempdir().expect("a directory for the TSA");
        let d = dir.path();
        let ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
        openssl(d, &[&["genpkey"][..], &ec, &["-out", "ca.key"]].concat());
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "ca.key",
                "-subj",
                &format!("/CN={name} CA"),
                "-days",
                "2",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-out",
                "ca.crt",
            ],
        );
        openssl(d, &[&["genpkey"][..], &ec, &["-out", "tsa.key"]].concat());
        openssl(
            d,
            &[
                "req",
                "-new",
                "-key",
                "tsa.key",
                "-subj",
                &format!("/CN={name} TSA"),
                "-out",
                "tsa.csr",
            ],
        );
        std::fs::write(
            d.join("tsa.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=critical,timeStamping\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "tsa.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-set_serial",
                "2",
                "-days",
                "2",
                "-extfile",
                "tsa.ext",
                "-out",
                "tsa.crt",
            ],
        );
        std::fs::write(d.join("tsaserial"), "01\n").unwrap();
        std::fs::write(
            d.join("tsa.cnf"),
            format!(
                "[ tsa ]\ndefault_tsa = tsa_config\n\n[ tsa_config ]\ndir = {}\n\
                 serial = $dir/tsaserial\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\n\
                 digests = sha256, sha384, sha512\naccuracy = secs:1\ness_cert_id_alg = sha256\n\
                 certs = $dir/ca.crt\n",
                d.display()
            ),
        )
        .unwrap();

        let state = Arc::new(TsaState {
            dir: d.to_owned(),
            down: AtomicBool::new(false),
            requests: AtomicUsize::new(0),
            granted: AtomicUsize::new(0),
            reply: tokio::sync::Mutex::new(()),
        });
        let router = axum::Router::new()
            .route("/", axum::routing::post(stamp))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the TSA");
        let addr = listener.local_addr().unwrap();
        let stop = tokio_util::sync::CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(stopped.cancelled_owned())
                .await;
        });
        TestTsa {
            addr,
            state,
            stop,
            dir,
        }
    }

    /// Where to send queries.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The CA certificate (PEM) an auditor trusts for this TSA.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// While `down`, every query gets 503 and no token.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Queries received, answered or not.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Time-stamps issued.
    pub fn granted(&self) -> usize {
        self.state.granted.load(Ordering::SeqCst)
    }
}

impl Drop for TestTsa {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn stamp(State(state): State<Arc<TsaState>>, query: Bytes) -> Response {
    let n = state.requests.fetch_add(1, Ordering::SeqCst);
    if state.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down for the test").into_response();
    }
    let _one = state.reply.lock().await;
    let (q, r) = (format!("q{n}.tsq"), format!("r{n}.tsr"));
    if let Err(e) = tokio::fs::write(state.dir.join(&q), &query).await {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    let out = tokio::process::Command::new("openssl")
        .args([
            "ts",
            "-reply",
            "-config",
            "tsa.cnf",
            "-queryfile",
            &q,
            "-signer",
            "tsa.crt",
            "-inkey",
            "tsa.key",
            "-out",
            &r,
        ])
        .current_dir(&state.dir)
        .output()
        .await;
    match out {
        Ok(o) if o.status.success() => match tokio::fs::read(state.dir.join(&r)).await {
            Ok(reply) => {
                state.granted.fetch_add(1, Ordering::SeqCst);
                (
                    [(header::CONTENT_TYPE, "application/timestamp-reply")],
                    reply,
                )
                    .into_response()
            }
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        Ok(o) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
