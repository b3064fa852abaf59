//! Where a stack's state lives: a local SQLite file (the default) or an
//! object in S3 (`s3://bucket/prefix`), chosen per stack. The secrets key
//! always stays local (key file, or the environment): it never goes to S3.

use std::path::{Path, PathBuf};

use super::keys::{self, KeySource};
use super::lock;
use super::remote::{RemoteStore, MOVED_TO_META};
use super::s3::{S3Blob, S3Url};
use super::{Result, SqliteStore, StateError, StateStore};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// `<dir>/<stack>.db`.
    Local(PathBuf),
    S3(S3Url),
}

impl Backend {
    /// `local` (the state directory) or `s3://bucket/prefix[?region=R]`.
    pub fn parse(url: &str, state_dir: &Path) -> std::result::Result<Backend, String> {
        match url.trim() {
            "" | "local" => Ok(Backend::Local(state_dir.to_path_buf())),
            u if u.starts_with("s3://") => S3Url::parse(u).map(Backend::S3),
            u => Err(format!(
                "{u:?} is not a state backend (use \"local\" or \"s3://bucket/prefix\")"
            )),
        }
    }

    /// The URL a user would give for it.
    pub fn url(&self) -> String {
        match self {
            Backend::Local(_) => "local".into(),
            Backend::S3(u) => u.to_string(),
        }
    }

    /// What a moved state names as its new place.
    pub fn url_for(&self, stack: &str) -> String {
        match self {
            Backend::Local(_) => format!(
                "local ({} on host {})",
                self.describe(stack),
                lock::this_host()
            ),
            Backend::S3(u) => u.to_string(),
        }
    }

    /// Where the state of `stack` is, for messages.
    pub fn describe(&self, stack: &str) -> String {
        match self {
            Backend::Local(dir) => keys::state_path(dir, stack).display().to_string(),
            Backend::S3(u) => format!("{u}/{stack}.db"),
        }
    }
}

/// Opens the S3 state of `stack`, unkeyed.
pub fn open_s3(url: &S3Url, stack: &str, profile: Option<String>) -> Result<RemoteStore<S3Blob>> {
    RemoteStore::open(S3Blob::new(url.clone(), profile)?, &url.prefix, stack)
}

/// Opens the state of `stack` and installs its key (`key_dir` holds the
/// key file). A state that `state migrate` moved elsewhere is refused.
pub fn open(
    backend: &Backend,
    key_dir: &Path,
    stack: &str,
    profile: Option<String>,
) -> Result<(Box<dyn StateStore>, KeySource)> {
    let mut store = open_unkeyed(backend, stack, profile)?;
    refuse_moved(store.as_ref(), backend, stack)?;
    let source = keys::configure_secrets(store.as_mut(), key_dir, stack)?;
    Ok((store, source))
}

/// Opens without a key and without the moved check (`state migrate`).
pub fn open_unkeyed(
    backend: &Backend,
    stack: &str,
    profile: Option<String>,
) -> Result<Box<dyn StateStore>> {
    Ok(match backend {
        Backend::Local(dir) => Box::new(SqliteStore::open(&keys::state_path(dir, stack), stack)?),
        Backend::S3(url) => Box::new(open_s3(url, stack, profile)?),
    })
}

/// Opens for reading only (drift): no lock, nothing created or written.
pub fn open_read_only(
    backend: &Backend,
    key_dir: &Path,
    stack: &str,
    profile: Option<String>,
) -> Result<Box<dyn StateStore>> {
    let mut store: Box<dyn StateStore> = match backend {
        Backend::Local(dir) => Box::new(SqliteStore::open_read_only(
            &keys::state_path(dir, stack),
            stack,
        )?),
        Backend::S3(url) => Box::new(RemoteStore::open_read_only(
            S3Blob::new(url.clone(), profile)?,
            &url.prefix,
            stack,
        )?),
    };
    refuse_moved(store.as_ref(), backend, stack)?;
    keys::configure_secrets_read_only(store.as_mut(), key_dir, stack)?;
    Ok(store)
}

fn refuse_moved(store: &dyn StateStore, backend: &Backend, stack: &str) -> Result<()> {
    match store.meta(MOVED_TO_META)? {
        Some(to) => Err(StateError::Moved {
            from: backend.describe(stack),
            to,
            stack: stack.to_string(),
        }),
        None => Ok(()),
    }
}

/// What `state migrate` moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    pub resources: usize,
    pub serial: u64,
    pub bytes: usize,
}

/// Moves the whole state of `stack` (resources, pending operations,
/// history, key check, lineage) from `from` to `to`, under the source's
/// lock; refused while the state is locked, when the destination holds a
/// state of its own, or when the source was moved already. The source is
/// then marked moved (opening it fails, naming the new place), so nobody
/// keeps applying to the old copy.
pub fn migrate(
    from: &Backend,
    to: &Backend,
    stack: &str,
    profile: Option<String>,
) -> Result<Migrated> {
    let refuse = |why: String| Err(StateError::Import(why));
    if from == to {
        return refuse(format!(
            "the state of stack {stack} is already at {}",
            to.describe(stack)
        ));
    }
    if let Backend::Local(dir) = from {
        let path = keys::state_path(dir, stack);
        if !path.exists() {
            return refuse(format!("no state of stack {stack} at {}", path.display()));
        }
    }
    let mut src = Source::open(from, stack, profile.clone())?;
    refuse_moved(src.store(), from, stack)?;
    if let Some(holder) = src.store().lock_status()? {
        return Err(lock::held(holder, stack));
    }
    let info = lock::new_lock_info("state migrate");
    src.store_mut().try_lock(&info)?;
    src.store_mut().set_fence(Some(info.id.clone()));
    let moved = copy(&mut src, to, stack, profile);
    src.store_mut().set_fence(None);
    let unlocked = src.store_mut().unlock(&info.id);
    let moved = moved?;
    unlocked?;
    Ok(moved)
}

fn copy(src: &mut Source, to: &Backend, stack: &str, profile: Option<String>) -> Result<Migrated> {
    let bytes = src.copy_bytes()?;
    // A byte copy: secrets stay sealed, so no key is needed.
    let snap = src.store().export()?;
    let moved = Migrated {
        resources: snap.resources.len(),
        serial: snap.serial,
        bytes: bytes.len(),
    };
    // The destination is written under its own lock: a concurrent
    // migration or run there fails instead of being overwritten.
    let info = lock::new_lock_info("state migrate");
    match to {
        Backend::Local(dir) => {
            let path = keys::state_path(dir, stack);
            let mut dst = SqliteStore::open(&path, stack)?;
            check_destination(&dst, &to.describe(stack), stack)?;
            dst.try_lock(&info)?;
            // The new file replaces the locked one (its bytes hold no lock).
            let written = write_local(&path, &bytes);
            if written.is_err() {
                let _ = dst.unlock(&info.id);
            }
            written?;
        }
        Backend::S3(url) => {
            let mut dst = open_s3(url, stack, profile)?;
            check_destination(&dst, &to.describe(stack), stack)?;
            dst.try_lock(&info)?;
            dst.set_fence(Some(info.id.clone()));
            let written = dst.replace_with(&bytes);
            dst.set_fence(None);
            let unlocked = dst.unlock(&info.id);
            written?;
            unlocked?;
        }
    }
    src.store_mut()
        .set_meta(MOVED_TO_META, &to.url_for(stack))?;
    Ok(moved)
}

/// A destination may only hold a state never written to, or one moved
/// away before.
fn check_destination(dst: &dyn StateStore, at: &str, stack: &str) -> Result<()> {
    if let Some(holder) = dst.lock_status()? {
        return Err(lock::held(holder, stack));
    }
    if dst.meta(MOVED_TO_META)?.is_some() {
        return Ok(());
    }
    // Sealed values stay sealed: no key is needed to judge.
    let v = dst.export()?;
    if v.serial == 0 && v.resources.is_empty() && v.condemned.is_empty() && v.pending.is_empty() {
        return Ok(());
    }
    Err(StateError::Import(format!(
        "{at} already holds a state of stack {stack} ({} resource(s), serial {}); refusing to overwrite it",
        v.resources.len(),
        v.serial
    )))
}

/// Writes a whole state file in place of `path`, atomically (rename).
fn write_local(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |p: &Path, e: std::io::Error| StateError::Io {
        path: p.display().to_string(),
        source: e,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    }
    let tmp = path.with_extension("db.migrating");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io(&tmp, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io(&tmp, e))?;
    // The old file's WAL belongs to the old content.
    for suffix in ["-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&p, e)),
        }
    }
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

/// The source of a migration, as its concrete store (its bytes are copied).
enum Source {
    Local(Box<SqliteStore>),
    S3(Box<RemoteStore<S3Blob>>),
}

impl Source {
    fn open(b: &Backend, stack: &str, profile: Option<String>) -> Result<Source> {
        Ok(match b {
            Backend::Local(dir) => Source::Local(Box::new(SqliteStore::open(
                &keys::state_path(dir, stack),
                stack,
            )?)),
            Backend::S3(url) => Source::S3(Box::new(RemoteStore::open_existing(
                S3Blob::new(url.clone(), profile)?,
                &url.prefix,
                stack,
            )?)),
        })
    }

    fn store(&self) -> &dyn StateStore {
        match self {
            Source::Local(s) => s.as_ref(),
            Source::S3(s) => s.as_ref(),
        }
    }

    fn store_mut(&mut self) -> &mut dyn StateStore {
        match self {
            Source::Local(s) => s.as_mut(),
            Source::S3(s) => s.as_mut(),
        }
    }

    fn copy_bytes(&self) -> Result<Vec<u8>> {
        match self {
            Source::Local(s) => s.to_copy_bytes(),
            Source::S3(s) => s.to_copy_bytes(),
        }
    }
}
