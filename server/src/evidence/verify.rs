//! `cadre verify FILE [--jwks FILE|URL] [--receipt FILE]... [--consistency FILE]... [--json]`: checks
//! an attendance proof (compact JWS), a verification bundle (a proof with
//! receipts and consistency proofs, as a browser downloads it) or a
//! session's ledger export (JSON lines) offline, with the published keys only, and says which checks hold
//! and which fail (docs/evidence.md, "Verification").
//!
//! Everything it checks is computed by [`cadre_protocol::proof`]; this
//! module reads files, fetches a JWKS over plain HTTP when given a URL, and
//! prints. It trusts nothing from the server but the keys it is given.
//!
//! Exit status: [`EXIT_VERIFIED`] when every check holds, [`EXIT_FAILED`]
//! when one fails, [`EXIT_USAGE`] when the inputs cannot be read (then
//! nothing was verified).

use cadre_protocol::attendance::{
    self, Conditions, ConsentDecision, DecisionEffect, RecordedSegment, decision_effects,
};
use cadre_protocol::evidence::{Jwk, Jwks, kind, unverified_payload};
use cadre_protocol::proof::{
    self, AttendanceProof, BUNDLE_TYP, Check, Consistency, ControlEvent, Verdict,
    VerificationBundle,
};
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
    /// A receipt (signed tree head kept by a participant) that the export,
    /// or the log the proof was drawn from, must still contain; repeatable.
    #[arg(long = "receipt", value_name = "FILE")]
    pub receipts: Vec<PathBuf>,
    /// With a proof and receipts: a consistency proof between a receipt's
    /// log and the proof's, as the server gives it at
    /// `/api/sessions/{sid}/ledger/consistency?from=…&to=…`; repeatable.
    #[arg(long = "consistency", value_name = "FILE")]
    pub consistency: Vec<PathBuf>,
    /// With an export: the certificate (PEM) of a time-stamping authority,
    /// or of the CA that issues its certificate, that the export's anchors
    /// must chain to; repeatable. Without it, anchors are checked in
    /// themselves but not against a trusted TSA.
    #[arg(long = "tsa-cert", value_name = "FILE.pem")]
    pub tsa_certs: Vec<PathBuf>,
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
    /// A certificat de réalisation (compact JWS).
    Certificate,
}

impl Input {
    fn as_str(self) -> &'static str {
        match self {
            Input::Proof => "proof",
            Input::Export => "export",
            Input::Certificate => "certificate",
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
    /// A verified proof's consent decisions.
    #[serde(skip_serializing_if = "Option::is_none")]
    consents: Option<&'a [ConsentDecision]>,
    /// A verified proof's recorded segments.
    #[serde(skip_serializing_if = "Option::is_none")]
    recordings: Option<&'a [RecordedSegment]>,
    /// A verified proof's control events (state changes with their reasons
    /// and a postponement's new window, server runs, the person's removal).
    #[serde(skip_serializing_if = "Option::is_none")]
    control: Option<&'a [ControlEvent]>,
    /// A verified version 3 proof's connection conditions.
    #[serde(skip_serializing_if = "Option::is_none")]
    conditions: Option<&'a Conditions>,
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
    let (input, report, text) = match verify_text(
        &args.file,
        &jwks,
        &args.receipts,
        &args.consistency,
        &args.tsa_certs,
    ) {
        Ok(done) => done,
        Err(e) => {
            let _ = writeln!(err, "cadre verify: {e}");
            return EXIT_USAGE;
        }
    };
    let anchors = report
        .checks
        .iter()
        .filter(|c| c.name.starts_with(&format!("{} ", proof::check::ANCHOR)))
        .count();
    if anchors > 0 && args.tsa_certs.is_empty() {
        let _ = writeln!(
            err,
            "cadre verify: the export carries {anchors} time-stamp anchor(s), checked in \
             themselves but NOT against a trusted TSA: pass --tsa-cert with the TSA's (or its \
             CA's) certificate to know who stamped them"
        );
    }
    // What a proof says is shown only once every check holds: until then
    // it is a claim, not a fact.
    let verified = match input {
        Input::Proof if report.ok => unverified_payload(text.trim())
            .and_then(|p| serde_json::from_slice::<AttendanceProof>(&p).ok()),
        _ => None,
    };
    let printed = if args.json {
        let json = JsonReport {
            file: args.file.display().to_string(),
            kind: input.as_str(),
            ok: report.ok,
            checks: &report.checks,
            consents: verified.as_ref().map(|p| p.consents.as_slice()),
            recordings: verified.as_ref().map(|p| p.recordings.as_slice()),
            control: verified.as_ref().map(|p| p.control.as_slice()),
            conditions: verified
                .as_ref()
                .filter(|p| p.v >= 3)
                .map(|p| &p.conditions),
        };
        match serde_json::to_string(&json) {
            Ok(line) => writeln!(out, "{line}"),
            Err(e) => Err(std::io::Error::other(e)),
        }
    } else {
        let sections: Vec<(&str, Vec<String>)> = match &verified {
            Some(p) => vec![
                (
                    "Course of the session (as the verified proof states it):",
                    control_summary(p),
                ),
                (
                    "Connection conditions (as the verified proof states them):",
                    vec![conditions_summary(p)],
                ),
                (
                    "Consents and recordings (as the verified proof states them):",
                    consent_summary(p),
                ),
            ],
            None if input == Input::Certificate && report.ok => certificate_summary(text.trim()),
            None => Vec::new(),
        };
        print_report(out, &args.file, input, &report, &sections)
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
    consistency: &[PathBuf],
) -> Result<(Input, Verdict), String> {
    verify_text(file, jwks, receipts, consistency, &[]).map(|(input, report, _)| (input, report))
}

/// [`verify_file`], also returning the text that was verified.
fn verify_text(
    file: &Path,
    jwks: &Jwks,
    receipts: &[PathBuf],
    consistency: &[PathBuf],
    tsa_certs: &[PathBuf],
) -> Result<(Input, Verdict, String), String> {
    let text = read(file)?;
    let mut trusted = Vec::new();
    for path in tsa_certs {
        let pem =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        trusted.extend(
            cadre_protocol::anchor::certificates_from_pem(&pem)
                .map_err(|e| format!("{}: {e}", path.display()))?,
        );
    }
    let bundle = bundle(&text, file)?;
    let input = match bundle {
        Some(_) => Input::Proof,
        None => detect(&text).ok_or_else(|| {
            format!(
                "{} is neither an attendance proof (a JWS: three base64url parts joined by dots) \
                 nor a ledger export (JSON lines)",
                file.display()
            )
        })?,
    };
    let mut receipts = receipts
        .iter()
        .map(|path| read_receipt(path))
        .collect::<Result<Vec<String>, String>>()?;
    let mut consistency = consistency
        .iter()
        .map(|path| read_consistency(path))
        .collect::<Result<Vec<Consistency>, String>>()?;
    if !tsa_certs.is_empty() && input == Input::Proof {
        return Err("--tsa-cert applies to a ledger export: a proof carries no anchors".to_owned());
    }
    if let Some(bundle) = bundle {
        // A bundle is a proof given with its receipts and consistency
        // proofs; files named on the command line come after its own.
        receipts.splice(0..0, bundle.receipts);
        consistency.splice(0..0, bundle.consistency);
        let report =
            proof::verify_proof_with_receipts(bundle.proof.trim(), jwks, &receipts, &consistency);
        return Ok((Input::Proof, report, bundle.proof));
    }
    // A certificate is a JWS of its own type; its
    // detailed proofs are checked on their own.
    if input == Input::Proof && cadre_protocol::action::is_certificate(&text) {
        if !receipts.is_empty() || !consistency.is_empty() {
            return Err(
                "--receipt and --consistency apply to an attendance proof, not to a certificate"
                    .to_owned(),
            );
        }
        let report = cadre_protocol::action::verify_certificate(text.trim(), jwks);
        return Ok((Input::Certificate, report, text));
    }
    let report = match input {
        Input::Proof if receipts.is_empty() && !consistency.is_empty() => {
            return Err(
                "--consistency goes with --receipt: it links a receipt to the proof's tree head"
                    .to_owned(),
            );
        }
        Input::Proof | Input::Certificate => {
            proof::verify_proof_with_receipts(text.trim(), jwks, &receipts, &consistency)
        }
        Input::Export if !consistency.is_empty() => {
            return Err(
                "--consistency applies to a proof: an export's receipts are checked against \
                 roots recomputed from its entries"
                    .to_owned(),
            );
        }
        Input::Export => proof::verify_export_anchored(
            &text,
            jwks,
            &receipts,
            (!tsa_certs.is_empty()).then_some(trusted.as_slice()),
        ),
    };
    Ok((input, report, text))
}

/// What a verified proof states about the person's consents and
/// recordings, one line each: every decision (granted, refused, withdrawn,
/// with the hash of the wording shown), then every recorded segment they
/// appear in (times, why it stopped, their own files, deleted or kept).
pub fn consent_summary(p: &AttendanceProof) -> Vec<String> {
    let tz = &p.session.time_zone;
    let time = |ms: i64| attendance::local_time(ms, tz);
    if p.v == 1 {
        return vec![
            "a version 1 proof: it states no consent history and no recordings".to_owned(),
        ];
    }
    if p.consents.is_empty() && p.recordings.is_empty() {
        return vec!["no consent decision; never recorded".to_owned()];
    }
    let mut out = Vec::new();
    if p.consents.is_empty() {
        out.push("no consent decision".to_owned());
    }
    for (d, effect) in p.consents.iter().zip(decision_effects(&p.consents)) {
        let effect = match effect {
            DecisionEffect::Granted => "granted",
            DecisionEffect::Refused => "refused",
            DecisionEffect::Withdrawn => "withdrawn",
        };
        out.push(format!(
            "{} {}: {effect} (wording sha256 {})",
            time(d.ts),
            d.consent,
            d.text_sha256
        ));
    }
    if p.recordings.is_empty() {
        out.push("never recorded".to_owned());
    }
    for s in &p.recordings {
        let mut line = format!(
            "recorded in segment {} from {}",
            s.segment,
            time(s.started_at)
        );
        match (s.closed_at, &s.reason) {
            (Some(end), Some(reason)) => {
                line.push_str(&format!(" to {} (stopped: {reason})", time(end)))
            }
            (Some(end), None) => line.push_str(&format!(" to {}", time(end))),
            (None, _) => line.push_str(", still running when the proof was issued"),
        }
        if s.files.is_empty() {
            line.push_str("; none of their tracks");
        } else {
            let files: Vec<String> = s
                .files
                .iter()
                .map(|f| {
                    format!(
                        "{} {} ({} bytes, sha256 {})",
                        f.track, f.name, f.bytes, f.sha256
                    )
                })
                .collect();
            line.push_str(&format!("; {}", files.join(", ")));
        }
        match s.purged_at {
            Some(t) => line.push_str(&format!("; files deleted {}", time(t))),
            None if s.closed_at.is_some() && !s.files.is_empty() => line.push_str("; files kept"),
            None => {}
        }
        out.push(line);
    }
    out
}

/// Who acted, as a verified proof names them: a person's id, or the
/// automatic policy.
fn actor(by: &str) -> String {
    if by == cadre_protocol::evidence::ACTOR_SERVER {
        "cadre (automatic)".to_owned()
    } else {
        by.to_owned()
    }
}

/// What a verified proof states about the course of the session, one line
/// per control event: each state change (its action, who acted, the
/// reason, a postponement's new window), server runs, recording armed or
/// disarmed, and the person's own removal and re-admission.
pub fn control_summary(p: &AttendanceProof) -> Vec<String> {
    let tz = &p.session.time_zone;
    if p.control.is_empty() {
        return vec!["no control event".to_owned()];
    }
    p.control
        .iter()
        .map(|c| {
            let mut line = format!("{} ", attendance::local_time(c.ts, tz));
            match c.kind.as_str() {
                kind::SESSION_STATE => {
                    if let Some(action) = &c.action {
                        line.push_str(action);
                        line.push_str(": ");
                    }
                    line.push_str(&format!(
                        "{} → {}",
                        c.from.as_deref().unwrap_or("?"),
                        c.to.as_deref().unwrap_or("?")
                    ));
                }
                kind::REMOVED => line.push_str("removed from the session"),
                kind::READMITTED => line.push_str("re-admitted"),
                kind::RECORDING_ARMED => {
                    line.push_str(&format!("recording {}", c.to.as_deref().unwrap_or("?")))
                }
                kind::SERVER_STARTED => line.push_str("server started"),
                kind::SERVER_STOPPING => line.push_str("server stopping"),
                other => line.push_str(other),
            }
            if let Some(by) = &c.by {
                line.push_str(&format!(" by {}", actor(by)));
            }
            if let Some(reason) = &c.reason {
                line.push_str(&format!(" (reason: {reason})"));
            }
            match (&c.planned_start, &c.planned_end) {
                (Some(start), Some(end)) => {
                    line.push_str(&format!("; new planned window {start} to {end}"))
                }
                (Some(start), None) => line.push_str(&format!("; new planned start {start}")),
                (None, Some(end)) => line.push_str(&format!("; new planned end {end}")),
                (None, None) => {}
            }
            line
        })
        .collect()
}

/// What a verified certificat de réalisation states:
/// who, which action, the dates and the time attended, per session too.
fn certificate_summary(jws: &str) -> Vec<(&'static str, Vec<String>)> {
    use cadre_protocol::action::{RealisationCertificate, hours_minutes};
    let Some(c) = unverified_payload(jws)
        .and_then(|p| serde_json::from_slice::<RealisationCertificate>(&p).ok())
    else {
        return Vec::new();
    };
    let mut lines = vec![
        format!(
            "{} certifies that {}{} followed {:?} ({})",
            c.organisation.name,
            c.beneficiary.name,
            c.beneficiary
                .employer
                .as_deref()
                .map(|e| format!(", employee of {e},"))
                .unwrap_or_default(),
            c.action.title,
            c.action.nature
        ),
        format!(
            "from {} to {}: {} attended",
            c.first_day.as_deref().unwrap_or("-"),
            c.last_day.as_deref().unwrap_or("-"),
            hours_minutes(c.attended_seconds)
        ),
    ];
    if let Some(at) = c.interrupted_at {
        lines.push(format!(
            "the action ended early on {}",
            attendance::local_time(at, &c.time_zone)
        ));
    }
    for s in &c.sessions {
        lines.push(format!(
            "session {} ({}): {} attended; detailed proof sha256 {}",
            s.id,
            attendance::local_time(s.planned_start, &c.time_zone),
            hours_minutes(s.attended_seconds),
            s.proof_sha256
        ));
    }
    vec![("What the verified certificate states:", lines)]
}

/// What a verified proof states about the person's connection conditions,
/// in one line.
pub fn conditions_summary(p: &AttendanceProof) -> String {
    if p.v < 3 {
        return format!(
            "a version {} proof: it states no connection conditions",
            p.v
        );
    }
    proof::show_conditions(&p.conditions, &p.session.time_zone)
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

/// The file as a verification bundle, if it is one (a single JSON object
/// whose `typ` says so); an error if it says so but is malformed.
fn bundle(text: &str, file: &Path) -> Result<Option<VerificationBundle>, String> {
    let t = text.trim_start_matches('\u{feff}').trim();
    if !t.starts_with('{') {
        return Ok(None);
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(t) else {
        return Ok(None);
    };
    if value.get("typ").and_then(|v| v.as_str()) != Some(BUNDLE_TYP) {
        return Ok(None);
    }
    let bundle: VerificationBundle = serde_json::from_value(value)
        .map_err(|e| format!("{} is a malformed verification bundle: {e}", file.display()))?;
    if bundle.v != 1 {
        return Err(format!(
            "{} is a verification bundle of version {}; this verifier reads version 1",
            file.display(),
            bundle.v
        ));
    }
    Ok(Some(bundle))
}

/// A consistency file: the JSON the server's consistency endpoint answers.
fn read_consistency(path: &Path) -> Result<Consistency, String> {
    let text = read(path)?;
    serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
        format!(
            "{} is not a consistency proof (the JSON of /api/sessions/{{sid}}/ledger/consistency): {e}",
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
    report: &Verdict,
    sections: &[(&str, Vec<String>)],
) -> std::io::Result<()> {
    let what = match input {
        Input::Proof => "attendance proof",
        Input::Export => "ledger export",
        Input::Certificate => "certificat de réalisation",
    };
    writeln!(out, "{} ({what})", file.display())?;
    for c in &report.checks {
        let mark = if c.ok { '✓' } else { '✗' };
        writeln!(out, "  {mark} {}: {}", c.name, c.detail)?;
    }
    for (title, lines) in sections.iter().filter(|(_, l)| !l.is_empty()) {
        writeln!(out, "{title}")?;
        for line in lines {
            writeln!(out, "  - {line}")?;
        }
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
mod tests;
