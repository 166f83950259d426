//! `cadre staff …`: staff accounts on the data directory, for the first
//! administrator (before anyone can log in to the console) and for an
//! operator locked out of it. Each change is written to the audit log as
//! done from the command line.

use anyhow::{Context, bail};
use cadre_protocol::staff::{StaffRole, StaffView};
use cadre_server::directory::catalog::Catalog;
use cadre_server::directory::staff::{self, NewAuditEntry};
use clap::{Subcommand, ValueEnum};
use std::io::BufRead;
use std::path::Path;

#[derive(Subcommand)]
pub(crate) enum StaffCommand {
    /// Add a staff account (the first administrator, before the console).
    Add {
        /// The login.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// What they may do.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Read the password from the first line of standard input instead
        /// of asking twice on the terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the staff accounts (never their passwords).
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Set a new password (lifts a lock; ends the account's logins).
    ResetPassword {
        /// The login.
        #[arg(long)]
        email: String,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable an account (ends its logins; it can no longer log in).
    Disable {
        /// The login.
        #[arg(long)]
        email: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum RoleArg {
    /// Staff accounts and the audit log, besides what coordinators do.
    Administrator,
    /// Sessions, actions, documents.
    Coordinator,
}

impl From<RoleArg> for StaffRole {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Administrator => StaffRole::Administrator,
            RoleArg::Coordinator => StaffRole::Coordinator,
        }
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The password from stdin's first line, or asked twice on the terminal.
fn read_password(from_stdin: bool, email: &str) -> anyhow::Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password(format!("Password for {email}: "))
            .context("reading the password from the terminal (or use --password-stdin)")?;
        let again = rpassword::prompt_password("The same password again: ")
            .context("reading the password from the terminal")?;
        if first != again {
            bail!("the two passwords differ; nothing was changed");
        }
        first
    };
    staff::check_password(&password, email).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(password)
}

fn open(data_dir: &Path, create: bool) -> anyhow::Result<Catalog> {
    // The staff of a deployment whose nodes share a database are there.
    if let Some(url) = crate::shared_database() {
        return Catalog::open_postgres(&url).context("opening the shared database");
    }
    if !data_dir
        .join(cadre_server::directory::catalog::DB_FILE)
        .exists()
    {
        if !create {
            bail!(
                "no cadre data in {} (pass --data-dir, or add the first administrator with `cadre staff add`)",
                data_dir.display()
            );
        }
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
    }
    Catalog::open(data_dir)
        .with_context(|| format!("opening the catalogue in {}", data_dir.display()))
}

fn account(catalog: &Catalog, email: &str) -> anyhow::Result<StaffView> {
    match staff::by_email(catalog, email)? {
        Some(r) => Ok(r.view),
        None => bail!(
            "no staff account has the e-mail {}",
            staff::normalise_email(email)
        ),
    }
}

fn audit(catalog: &Catalog, action: &str, who: &StaffView, said: &str) -> anyhow::Result<()> {
    staff::append(
        catalog,
        NewAuditEntry {
            actor: "command_line",
            action: action.to_owned(),
            target: Some(format!("{} {}: {said}", who.id, who.email)),
            ..Default::default()
        },
        now(),
    )?;
    Ok(())
}

pub(crate) fn staff_command(data_dir: &Path, cmd: StaffCommand) -> anyhow::Result<()> {
    match cmd {
        StaffCommand::Add {
            email,
            name,
            role,
            password_stdin,
        } => {
            let email = staff::check_email(&email).map_err(|e| anyhow::anyhow!("{e}"))?;
            let catalog = open(data_dir, true)?;
            if staff::by_email(&catalog, &email)?.is_some() {
                bail!("a staff account already uses {email}; nothing was changed");
            }
            let password = read_password(password_stdin, &email)?;
            let hash = staff::hash_password(&password)?;
            let view = staff::add(&catalog, &email, &name, role.into(), &hash, now())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            audit(&catalog, "staff_added", &view, view.role.as_str())?;
            println!("added {} {} ({})", view.id, view.email, view.role.as_str());
        }
        StaffCommand::List { json } => {
            let catalog = open(data_dir, false)?;
            let all = staff::list(&catalog)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                println!("no staff account (add one with `cadre staff add`)");
            } else {
                let now = now();
                for s in all {
                    let mut state = Vec::new();
                    if s.disabled_at.is_some() {
                        state.push("disabled".to_owned());
                    }
                    if s.locked_until.is_some_and(|t| t > now) {
                        state.push("locked".to_owned());
                    }
                    println!(
                        "{}  {}  {}  {}{}",
                        s.id,
                        s.email,
                        s.role.as_str(),
                        s.name,
                        if state.is_empty() {
                            String::new()
                        } else {
                            format!("  ({})", state.join(", "))
                        }
                    );
                }
            }
        }
        StaffCommand::ResetPassword {
            email,
            password_stdin,
        } => {
            let catalog = open(data_dir, false)?;
            let who = account(&catalog, &email)?;
            let password = read_password(password_stdin, &who.email)?;
            let hash = staff::hash_password(&password)?;
            staff::set_password(&catalog, &who.id, &hash)?;
            audit(&catalog, "staff_changed", &who, "password reset")?;
            println!(
                "new password set for {}; their logins have ended",
                who.email
            );
        }
        StaffCommand::Disable { email } => {
            let catalog = open(data_dir, false)?;
            let who = account(&catalog, &email)?;
            staff::set_disabled(&catalog, &who.id, true, now())?;
            audit(&catalog, "staff_changed", &who, "disabled")?;
            println!("{} is disabled; their logins have ended", who.email);
        }
    }
    Ok(())
}
