//! `cadre organisation …` and `cadre action …`: the
//! organisation's identity, actions with their beneficiaries and sessions,
//! article 2.1.7 changes, and certificates, on the data directory.

use anyhow::{Context, bail};
use cadre_protocol::SessionKind;
use cadre_protocol::action::{
    ActionChangeKind, ActionNature, NewAction, NewActionChange, NewActionSession, NewBeneficiary,
    NewFacilitator, OrganisationUpdate, OrganisationView,
};
use cadre_server::App;
use cadre_server::error::ApiError;
use cadre_server::evidence::render::Lang;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand)]
pub(crate) enum OrganisationCommand {
    /// Set the fields given (the others stay as they are).
    Set(OrganisationArgs),
    /// Print the identity and the fields a certificate still needs.
    Show {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub(crate) struct OrganisationArgs {
    /// Name (dénomination).
    #[arg(long)]
    name: Option<String>,
    /// Legal representative's name.
    #[arg(long)]
    representative_name: Option<String>,
    /// Their quality (directrice, gérant…).
    #[arg(long)]
    representative_quality: Option<String>,
    /// A postal address line (repeat for each line; replaces the address).
    #[arg(long)]
    address: Vec<String>,
    /// SIRET (14 digits).
    #[arg(long)]
    siret: Option<String>,
    /// Numéro de déclaration d'activité (11 digits).
    #[arg(long)]
    nda: Option<String>,
    /// The place printed after "Fait à".
    #[arg(long)]
    place: Option<String>,
    /// Signature-and-stamp image (PNG or JPEG, at most 512 KiB).
    #[arg(long, value_name = "FILE")]
    signature: Option<PathBuf>,
    /// Remove the signature-and-stamp image.
    #[arg(long, conflicts_with = "signature")]
    no_signature: bool,
}

#[derive(Subcommand)]
pub(crate) enum ActionCommand {
    /// Create an action with its beneficiaries (flags, or a TOML/JSON file).
    Create(CreateAction),
    /// Add a session to an action: its beneficiaries are enrolled.
    AddSession(AddSession),
    /// List actions.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Show an action: beneficiaries, sessions, changes.
    Show {
        /// Action id.
        action: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Record an article 2.1.7 change for one beneficiary (a reason is required).
    Change {
        /// Action id.
        action: String,
        /// Beneficiary id.
        beneficiary: String,
        /// adapted | paused | resumed | interrupted.
        #[arg(long)]
        kind: ActionChangeKind,
        /// Why (told to the person; never printed on the certificate).
        #[arg(long)]
        reason: String,
    },
    /// Write a beneficiary's certificat de réalisation (PDF, or the signed file).
    Certificate {
        /// Action id.
        action: String,
        /// Beneficiary id.
        beneficiary: String,
        /// Write the signed file (JWS) instead of the PDF.
        #[arg(long)]
        jws: bool,
        /// Language of the PDF (fr, en).
        #[arg(long, default_value = "fr")]
        lang: String,
        /// Where to write it (default: its usual name in the current directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write the action's dossier d'audit (a zip: sheets, proofs, ledger
    /// exports, difficulty reports, consents, certificates, an index in
    /// French saying how to check each file).
    Dossier {
        /// Action id.
        action: String,
        /// Where to write it (default: its usual name in the current directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Args)]
pub(crate) struct CreateAction {
    /// A TOML or JSON file with the action (fields as in the REST API).
    #[arg(long, conflicts_with_all = ["title", "nature", "hours", "beneficiary"])]
    file: Option<PathBuf>,
    /// Title (intitulé).
    #[arg(long, required_unless_present = "file")]
    title: Option<String>,
    /// formation | bilan | vae | apprentissage.
    #[arg(long, required_unless_present = "file")]
    nature: Option<ActionNature>,
    /// Planned hours.
    #[arg(long, required_unless_present = "file")]
    hours: Option<f64>,
    /// `Name`, `Name <email>`, optionally followed by `; Employer` (repeatable).
    #[arg(long, required_unless_present = "file")]
    beneficiary: Vec<String>,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct AddSession {
    /// Action id.
    action: String,
    /// Planned start: RFC 3339 or local `2026-12-03T09:00`.
    #[arg(long)]
    start: String,
    /// Planned end.
    #[arg(long)]
    end: String,
    /// Title (default: the action's).
    #[arg(long)]
    title: Option<String>,
    /// Kind (default: from the action's nature).
    #[arg(long)]
    kind: Option<SessionKind>,
    /// IANA time zone.
    #[arg(long, default_value = "Europe/Paris")]
    time_zone: String,
    /// How the session's media travels: auto, peer or forwarded (default:
    /// the server's `--media-mode`).
    #[arg(long)]
    media: Option<cadre_protocol::session::MediaMode>,
    /// Facilitator, `Name` or `Name <email>` (repeatable).
    #[arg(long)]
    facilitator: Vec<String>,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

fn api(e: ApiError) -> anyhow::Error {
    anyhow::anyhow!("{} ({})", e.message, e.code)
}

fn name_and_email(spec: &str) -> (String, Option<String>) {
    match spec.split_once('<') {
        Some((name, rest)) => (
            name.trim().to_owned(),
            Some(rest.trim_end_matches('>').trim().to_owned()),
        ),
        None => (spec.trim().to_owned(), None),
    }
}

fn print_identity(v: &OrganisationView) {
    let show = |o: &Option<String>| o.clone().unwrap_or_else(|| "—".to_owned());
    println!("name:                   {}", show(&v.name));
    println!(
        "representative:         {}, {}",
        show(&v.representative_name),
        show(&v.representative_quality)
    );
    println!(
        "address:                {}",
        if v.address.is_empty() {
            "—".to_owned()
        } else {
            v.address.join(" / ")
        }
    );
    println!("SIRET:                  {}", show(&v.siret));
    println!("NDA:                    {}", show(&v.nda));
    println!("Fait à:                 {}", show(&v.place));
    match &v.signature {
        Some(s) => println!(
            "signature and stamp:    {} ({} bytes, sha256 {})",
            s.content_type, s.bytes, s.sha256
        ),
        None => println!("signature and stamp:    —"),
    }
    if v.missing.is_empty() {
        println!("complete: certificates can be issued");
    } else {
        println!("missing for a certificate: {}", v.missing.join(", "));
    }
}

pub(crate) async fn organisation(app: &App, cmd: OrganisationCommand) -> anyhow::Result<()> {
    match cmd {
        OrganisationCommand::Show { json } => {
            let v = app.organisation().await.map_err(api)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_identity(&v);
            }
        }
        OrganisationCommand::Set(a) => {
            // The image is read and checked before anything is written, so
            // a bad file changes nothing.
            let image = match &a.signature {
                Some(path) => {
                    let bytes = std::fs::read(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let content_type = if bytes.starts_with(b"\x89PNG") {
                        "image/png"
                    } else {
                        "image/jpeg"
                    };
                    cadre_server::directory::organisation::check_image(&bytes, content_type)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    Some((bytes, content_type.to_owned()))
                }
                None => None,
            };
            let update = OrganisationUpdate {
                name: a.name,
                representative_name: a.representative_name,
                representative_quality: a.representative_quality,
                address: (!a.address.is_empty()).then_some(a.address),
                siret: a.siret,
                nda: a.nda,
                place: a.place,
            };
            let mut v = app.set_organisation(update).await.map_err(api)?;
            if let Some((bytes, content_type)) = image {
                v = app.set_signature(bytes, content_type).await.map_err(api)?;
            } else if a.no_signature {
                v = app.clear_signature().await.map_err(api)?;
            }
            print_identity(&v);
        }
    }
    Ok(())
}

pub(crate) async fn action(app: &App, cmd: ActionCommand) -> anyhow::Result<()> {
    match cmd {
        ActionCommand::Create(a) => {
            let new = new_action(&a)?;
            let v = app.create_action(new).await.map_err(api)?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "{}  {} ({}, {} h)",
                    v.id, v.title, v.nature, v.planned_hours
                );
                for b in &v.beneficiaries {
                    println!("  {}  {}", b.id, b.name);
                }
            }
        }
        ActionCommand::AddSession(a) => {
            let new = NewActionSession {
                title: a.title,
                kind: a.kind,
                planned_start: a.start,
                planned_end: a.end,
                time_zone: Some(a.time_zone),
                media: a.media,
                facilitators: a
                    .facilitator
                    .iter()
                    .map(|f| {
                        let (name, email) = name_and_email(f);
                        NewFacilitator { name, email }
                    })
                    .collect(),
            };
            let v = app.add_action_session(&a.action, new).await.map_err(api)?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "{}  {} ({} → {})",
                    v.id, v.title, v.planned_start, v.planned_end
                );
                for p in &v.people {
                    println!("  {} ({}, {})", p.name, p.role, p.id);
                    println!("    {}", p.link.url);
                }
            }
        }
        ActionCommand::List { json } => {
            let list = app.list_actions().await.map_err(api)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("no actions");
            } else {
                for a in list {
                    println!(
                        "{}  {:<13} {:>6} h  {} beneficiaries  {} sessions  {}",
                        a.id, a.nature, a.planned_hours, a.beneficiaries, a.sessions, a.title
                    );
                }
            }
        }
        ActionCommand::Show { action, json } => {
            let v = app.action_view(&action).await.map_err(api)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            println!(
                "{}  {} ({}, {} h)",
                v.id, v.title, v.nature, v.planned_hours
            );
            println!("beneficiaries:");
            for b in &v.beneficiaries {
                let employer = b
                    .employer
                    .as_deref()
                    .map(|e| format!(", {e}"))
                    .unwrap_or_default();
                let stopped = b
                    .interrupted_at
                    .as_deref()
                    .map(|t| format!("  [interrupted {t}]"))
                    .unwrap_or_default();
                println!("  {}  {}{employer}{stopped}", b.id, b.name);
                for c in &b.changes {
                    println!(
                        "      {}  {}  by {}: {}",
                        c.at,
                        c.kind.as_str(),
                        c.by,
                        c.reason
                    );
                }
            }
            println!("sessions:");
            for s in &v.sessions {
                println!(
                    "  {}  {} → {}  {}",
                    s.id, s.planned_start, s.planned_end, s.title
                );
            }
        }
        ActionCommand::Change {
            action,
            beneficiary,
            kind,
            reason,
        } => {
            let c = app
                .record_action_change(
                    &action,
                    &beneficiary,
                    NewActionChange { kind, reason },
                    cadre_protocol::evidence::ACTOR_ORGANISER,
                )
                .await
                .map_err(api)?;
            println!(
                "{}  {} recorded for {} at {}",
                c.id,
                c.kind.as_str(),
                c.beneficiary_id,
                c.at
            );
            println!("the person sees it in their session page (lobby) from now on");
        }
        ActionCommand::Certificate {
            action,
            beneficiary,
            jws,
            lang,
            out,
        } => {
            let Some(lang) = Lang::parse(&lang) else {
                bail!("--lang: fr or en, not {lang:?}");
            };
            let issued = app
                .action_certificate(&action, &beneficiary)
                .await
                .map_err(api)?;
            let (stem, _) = issued.file_stems();
            let (bytes, ext) = if jws {
                (issued.jws.clone().into_bytes(), "jws")
            } else {
                (
                    app.realisation_pdf(&issued, lang).await.map_err(api)?,
                    "pdf",
                )
            };
            // Issuing signed fresh tree heads: let the writer finish.
            let _ = app.ledger().shutdown().await;
            let path = out.unwrap_or_else(|| PathBuf::from(format!("{stem}.{ext}")));
            std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
            println!("{}", path.display());
            println!("sha256 of the signed certificate: {}", issued.sha256());
        }
        ActionCommand::Dossier { action, out } => {
            let dossier = app.audit_dossier(&action).await.map_err(api)?;
            // Issuing signed fresh tree heads: let the writer finish.
            let _ = app.ledger().shutdown().await;
            let path = out.unwrap_or_else(|| PathBuf::from(format!("{}.zip", dossier.stem)));
            std::fs::write(&path, &dossier.zip)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("{}", path.display());
            println!(
                "{} files; unzip it and read {}/LISEZMOI.txt",
                dossier.files, dossier.stem
            );
        }
    }
    Ok(())
}

fn new_action(a: &CreateAction) -> anyhow::Result<NewAction> {
    if let Some(path) = &a.file {
        return crate::read_spec(path, "action");
    }
    Ok(NewAction {
        title: a.title.clone().unwrap_or_default(),
        nature: a.nature.unwrap_or(ActionNature::Formation),
        planned_hours: a.hours.unwrap_or_default(),
        beneficiaries: a
            .beneficiary
            .iter()
            .map(|spec| {
                let (who, employer) = match spec.split_once(';') {
                    Some((who, employer)) => (who, Some(employer.trim().to_owned())),
                    None => (spec.as_str(), None),
                };
                let (name, email) = name_and_email(who);
                NewBeneficiary {
                    name,
                    email,
                    employer,
                    lang: None,
                    time_zone: None,
                }
            })
            .collect(),
        sessions: Vec::new(),
    })
}

/// Gives the demo's certificates a plausible identity, filling only the
/// fields not set yet (a real identity in the data directory is kept).
pub(crate) async fn demo_identity(app: &App) -> anyhow::Result<()> {
    let current = app.organisation().await.map_err(api)?;
    let missing = |field: &str| current.missing.iter().any(|m| m == field);
    let pick = |field: &str, value: &str| missing(field).then(|| value.to_owned());
    let update = OrganisationUpdate {
        name: pick("name", "Organisme de démonstration"),
        representative_name: pick("representative_name", "Claire Dubois"),
        representative_quality: pick("representative_quality", "directrice"),
        address: missing("address")
            .then(|| vec!["12 rue des Lilas".to_owned(), "69003 Lyon".to_owned()]),
        siret: pick("siret", "12345678900007"),
        nda: pick("nda", "84691234569"),
        place: pick("place", "Lyon"),
    };
    app.set_organisation(update).await.map_err(api)?;
    Ok(())
}
