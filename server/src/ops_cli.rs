//! The operator's commands around `serve`: the configuration file (read
//! under `serve` and `demo`, checked by `cadre config check`), `cadre
//! backup` and `cadre restore`.

use super::{Cli, Command, config};
use anyhow::{Context, anyhow, bail};
use cadre_server::backup::{self, BackupRequest};
use cadre_server::settings_file::{Expected, FileSettings, Key, keys};
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Prints a line on stdout if it can.
macro_rules! say {
    ($($arg:tt)*) => { cadre_server::logging::print_out(format_args!($($arg)*)) };
}

/// Exit status of a command line or a configuration file that is refused.
const EXIT_REFUSED: i32 = 2;

/// The subcommands whose flags a configuration file sets.
const CONFIGURED: [&str; 2] = ["serve", "demo"];

#[derive(Subcommand)]
pub(crate) enum ConfigCommand {
    /// Load the file and the environment as `serve` would, check everything
    /// `serve` checks (nothing is started), print the effective settings.
    Check {
        /// The file (default: none, the environment alone).
        #[arg(long, env = "CADRE_CONFIG")]
        config: Option<PathBuf>,
        /// Print the settings as JSON (key, value, where it came from).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub(crate) struct BackupArgs {
    /// The backup directory to create (it must not exist).
    dest: PathBuf,
    /// Copy the recordings too (large), after the databases.
    #[arg(long)]
    with_recordings: bool,
    /// Where recordings are, if `serve` was given another place.
    #[arg(long, env = "CADRE_RECORDINGS_DIR")]
    recordings_dir: Option<PathBuf>,
    /// Copy at the normal CPU priority (faster on a busy machine, at the
    /// calls' expense). By default the copy runs at the lowest (nice 19).
    #[arg(long)]
    normal_priority: bool,
}

#[derive(Args)]
pub(crate) struct RestoreArgs {
    /// The backup directory (made by `cadre backup`).
    src: PathBuf,
    /// Restore into a directory that holds files: the backup's files replace
    /// theirs there. Stop the server on it first.
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
pub(crate) struct MigrateArgs {
    /// The database, as its owner: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(long, env = "CADRE_DATABASE", hide_env_values = true)]
    database: String,
    /// The role `cadre serve` connects as; it gets SELECT and INSERT on the
    /// evidence and on the records kept as written (article 2.1.7 changes,
    /// the staff audit log), what the catalogue needs on the rest.
    #[arg(long)]
    app_role: Option<String>,
}

#[derive(Args)]
pub(crate) struct ImportArgs {
    /// The database, as the owner of its tables (as for `cadre migrate`):
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    #[arg(long, env = "CADRE_DATABASE", hide_env_values = true)]
    database: String,
}

/// The command line, with a configuration file's settings for `serve` and
/// `demo` given to the flags that neither the command line nor the
/// environment set. Exits on a refusal, as clap does.
pub(crate) fn parse() -> Cli {
    match parse_from(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(Refused::Clap(e)) => e.exit(),
        Err(Refused::File(e)) => {
            cadre_server::logging::print_err(format_args!("Error: {e}"));
            std::process::exit(EXIT_REFUSED)
        }
    }
}

enum Refused {
    Clap(clap::Error),
    File(cadre_server::settings_file::SettingsError),
}

fn parse_from(mut argv: Vec<OsString>) -> Result<Cli, Refused> {
    let mut command = Cli::command();
    let matches = command
        .try_get_matches_from_mut(argv.iter())
        .map_err(Refused::Clap)?;
    let file = match matches.subcommand() {
        Some((name, sub)) if CONFIGURED.contains(&name) => sub
            .get_one::<PathBuf>("config")
            .map(|path| (name.to_owned(), sub.clone(), path.clone())),
        _ => None,
    };
    let Some((name, sub, path)) = file else {
        return Cli::from_arg_matches(&matches).map_err(Refused::Clap);
    };
    command.build();
    // The file describes `serve`; `demo` takes the keys it shares with it.
    let serve = command.find_subcommand("serve").expect("serve exists");
    let settings = FileSettings::read(serve, &path).map_err(Refused::File)?;
    let running = command
        .find_subcommand(&name)
        .expect("a configured subcommand exists");
    let here: HashSet<String> = keys(running).into_iter().map(|k| k.id).collect();
    let applies = |key: &Key| here.contains(&key.id) && !set_outside_file(&sub, key);
    argv.extend(settings.arguments(applies));
    let applied = settings
        .values
        .iter()
        .filter(|v| applies(&v.key))
        .map(|v| v.key.id.clone())
        .collect();
    let _ = APPLIED.set((settings, applied));
    Cli::try_parse_from(argv).map_err(Refused::Clap)
}

/// The file `serve` or `demo` read and the keys it gave, for [`explain`].
static APPLIED: std::sync::OnceLock<(FileSettings, HashSet<String>)> = std::sync::OnceLock::new();

/// A refusal of `serve`'s checks, with the file's line of each key it
/// names (`--heartbeat-ms must be at least 100` → `cadre.toml:4:1`).
pub(crate) fn explain(e: anyhow::Error) -> anyhow::Error {
    match APPLIED.get() {
        Some((file, applied)) => {
            let places = places(file, applied, &format!("{e:#}"));
            if places.is_empty() {
                e
            } else {
                anyhow!("{e:#}{places}")
            }
        }
        None => e,
    }
}

/// One line per key of `file` (among `applied`) that `message` names.
fn places(file: &FileSettings, applied: &HashSet<String>, message: &str) -> String {
    let mut text = String::new();
    for v in &file.values {
        if message.contains(&format!("--{}", v.key.name)) && applied.contains(&v.key.id) {
            text.push_str(&format!(
                "\n  {}:{}:{}: `{}` is set here",
                file.path.display(),
                v.line,
                v.column,
                v.key.name
            ));
        }
    }
    text
}

/// True when the command line or the environment gave `key` a value: those
/// win over the file.
fn set_outside_file(matches: &clap::ArgMatches, key: &Key) -> bool {
    matches!(
        matches.value_source(&key.id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

pub(crate) fn config_command(cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Check { config, json } => match check(config.as_deref(), json) {
            Ok(text) => {
                say!("{text}");
                Ok(())
            }
            Err(e) => {
                cadre_server::logging::print_err(format_args!("{e}"));
                std::process::exit(EXIT_REFUSED)
            }
        },
    }
}

/// `cadre config check`: the effective settings as text (or JSON), or every
/// mistake explained.
fn check(path: Option<&Path>, json: bool) -> anyhow::Result<String> {
    let mut command = Cli::command();
    command.build();
    let serve = command
        .find_subcommand("serve")
        .expect("serve exists")
        .clone();
    let keys = keys(&serve);
    let base: Vec<OsString> = vec!["cadre".into(), "serve".into()];
    // The environment alone first: a bad variable is named as such.
    let env_only = Cli::command()
        .try_get_matches_from(base.iter())
        .map_err(|e| anyhow!("the environment: {}", first_line(&e)))?;
    let env_sub = env_only
        .subcommand_matches("serve")
        .expect("parsed as serve");
    let file = match path {
        Some(p) => Some(FileSettings::read(&serve, p)?),
        None => None,
    };
    let mut argv = base;
    let mut from_file = HashSet::new();
    if let Some(file) = &file {
        argv.extend(file.arguments(|key| !set_outside_file(env_sub, key)));
        from_file.extend(
            file.values
                .iter()
                .filter(|v| !set_outside_file(env_sub, &v.key))
                .map(|v| v.key.id.clone()),
        );
    }
    let matches = Cli::command()
        .try_get_matches_from(argv.iter())
        .map_err(|e| anyhow!("{}", first_line(&e)))?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| anyhow!("{}", first_line(&e)))?;
    let Command::Serve { server, .. } = &cli.command else {
        unreachable!("parsed as serve")
    };
    // Exactly what `serve` refuses, with the file's line of each key the
    // refusal names.
    // The certificate and its key are read as `serve` reads them at start:
    // a missing, expired or mismatched pair is found here, not at 3 a.m.
    let checked = config(&cli.data_dir, server).and_then(|c| match c.tls {
        Some(files) => cadre_server::tls::Certificates::load(files)
            .map(drop)
            .map_err(|e| anyhow!("--tls-cert/--tls-key: {e}")),
        None => Ok(()),
    });
    if let Err(e) = checked {
        let message = format!("{e:#}");
        let mut text = format!("the settings are refused: {message}");
        if let Some(file) = &file {
            text.push_str(&places(file, &from_file, &message));
        }
        bail!(text);
    }
    let sub = matches
        .subcommand_matches("serve")
        .expect("parsed as serve");
    let rows: Vec<Row> = keys
        .iter()
        .map(|key| effective(sub, key, &from_file))
        .collect();
    if json {
        let settings: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "key": r.key.name,
                    "value": r.value,
                    "source": r.source,
                    "expects": r.key.describe(),
                    "env": r.key.env,
                })
            })
            .collect();
        return Ok(serde_json::to_string_pretty(&serde_json::json!({
            "file": path.map(|p| p.display().to_string()),
            "settings": settings,
        }))?);
    }
    let mut text = match path {
        Some(p) => format!(
            "# {}: {} key{} set; everything `cadre serve` checks holds.\n",
            p.display(),
            from_file.len(),
            if from_file.len() == 1 { "" } else { "s" }
        ),
        None => "# No configuration file; everything `cadre serve` checks holds.\n".to_owned(),
    };
    text.push_str("# The effective settings (secrets masked):\n");
    for r in &rows {
        match &r.value {
            serde_json::Value::Null => text.push_str(&format!("# {} is not set\n", r.key.name)),
            value => text.push_str(&format!(
                "{} = {}  # {}\n",
                r.key.name,
                toml_text(value),
                r.source
            )),
        }
    }
    Ok(text.trim_end().to_owned())
}

/// One effective setting.
struct Row<'k> {
    key: &'k Key,
    /// JSON null when unset; masked when secret.
    value: serde_json::Value,
    source: String,
}

fn effective<'k>(matches: &clap::ArgMatches, key: &'k Key, from_file: &HashSet<String>) -> Row<'k> {
    let raw: Vec<String> = matches
        .get_raw(&key.id)
        .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    let source = if from_file.contains(&key.id) {
        "file".to_owned()
    } else {
        match matches.value_source(&key.id) {
            Some(ValueSource::EnvVariable) => {
                format!("environment ({})", key.env.as_deref().unwrap_or("?"))
            }
            Some(ValueSource::CommandLine) => "command line".to_owned(),
            Some(ValueSource::DefaultValue) => "default".to_owned(),
            _ => "not set".to_owned(),
        }
    };
    let one = |text: &str| -> serde_json::Value {
        if key.secret {
            return "********".into();
        }
        let text = if key.name == "ice-server" {
            mask_ice_credential(text)
        } else {
            text.to_owned()
        };
        match key.expected {
            Expected::Boolean => text.parse::<bool>().map_or(text.clone().into(), Into::into),
            Expected::Integer => text.parse::<i64>().map_or(text.clone().into(), Into::into),
            Expected::Number => text.parse::<f64>().map_or(text.clone().into(), Into::into),
            Expected::String => text.into(),
        }
    };
    let value = if raw.is_empty() {
        serde_json::Value::Null
    } else if key.list {
        raw.iter().map(|t| one(t)).collect()
    } else {
        one(&raw[0])
    };
    Row { key, value, source }
}

/// `URL,username,credential` with the credential masked.
fn mask_ice_credential(spec: &str) -> String {
    let parts: Vec<&str> = spec.splitn(3, ',').collect();
    match parts.as_slice() {
        [url, user, _] => format!("{url},{user},********"),
        _ => spec.to_owned(),
    }
}

/// A JSON value as TOML (strings quoted; JSON's escapes are TOML's).
fn toml_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(toml_text).collect::<Vec<_>>().join(", ")
            )
        }
        other => other.to_string(),
    }
}

fn first_line(e: &clap::Error) -> String {
    e.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned()
}

pub(crate) async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let MigrateArgs { database, app_role } = args;
    // The client blocks: off the runtime's threads.
    let done = tokio::task::spawn_blocking(move || {
        cadre_server::migrate_postgres(&database, app_role.as_deref())
    })
    .await
    .context("the migration task")??;
    for (component, version) in done {
        say!("{component} tables at schema version {version}");
    }
    Ok(())
}

pub(crate) async fn import(data_dir: &Path, args: ImportArgs) -> anyhow::Result<()> {
    let dir = data_dir.to_owned();
    // SQLite and the client block: off the runtime's threads.
    let done = tokio::task::spawn_blocking(move || {
        cadre_server::postgres_import::import(&dir, &args.database)
    })
    .await
    .context("the import task")??;
    for (table, rows) in &done.tables {
        say!("{table}: {rows} rows");
    }
    say!(
        "ledger: {} sessions, {} entries, {} tree heads, {} anchors, each session read back \
         identical",
        done.sessions,
        done.entries,
        done.heads,
        done.anchors
    );
    say!("imported from {}", data_dir.display());
    Ok(())
}

pub(crate) async fn backup(data_dir: &Path, args: BackupArgs) -> anyhow::Result<()> {
    let request = BackupRequest {
        data_dir: data_dir.to_owned(),
        dest: args.dest,
        with_recordings: args.with_recordings,
        recordings_dir: args.recordings_dir,
    };
    let lower = !args.normal_priority;
    let started = std::time::Instant::now();
    let report = tokio::task::spawn_blocking(move || {
        if lower {
            // Hashing and checking a large ledger takes most of a core for
            // seconds; on the server's machine the calls come first. Linux
            // keeps the nice value per thread: this is the thread that
            // copies. Lowering one's own priority is always allowed.
            if let Err(e) = rustix::process::setpriority_process(None, 19) {
                say!("note: the backup's priority could not be lowered ({e}); it runs at normal priority");
            }
        }
        backup::backup(&request).map(|r| (r, request))
    })
    .await
    .context("the backup task")?;
    let (report, request) = report.map_err(|e| anyhow!("the backup failed: {e}"))?;
    let bytes: u64 = report.manifest.files.iter().map(|f| f.bytes).sum();
    let m = &report.manifest;
    println!(
        "backup written to {} in {:.1} s: {} files, {} bytes, {} session logs",
        request.dest.display(),
        started.elapsed().as_secs_f64(),
        m.files.len(),
        bytes,
        m.ledger.len()
    );
    for f in &m.files {
        if !f.path.starts_with(backup::RECORDINGS) {
            println!("  {}  {} bytes  sha256 {}", f.path, f.bytes, f.sha256);
        }
    }
    let recordings = m
        .files
        .iter()
        .filter(|f| f.path.starts_with(backup::RECORDINGS))
        .count();
    if recordings > 0 {
        println!("  {recordings} recording files");
    }
    for (name, why) in &report.left_out {
        println!("  left out: {name} ({why})");
    }
    Ok(())
}

pub(crate) async fn restore(data_dir: &Path, args: RestoreArgs) -> anyhow::Result<()> {
    let target = data_dir.to_owned();
    let src = args.src.clone();
    let manifest = tokio::task::spawn_blocking(move || backup::restore(&src, &target, args.force))
        .await
        .context("the restore task")?
        .map_err(|e| anyhow!("{e}"))?;
    println!(
        "restored the backup of {} (cadre {}) into {}: {} files, every hash checked; {} session logs",
        manifest.created_at,
        manifest.cadre_version,
        data_dir.display(),
        manifest.files.len(),
        manifest.ledger.len()
    );
    Ok(())
}
