//! `cadre keys …`: the signing key set of the data directory, and its
//! two-phase rotation for several nodes sharing it (docs/operations.md,
//! "Signing keys"). Safe while a server runs on the directory: it reads
//! the set again on SIGHUP and when the state file changes.

use anyhow::bail;
use cadre_server::directory::keys::{self, KeySet, KeyState, set};
use chrono::SecondsFormat;
use clap::Subcommand;
use serde_json::json;
use std::path::Path;

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// List the keys: kid, state (current, published, retired), creation time.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Phase one of a rotation: add a key that is published and accepted
    /// but does not sign yet.
    Add,
    /// Phase two, once every node publishes the key: make it the one that
    /// signs (the current key is retired: still published and accepted).
    Activate {
        /// The key's id, as `cadre keys list` shows it. One in 64 begins
        /// with `-` (base64url): taken as the id, not as a flag.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Take out a published key that never signed (added by mistake, or
    /// exposed before use). A key that signed stays published for ever.
    Remove {
        /// The key's id (it may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

pub(crate) fn keys_command(data_dir: &Path, cmd: KeysCommand) -> anyhow::Result<()> {
    if !data_dir.join(keys::SIGNING_KEY_FILE).exists() {
        bail!(
            "no signing key in {} (run `cadre serve` once, or pass --data-dir)",
            data_dir.display()
        );
    }
    match cmd {
        KeysCommand::List { json } => {
            let set = KeySet::load(data_dir)?;
            list(&set, json)?;
        }
        KeysCommand::Add => {
            let kid = set::add(data_dir)?;
            println!("added {kid} (published, not signing)");
            println!(
                "running servers publish it within --keys-reload-seconds (or at once on SIGHUP); \
                 once every node's /.well-known/jwks.json lists it: cadre keys activate {kid}"
            );
        }
        KeysCommand::Activate { kid } => match set::activate(data_dir, &kid)? {
            None => println!("{kid} is already the current key; nothing was changed"),
            Some(previous) => {
                println!("{kid} signs from now on; {previous} is retired (still published)");
                println!(
                    "running servers switch within --keys-reload-seconds (or at once on SIGHUP)"
                );
            }
        },
        KeysCommand::Remove { kid } => {
            set::remove(data_dir, &kid)?;
            println!("removed {kid}: no longer published nor accepted");
        }
    }
    Ok(())
}

fn list(set: &KeySet, as_json: bool) -> anyhow::Result<()> {
    let time = |t: &chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    if as_json {
        let keys: Vec<_> = set
            .keys()
            .iter()
            .map(|k| {
                json!({
                    "kid": k.key.kid(),
                    "state": k.state.as_str(),
                    "created": time(&k.created),
                    "activated": k.activated.as_ref().map(time),
                    "retired": k.retired.as_ref().map(time),
                    "file": k.file.display().to_string(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&keys)?);
        return Ok(());
    }
    for k in set.keys() {
        let since = match (k.state, &k.activated, &k.retired) {
            (KeyState::Current, Some(at), _) => format!("  signing since {}", time(at)),
            (KeyState::Retired, _, Some(at)) => format!("  retired {}", time(at)),
            _ => String::new(),
        };
        println!(
            "{}  {:<9}  created {}{since}",
            k.key.kid(),
            k.state.as_str(),
            time(&k.created)
        );
    }
    Ok(())
}
