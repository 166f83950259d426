//! `cadre backup` and `cadre restore`: a consistent copy of a data
//! directory taken while a server runs on it, and putting one back.
//!
//! What belongs in a backup (the data directory's files, decided one by
//! one; `docs/operations.md`, "Backups and restore"):
//! - `cadre.sqlite3` (the catalogue) and `ledger.sqlite3` (the evidence),
//!   copied with SQLite's online backup API, never as files: a file copy
//!   of a live WAL database can tear between the file and its `-wal`. Each
//!   copy is one read transaction, so it is the database at one moment, and
//!   in WAL mode a reader never blocks the server's writers. The catalogue
//!   is copied first: the server writes a change's ledger entry before the
//!   catalogue change (a report's answer), so every catalogue change in the
//!   copy has its entry in the later ledger copy.
//! - `signing-key.pk8` and `organiser-token` (secrets: the backup directory
//!   is created 0700 and they are written 0600), and `public-url`; the
//!   key set's `keys/` folder (its state file first, then the key files, so
//!   that every key the copied state names is copied).
//! - recordings only with `--with-recordings`: large media files, copied
//!   after the databases; files still being written (`.…part`) are left
//!   out.
//! - never `-wal` and `-shm` files (their content is in the online copy);
//!   anything else found is named on the report as left out.
//!
//! The backup is written under a temporary name beside the destination and
//! renamed to it only when complete, with `manifest.json` (every file's
//! size and SHA-256, each session's ledger size and latest signed tree head,
//! the cadre version). A failure (a full disk) removes the temporary
//! directory: nothing half-made ever carries the destination's name.
//! Restore checks every hash before it writes anything.

use crate::directory::catalog::DB_FILE;
use crate::directory::keys::set::{KEYS_DIR, STATE_FILE as KEY_STATE_FILE};
use crate::directory::keys::{ORGANISER_TOKEN_FILE, SIGNING_KEY_FILE};
use crate::evidence::ledger::sqlite::LEDGER_FILE;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// The manifest's file name, at the backup's root.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The manifest's format.
pub const FORMAT: &str = "cadre-backup/1";
/// Where recordings go inside a backup (and in a data directory by default).
pub const RECORDINGS: &str = "recordings";

/// Small files of the data directory copied as they are (they are written
/// once, atomically, and never rewritten in place).
const PLAIN_FILES: [&str; 3] = [
    SIGNING_KEY_FILE,
    ORGANISER_TOKEN_FILE,
    crate::PUBLIC_URL_FILE,
];

/// Why a backup or a restore failed. Nothing half-made is left under the
/// final name either way.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The source is not a data directory.
    #[error("no cadre data in {}: {file} is missing (pass --data-dir)", dir.display())]
    NoData {
        /// The directory.
        dir: PathBuf,
        /// The missing file.
        file: &'static str,
    },
    /// The destination is taken.
    #[error("{} already exists: a backup is never written over anything; choose a new name", .0.display())]
    DestinationExists(PathBuf),
    /// A file operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// SQLite refused (a full disk, a damaged file).
    #[error("{what} {}: {source}", path.display())]
    Sqlite {
        /// What was being done.
        what: &'static str,
        /// On which database.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The source of a restore is not a backup.
    #[error("{} is not a cadre backup: {reason}", path.display())]
    NotABackup {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file of the backup does not match its manifest.
    #[error("the backup is damaged, nothing was restored: {path}: {reason}")]
    Damaged {
        /// The file, as the manifest names it.
        path: String,
        /// What does not match.
        reason: String,
    },
    /// The restore's target holds files.
    #[error(
        "{} is not empty ({count} entries): restore only into an empty directory, or pass --force to replace the backup's files there",
        dir.display()
    )]
    NotEmpty {
        /// The directory.
        dir: PathBuf,
        /// How many entries it holds.
        count: usize,
    },
}

type Result<T> = std::result::Result<T, BackupError>;

/// What a backup holds, written beside its files.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The version of the cadre that took it.
    pub cadre_version: String,
    /// When it was taken (RFC 3339, UTC).
    pub created_at: String,
    /// Whether recordings were copied.
    pub with_recordings: bool,
    /// Every file but the manifest, in copy order.
    pub files: Vec<ManifestFile>,
    /// Each session's log in the copied ledger.
    pub ledger: Vec<LedgerHead>,
}

/// One file of a backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestFile {
    /// Relative path, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// One session's log as the backup holds it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LedgerHead {
    /// Session id.
    pub sid: String,
    /// Entries in the copy.
    pub entries: u64,
    /// Entries the latest signed tree head covers (may be fewer than
    /// `entries`: heads are signed on demand).
    pub tree_size: Option<u64>,
    /// Its root, hex.
    pub root: Option<String>,
    /// The signed tree head itself (compact JWS): a receipt of the backup.
    pub tree_head: Option<String>,
}

/// What `cadre backup` is asked.
#[derive(Debug, Clone)]
pub struct BackupRequest {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The backup directory to create (must not exist).
    pub dest: PathBuf,
    /// Copy recordings too.
    pub with_recordings: bool,
    /// Where recordings are (default `{data_dir}/recordings`).
    pub recordings_dir: Option<PathBuf>,
}

/// What a backup did.
#[derive(Debug)]
pub struct BackupReport {
    /// The manifest written.
    pub manifest: Manifest,
    /// Entries of the data directory deliberately left out, with why.
    pub left_out: Vec<(String, &'static str)>,
}

/// Takes a backup (blocking: run it off the async runtime).
pub fn backup(request: &BackupRequest) -> Result<BackupReport> {
    let data = &request.data_dir;
    for file in [DB_FILE, LEDGER_FILE, SIGNING_KEY_FILE] {
        if !data.join(file).is_file() {
            return Err(BackupError::NoData {
                dir: data.clone(),
                file,
            });
        }
    }
    let dest = &request.dest;
    if dest.symlink_metadata().is_ok() {
        return Err(BackupError::DestinationExists(dest.clone()));
    }
    let name = dest
        .file_name()
        .ok_or_else(|| BackupError::Io {
            what: "the destination has no name:",
            path: dest.clone(),
            source: std::io::ErrorKind::InvalidInput.into(),
        })?
        .to_string_lossy()
        .into_owned();
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let temp = parent.join(format!(".{name}.partial-{}", std::process::id()));
    create_private_dir(&temp)?;
    match fill(request, &temp) {
        Ok(report) => {
            std::fs::rename(&temp, dest).map_err(|source| {
                let _ = std::fs::remove_dir_all(&temp);
                BackupError::Io {
                    what: "renaming the complete backup to",
                    path: dest.clone(),
                    source,
                }
            })?;
            sync_dir(&parent);
            Ok(report)
        }
        Err(e) => {
            // Best effort: a disk that is full can still delete.
            let _ = std::fs::remove_dir_all(&temp);
            Err(e)
        }
    }
}

fn fill(request: &BackupRequest, temp: &Path) -> Result<BackupReport> {
    let data = &request.data_dir;
    let mut files = Vec::new();
    for db in [DB_FILE, LEDGER_FILE] {
        copy_database(&data.join(db), &temp.join(db))?;
        files.push(describe(temp, db)?);
    }
    let ledger = ledger_heads(&temp.join(LEDGER_FILE))?;
    for file in PLAIN_FILES {
        let from = data.join(file);
        if from.is_file() {
            files.push(copy_file(&from, temp, file)?);
        }
    }
    let keys_dir = data.join(KEYS_DIR);
    if keys_dir.is_dir() {
        let state = keys_dir.join(KEY_STATE_FILE);
        if state.is_file() {
            let shown = format!("{KEYS_DIR}/{KEY_STATE_FILE}");
            files.push(copy_file(&state, temp, &shown)?);
        }
        for relative in files_below(&keys_dir, Path::new(""))? {
            let name = slash(&relative);
            // The state file is copied above; a temporary one is being written.
            if name.ends_with(".pk8") && !name.contains('/') {
                let shown = format!("{KEYS_DIR}/{name}");
                files.push(copy_file(&keys_dir.join(&relative), temp, &shown)?);
            }
        }
    }
    let recordings_dir = request
        .recordings_dir
        .clone()
        .unwrap_or_else(|| data.join(RECORDINGS));
    if request.with_recordings && recordings_dir.is_dir() {
        for relative in files_below(&recordings_dir, Path::new(""))? {
            let shown = format!("{RECORDINGS}/{}", slash(&relative));
            files.push(copy_file(&recordings_dir.join(&relative), temp, &shown)?);
        }
    }
    let mut left_out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(data) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let why = if name.ends_with("-wal") || name.ends_with("-shm") {
                "its content is in the database's online copy"
            } else if name == RECORDINGS {
                if request.with_recordings {
                    continue;
                }
                "recordings are copied only with --with-recordings"
            } else if name == DB_FILE
                || name == LEDGER_FILE
                || name == KEYS_DIR
                || PLAIN_FILES.contains(&name.as_str())
            {
                continue;
            } else {
                "not a file cadre writes"
            };
            left_out.push((name, why));
        }
    }
    left_out.sort();
    let manifest = Manifest {
        format: FORMAT.into(),
        cadre_version: env!("CARGO_PKG_VERSION").into(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        with_recordings: request.with_recordings,
        files,
        ledger,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError::Io {
        what: "writing",
        path: temp.join(MANIFEST_FILE),
        source: std::io::Error::other(e),
    })?;
    write_new(&temp.join(MANIFEST_FILE), &text)?;
    sync_dir(temp);
    Ok(BackupReport { manifest, left_out })
}

/// The online copy of one SQLite database, checked, closed, synced.
fn copy_database(from: &Path, to: &Path) -> Result<()> {
    let sqlite = |what, path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Sqlite { what, path, source }
    };
    // Read-write so that the WAL index can be used; nothing is written.
    let source = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite("opening", from))?;
    source
        .busy_timeout(Duration::from_secs(5))
        .map_err(sqlite("opening", from))?;
    let mut copy = Connection::open(to).map_err(sqlite("creating the copy", to))?;
    // The copy is a new file under a temporary name, synced once at the end
    // and thrown away whole on failure: a journal and a sync per step would
    // only double its writes.
    copy.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
        .map_err(sqlite("creating the copy", to))?;
    {
        let online = rusqlite::backup::Backup::new(&source, &mut copy)
            .map_err(sqlite("starting the online backup of", from))?;
        // Every page in one step: one read transaction, so the copy is the
        // database at one moment; in WAL mode it never blocks the writer,
        // and a step that finds the file busy is retried.
        online
            .run_to_completion(i32::MAX, Duration::from_millis(20), None)
            .map_err(sqlite("copying", from))?;
    }
    let check: String = copy
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(sqlite("checking the copy", to))?;
    if check != "ok" {
        return Err(BackupError::Damaged {
            path: to.display().to_string(),
            reason: format!("the copy fails SQLite's check: {check}"),
        });
    }
    // One self-contained file (no -wal beside it); the server sets WAL
    // again when it opens a restored copy.
    let _: String = copy
        .query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))
        .map_err(sqlite("closing the copy", to))?;
    copy.close()
        .map_err(|(_, e)| sqlite("closing the copy", to)(e))?;
    let file = std::fs::File::open(to).map_err(io("syncing", to))?;
    file.sync_all().map_err(io("syncing", to))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600))
            .map_err(io("protecting", to))?;
    }
    Ok(())
}

/// Each session's entry count and latest signed tree head in a ledger copy.
fn ledger_heads(path: &Path) -> Result<Vec<LedgerHead>> {
    let sqlite = |source| BackupError::Sqlite {
        what: "reading the tree heads of",
        path: path.to_owned(),
        source,
    };
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sqlite)?;
    let mut statement = conn
        .prepare(
            "SELECT e.sid, e.n, h.tree_size, lower(hex(h.root)), h.jws
             FROM (SELECT sid, count(*) AS n FROM entries GROUP BY sid) e
             LEFT JOIN tree_heads h ON h.id = (SELECT max(id) FROM tree_heads WHERE sid = e.sid)
             ORDER BY e.sid",
        )
        .map_err(sqlite)?;
    let rows = statement
        .query_map([], |r| {
            Ok(LedgerHead {
                sid: r.get(0)?,
                entries: r.get::<_, i64>(1)? as u64,
                tree_size: r.get::<_, Option<i64>>(2)?.map(|n| n as u64),
                root: r.get(3)?,
                tree_head: r.get(4)?,
            })
        })
        .map_err(sqlite)?;
    rows.collect::<std::result::Result<_, _>>().map_err(sqlite)
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_owned();
    move |source| BackupError::Io { what, path, source }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io("creating", dir))
}

fn sync_dir(dir: &Path) {
    // Best effort: makes the renames and new names durable where the
    // platform can.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Writes a new file (0600), synced.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = new_private_file(path)?;
    file.write_all(bytes).map_err(io("writing", path))?;
    file.sync_all().map_err(io("syncing", path))
}

fn new_private_file(path: &Path) -> Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(io("creating", path))
}

/// Copies `from` to `root/relative` (0600, synced), hashing what it writes.
fn copy_file(from: &Path, root: &Path, relative: &str) -> Result<ManifestFile> {
    let to = root.join(relative);
    if let Some(dir) = to.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir).map_err(io("creating", dir))?;
    }
    let mut input = std::fs::File::open(from).map_err(io("reading", from))?;
    let mut output = new_private_file(&to)?;
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut buf).map_err(io("reading", from))?;
        if n == 0 {
            break;
        }
        output.write_all(&buf[..n]).map_err(io("writing", &to))?;
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    output.sync_all().map_err(io("syncing", &to))?;
    Ok(ManifestFile {
        path: relative.to_owned(),
        bytes,
        sha256: hex(&hasher.finalize()),
    })
}

/// Size and hash of a file already in the backup.
fn describe(root: &Path, relative: &str) -> Result<ManifestFile> {
    let (bytes, sha256) = hash_file(&root.join(relative))?;
    Ok(ManifestFile {
        path: relative.to_owned(),
        bytes,
        sha256,
    })
}

fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut input = std::fs::File::open(path).map_err(io("reading", path))?;
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut buf).map_err(io("reading", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((bytes, hex(&hasher.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn slash(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every regular file below `root/relative`, as paths relative to `root`,
/// sorted; names starting with `.` (files being written) are skipped.
fn files_below(root: &Path, relative: &Path) -> Result<Vec<PathBuf>> {
    let dir = root.join(relative);
    let mut out = Vec::new();
    let entries = std::fs::read_dir(&dir).map_err(io("listing", &dir))?;
    for entry in entries {
        let entry = entry.map_err(io("listing", &dir))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(io("listing", &dir))?;
        let path = relative.join(&name);
        if kind.is_dir() {
            out.extend(files_below(root, &path)?);
        } else if kind.is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

// ---------------------------------------------------------------------------
// Restore
// ---------------------------------------------------------------------------

/// Reads and checks a backup's manifest and every file it lists, without
/// writing anything.
pub fn check(src: &Path) -> Result<Manifest> {
    let not = |reason: String| BackupError::NotABackup {
        path: src.to_owned(),
        reason,
    };
    let text = std::fs::read(src.join(MANIFEST_FILE))
        .map_err(|e| not(format!("cannot read {MANIFEST_FILE}: {e}")))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| not(format!("{MANIFEST_FILE} does not parse: {e}")))?;
    if manifest.format != FORMAT {
        return Err(not(format!(
            "its format is {:?}; this cadre reads {FORMAT:?}",
            manifest.format
        )));
    }
    for needed in [DB_FILE, LEDGER_FILE, SIGNING_KEY_FILE] {
        if !manifest.files.iter().any(|f| f.path == needed) {
            return Err(not(format!("the manifest lists no {needed}")));
        }
    }
    for f in &manifest.files {
        let relative = safe_relative(&f.path).ok_or_else(|| BackupError::Damaged {
            path: f.path.clone(),
            reason: "not a plain relative path".into(),
        })?;
        let damaged = |reason: String| BackupError::Damaged {
            path: f.path.clone(),
            reason,
        };
        let (bytes, sha256) = match hash_file(&src.join(&relative)) {
            Ok(found) => found,
            Err(BackupError::Io { source, .. }) => {
                return Err(damaged(format!("cannot read it: {source}")));
            }
            Err(e) => return Err(e),
        };
        if bytes != f.bytes {
            return Err(damaged(format!(
                "{bytes} bytes where the manifest says {}",
                f.bytes
            )));
        }
        if sha256 != f.sha256 {
            return Err(damaged(format!(
                "its SHA-256 is {sha256}, the manifest says {}",
                f.sha256
            )));
        }
    }
    // A file the manifest does not list was not written by the backup.
    let listed: std::collections::HashSet<PathBuf> = manifest
        .files
        .iter()
        .filter_map(|f| safe_relative(&f.path))
        .chain([PathBuf::from(MANIFEST_FILE)])
        .collect();
    for found in files_below(src, Path::new(""))? {
        if !listed.contains(&found) {
            return Err(BackupError::Damaged {
                path: slash(&found),
                reason: "the manifest does not list it".into(),
            });
        }
    }
    Ok(manifest)
}

fn safe_relative(path: &str) -> Option<PathBuf> {
    let p = PathBuf::from(path);
    (!path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))).then_some(p)
}

/// Puts the backup at `src` into `data_dir` (blocking). Every hash is
/// checked first; the target must be empty unless `force`, which replaces
/// the backup's files there (and drops the databases' stale `-wal`/`-shm`).
/// Stop any server on `data_dir` first.
pub fn restore(src: &Path, data_dir: &Path, force: bool) -> Result<Manifest> {
    let manifest = check(src)?;
    match std::fs::read_dir(data_dir) {
        Ok(entries) => {
            let count = entries.count();
            if count > 0 && !force {
                return Err(BackupError::NotEmpty {
                    dir: data_dir.to_owned(),
                    count,
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir).map_err(io("creating", data_dir))?;
        }
        Err(source) => {
            return Err(BackupError::Io {
                what: "reading",
                path: data_dir.to_owned(),
                source,
            });
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io("protecting", data_dir))?;
    }
    // A WAL left beside a replaced database would be replayed into it.
    for db in [DB_FILE, LEDGER_FILE] {
        for suffix in ["-wal", "-shm"] {
            let stale = data_dir.join(format!("{db}{suffix}"));
            match std::fs::remove_file(&stale) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(BackupError::Io {
                        what: "removing",
                        path: stale,
                        source,
                    });
                }
            }
        }
    }
    for f in &manifest.files {
        let relative = safe_relative(&f.path).ok_or_else(|| BackupError::Damaged {
            path: f.path.clone(),
            reason: "not a plain relative path".into(),
        })?;
        let target = data_dir.join(&relative);
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let part = format!(".{name}.restoring");
        let part_relative = relative.with_file_name(&part);
        let _ = std::fs::remove_file(data_dir.join(&part_relative));
        let copied = copy_file(&src.join(&relative), data_dir, &slash(&part_relative))?;
        if copied.sha256 != f.sha256 {
            let _ = std::fs::remove_file(data_dir.join(&part_relative));
            return Err(BackupError::Damaged {
                path: f.path.clone(),
                reason: "it changed while it was being restored".into(),
            });
        }
        std::fs::rename(data_dir.join(&part_relative), &target).map_err(io("placing", &target))?;
    }
    for db in [DB_FILE, LEDGER_FILE] {
        let path = data_dir.join(db);
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(
            |source| BackupError::Sqlite {
                what: "opening the restored",
                path: path.clone(),
                source,
            },
        )?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|source| BackupError::Sqlite {
                what: "checking the restored",
                path: path.clone(),
                source,
            })?;
        if check != "ok" {
            return Err(BackupError::Damaged {
                path: db.into(),
                reason: format!("SQLite's check of the restored file: {check}"),
            });
        }
    }
    sync_dir(data_dir);
    Ok(manifest)
}
