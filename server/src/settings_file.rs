//! The configuration file (`cadre serve --config cadre.toml`): every flag of
//! a command, under its long name, as a TOML key.
//!
//! Nothing here knows cadre's settings: the keys, their types and their
//! checks come from clap's own definition of the command's arguments, so a
//! flag added to `serve` is a key of the file with no change here. The CLI
//! turns what the file holds into arguments ([`FileSettings::arguments`])
//! for the flags neither the command line nor the environment set, and
//! parses again: command line > environment > file > default, and every
//! value goes through the same parser and the same checks as a flag.
//!
//! Mistakes are reported all at once, each with its line and column
//! ([`Mistake`]): an unknown key (with the close names), a wrong type (and
//! the type expected), a value the flag refuses.

use clap::{Arg, ArgAction, Command};
use std::any::TypeId;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// The name of the flag that points at the file: never a key of the file.
pub const CONFIG_KEY: &str = "config";

/// What a key's value must be in TOML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// `true` or `false` (a flag without a value).
    Boolean,
    /// A TOML integer.
    Integer,
    /// A TOML number (integer or float).
    Number,
    /// A TOML string.
    String,
}

impl Expected {
    /// The type's name as the file's reader knows it.
    pub fn name(&self) -> &'static str {
        match self {
            Expected::Boolean => "a boolean (true or false)",
            Expected::Integer => "an integer",
            Expected::Number => "a number",
            Expected::String => "a string",
        }
    }
}

/// One key the file may hold: an argument of the command.
#[derive(Debug, Clone)]
pub struct Key {
    /// The key, the flag's long name (`public-url`).
    pub name: String,
    /// clap's id of the argument (to ask the matches where a value came from).
    pub id: String,
    /// The type of each value.
    pub expected: Expected,
    /// True when the flag is repeatable: the key takes an array.
    pub list: bool,
    /// True when the value is a secret, shown masked.
    pub secret: bool,
    /// The flag's environment variable, if any.
    pub env: Option<String>,
}

impl Key {
    /// What the key takes, in words (`an array of strings`).
    pub fn describe(&self) -> String {
        if self.list {
            let one = self.expected.name();
            let plural = one
                .trim_start_matches("an ")
                .trim_start_matches("a ")
                .replace("boolean", "booleans")
                .replace("integer", "integers")
                .replace("number", "numbers")
                .replace("string", "strings");
            format!("an array of {plural}")
        } else {
            self.expected.name().to_owned()
        }
    }
}

/// The keys of `cmd` (built, so that global flags such as `--data-dir` are
/// among them): every argument with a long name except `--help`,
/// `--version` and `--config`.
pub fn keys(cmd: &Command) -> Vec<Key> {
    cmd.get_arguments()
        .filter_map(|arg| {
            let long = arg.get_long()?;
            if matches!(
                arg.get_action(),
                ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
            ) || long == CONFIG_KEY
            {
                return None;
            }
            Some(Key {
                name: long.to_owned(),
                id: arg.get_id().as_str().to_owned(),
                expected: expected(arg),
                list: matches!(arg.get_action(), ArgAction::Append),
                secret: is_secret(arg),
                env: arg.get_env().map(|e| e.to_string_lossy().into_owned()),
            })
        })
        .collect()
}

fn expected(arg: &Arg) -> Expected {
    if matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
        return Expected::Boolean;
    }
    let id = arg.get_value_parser().type_id();
    // `--flag=true` (a bool that takes a value) is a boolean too.
    if id == TypeId::of::<bool>() {
        return Expected::Boolean;
    }
    let integers = [
        TypeId::of::<u8>(),
        TypeId::of::<u16>(),
        TypeId::of::<u32>(),
        TypeId::of::<u64>(),
        TypeId::of::<usize>(),
        TypeId::of::<i8>(),
        TypeId::of::<i16>(),
        TypeId::of::<i32>(),
        TypeId::of::<i64>(),
        TypeId::of::<isize>(),
    ];
    if integers.iter().any(|t| id == *t) {
        Expected::Integer
    } else if id == TypeId::of::<f64>() || id == TypeId::of::<f32>() {
        Expected::Number
    } else {
        Expected::String
    }
}

/// Secrets are the flags whose environment value clap hides, and any flag
/// named like one: a TURN secret added by someone else stays masked even if
/// they forget `hide_env_values`. A duration or a count named after a
/// secret (`turn-credential-minutes`) is not one.
fn is_secret(arg: &Arg) -> bool {
    let name = arg.get_long().unwrap_or_default();
    let a_quantity = ["-minutes", "-seconds", "-days", "-mb"]
        .iter()
        .any(|unit| name.ends_with(unit));
    arg.is_hide_env_values_set()
        || (!a_quantity
            && ["token", "secret", "password", "credential", "private-key"]
                .iter()
                .any(|w| name.contains(w)))
}

/// One mistake in the file, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mistake {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// The key it is about, if any.
    pub key: Option<String>,
    /// A sentence saying what is wrong and what would be right.
    pub message: String,
}

impl fmt::Display for Mistake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Why a file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file holds mistakes, each with its place.
    #[error("{}", mistakes_text(path, mistakes))]
    Mistakes {
        /// The file.
        path: PathBuf,
        /// Every mistake found, in file order.
        mistakes: Vec<Mistake>,
    },
}

fn mistakes_text(path: &Path, mistakes: &[Mistake]) -> String {
    let mut text = format!(
        "{} mistake{} in the configuration file {}:",
        mistakes.len(),
        if mistakes.len() == 1 { "" } else { "s" },
        path.display()
    );
    for m in mistakes {
        text.push_str(&format!(
            "\n  {}:{}:{}: {}",
            path.display(),
            m.line,
            m.column,
            m.message
        ));
    }
    text
}

/// A key the file sets, with the values to pass to its flag.
#[derive(Debug, Clone)]
pub struct FileValue {
    /// The key (the flag's long name).
    pub key: Key,
    /// The values as the flag would get them on the command line (none for
    /// a boolean left at its default).
    pub values: Vec<String>,
    /// For a boolean: its value.
    pub flag: Option<bool>,
    /// Where the key is (1-based line and column).
    pub line: usize,
    /// Its column.
    pub column: usize,
}

/// What a configuration file sets, checked against the command.
#[derive(Debug, Clone)]
pub struct FileSettings {
    /// The file.
    pub path: PathBuf,
    /// The keys it sets, in file order.
    pub values: Vec<FileValue>,
}

impl FileSettings {
    /// Reads and checks `path` against `cmd` (built).
    pub fn read(cmd: &Command, path: &Path) -> Result<FileSettings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(cmd, path, &text)
    }

    /// Checks `text` (the file at `path`) against `cmd` (built).
    pub fn parse(cmd: &Command, path: &Path, text: &str) -> Result<FileSettings, SettingsError> {
        let fail = |mistakes| SettingsError::Mistakes {
            path: path.to_owned(),
            mistakes,
        };
        let place = |offset: usize| line_column(text, offset);
        // Spans from the parser's own tree, values from the typed table.
        let spans = match toml::de::DeTable::parse(text) {
            Ok(t) => t,
            Err(e) => {
                let (line, column) = place(e.span().map_or(0, |s| s.start));
                return Err(fail(vec![Mistake {
                    line,
                    column,
                    key: None,
                    message: format!("not valid TOML: {}", e.message().trim()),
                }]));
            }
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let (line, column) = place(e.span().map_or(0, |s| s.start));
            fail(vec![Mistake {
                line,
                column,
                key: None,
                message: format!("not valid TOML: {}", e.message().trim()),
            }])
        })?;
        let keys = keys(cmd);
        // The same parser and checks as the command line, without reading
        // the environment: a bad variable must not be blamed on the file.
        let validator = cmd
            .clone()
            .mut_args(|a| a.env(None::<&'static str>))
            .no_binary_name(true);
        let mut mistakes = Vec::new();
        let mut values = Vec::new();
        let mut spanned: Vec<_> = spans.get_ref().iter().collect();
        spanned.sort_by_key(|(k, _)| k.span().start);
        for (name, value_span) in spanned {
            let (key_line, key_column) = place(name.span().start);
            let name: &str = name.get_ref();
            let (line, column) = place(value_span.span().start);
            let mistake = |message: String, at: (usize, usize)| Mistake {
                line: at.0,
                column: at.1,
                key: Some(name.to_owned()),
                message,
            };
            let Some(key) = keys.iter().find(|k| k.name == name) else {
                let message = if name == CONFIG_KEY {
                    format!("`{name}` cannot be set in the configuration file itself")
                } else {
                    match closest(name, &keys) {
                        Some(near) => format!("unknown key `{name}`; did you mean `{near}`?"),
                        None => format!("unknown key `{name}`"),
                    }
                };
                mistakes.push(mistake(message, (key_line, key_column)));
                continue;
            };
            let Some(value) = table.get(name) else {
                continue;
            };
            let wrong_type = || {
                mistake(
                    format!(
                        "`{name}` must be {}, not {}",
                        key.describe(),
                        toml_type(value)
                    ),
                    (line, column),
                )
            };
            let items: Vec<&toml::Value> = if key.list {
                match value {
                    toml::Value::Array(items) => items.iter().collect(),
                    _ => {
                        mistakes.push(wrong_type());
                        continue;
                    }
                }
            } else {
                vec![value]
            };
            let mut texts = Vec::new();
            let mut flag = None;
            let mut typed = true;
            for item in items {
                match (&key.expected, item) {
                    (Expected::Boolean, toml::Value::Boolean(b)) if is_switch(cmd, &key.id) => {
                        flag = Some(*b)
                    }
                    (Expected::Boolean, toml::Value::Boolean(b)) => texts.push(b.to_string()),
                    (Expected::Integer, toml::Value::Integer(i)) => texts.push(i.to_string()),
                    (Expected::Number, toml::Value::Integer(i)) => texts.push(i.to_string()),
                    (Expected::Number, toml::Value::Float(f)) => texts.push(f.to_string()),
                    (Expected::String, toml::Value::String(s)) => texts.push(s.clone()),
                    _ => typed = false,
                }
            }
            if !typed {
                mistakes.push(wrong_type());
                continue;
            }
            // A boolean flag is passed only when it departs from its
            // default (`--auto-suspend` for true).
            let passed = match (flag, key_action(cmd, &key.id)) {
                (Some(true), Some(ArgAction::SetTrue))
                | (Some(false), Some(ArgAction::SetFalse)) => {
                    vec![format!("--{name}")]
                }
                (Some(_), _) => Vec::new(),
                (None, _) => texts.iter().map(|t| format!("--{name}={t}")).collect(),
            };
            // One key alone is checked for its value; what it needs beside
            // it (`tls-cert` needs `tls-key`) is checked with the whole
            // command line, which names both.
            if let Err(e) = validator.clone().try_get_matches_from(&passed)
                && e.kind() != clap::error::ErrorKind::MissingRequiredArgument
            {
                mistakes.push(mistake(
                    format!("bad value for `{name}`: {}", clap_reason(&e)),
                    (line, column),
                ));
                continue;
            }
            values.push(FileValue {
                key: key.clone(),
                values: texts,
                flag,
                line: key_line,
                column: key_column,
            });
        }
        if mistakes.is_empty() {
            Ok(FileSettings {
                path: path.to_owned(),
                values,
            })
        } else {
            Err(fail(mistakes))
        }
    }

    /// The arguments that give the file's values to the command, for every
    /// key `keep` accepts (the CLI keeps those the command line and the
    /// environment left unset).
    pub fn arguments(&self, keep: impl Fn(&Key) -> bool) -> Vec<OsString> {
        let mut out = Vec::new();
        for v in self.values.iter().filter(|v| keep(&v.key)) {
            match v.flag {
                Some(b) => {
                    if b {
                        out.push(format!("--{}", v.key.name).into());
                    }
                }
                None => out.extend(
                    v.values
                        .iter()
                        .map(|t| OsString::from(format!("--{}={t}", v.key.name))),
                ),
            }
        }
        out
    }

    /// The line of `key` in the file, if the file sets it.
    pub fn line_of(&self, key: &str) -> Option<usize> {
        self.values
            .iter()
            .find(|v| v.key.name == key)
            .map(|v| v.line)
    }
}

/// A flag without a value (`--auto-suspend`), as opposed to `--flag=true`.
fn is_switch(cmd: &Command, id: &str) -> bool {
    matches!(
        key_action(cmd, id),
        Some(ArgAction::SetTrue | ArgAction::SetFalse)
    )
}

fn key_action(cmd: &Command, id: &str) -> Option<ArgAction> {
    cmd.get_arguments()
        .find(|a| a.get_id().as_str() == id)
        .map(|a| a.get_action().clone())
}

/// clap's refusal in one line, without its `error:` prefix and usage.
fn clap_reason(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    first.trim_start_matches("error: ").trim().to_owned()
}

fn toml_type(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// The known key closest to an unknown one, if close enough to be a typo
/// (`public_url`, `pubic-url`, `heartbeat`).
fn closest<'k>(name: &str, keys: &'k [Key]) -> Option<&'k str> {
    let normal = name.to_lowercase().replace('_', "-");
    keys.iter()
        .map(|k| {
            let d = if k.name == normal {
                0
            } else if k.name.starts_with(&normal) || normal.starts_with(&k.name) {
                1
            } else {
                edit_distance(&normal, &k.name)
            };
            (d, k.name.as_str())
        })
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(previous + cost);
            previous = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Demo {
        #[arg(long, env = "SETTINGS_TEST_BIND", default_value = "127.0.0.1:8080")]
        bind: std::net::SocketAddr,
        #[arg(long, default_value_t = 10)]
        heartbeat_ms: u64,
        #[arg(long = "ice-server", value_delimiter = ' ')]
        ice_servers: Vec<String>,
        #[arg(long)]
        auto_suspend: bool,
        #[arg(long, hide_env_values = true, env = "SETTINGS_TEST_TOKEN")]
        organiser_token: Option<String>,
        #[arg(long)]
        config: Option<PathBuf>,
    }

    fn check(text: &str) -> Result<FileSettings, Vec<Mistake>> {
        let mut cmd = <Demo as clap::CommandFactory>::command();
        cmd.build();
        FileSettings::parse(&cmd, Path::new("t.toml"), text).map_err(|e| match e {
            SettingsError::Mistakes { mistakes, .. } => mistakes,
            other => panic!("{other}"),
        })
    }

    #[test]
    fn every_kind_of_key_becomes_arguments() {
        let file = check(
            "bind = \"0.0.0.0:9000\"\nheartbeat-ms = 500\nice-server = [\"stun:a\", \"stun:b\"]\nauto-suspend = true\n",
        )
        .unwrap();
        let args: Vec<_> = file
            .arguments(|_| true)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "--bind=0.0.0.0:9000",
                "--heartbeat-ms=500",
                "--ice-server=stun:a",
                "--ice-server=stun:b",
                "--auto-suspend"
            ]
        );
        let args = check("auto-suspend = false\n").unwrap().arguments(|_| true);
        assert!(args.is_empty(), "{args:?}");
    }

    #[test]
    fn mistakes_name_the_key_the_line_and_what_was_expected() {
        let mistakes = check(
            "# a comment\nbind = \"nowhere\"\nheartbeat-ms = \"fast\"\npublic_url = \"x\"\nice-server = \"stun:a\"\nconfig = \"other.toml\"\n",
        )
        .unwrap_err();
        let text: Vec<String> = mistakes.iter().map(ToString::to_string).collect();
        assert_eq!(mistakes.len(), 5, "{text:#?}");
        assert!(
            text[0].starts_with("line 2, column 8: bad value for `bind`: "),
            "{text:#?}"
        );
        assert_eq!(
            text[1],
            "line 3, column 16: `heartbeat-ms` must be an integer, not a string"
        );
        assert_eq!(text[2], "line 4, column 1: unknown key `public_url`");
        assert_eq!(
            text[3],
            "line 5, column 14: `ice-server` must be an array of strings, not a string"
        );
        assert!(
            text[4].contains("cannot be set in the configuration file"),
            "{text:#?}"
        );
    }

    #[test]
    fn a_close_name_is_suggested() {
        let mistakes =
            check("heartbeat_ms = 5\nbnd = \"x\"\norganiser-tokn = \"t\"\n").unwrap_err();
        let text: Vec<String> = mistakes.iter().map(ToString::to_string).collect();
        assert!(
            text[0].ends_with("did you mean `heartbeat-ms`?"),
            "{text:#?}"
        );
        assert!(text[1].ends_with("did you mean `bind`?"), "{text:#?}");
        assert!(
            text[2].ends_with("did you mean `organiser-token`?"),
            "{text:#?}"
        );
    }

    #[test]
    fn keys_know_their_types_and_secrets() {
        let mut cmd = <Demo as clap::CommandFactory>::command();
        cmd.build();
        let keys = keys(&cmd);
        let names: Vec<_> = keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "bind",
                "heartbeat-ms",
                "ice-server",
                "auto-suspend",
                "organiser-token"
            ]
        );
        assert_eq!(keys[1].expected, Expected::Integer);
        assert!(keys[2].list);
        assert_eq!(keys[3].expected, Expected::Boolean);
        assert!(keys[4].secret && !keys[0].secret);
    }

    #[derive(Parser)]
    struct Valued {
        #[arg(long, default_value_t = true, action = ArgAction::Set)]
        sync: bool,
    }

    #[test]
    fn a_boolean_that_takes_a_value_gets_it() {
        let mut cmd = <Valued as clap::CommandFactory>::command();
        cmd.build();
        let file = FileSettings::parse(&cmd, Path::new("t.toml"), "sync = false\n").unwrap();
        assert_eq!(file.arguments(|_| true), [OsString::from("--sync=false")]);
        let Err(SettingsError::Mistakes { mistakes, .. }) =
            FileSettings::parse(&cmd, Path::new("t.toml"), "sync = \"no\"\n")
        else {
            panic!("a string is refused");
        };
        assert!(
            mistakes[0].message.contains("must be a boolean"),
            "{mistakes:?}"
        );
    }

    #[test]
    fn broken_toml_is_placed() {
        let mistakes = check("bind = \"a\"\nheartbeat-ms = \n").unwrap_err();
        assert_eq!(mistakes.len(), 1);
        assert_eq!(mistakes[0].line, 2, "{:?}", mistakes[0]);
        assert!(mistakes[0].message.starts_with("not valid TOML"));
    }
}
