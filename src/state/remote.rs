//! A state kept in an object store (S3): the same SQLite state, shipped as
//! one object, with a lock object beside it.
//!
//! - `<prefix>/<stack>.db` holds the whole state file. The store works on an
//!   in-memory copy and every write ends with a PUT of the whole file,
//!   conditional on the ETag last read (`If-Match`, or `If-None-Match: *`
//!   for a new state): a checkpoint is durable in the bucket before the
//!   call returns, and no write can overwrite one it has not seen.
//! - `<prefix>/<stack>.lock` is the lock: created with `If-None-Match: *`,
//!   holding the same [`LockInfo`] as the local lock row, released with a
//!   DELETE conditional on its ETag.
//! - Taking the lock, and releasing someone else's by force, bumps
//!   `lock_generation` in the state object. The old holder's next write is
//!   then conditional on an ETag that no longer exists and fails
//!   ([`StateError::LockLost`]) before it can overwrite anything.
//!
//! Reads are served from the copy made when the store was opened, when the
//! lock was taken, or at the last write: a lock holder is the only writer,
//! so its copy is the state.

use std::cell::{Ref, RefCell};

use serde::Serialize;

use super::{
    lock, HistoryEntry, LockInfo, OpEffect, PendingOp, ResourceState, Result, Snapshot,
    SqliteStore, StateError, StateStore,
};
use crate::model::Urn;
use crate::secrets::Crypter;

/// Meta key: bumped by every lock taken and every forced release.
pub const LOCK_GENERATION_META: &str = "lock_generation";
/// Meta key: set on a state that `state migrate` moved elsewhere (the URL).
pub const MOVED_TO_META: &str = "moved_to";

/// What a PUT requires of the object it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// `If-None-Match: *`: only if there is no object.
    Absent,
    /// `If-Match: <etag>`: only over this very object.
    Match(String),
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// 412: the condition failed (the object changed, or exists).
    #[error("precondition failed")]
    PreconditionFailed,
    /// 404 on a conditional delete: there is no object.
    #[error("no such object")]
    NotFound,
    /// Anything else (a 409 ConditionalRequestConflict names itself here).
    #[error("{0}")]
    Other(String),
}

/// One object as read.
#[derive(Debug, Clone)]
pub struct Object {
    pub bytes: Vec<u8>,
    pub etag: String,
}

/// One stored version of an object (versioned buckets).
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    pub id: String,
    /// RFC 3339, UTC.
    pub modified: String,
    pub size: u64,
    pub latest: bool,
    /// A delete marker, not a state.
    pub deleted: bool,
}

/// The conditional object operations a remote state needs.
pub trait Blob: Send {
    /// Where the objects live (`s3://bucket/prefix`), for messages.
    fn location(&self) -> String;
    fn get(&self, key: &str) -> Result<Option<Object>, BlobError>;
    /// The object unless its ETag is still `etag` (`None`: unchanged).
    fn get_if_changed(&self, key: &str, etag: &str) -> Result<Option<Object>, BlobError>;
    /// Writes `bytes` under `cond`; returns the new ETag.
    fn put(&self, key: &str, bytes: &[u8], cond: Cond) -> Result<String, BlobError>;
    /// Deletes the object if its ETag is `etag`.
    fn delete_if(&self, key: &str, etag: &str) -> Result<(), BlobError>;
    /// The versions of `key`, newest first (empty when unversioned).
    fn versions(&self, key: &str) -> Result<Vec<Version>, BlobError>;
    fn get_version(&self, key: &str, version: &str) -> Result<Object, BlobError>;
}

fn blob_err(what: &str, e: BlobError) -> StateError {
    StateError::Db(format!("{what}: {e}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Create,
    ReadOnly,
    Existing,
}

/// One stored version and, when it is a state (not a delete marker), what
/// it holds: serial, resources, pending operations. Read without the key.
pub type VersionSummary = (Version, Option<(u64, usize, usize)>);

/// The versions of the state of `stack` under `prefix`, newest first, the
/// first `limit` summarised; works when the state object was deleted.
pub fn list_versions<B: Blob>(
    blob: &B,
    prefix: &str,
    stack: &str,
    limit: usize,
) -> Result<Vec<VersionSummary>> {
    let key = state_key(prefix, stack);
    let at = format!("{}/{stack}.db", blob.location());
    let versions = blob
        .versions(&key)
        .map_err(|e| blob_err(&format!("listing versions of {at}"), e))?;
    versions
        .into_iter()
        .take(limit)
        .map(|v| {
            if v.deleted {
                return Ok((v, None));
            }
            let obj = blob
                .get_version(&key, &v.id)
                .map_err(|e| blob_err(&format!("reading version {} of {at}", v.id), e))?;
            let label = format!("{at} version {}", v.id);
            let snap = SqliteStore::from_bytes(Some(&obj.bytes), stack, &label, true)?.export()?;
            let summary = (snap.serial, snap.resources.len(), snap.pending.len());
            Ok((v, Some(summary)))
        })
        .collect()
}

/// Restores version `id` of a state whose object was deleted (the latest
/// version is a delete marker): the version's bytes unchanged (meta, key
/// check, history and all), under the lock, created only if still absent.
/// `Ok(false)` when the state object exists (a rollback is then made with
/// [`RemoteStore::rollback`]).
pub fn restore_deleted<B: Blob>(
    blob: &B,
    prefix: &str,
    stack: &str,
    id: &str,
    info: &LockInfo,
) -> Result<bool> {
    let key = state_key(prefix, stack);
    let at = format!("{}/{stack}.db", blob.location());
    if blob
        .get(&key)
        .map_err(|e| blob_err(&format!("reading {at}"), e))?
        .is_some()
    {
        return Ok(false);
    }
    let obj = blob
        .get_version(&key, id)
        .map_err(|e| blob_err(&format!("reading version {id} of {at}"), e))?;
    SqliteStore::from_bytes(Some(&obj.bytes), stack, &format!("{at} version {id}"), true)?;
    let lock = lock_key(prefix, stack);
    let body = serde_json::to_vec(info)
        .map_err(|e| StateError::Db(format!("serializing the lock: {e}")))?;
    let etag = match blob.put(&lock, &body, Cond::Absent) {
        Ok(etag) => etag,
        Err(BlobError::PreconditionFailed) => {
            return Err(StateError::Db(format!(
                "{at} is locked; try again when it is free"
            )))
        }
        Err(e) => return Err(blob_err(&format!("taking the lock of {at}"), e)),
    };
    let put = blob.put(&key, &obj.bytes, Cond::Absent);
    let released = blob.delete_if(&lock, &etag);
    match put {
        Ok(_) => {}
        Err(BlobError::PreconditionFailed) => {
            return Err(StateError::Db(format!(
                "{at} was created meanwhile; nothing restored"
            )))
        }
        Err(e) => return Err(blob_err(&format!("restoring {at}"), e)),
    }
    released.map_err(|e| blob_err(&format!("releasing the lock of {at}"), e))?;
    Ok(true)
}

/// What [`RemoteStore::rollback`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    /// Rows brought back that the current state did not have (URN and id):
    /// `refresh` checks whether those objects still exist.
    pub restored: Vec<String>,
    /// Whether any resource row differs from what was current.
    pub changed: bool,
}

#[derive(Debug, Clone)]
enum Lost {
    Lock { held: String, now: String },
    Unknown(String),
}

/// Meta key: the id of the lock that made the last generation bump.
pub const LOCK_HOLDER_META: &str = "lock_holder";

/// A lock this handle took: its id and the lock object's ETag.
#[derive(Debug, Clone)]
struct Held {
    id: String,
    etag: String,
}

/// How many times an unlocked write is replayed on a newer state before
/// giving up (another writer keeps winning).
const REPLAYS: usize = 8;

pub struct RemoteStore<B: Blob> {
    blob: B,
    stack: String,
    state_key: String,
    lock_key: String,
    /// The working copy; a handle without the lock refreshes it before a
    /// read (a conditional GET: 304 when nothing changed).
    inner: RefCell<SqliteStore>,
    /// ETag of the state object `inner` was read from or last written as.
    etag: RefCell<Option<String>>,
    crypter: Option<Crypter>,
    held: Option<Held>,
    fence: Option<String>,
    /// Set when a write found the lock lost, or could not tell whether it
    /// landed: this copy may differ from the bucket, so every later write
    /// fails the same.
    lost: Option<Lost>,
    read_only: bool,
}

impl<B: Blob> std::fmt::Debug for RemoteStore<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStore")
            .field("location", &self.blob.location())
            .field("stack", &self.stack)
            .finish_non_exhaustive()
    }
}

/// The state object's key under a prefix.
pub fn state_key(prefix: &str, stack: &str) -> String {
    join(prefix, &format!("{stack}.db"))
}

pub fn lock_key(prefix: &str, stack: &str) -> String {
    join(prefix, &format!("{stack}.lock"))
}

fn join(prefix: &str, name: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        name.to_string()
    } else {
        format!("{p}/{name}")
    }
}

impl<B: Blob> RemoteStore<B> {
    /// Opens the state of `stack` under `prefix`, creating an empty one
    /// (conditionally: two first opens agree on one lineage) if none exists.
    pub fn open(blob: B, prefix: &str, stack: &str) -> Result<Self> {
        Self::open_with(blob, prefix, stack, Open::Create)
    }

    /// Opens an existing state without creating, migrating or locking
    /// anything (drift); writes fail.
    pub fn open_read_only(blob: B, prefix: &str, stack: &str) -> Result<Self> {
        Self::open_with(blob, prefix, stack, Open::ReadOnly)
    }

    /// Opens an existing state; a missing one is an error, not a new state
    /// (`state migrate` from a mistyped prefix makes nothing).
    pub fn open_existing(blob: B, prefix: &str, stack: &str) -> Result<Self> {
        Self::open_with(blob, prefix, stack, Open::Existing)
    }

    fn open_with(blob: B, prefix: &str, stack: &str, mode: Open) -> Result<Self> {
        let read_only = mode == Open::ReadOnly;
        let state_key = state_key(prefix, stack);
        let label = format!("{}/{stack}.db", blob.location());
        let found = blob
            .get(&state_key)
            .map_err(|e| blob_err(&format!("reading {label}"), e))?;
        let mut store = match found {
            Some(obj) => RemoteStore {
                inner: RefCell::new(SqliteStore::from_bytes(
                    Some(&obj.bytes),
                    stack,
                    &label,
                    read_only,
                )?),
                etag: RefCell::new(Some(obj.etag)),
                ..Self::empty(blob, prefix, stack, state_key, &label)?
            },
            None if read_only || mode == Open::Existing => {
                return Err(StateError::Db(format!(
                "{label}: no state for stack {stack:?}: nothing has been applied to this backend"
            )))
            }
            None => {
                // A deleted state must not silently become a new, empty one
                // (the next `up` would create every resource again).
                let deleted = blob
                    .versions(&state_key)
                    .unwrap_or_default()
                    .iter()
                    .any(|v| !v.deleted);
                if deleted {
                    return Err(StateError::Db(format!(
                        "{label} was deleted, but its versions remain: restore one with `morket-stack state rollback {stack} VERSION` (see `morket-stack state versions {stack}`)"
                    )));
                }
                Self::empty(blob, prefix, stack, state_key, &label)?
            }
        };
        store.read_only = read_only;
        if store.etag.get_mut().is_none() {
            // Ship the new state so every handle sees one lineage; a
            // concurrent first open may win, and then its state is used.
            let bytes = store.inner.get_mut().to_bytes()?;
            match store.blob.put(&store.state_key, &bytes, Cond::Absent) {
                Ok(etag) => *store.etag.get_mut() = Some(etag),
                Err(BlobError::PreconditionFailed) => store.reload()?,
                Err(e) => return Err(blob_err(&format!("creating {label}"), e)),
            }
        }
        Ok(store)
    }

    fn empty(blob: B, prefix: &str, stack: &str, state_key: String, label: &str) -> Result<Self> {
        Ok(RemoteStore {
            inner: RefCell::new(SqliteStore::from_bytes(None, stack, label, false)?),
            lock_key: lock_key(prefix, stack),
            state_key,
            blob,
            stack: stack.to_string(),
            etag: RefCell::new(None),
            crypter: None,
            held: None,
            fence: None,
            lost: None,
            read_only: false,
        })
    }

    pub fn location(&self) -> String {
        format!("{}/{}.db", self.blob.location(), self.stack)
    }

    /// The whole state file, to copy elsewhere (no lock row, compacted).
    pub fn to_copy_bytes(&self) -> Result<Vec<u8>> {
        self.current()?.to_copy_bytes()
    }

    /// Replaces the state object with `bytes` (a whole state file of this
    /// stack): `state migrate` into this backend. Only under this handle's
    /// lock (a conflict fails, never replays); the lock generation carries on.
    pub fn replace_with(&mut self, bytes: &[u8]) -> Result<()> {
        if self.held.is_none() {
            return Err(StateError::Db(format!(
                "{}: replacing the state needs its lock",
                self.location()
            )));
        }
        let fresh = SqliteStore::from_bytes(Some(bytes), &self.stack, &self.location(), false)?;
        let bytes = fresh.to_bytes()?;
        self.write(|inner| {
            let keep: Vec<(&str, Option<String>)> = [LOCK_GENERATION_META, LOCK_HOLDER_META]
                .into_iter()
                .map(|k| Ok((k, inner.meta(k)?)))
                .collect::<Result<_>>()?;
            inner.replace_bytes(&bytes)?;
            for (k, v) in keep.into_iter().filter_map(|(k, v)| Some((k, v?))) {
                inner.set_meta(k, &v)?;
            }
            Ok(())
        })
    }

    /// One stored version, opened read only.
    pub fn version(&self, id: &str) -> Result<SqliteStore> {
        let obj = self
            .blob
            .get_version(&self.state_key, id)
            .map_err(|e| blob_err(&format!("reading version {id} of {}", self.location()), e))?;
        let label = format!("{} version {id}", self.location());
        let mut s = SqliteStore::from_bytes(Some(&obj.bytes), &self.stack, &label, false)?;
        if let Some(c) = &self.crypter {
            s.set_crypter(c.clone())?;
        }
        Ok(s)
    }

    /// Restores stored version `id` as the current state; the caller holds
    /// the lock. Refused when it would forget an object that exists now
    /// (created or replaced since: it would be orphaned) or while operations
    /// are pending (they must be settled first). Rows it brings back for
    /// objects deleted since are dropped by the next `refresh`. The operation
    /// history and meta (key check, lock generation) stay current.
    pub fn rollback(&mut self, id: &str) -> Result<Rollback> {
        let old = self.version(id)?;
        let inner = self.inner.get_mut();
        if old.lineage()? != inner.lineage()? {
            return Err(StateError::Import(format!(
                "version {id} belongs to another state of stack {} (lineage {}, this state {})",
                self.stack,
                old.lineage()?,
                inner.lineage()?
            )));
        }
        let pending = inner.pending()?;
        if !pending.is_empty() {
            return Err(StateError::Import(format!(
                "{} operation(s) are pending (e.g. {} of {}); run `morket-stack up {}` to settle them first",
                pending.len(),
                pending[0].kind.as_str(),
                pending[0].urn,
                self.stack
            )));
        }
        let objects = |rows: Vec<ResourceState>| -> std::collections::BTreeSet<(String, String)> {
            rows.into_iter()
                .map(|r| (r.urn.to_string(), r.id))
                .collect()
        };
        let now = objects([inner.resources()?, inner.condemned()?].concat());
        let then = objects([old.resources()?, old.condemned()?].concat());
        let forgotten: Vec<String> = now
            .difference(&then)
            .map(|(u, i)| format!("{u} ({i})"))
            .collect();
        if !forgotten.is_empty() {
            return Err(StateError::Import(format!(
                "version {id} does not record {} object(s) that exist now, which would be orphaned: {}",
                forgotten.len(),
                forgotten.join(", ")
            )));
        }
        let restored: Vec<String> = then
            .difference(&now)
            .map(|(u, i)| format!("{u} ({i})"))
            .collect();
        let snap = old.export()?;
        let changed = snap.resources != inner.export()?.resources;
        self.import(&snap)?;
        Ok(Rollback { restored, changed })
    }

    /// Reads the state object again (it changed under an unlocked handle).
    fn reload(&mut self) -> Result<()> {
        let label = self.location();
        match self
            .blob
            .get(&self.state_key)
            .map_err(|e| blob_err(&format!("reading {label}"), e))?
        {
            Some(obj) => {
                self.inner.get_mut().replace_bytes(&obj.bytes)?;
                *self.etag.get_mut() = Some(obj.etag);
            }
            None => {
                let mut fresh = SqliteStore::from_bytes(None, &self.stack, &label, false)?;
                if let Some(c) = self.crypter.clone() {
                    fresh.set_crypter(c)?;
                }
                *self.inner.get_mut() = fresh;
                *self.etag.get_mut() = None;
            }
        }
        Ok(())
    }

    /// The copy to read: refreshed first unless this handle holds the lock
    /// (then it is the only writer and its copy is the state).
    fn current(&self) -> Result<Ref<'_, SqliteStore>> {
        if self.held.is_none() && self.lost.is_none() {
            let etag = self.etag.borrow().clone();
            if let Some(etag) = etag {
                let changed = self
                    .blob
                    .get_if_changed(&self.state_key, &etag)
                    .map_err(|e| blob_err(&format!("reading {}", self.location()), e))?;
                if let Some(obj) = changed {
                    self.inner.borrow_mut().replace_bytes(&obj.bytes)?;
                    *self.etag.borrow_mut() = Some(obj.etag);
                }
            }
        }
        Ok(self.inner.borrow())
    }

    fn lock_lost(&self) -> StateError {
        match self.lost.clone() {
            Some(Lost::Lock { held, now }) => StateError::LockLost { held, now },
            Some(Lost::Unknown(why)) => StateError::Db(format!(
                "{}: an earlier write's outcome is unknown ({why}); nothing more is written from this run, the next run reads the state again",
                self.location()
            )),
            None => StateError::Db("no write has failed".into()),
        }
    }

    /// Applies `f` to the copy and ships it. Under the lock a conflict means
    /// the lock was lost; without it `f` is replayed on the newer state.
    fn write<T>(&mut self, f: impl FnMut(&mut SqliteStore) -> Result<T>) -> Result<T> {
        let fence = self
            .fence
            .clone()
            .or(self.held.as_ref().map(|h| h.id.clone()));
        self.write_as(fence, f)
    }

    /// [`RemoteStore::write`]; `fence`: the lock this write is made under.
    fn write_as<T>(
        &mut self,
        fence: Option<String>,
        mut f: impl FnMut(&mut SqliteStore) -> Result<T>,
    ) -> Result<T> {
        if self.lost.is_some() {
            return Err(self.lock_lost());
        }
        if self.read_only {
            return Err(StateError::Db(format!(
                "{}: opened read only",
                self.location()
            )));
        }
        for _ in 0..REPLAYS {
            let out = f(self.inner.get_mut())?;
            let bytes = self.inner.get_mut().to_bytes()?;
            let cond = match self.etag.get_mut() {
                Some(e) => Cond::Match(e.clone()),
                None => Cond::Absent,
            };
            match self.blob.put(&self.state_key, &bytes, cond) {
                Ok(etag) => {
                    *self.etag.get_mut() = Some(etag);
                    return Ok(out);
                }
                Err(BlobError::PreconditionFailed) => {}
                // 409: a concurrent conditional write; re-read and judge.
                Err(BlobError::Other(m)) if m.contains("ConditionalRequestConflict") => {}
                Err(e) => {
                    // The outcome is unknown: this copy may be ahead of the
                    // bucket. Nothing more is written from it.
                    self.lost = Some(Lost::Unknown(e.to_string()));
                    return Err(blob_err(&format!("writing {}", self.location()), e));
                }
            }
            // An SDK retry of this very PUT may have landed first.
            let current = match self.blob.get(&self.state_key) {
                Ok(c) => c,
                Err(e) => {
                    self.lost = Some(Lost::Unknown(e.to_string()));
                    return Err(blob_err(&format!("reading {}", self.location()), e));
                }
            };
            if let Some(obj) = &current {
                if obj.bytes == bytes {
                    *self.etag.get_mut() = Some(obj.etag.clone());
                    return Ok(out);
                }
            }
            if let Some(fence) = fence.clone() {
                let now = super::describe_holder(self.lock_status()?.as_ref());
                self.lost = Some(Lost::Lock { held: fence, now });
                return Err(self.lock_lost());
            }
            self.reload()?;
        }
        Err(StateError::Db(format!(
            "{}: other writers kept changing the state; try again",
            self.location()
        )))
    }

    fn read_lock(&self) -> Result<Option<(LockInfo, String)>> {
        let obj = self
            .blob
            .get(&self.lock_key)
            .map_err(|e| blob_err(&format!("reading the lock of {}", self.location()), e))?;
        obj.map(|o| {
            let info: LockInfo = serde_json::from_slice(&o.bytes).map_err(|e| {
                StateError::Corrupt(format!("lock object of {}: {e}", self.location()))
            })?;
            Ok((info, o.etag))
        })
        .transpose()
    }

    /// Bumps the lock generation in the state object, on its newest
    /// version, recording `holder` as the lock it was made for. `victim`: a
    /// forced release of that lock (id, lock object ETag as read), made only
    /// while no newer holder has bumped, so a release that raced a new
    /// holder cannot fence the new holder out.
    fn bump_generation(&mut self, holder: &str, victim: Option<(&str, &str)>) -> Result<u64> {
        self.reload()?;
        let expect = match victim {
            None => None,
            Some((id, etag)) => {
                let named = self.inner.get_mut().meta(LOCK_HOLDER_META)?;
                // The victim never bumped (it died right after taking the
                // lock): only safe while its lock object is still there,
                // since nobody else can have taken the lock meanwhile.
                if named.as_deref() != Some(id) {
                    match self.read_lock()? {
                        Some((h, e)) if h.id == id && e == etag => {}
                        other => {
                            return Err(StateError::LockMismatch(
                                id.to_string(),
                                super::describe_holder(other.map(|(h, _)| h).as_ref()),
                            ))
                        }
                    }
                }
                Some((id, named))
            }
        };
        // Not fenced: a write of the previous holder that lands first is
        // kept, and the bump is made again on top of it.
        self.write_as(None, |inner| {
            if let Some((id, named)) = &expect {
                // Another holder bumped since this release read the lock.
                let now = inner.meta(LOCK_HOLDER_META)?;
                if now != *named {
                    return Err(StateError::LockMismatch(
                        id.to_string(),
                        format!("the holder of lock id {}", now.unwrap_or_default()),
                    ));
                }
            }
            let g = inner
                .meta(LOCK_GENERATION_META)?
                .and_then(|g| g.parse::<u64>().ok())
                .unwrap_or(0)
                + 1;
            inner.set_meta(LOCK_GENERATION_META, &g.to_string())?;
            inner.set_meta(LOCK_HOLDER_META, holder)?;
            Ok(g)
        })
    }
}

impl<B: Blob> StateStore for RemoteStore<B> {
    fn stack(&self) -> &str {
        &self.stack
    }

    fn set_crypter(&mut self, crypter: Crypter) -> Result<()> {
        if self.current()?.meta("key_check")?.is_none() && !self.read_only {
            let check = crypter.key_check();
            self.write(|inner| inner.init_meta("key_check", &check))?;
        }
        self.inner.get_mut().set_crypter(crypter.clone())?;
        self.crypter = Some(crypter);
        Ok(())
    }

    fn crypter(&self) -> Option<&Crypter> {
        self.crypter.as_ref()
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        self.current()?.meta(key)
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.write(|inner| inner.set_meta(key, value))
    }

    fn init_meta(&mut self, key: &str, value: &str) -> Result<String> {
        if let Some(v) = self.current()?.meta(key)? {
            return Ok(v);
        }
        self.write(|inner| inner.init_meta(key, value))
    }

    fn lineage(&self) -> Result<String> {
        self.current()?.lineage()
    }

    fn serial(&self) -> Result<u64> {
        self.current()?.serial()
    }

    fn set_fence(&mut self, lock_id: Option<String>) {
        self.fence = lock_id;
    }

    fn resources(&self) -> Result<Vec<ResourceState>> {
        self.current()?.resources()
    }

    fn resource(&self, urn: &Urn) -> Result<Option<ResourceState>> {
        self.current()?.resource(urn)
    }

    fn condemned(&self) -> Result<Vec<ResourceState>> {
        self.current()?.condemned()
    }

    fn begin_op(&mut self, op: &PendingOp) -> Result<i64> {
        Ok(self.begin_ops(std::slice::from_ref(op))?[0])
    }

    fn begin_ops(&mut self, ops: &[PendingOp]) -> Result<Vec<i64>> {
        self.write(|inner| inner.begin_ops(ops))
    }

    fn end_op(&mut self, pending_id: i64, effect: &OpEffect) -> Result<()> {
        self.write(|inner| inner.end_op(pending_id, effect))
    }

    fn pending(&self) -> Result<Vec<PendingOp>> {
        self.current()?.pending()
    }

    fn remove_resource(&mut self, urn: &Urn) -> Result<()> {
        self.write(|inner| inner.remove_resource(urn))
    }

    fn view(&self) -> Result<super::View> {
        self.current()?.view()
    }

    fn export(&self) -> Result<Snapshot> {
        self.current()?.export()
    }

    fn import(&mut self, snapshot: &Snapshot) -> Result<()> {
        self.write(|inner| inner.import(snapshot))
    }

    fn try_lock(&mut self, info: &LockInfo) -> Result<()> {
        let body = serde_json::to_vec(info)
            .map_err(|e| StateError::Db(format!("serializing the lock: {e}")))?;
        let etag = loop {
            match self.blob.put(&self.lock_key, &body, Cond::Absent) {
                Ok(etag) => break etag,
                Err(BlobError::PreconditionFailed) => match self.read_lock()? {
                    // An SDK retry of our own PUT that had landed.
                    Some((holder, etag)) if holder.id == info.id => break etag,
                    Some((holder, _)) => return Err(lock::held(holder, &self.stack)),
                    // Released between the two calls: race for it again.
                    None => continue,
                },
                Err(e) => {
                    return Err(blob_err(
                        &format!("taking the lock of {}", self.location()),
                        e,
                    ))
                }
            }
        };
        self.held = Some(Held {
            id: info.id.clone(),
            etag: etag.clone(),
        });
        self.lost = None;
        // Fence out every earlier holder, and start from the newest state.
        if let Err(e) = self.bump_generation(&info.id, None) {
            self.held = None;
            let _ = self.blob.delete_if(&self.lock_key, &etag);
            return Err(e);
        }
        // Released by force while bumping: this run must not go on.
        match self.read_lock()? {
            Some((holder, e)) if holder.id == info.id && e == etag => Ok(()),
            other => {
                self.held = None;
                Err(StateError::LockLost {
                    held: info.id.clone(),
                    now: super::describe_holder(other.map(|(h, _)| h).as_ref()),
                })
            }
        }
    }

    fn unlock(&mut self, lock_id: &str) -> Result<()> {
        if let Some(h) = self.held.clone().filter(|h| h.id == lock_id) {
            self.held = None;
            let gone_by_force = |s: &mut Self| -> Result<bool> {
                let named = s.current()?.meta(LOCK_HOLDER_META)?;
                Ok(named.as_deref() != Some(lock_id))
            };
            match self.blob.delete_if(&self.lock_key, &h.etag) {
                Ok(()) => return Ok(()),
                // An SDK retry of a DELETE that had landed: no forced release
                // bumped the state since, so it was ours.
                Err(BlobError::NotFound) if self.lost.is_none() && !gone_by_force(self)? => {
                    return Ok(())
                }
                Err(BlobError::PreconditionFailed | BlobError::NotFound) => {}
                Err(e) => {
                    return Err(blob_err(
                        &format!("releasing the lock of {}", self.location()),
                        e,
                    ))
                }
            }
        }
        // Someone else's lock (a forced release), or ours taken from us.
        let mismatch = |holder: Option<&LockInfo>| {
            StateError::LockMismatch(lock_id.to_string(), super::describe_holder(holder))
        };
        let Some((holder, etag)) = self.read_lock()? else {
            return Err(mismatch(None));
        };
        if holder.id != lock_id {
            return Err(mismatch(Some(&holder)));
        }
        // The holder may still run: fence it out before the lock is free.
        self.bump_generation("", Some((lock_id, &etag)))?;
        match self.blob.delete_if(&self.lock_key, &etag) {
            Ok(()) => Ok(()),
            Err(BlobError::PreconditionFailed | BlobError::NotFound) => {
                Err(mismatch(self.read_lock()?.map(|(h, _)| h).as_ref()))
            }
            Err(e) => Err(blob_err(
                &format!("releasing the lock of {}", self.location()),
                e,
            )),
        }
    }

    fn lock_status(&self) -> Result<Option<LockInfo>> {
        Ok(self.read_lock()?.map(|(info, _)| info))
    }

    fn append_history(&mut self, entry: &HistoryEntry) -> Result<()> {
        self.write(|inner| inner.append_history(entry))
    }

    fn history(&self, limit: usize) -> Result<Vec<HistoryEntry>> {
        self.current()?.history(limit)
    }
}
