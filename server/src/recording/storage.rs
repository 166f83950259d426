//! Every byte the recorder puts on disk goes through here: a quota shared by
//! the whole recordings directory, and a file that only ever grows by whole
//! chunks (a chunk is one IVF frame or one Ogg page, with the file header
//! before the first one).
//!
//! A chunk is either entirely on disk or not at all: the quota is reserved
//! before the write, and a write that fails half-way (a real `ENOSPC`) is cut
//! back to the previous length. So a file stays a sequence of complete frames
//! or pages whatever happens to the disk.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The byte budget of the recordings directory.
#[derive(Debug)]
pub(crate) struct Quota {
    limit: Option<u64>,
    used: AtomicU64,
    /// Bytes appended since start (never given back), for `/metrics`.
    written: AtomicU64,
}

impl Quota {
    /// A budget of `limit` bytes (none: only the disk's own limit), `used`
    /// of which are already taken.
    pub(crate) fn new(limit: Option<u64>, used: u64) -> Quota {
        Quota {
            limit,
            used: AtomicU64::new(used),
            written: AtomicU64::new(0),
        }
    }

    /// Bytes counted as used.
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    /// True when not one more byte fits.
    /// Bytes appended to recording files since start.
    pub(crate) fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    pub(crate) fn exhausted(&self) -> bool {
        self.limit.is_some_and(|limit| self.used() >= limit)
    }

    /// Takes `n` bytes of the budget, or fails with
    /// [`io::ErrorKind::StorageFull`] without taking any.
    pub(crate) fn reserve(&self, n: u64) -> io::Result<()> {
        let mut current = self.used.load(Ordering::SeqCst);
        loop {
            let next = current
                .checked_add(n)
                .ok_or_else(|| full(self.limit, current, n))?;
            if let Some(limit) = self.limit
                && next > limit
            {
                return Err(full(self.limit, current, n));
            }
            match self
                .used
                .compare_exchange(current, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Ok(()),
                Err(actual) => current = actual,
            }
        }
    }

    /// Gives `n` bytes back (never below zero).
    pub(crate) fn release(&self, n: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| {
                Some(u.saturating_sub(n))
            });
    }
}

fn full(limit: Option<u64>, used: u64, wanted: u64) -> io::Error {
    let limit = limit.map_or_else(|| "unlimited".to_owned(), |l| l.to_string());
    io::Error::new(
        io::ErrorKind::StorageFull,
        format!("recording quota reached: {used} of {limit} bytes used, {wanted} more needed"),
    )
}

/// True for the errors that mean "no more room": the quota, `ENOSPC`,
/// `EDQUOT`, `EFBIG`.
pub(crate) fn is_storage_full(e: &io::Error) -> bool {
    if matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::FileTooLarge
    ) {
        return true;
    }
    // Older kernels or odd file systems: the raw numbers (Linux values).
    #[cfg(target_os = "linux")]
    {
        const ENOSPC: i32 = 28;
        const EFBIG: i32 = 27;
        const EDQUOT: i32 = 122;
        if matches!(e.raw_os_error(), Some(ENOSPC | EFBIG | EDQUOT)) {
            return true;
        }
    }
    false
}

/// A recording file that grows by whole chunks, each counted against the
/// [`Quota`]. Created by its first chunk, so a track that never delivers a
/// frame leaves no file behind.
#[derive(Debug)]
pub(crate) struct QuotaFile {
    path: PathBuf,
    file: Option<File>,
    /// Bytes of complete chunks on disk.
    len: u64,
}

impl QuotaFile {
    /// A file at `path`, not created yet.
    pub(crate) fn new(path: PathBuf) -> QuotaFile {
        QuotaFile {
            path,
            file: None,
            len: 0,
        }
    }

    /// Wraps an already open file (tests: `/dev/full`).
    #[cfg(test)]
    pub(crate) fn from_file(path: PathBuf, file: File) -> QuotaFile {
        QuotaFile {
            path,
            file: Some(file),
            len: 0,
        }
    }

    /// True once the first chunk is on disk (an empty file never stays).
    pub(crate) fn exists(&self) -> bool {
        self.len > 0
    }

    /// Bytes on disk.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends `chunk` entirely or not at all. The file is created (new,
    /// never replacing one, mode 0600) by the first chunk. On failure the
    /// file is cut back to its previous length (removed if that is zero) and
    /// the reserved bytes are given back.
    pub(crate) fn append(&mut self, quota: &Quota, chunk: &[u8]) -> io::Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        let n = chunk.len() as u64;
        quota.reserve(n)?;
        let mut created_here = false;
        if self.file.is_none() {
            match create_new(&self.path) {
                Ok(f) => {
                    self.file = Some(f);
                    created_here = true;
                }
                Err(e) => {
                    quota.release(n);
                    return Err(e);
                }
            }
        }
        let Some(file) = &self.file else {
            quota.release(n);
            return Err(io::Error::other("recording file vanished"));
        };
        match write_all_at(file, chunk, self.len) {
            Ok(()) => {
                self.len += n;
                quota.written.fetch_add(n, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                // A partial write may have grown the file: cut it back so it
                // ends on a whole chunk.
                if let Err(t) = file.set_len(self.len) {
                    tracing::warn!(path = %self.path.display(), "cannot cut a recording back after a failed write: {t}");
                }
                quota.release(n);
                // Only a file this call created is removed: never anything
                // that was there before (the test wraps /dev/full).
                if created_here && self.len == 0 {
                    self.file = None;
                    if let Err(r) = std::fs::remove_file(&self.path) {
                        tracing::warn!(path = %self.path.display(), "cannot remove an empty recording: {r}");
                    }
                }
                Err(e)
            }
        }
    }

    /// Overwrites bytes already on disk (header fix-ups): never grows the
    /// file, so it takes nothing from the quota.
    pub(crate) fn patch(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let end = offset.checked_add(bytes.len() as u64);
        if end.is_none_or(|end| end > self.len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a header fix-up past the end of the recording",
            ));
        }
        write_all_at(file, bytes, offset)
    }

    /// Flushes the file's data and metadata to the disk.
    pub(crate) fn sync(&self) -> io::Result<()> {
        match &self.file {
            Some(f) => f.sync_all(),
            None => Ok(()),
        }
    }

    /// Closes the handle (the file stays).
    pub(crate) fn close(&mut self) {
        self.file = None;
    }
}

fn create_new(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(unix)]
fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(buf, offset)
}

#[cfg(not(unix))]
fn write_all_at(mut file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(buf)
}

/// Bytes of the regular files under `dir` (symbolic links not followed); 0
/// if it does not exist.
pub(crate) fn bytes_under(dir: &Path) -> io::Result<u64> {
    let mut total = 0u64;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let meta = std::fs::symlink_metadata(entry.path())?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                total = total.saturating_add(meta.len());
            }
        }
    }
    Ok(total)
}

/// Flushes a directory's entries (new files, new subdirectories).
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_refuses_what_does_not_fit_and_takes_nothing() {
        let q = Quota::new(Some(100), 40);
        q.reserve(60).expect("exactly fits");
        assert_eq!(q.used(), 100);
        let e = q.reserve(1).expect_err("over the quota");
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        assert!(is_storage_full(&e));
        assert_eq!(q.used(), 100);
        assert!(q.exhausted());
        q.release(150);
        assert_eq!(q.used(), 0);
        let unlimited = Quota::new(None, u64::MAX - 1);
        assert!(
            unlimited.reserve(2).is_err(),
            "overflow is full, not a wrap"
        );
    }

    #[test]
    fn chunks_are_all_or_nothing_against_the_quota() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a.ogg");
        let q = Quota::new(Some(10), 0);
        let mut f = QuotaFile::new(path.clone());
        let e = f.append(&q, &[1; 11]).expect_err("does not fit");
        assert!(is_storage_full(&e));
        assert!(!path.exists(), "no file for a refused first chunk");
        f.append(&q, &[1; 6]).expect("fits");
        let e = f.append(&q, &[2; 6]).expect_err("does not fit");
        assert!(is_storage_full(&e));
        assert_eq!(std::fs::read(&path).expect("read"), vec![1; 6]);
        assert_eq!(q.used(), 6);
        f.patch(0, &[9]).expect("patch");
        assert!(f.patch(5, &[9, 9]).is_err(), "a patch never grows the file");
        assert_eq!(std::fs::read(&path).expect("read"), [9, 1, 1, 1, 1, 1]);
        assert_eq!(q.used(), 6);
    }

    /// A real `ENOSPC` from the kernel (`/dev/full` answers every write with
    /// it) is classified as storage full, and the quota is given back.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_real_enospc_is_storage_full() {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("open /dev/full");
        let q = Quota::new(Some(1_000_000), 0);
        let mut f = QuotaFile::from_file(PathBuf::from("/dev/full"), file);
        let e = f.append(&q, &[0u8; 4096]).expect_err("/dev/full is full");
        assert!(is_storage_full(&e), "ENOSPC not recognised: {e:?}");
        assert_eq!(q.used(), 0, "the reservation is given back");
        assert!(std::path::Path::new("/dev/full").exists());
    }
}
