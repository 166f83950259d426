//! `cadre verify FILE [--jwks FILE|URL] [--receipt FILE]... [--json]`: checks
//! an attendance proof (compact JWS) or a session's ledger export (JSON
//! lines) offline, with the published keys only, and says which checks hold
//! and which fail (docs/evidence.md, "Verification").
//!
//! Everything it checks is computed by [`cadre_protocol::proof`]; this
//! module reads files, fetches a JWKS over plain HTTP when given a URL, and
//! prints. It trusts nothing from the server but the keys it is given.
//!
//! Exit status: [`EXIT_VERIFIED`] when every check holds, [`EXIT_FAILED`]
//! when one fails, [`EXIT_USAGE`] when the inputs cannot be read (then
//! nothing was verified).

use cadre_protocol::evidence::{Jwk, Jwks};
use cadre_protocol::proof::{self, Check, Report};
use clap::Args;
use serde::Serialize;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every check holds.
pub const EXIT_VERIFIED: i32 = 0;
/// At least one check fails: the file is not what it claims to be.
pub const EXIT_FAILED: i32 = 1;
/// An input could not be read or fetched; nothing was verified.
pub const EXIT_USAGE: i32 = 2;

/// Largest JWKS accepted over HTTP.
const MAX_JWKS_BYTES: u64 = 1024 * 1024;
/// Connect, read and write timeout of the JWKS fetch.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// `cadre verify`.
#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    /// The file to check: an attendance proof (JWS) or a ledger export
    /// (JSON lines of entries, then the tree heads).
    pub file: PathBuf,
    /// The published keys: a JWKS file, or an `http://` URL such as
    /// `http://host:8080/.well-known/jwks.json` (for https, download it
    /// first and pass the file).
    #[arg(long, env = "CADRE_JWKS", value_name = "FILE_OR_URL")]
    pub jwks: Option<String>,
    /// A receipt (signed tree head kept by a participant) that the export
    /// must still contain; repeatable. Applies to exports only.
    #[arg(long = "receipt", value_name = "FILE")]
    pub receipts: Vec<PathBuf>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What the file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// An attendance proof (compact JWS).
    Proof,
    /// A session's ledger export.
    Export,
}

impl Input {
    fn as_str(self) -> &'static str {
        match self {
            Input::Proof => "proof",
            Input::Export => "export",
        }
    }
}

/// The `--json` output: one line.
#[derive(Serialize)]
struct JsonReport<'a> {
    file: String,
    kind: &'static str,
    ok: bool,
    checks: &'a [Check],
}

/// Runs the command, printing to stdout (report) and stderr (problems with
/// the inputs); returns the process exit status.
pub fn run(args: VerifyArgs) -> i32 {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    run_with(&args, &mut stdout.lock(), &mut stderr.lock())
}

/// [`run`], writing to the given streams.
pub fn run_with(args: &VerifyArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let jwks = match &args.jwks {
        Some(source) => match load_jwks(source) {
            Ok(jwks) => jwks,
            Err(e) => {
                let _ = writeln!(err, "cadre verify: {e}");
                return EXIT_USAGE;
            }
        },
        None => {
            let _ = writeln!(
                err,
                "cadre verify: no --jwks given: signatures cannot be checked and will fail \
                 (pass the server's published keys: a JWKS file, or http://…/.well-known/jwks.json)"
            );
            Jwks { keys: Vec::new() }
        }
    };
    let (input, report) = match verify_file(&args.file, &jwks, &args.receipts) {
        Ok(done) => done,
        Err(e) => {
            let _ = writeln!(err, "cadre verify: {e}");
            return EXIT_USAGE;
        }
    };
    let printed = if args.json {
        let json = JsonReport {
            file: args.file.display().to_string(),
            kind: input.as_str(),
            ok: report.ok,
            checks: &report.checks,
        };
        match serde_json::to_string(&json) {
            Ok(line) => writeln!(out, "{line}"),
            Err(e) => Err(std::io::Error::other(e)),
        }
    } else {
        print_report(out, &args.file, input, &report)
    };
    if printed.is_err() {
        return EXIT_USAGE;
    }
    if report.ok {
        EXIT_VERIFIED
    } else {
        EXIT_FAILED
    }
}

/// Reads `file` (and the receipts), tells a proof from an export, and
/// verifies it.
pub fn verify_file(
    file: &Path,
    jwks: &Jwks,
    receipts: &[PathBuf],
) -> Result<(Input, Report), String> {
    let text = read(file)?;
    let input = detect(&text).ok_or_else(|| {
        format!(
            "{} is neither an attendance proof (a JWS: three base64url parts joined by dots) \
             nor a ledger export (JSON lines)",
            file.display()
        )
    })?;
    let receipts = receipts
        .iter()
        .map(|path| read_receipt(path))
        .collect::<Result<Vec<String>, String>>()?;
    match input {
        Input::Proof if !receipts.is_empty() => Err(
            "--receipt applies to a ledger export: a proof carries no consistency proof; \
             check receipts against the session's export"
                .to_owned(),
        ),
        Input::Proof => Ok((input, proof::verify_proof(text.trim(), jwks))),
        Input::Export => Ok((input, proof::verify_export(&text, jwks, &receipts))),
    }
}

/// A proof is one compact JWS; an export starts with a JSON object.
pub fn detect(text: &str) -> Option<Input> {
    let t = text.trim_start_matches('\u{feff}').trim();
    if t.starts_with('{') {
        return Some(Input::Export);
    }
    let b64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let parts: Vec<&str> = t.split('.').collect();
    (parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(b64url)))
        .then_some(Input::Proof)
}

fn read(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))
}

/// A receipt file holds the tree head JWS alone, or a JSON object carrying
/// it (the `receipt` or `signed` messages a browser keeps).
fn read_receipt(path: &Path) -> Result<String, String> {
    let text = read(path)?;
    let t = text.trim_start_matches('\u{feff}').trim();
    if !t.starts_with('{') {
        return Ok(t.to_owned());
    }
    let value: serde_json::Value =
        serde_json::from_str(t).map_err(|e| format!("{} is not a receipt: {e}", path.display()))?;
    ["tree_head", "receipt"]
        .iter()
        .find_map(|k| value.get(k).and_then(|v| v.as_str()))
        .map(str::to_owned)
        .ok_or_else(|| {
            format!(
                "{} is JSON without a \"tree_head\" or \"receipt\" field",
                path.display()
            )
        })
}

/// Loads published keys from a file or an `http://` URL.
pub fn load_jwks(source: &str) -> Result<Jwks, String> {
    let text = if source.starts_with("http://") {
        http_get(source).map_err(|e| format!("cannot fetch the keys from {source}: {e}"))?
    } else if source.starts_with("https://") {
        return Err(format!(
            "{source}: https is not supported by the offline verifier; download the JWKS \
             (for example `curl -o jwks.json {source}`) and pass the file"
        ));
    } else {
        read(Path::new(source))?
    };
    parse_jwks(&text).map_err(|e| format!("{source}: {e}"))
}

/// A JWKS (`{"keys":[…]}`), or a single JWK.
pub fn parse_jwks(text: &str) -> Result<Jwks, String> {
    let t = text.trim_start_matches('\u{feff}');
    if let Ok(jwks) = serde_json::from_str::<Jwks>(t) {
        return Ok(jwks);
    }
    serde_json::from_str::<Jwk>(t)
        .map(|k| Jwks { keys: vec![k] })
        .map_err(|e| format!("not a JWKS: {e}"))
}

fn print_report(
    out: &mut dyn Write,
    file: &Path,
    input: Input,
    report: &Report,
) -> std::io::Result<()> {
    let what = match input {
        Input::Proof => "attendance proof",
        Input::Export => "ledger export",
    };
    writeln!(out, "{} ({what})", file.display())?;
    for c in &report.checks {
        let mark = if c.ok { '✓' } else { '✗' };
        writeln!(out, "  {mark} {}: {}", c.name, c.detail)?;
    }
    let failed = report.failures().count();
    if report.ok {
        writeln!(out, "VERIFIED: all {} checks hold.", report.checks.len())
    } else {
        writeln!(
            out,
            "FAILED: {failed} of {} checks do not hold.",
            report.checks.len()
        )
    }
}

/// A plain HTTP/1.1 GET (no TLS, no redirects), for a JWKS on a local or
/// trusted network. Returns the body of a 200 answer.
pub fn http_get(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| "only http:// URLs can be fetched".to_owned())?;
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], &rest[i..]),
        Some(i) => (&rest[..i], "/"),
        None => (rest, "/"),
    };
    let path = path.split('#').next().unwrap_or("/");
    if authority.is_empty() || authority.contains('@') {
        return Err("the URL needs a host (and no user name)".into());
    }
    let (host, port) = split_authority(authority)?;
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last = format!("{host} has no address");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, HTTP_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    let mut stream = stream.ok_or(last)?;
    let io = |e: std::io::Error| e.to_string();
    stream.set_read_timeout(Some(HTTP_TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT)).map_err(io)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\n\
         User-Agent: cadre-verify\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    let mut raw = Vec::new();
    stream
        .take(MAX_JWKS_BYTES + 64 * 1024)
        .read_to_end(&mut raw)
        .map_err(io)?;
    parse_response(&raw)
}

fn split_authority(authority: &str) -> Result<(&str, u16), String> {
    let bad_port = |p: &str| format!("bad port {p:?}");
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed [ in the host".to_owned())?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad_port(p))?,
            None => 80,
        };
        return Ok((host, port));
    }
    match authority.rsplit_once(':') {
        Some((host, p)) => Ok((host, p.parse().map_err(|_| bad_port(p))?)),
        None => Ok((authority, 80)),
    }
}

/// The body of an HTTP/1.1 answer, when its status is 200.
fn parse_response(raw: &[u8]) -> Result<String, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| "the answer is not HTTP (no end of headers)".to_owned())?;
    let head =
        std::str::from_utf8(&raw[..split]).map_err(|_| "the headers are not text".to_owned())?;
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let code = status.split_whitespace().nth(1).unwrap_or_default();
    if !status.starts_with("HTTP/1.") {
        return Err(format!("the answer is not HTTP/1.x: {status:?}"));
    }
    let mut chunked = false;
    let mut length: Option<usize> = None;
    let mut location = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "content-length" => length = value.parse().ok(),
            "location" => location = Some(value.to_owned()),
            _ => {}
        }
    }
    if code != "200" {
        let status_text = status.split_once(' ').map_or(status, |(_, s)| s);
        return Err(match location {
            Some(to) => format!("the server answered {status_text} (to {to}); give that URL"),
            None => format!("the server answered {status_text}"),
        });
    }
    if chunked {
        body = dechunk(&body)?;
    } else if let Some(n) = length {
        if body.len() < n {
            return Err(format!("the answer was cut: {} of {n} bytes", body.len()));
        }
        body.truncate(n);
    }
    if body.len() as u64 > MAX_JWKS_BYTES {
        return Err(format!("the answer is over {MAX_JWKS_BYTES} bytes"));
    }
    String::from_utf8(body).map_err(|_| "the answer is not UTF-8".to_owned())
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let bad = || "malformed chunked answer".to_owned();
    let mut out = Vec::new();
    loop {
        let end = data.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let line = std::str::from_utf8(&data[..end]).map_err(|_| bad())?;
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad())?;
        data = &data[end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err(bad());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(answer: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert!(got.starts_with(b"GET /.well-known/jwks.json HTTP/1.1\r\n"));
            s.write_all(answer).unwrap();
        });
        format!("http://{addr}/.well-known/jwks.json")
    }

    #[test]
    fn fetches_a_jwks_over_plain_http() {
        let url = serve_once(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 61\r\n\r\n\
              {\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k\",\"x\":\"AAAA\"}]}",
        );
        let jwks = load_jwks(&url).unwrap();
        assert_eq!(jwks.keys[0].kid, "k");
        let url = serve_once(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\n{\"key\r\n7\r\ns\":[]}\n\r\n0\r\n\r\n",
        );
        assert!(load_jwks(&url).unwrap().keys.is_empty());
        let url = serve_once(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
        let e = load_jwks(&url).unwrap_err();
        assert!(e.contains("404 Not Found"), "{e}");
        let e = load_jwks("https://example.invalid/jwks.json").unwrap_err();
        assert!(e.contains("https is not supported"), "{e}");
    }

    #[test]
    fn tells_a_proof_from_an_export() {
        assert_eq!(detect("eyJh.eyJi.c2ln\n"), Some(Input::Proof));
        assert_eq!(
            detect("\u{feff}{\"v\":1}\n{\"tree_heads\":[]}"),
            Some(Input::Export)
        );
        assert_eq!(detect("hello"), None);
        assert_eq!(detect("a.b"), None);
        assert_eq!(detect("a.b c.d"), None);
    }

    #[test]
    fn authorities_split_into_host_and_port() {
        assert_eq!(split_authority("h:8080").unwrap(), ("h", 8080));
        assert_eq!(split_authority("h").unwrap(), ("h", 80));
        assert_eq!(split_authority("[::1]:9").unwrap(), ("::1", 9));
        assert!(split_authority("h:x").is_err());
    }
}
