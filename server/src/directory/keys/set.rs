//! The key set: the key that signs now and the others kept for
//! verification, in the data directory, and the two-phase rotation that
//! `cadre keys …` runs on it.
//!
//! On disk:
//! - `signing-key.pk8`: the first key, generated on first start as before
//!   key sets existed. It signed evidence, so it stays in the set for ever.
//! - `keys/<kid>.pk8`: each key added since (PKCS#8, mode 0600).
//! - `keys/state.json`: every key of the set by `kid`, with its state
//!   ([`KeyState`]) and times. Without it the set is `signing-key.pk8`
//!   alone, current: a data directory from before key sets starts
//!   unchanged, with the same `kid`.
//!
//! Several nodes share one set (the files copied or mounted on each), so a
//! rotation has two phases: `add` makes a key that every node publishes and
//! accepts but none signs with; once every node publishes it, `activate`
//! makes it the signer (the previous one is retired: published and
//! verifying, never signing). A node that activated first thus never signs
//! anything another node cannot check.
//!
//! Each change writes the new key file first, then the state file under a
//! temporary name renamed over the old one: on one file system a reader
//! sees the old state or the new one, never one naming a key not written
//! yet. A set copied by hand can arrive state first: that state fails to
//! load (naming the missing file) and a running node keeps its set in
//! service until the key is there.
//!
//! The changes read the state, change it and write it back under an
//! exclusive lock on the data directory itself (`flock` on the folder, so
//! that a refused request creates nothing): two `cadre keys` commands run
//! at once (two operators, a script and a person) take turns, and neither
//! writes back a state that lacks the other's change.

use super::{Jwk, Jwks, KeyError, Loaded, SIGNING_KEY_FILE, SigningKey, write_private};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Folder of the added keys and the state file, in the data directory.
pub const KEYS_DIR: &str = "keys";
/// The state file, in [`KEYS_DIR`].
pub const STATE_FILE: &str = "state.json";
/// What the state file says it is.
const STATE_FORMAT: &str = "cadre-keys/1";

/// Where a key stands in the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Signs everything new (exactly one key).
    Current,
    /// Added for a rotation: published and accepted, signs nothing yet.
    Published,
    /// Signed once, replaced since: published and accepted for ever.
    Retired,
}

impl KeyState {
    /// The word `cadre keys list` and the state file use.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Current => "current",
            KeyState::Published => "published",
            KeyState::Retired => "retired",
        }
    }
}

/// One key of the set.
#[derive(Debug)]
pub struct SetKey {
    /// The key.
    pub key: SigningKey,
    /// Its state.
    pub state: KeyState,
    /// When it was made (for `signing-key.pk8` without a state file: the
    /// file's time).
    pub created: DateTime<Utc>,
    /// When it last became the current key (none: never made current by
    /// `activate`; the first key was current from its creation).
    pub activated: Option<DateTime<Utc>>,
    /// When it last stopped being the current key.
    pub retired: Option<DateTime<Utc>>,
    /// The file holding it.
    pub file: PathBuf,
}

/// The keys of a data directory, the current one first; read once,
/// never changed (a reload reads a new one).
#[derive(Debug)]
pub struct KeySet {
    keys: Vec<SetKey>,
    /// The state file's bytes it was read from (none: no state file), so a
    /// running server can tell cheaply whether the set changed on disk.
    state_bytes: Option<Vec<u8>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    format: String,
    keys: Vec<StateEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateEntry {
    kid: String,
    state: KeyState,
    created: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    activated: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retired: Option<DateTime<Utc>>,
}

/// The state file of the data directory `dir`.
pub fn state_path(dir: &Path) -> PathBuf {
    dir.join(KEYS_DIR).join(STATE_FILE)
}

/// The state file's bytes now (none: there is none, or it cannot be read:
/// the reload that follows says why).
pub fn state_bytes(dir: &Path) -> Option<Vec<u8>> {
    fs::read(state_path(dir)).ok()
}

/// Checks that `kid` has the form of a key id (and so is a safe file name).
pub fn check_kid(kid: &str) -> Result<(), KeyError> {
    let ok = kid.len() == 16
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(KeyError::MalformedKid(kid.to_owned()))
    }
}

impl KeySet {
    /// The set of `dir` at start-up: generates `signing-key.pk8` on first
    /// start (when there is no state file either).
    pub fn load_or_create(dir: &Path) -> Result<Loaded<KeySet>, KeyError> {
        if state_path(dir).exists() {
            return Ok(Loaded {
                value: KeySet::load(dir)?,
                created: false,
            });
        }
        let first = SigningKey::load_or_create(dir)?;
        Ok(Loaded {
            value: KeySet::load(dir)?,
            created: first.created,
        })
    }

    /// The set of `dir` as it is on disk; creates nothing. Every key file
    /// it names is read and checked: the error names the file at fault.
    pub fn load(dir: &Path) -> Result<KeySet, KeyError> {
        let first_file = dir.join(SIGNING_KEY_FILE);
        let state = state_path(dir);
        let state_bytes = match fs::read(&state) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(KeyError::Io {
                    path: state,
                    source,
                });
            }
        };
        let first = match SigningKey::read(&first_file) {
            Err(KeyError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && state_bytes.is_some() =>
            {
                return Err(KeyError::Set {
                    path: first_file,
                    reason: format!(
                        "missing, while {} lists a key set: the first key signed evidence; \
                         put it back from a backup",
                        state.display()
                    ),
                });
            }
            other => other?,
        };
        let Some(bytes) = state_bytes else {
            let created = fs::metadata(&first_file)
                .and_then(|m| m.modified())
                .map(DateTime::<Utc>::from)
                .unwrap_or_else(|_| Utc::now());
            return Ok(KeySet {
                keys: vec![SetKey {
                    key: first,
                    state: KeyState::Current,
                    created,
                    activated: None,
                    retired: None,
                    file: first_file,
                }],
                state_bytes: None,
            });
        };
        let bad = |reason: String| KeyError::Set {
            path: state.clone(),
            reason,
        };
        let parsed: StateFile = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("not a key set's state file: {e}")))?;
        if parsed.format != STATE_FORMAT {
            return Err(bad(format!(
                "its format is {:?}; this cadre reads {STATE_FORMAT:?}",
                parsed.format
            )));
        }
        let mut first = Some(first);
        let mut keys: Vec<SetKey> = Vec::with_capacity(parsed.keys.len());
        for entry in parsed.keys {
            check_kid(&entry.kid).map_err(|e| bad(e.to_string()))?;
            if keys.iter().any(|k| k.key.kid() == entry.kid) {
                return Err(bad(format!("it lists the key {} twice", entry.kid)));
            }
            let (key, file) = match first.take_if(|f| f.kid() == entry.kid) {
                Some(key) => (key, first_file.clone()),
                None => {
                    let file = key_file(dir, &entry.kid);
                    let key = match SigningKey::read(&file) {
                        Err(KeyError::Io { source, .. })
                            if source.kind() == std::io::ErrorKind::NotFound =>
                        {
                            return Err(bad(format!(
                                "it names the key {}, but {} is missing (copy the whole {} \
                                 folder to every node, key files before the state file)",
                                entry.kid,
                                file.display(),
                                KEYS_DIR
                            )));
                        }
                        other => other?,
                    };
                    if key.kid() != entry.kid {
                        return Err(KeyError::Set {
                            path: file,
                            reason: format!(
                                "holds the key {}, not {} as its name and {} say",
                                key.kid(),
                                entry.kid,
                                state.display()
                            ),
                        });
                    }
                    (key, file)
                }
            };
            keys.push(SetKey {
                key,
                state: entry.state,
                created: entry.created,
                activated: entry.activated,
                retired: entry.retired,
                file,
            });
        }
        if let Some(first) = first {
            return Err(bad(format!(
                "it does not list the key of {} ({}), which signed evidence and stays in the \
                 set for ever",
                SIGNING_KEY_FILE,
                first.kid()
            )));
        }
        let current = keys.iter().filter(|k| k.state == KeyState::Current).count();
        if current != 1 {
            return Err(bad(format!(
                "exactly one key must be current; it marks {current}"
            )));
        }
        keys.sort_by_key(|k| k.state != KeyState::Current);
        Ok(KeySet {
            keys,
            state_bytes: Some(bytes),
        })
    }

    /// The key that signs.
    pub fn current(&self) -> &SigningKey {
        &self.keys[0].key
    }

    /// Every key, the current one first, then in the order they were added.
    pub fn keys(&self) -> &[SetKey] {
        &self.keys
    }

    /// The key `kid`, if the set has it.
    pub fn get(&self, kid: &str) -> Option<&SetKey> {
        self.keys.iter().find(|k| k.key.kid() == kid)
    }

    /// Every key as published at `/.well-known/jwks.json`, current first.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self.keys.iter().map(|k| k.key.jwk()).collect::<Vec<Jwk>>(),
        }
    }

    /// Each kid with its state: two sets with the same are the same set.
    pub fn summary(&self) -> Vec<(String, KeyState)> {
        self.keys
            .iter()
            .map(|k| (k.key.kid().to_owned(), k.state))
            .collect()
    }

    /// The state file's bytes this set was read from.
    pub fn state_bytes(&self) -> Option<&[u8]> {
        self.state_bytes.as_deref()
    }

    fn known(&self) -> String {
        self.keys
            .iter()
            .map(|k| k.key.kid())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn find(&self, kid: &str) -> Result<&SetKey, KeyError> {
        check_kid(kid)?;
        self.get(kid).ok_or_else(|| KeyError::UnknownKid {
            kid: kid.to_owned(),
            known: self.known(),
        })
    }

    fn entries(&self) -> Vec<StateEntry> {
        self.keys
            .iter()
            .map(|k| StateEntry {
                kid: k.key.kid().to_owned(),
                state: k.state,
                created: k.created,
                activated: k.activated,
                retired: k.retired,
            })
            .collect()
    }
}

/// Adds a key to the set of `dir`: published and accepted, not signing
/// (phase one of a rotation). Returns its kid.
pub fn add(dir: &Path) -> Result<String, KeyError> {
    let _turn = changing(dir)?;
    let set = KeySet::load(dir)?;
    let folder = dir.join(KEYS_DIR);
    create_private_dir(&folder)?;
    let pkcs8 = SigningKey::generate()?;
    let key = SigningKey::from_pkcs8(pkcs8, &folder)?;
    let kid = key.kid().to_owned();
    if set.get(&kid).is_some() {
        // Two equal SHA-256 prefixes of 96 bits: never, but not silently.
        return Err(KeyError::Random);
    }
    let file = key_file(dir, &kid);
    write_private(&file, key.pkcs8())?;
    let mut entries = set.entries();
    entries.push(StateEntry {
        kid: kid.clone(),
        state: KeyState::Published,
        created: now(),
        activated: None,
        retired: None,
    });
    if let Err(e) = write_state(dir, entries) {
        // Nothing names it: nothing changed.
        let _ = fs::remove_file(&file);
        return Err(e);
    }
    Ok(kid)
}

/// Makes `kid` the key that signs (phase two); the current one is
/// retired. Returns the previous current kid, or none when `kid` was
/// already current (nothing changed).
pub fn activate(dir: &Path, kid: &str) -> Result<Option<String>, KeyError> {
    check_kid(kid)?;
    let _turn = changing(dir)?;
    let set = KeySet::load(dir)?;
    set.find(kid)?;
    let previous = set.current().kid().to_owned();
    if previous == kid {
        return Ok(None);
    }
    let now = now();
    let mut entries = set.entries();
    for entry in &mut entries {
        if entry.kid == kid {
            entry.state = KeyState::Current;
            entry.activated = Some(now);
        } else if entry.state == KeyState::Current {
            entry.state = KeyState::Retired;
            entry.retired = Some(now);
        }
    }
    write_state(dir, entries)?;
    Ok(Some(previous))
}

/// Takes a published key that never signed out of the set (added by
/// mistake, or exposed before use) and deletes its file. A key that
/// signed is refused: its evidence must stay verifiable.
pub fn remove(dir: &Path, kid: &str) -> Result<(), KeyError> {
    check_kid(kid)?;
    let _turn = changing(dir)?;
    let set = KeySet::load(dir)?;
    let found = set.find(kid)?;
    if found.state != KeyState::Published || found.activated.is_some() {
        let state = match found.state {
            KeyState::Current => "current",
            _ => "retired",
        };
        return Err(KeyError::MustStayPublished {
            kid: kid.to_owned(),
            state,
        });
    }
    let file = found.file.clone();
    let entries = set.entries().into_iter().filter(|e| e.kid != kid).collect();
    write_state(dir, entries)?;
    match fs::remove_file(&file) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(KeyError::Io { path: file, source }),
    }
}

/// Waits for this data directory's key set to be free to change, and
/// holds it until the guard drops (the lock goes with the open folder,
/// even when the process dies).
fn changing(dir: &Path) -> Result<fs::File, KeyError> {
    let io = |source| KeyError::Io {
        path: dir.to_owned(),
        source,
    };
    let folder = fs::File::open(dir).map_err(io)?;
    rustix::fs::flock(&folder, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| io(e.into()))?;
    Ok(folder)
}

fn key_file(dir: &Path, kid: &str) -> PathBuf {
    dir.join(KEYS_DIR).join(format!("{kid}.pk8"))
}

fn now() -> DateTime<Utc> {
    // Whole seconds: what the state file and `cadre keys list` show.
    let t = Utc::now();
    DateTime::parse_from_rfc3339(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(t)
}

fn create_private_dir(path: &Path) -> Result<(), KeyError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes the state file whole under a temporary name (0600, synced) and
/// renames it over the old one, then syncs the folder.
fn write_state(dir: &Path, keys: Vec<StateEntry>) -> Result<(), KeyError> {
    let folder = dir.join(KEYS_DIR);
    create_private_dir(&folder)?;
    let path = state_path(dir);
    let temp = folder.join(format!(".{STATE_FILE}.{}", std::process::id()));
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| KeyError::Io { path, source }
    };
    let mut text = serde_json::to_vec_pretty(&StateFile {
        format: STATE_FORMAT.to_owned(),
        keys,
    })
    .map_err(|e| io(&path)(std::io::Error::other(e)))?;
    text.push(b'\n');
    let _ = fs::remove_file(&temp);
    let written = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&temp).map_err(io(&temp))?;
        file.write_all(&text).map_err(io(&temp))?;
        file.sync_all().map_err(io(&temp))?;
        fs::rename(&temp, &path).map_err(io(&path))
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written?;
    if let Ok(folder) = fs::File::open(&folder) {
        let _ = folder.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        KeySet::load_or_create(dir.path()).unwrap();
        dir
    }

    fn kids(set: &KeySet) -> Vec<(String, KeyState)> {
        set.summary()
    }

    #[test]
    fn a_data_directory_without_a_state_file_keeps_its_one_key_and_kid() {
        let dir = tempfile::tempdir().unwrap();
        let first = SigningKey::load_or_create(dir.path()).unwrap().value;
        let set = KeySet::load_or_create(dir.path()).unwrap();
        assert!(!set.created);
        let set = set.value;
        assert_eq!(set.current().kid(), first.kid());
        assert_eq!(
            kids(&set),
            vec![(first.kid().to_owned(), KeyState::Current)]
        );
        assert!(set.state_bytes().is_none());
        assert!(!dir.path().join(KEYS_DIR).exists(), "nothing written");
        assert_eq!(set.jwks().keys.len(), 1);
    }

    #[test]
    fn add_publishes_activate_signs_and_the_previous_key_is_retired() {
        let dir = data_dir();
        let first = KeySet::load(dir.path()).unwrap().current().kid().to_owned();
        let added = add(dir.path()).unwrap();
        let set = KeySet::load(dir.path()).unwrap();
        assert_eq!(
            set.current().kid(),
            first,
            "adding does not change the signer"
        );
        assert_eq!(
            kids(&set),
            vec![
                (first.clone(), KeyState::Current),
                (added.clone(), KeyState::Published)
            ]
        );
        let jwks = set.jwks();
        assert_eq!(jwks.keys[0].kid, first, "current first");
        assert_eq!(jwks.keys[1].kid, added);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&key_file(dir.path(), &added)), 0o600);
            assert_eq!(mode(&state_path(dir.path())), 0o600);
            assert_eq!(mode(&dir.path().join(KEYS_DIR)), 0o700);
        }

        assert_eq!(activate(dir.path(), &added).unwrap(), Some(first.clone()));
        let set = KeySet::load(dir.path()).unwrap();
        assert_eq!(set.current().kid(), added);
        assert_eq!(
            kids(&set),
            vec![
                (added.clone(), KeyState::Current),
                (first.clone(), KeyState::Retired)
            ]
        );
        assert!(set.get(&added).unwrap().activated.is_some());
        assert!(set.get(&first).unwrap().retired.is_some());
        assert_eq!(
            set.get(&first).unwrap().file,
            dir.path().join(SIGNING_KEY_FILE),
            "the first key stays where it was"
        );
        // Activating the current key changes nothing.
        let before = fs::read(state_path(dir.path())).unwrap();
        assert_eq!(activate(dir.path(), &added).unwrap(), None);
        assert_eq!(fs::read(state_path(dir.path())).unwrap(), before);
        // Going back to the first key is a rotation like another.
        assert_eq!(activate(dir.path(), &first).unwrap(), Some(added.clone()));
        assert_eq!(KeySet::load(dir.path()).unwrap().current().kid(), first);
    }

    #[test]
    fn bad_requests_are_refused_and_change_nothing() {
        let dir = data_dir();
        let added = add(dir.path()).unwrap();
        let before = fs::read(state_path(dir.path())).unwrap();
        let unchanged = || assert_eq!(fs::read(state_path(dir.path())).unwrap(), before);

        for malformed in ["", "short", "../../etc/passwd", "abcdefghijklmnop!", "é"] {
            let e = activate(dir.path(), malformed).unwrap_err();
            assert!(matches!(e, KeyError::MalformedKid(_)), "{malformed}: {e}");
            assert!(e.to_string().contains("nothing was changed"), "{e}");
            unchanged();
        }
        let e = activate(dir.path(), "AAAAAAAAAAAAAAAA").unwrap_err();
        assert!(matches!(e, KeyError::UnknownKid { .. }), "{e}");
        assert!(e.to_string().contains(&added), "lists the known kids: {e}");
        unchanged();

        // A key that signed stays.
        let first = KeySet::load(dir.path()).unwrap().current().kid().to_owned();
        let e = remove(dir.path(), &first).unwrap_err();
        assert!(
            matches!(
                e,
                KeyError::MustStayPublished {
                    state: "current",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("verifiable"), "{e}");
        activate(dir.path(), &added).unwrap();
        let e = remove(dir.path(), &first).unwrap_err();
        assert!(
            matches!(
                e,
                KeyError::MustStayPublished {
                    state: "retired",
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(KeySet::load(dir.path()).unwrap().keys().len(), 2);

        // A published key that never signed can go, file and all.
        let spare = add(dir.path()).unwrap();
        remove(dir.path(), &spare).unwrap();
        assert!(!key_file(dir.path(), &spare).exists());
        assert!(KeySet::load(dir.path()).unwrap().get(&spare).is_none());
    }

    /// Two commands changing the set at once (two processes, or two
    /// threads: the lock is on the file either way) lose nothing.
    #[test]
    fn changes_made_at_once_all_land() {
        let dir = data_dir();
        let first = KeySet::load(dir.path()).unwrap().current().kid().to_owned();
        let adders: Vec<_> = (0..2)
            .map(|_| {
                let path = dir.path().to_owned();
                std::thread::spawn(move || (0..8).map(|_| add(&path).unwrap()).collect::<Vec<_>>())
            })
            .collect();
        let mut added: Vec<String> = adders.into_iter().flat_map(|t| t.join().unwrap()).collect();
        added.sort();
        let set = KeySet::load(dir.path()).unwrap();
        let mut listed: Vec<String> = set
            .keys()
            .iter()
            .map(|k| k.key.kid().to_owned())
            .filter(|kid| *kid != first)
            .collect();
        listed.sort();
        assert_eq!(listed, added, "every added key is in the set");
    }

    #[test]
    fn a_damaged_set_is_refused_naming_the_file() {
        // A corrupted added key.
        let dir = data_dir();
        let added = add(dir.path()).unwrap();
        fs::write(key_file(dir.path(), &added), b"not a key").unwrap();
        let e = KeySet::load(dir.path()).unwrap_err();
        assert!(matches!(e, KeyError::Invalid(_)), "{e}");
        assert!(e.to_string().contains(&format!("{added}.pk8")), "{e}");
        // And nothing can be changed on it.
        let before = fs::read(state_path(dir.path())).unwrap();
        assert!(activate(dir.path(), &added).is_err());
        assert!(add(dir.path()).is_err());
        assert_eq!(fs::read(state_path(dir.path())).unwrap(), before);

        // A corrupted first key, with or without a state file.
        let dir = data_dir();
        fs::write(dir.path().join(SIGNING_KEY_FILE), b"garbage").unwrap();
        let e = KeySet::load_or_create(dir.path()).map(|_| ()).unwrap_err();
        assert!(e.to_string().contains(SIGNING_KEY_FILE), "{e}");

        // A state file naming a key whose file is missing.
        let dir = data_dir();
        let added = add(dir.path()).unwrap();
        fs::remove_file(key_file(dir.path(), &added)).unwrap();
        let e = KeySet::load(dir.path()).unwrap_err();
        let text = e.to_string();
        assert!(text.contains(STATE_FILE) && text.contains(&added), "{text}");
        assert!(text.contains("is missing"), "{text}");

        // A key file holding another key than its name says.
        let dir = data_dir();
        let one = add(dir.path()).unwrap();
        let two = add(dir.path()).unwrap();
        fs::copy(key_file(dir.path(), &one), key_file(dir.path(), &two)).unwrap();
        let e = KeySet::load(dir.path()).unwrap_err();
        assert!(e.to_string().contains(&format!("{two}.pk8")), "{e}");

        // A state file that is not one, or marks no current key, or
        // forgets the first key.
        let dir = data_dir();
        let added = add(dir.path()).unwrap();
        let first = fs::read(dir.path().join(SIGNING_KEY_FILE)).unwrap();
        let first = SigningKey::from_pkcs8(first, Path::new("x")).unwrap();
        let state = state_path(dir.path());
        let entry = |kid: &str, state: &str| {
            format!(r#"{{"kid":"{kid}","state":"{state}","created":"2026-12-02T10:00:00Z"}}"#)
        };
        for (text, says) in [
            ("{".to_owned(), "not a key set's state file"),
            (
                format!(
                    r#"{{"format":"cadre-keys/1","keys":[{},{}]}}"#,
                    entry(first.kid(), "retired"),
                    entry(&added, "published")
                ),
                "exactly one key must be current; it marks 0",
            ),
            (
                format!(
                    r#"{{"format":"cadre-keys/1","keys":[{}]}}"#,
                    entry(&added, "current")
                ),
                "does not list the key of signing-key.pk8",
            ),
            (
                format!(
                    r#"{{"format":"cadre-keys/9","keys":[{}]}}"#,
                    entry(first.kid(), "current")
                ),
                "this cadre reads",
            ),
        ] {
            fs::write(&state, &text).unwrap();
            let e = KeySet::load(dir.path()).unwrap_err().to_string();
            assert!(e.contains(STATE_FILE) && e.contains(says), "{text}: {e}");
        }

        // A state file without the first key file beside it.
        let dir = data_dir();
        add(dir.path()).unwrap();
        fs::remove_file(dir.path().join(SIGNING_KEY_FILE)).unwrap();
        let e = KeySet::load_or_create(dir.path())
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(e.contains(SIGNING_KEY_FILE) && e.contains("missing"), "{e}");
        assert!(
            !dir.path().join(SIGNING_KEY_FILE).exists(),
            "no new first key is made behind the set's back"
        );
    }
}
