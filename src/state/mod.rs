//! The state layer: the only code that touches SQLite (and the key file).
//! A [`StateStore`] holds one stack's resources, a lock row, pending
//! operations, an operation history and a serial. Secrets are sealed on write
//! and unsealed on read with the store's [`Crypter`], so callers see
//! `$secret` markers and the file only ever holds `$sealed` ciphertext.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{ResourceOptions, Urn};
use crate::secrets::{Crypter, SecretsError};

pub mod backend;
pub mod keys;
pub mod lock;
pub mod memory;
pub mod remote;
pub mod s3;
pub mod sqlite;

pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state database error: {0}")]
    Db(String),
    #[error("{0}")]
    Locked(Box<LockHeld>),
    #[error("lock {0} is not held (held by: {1})")]
    LockMismatch(String, String),
    /// This run's lock was released (forced) while it worked: it must not
    /// write again, another run may hold the state now.
    #[error("this run no longer holds the state lock {held} (now held by: {now}); stopped before writing")]
    LockLost { held: String, now: String },
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error("state is corrupt: {0}")]
    Corrupt(String),
    #[error("no resource {0} in state")]
    NotFound(String),
    #[error("state schema version {found} is newer than this morket-stack supports ({supported}); upgrade morket-stack")]
    SchemaTooNew { found: i64, supported: i64 },
    /// `state migrate` moved this state: using the old copy would fork it.
    #[error("the state of stack {stack} at {from} was moved to {to} by `state migrate`; use that backend instead (`[backend] url` in the stack file, or --backend)")]
    Moved {
        from: String,
        to: String,
        stack: String,
    },
    #[error("state import refused: {0}")]
    Import(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Why a lock could not be taken: the holder, and what is known of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHeld {
    pub holder: LockInfo,
    /// The holder is certainly dead (same host, boot and pid namespace, and
    /// its process is gone or is another process): safe to release.
    pub stale: bool,
    /// Why liveness could not be judged (another host, boot or namespace).
    pub unknown: Option<String>,
    /// The stack whose lock it is (for the `lock release` command shown).
    pub stack: String,
}

impl std::fmt::Display for LockHeld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let h = &self.holder;
        write!(f, "state is locked by {}, lock id {}", h.describe(), h.id)?;
        if self.stale {
            write!(f, "; the holder's process is gone: the lock is stale")?;
        } else if let Some(why) = &self.unknown {
            write!(
                f,
                "; {why}, so whether it still runs cannot be told from here: if it is dead, \
                 release the lock with `morket-stack lock release {} {}`",
                self.stack, h.id
            )?;
        }
        Ok(())
    }
}

pub type Result<T, E = StateError> = std::result::Result<T, E>;

/// One managed resource as recorded in state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceState {
    pub urn: Urn,
    #[serde(rename = "type")]
    pub type_name: String,
    /// The provider's id (e.g. `vpc-0abc`).
    pub id: String,
    /// The inputs the resource was last created/updated with.
    pub inputs: Value,
    pub outputs: Value,
    #[serde(default)]
    pub dependencies: Vec<Urn>,
    #[serde(default)]
    pub parent: String,
    #[serde(default)]
    pub options: ResourceOptions,
    /// Exists but is not known to be what was declared (a create that
    /// failed part way and could not be read back): the next plan replaces it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tainted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Create,
    Update,
    Delete,
    /// The new half of a create-before-delete replacement.
    CreateReplacement,
    /// Deleting the old half of a replacement.
    DeleteReplaced,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Create => "create",
            OpKind::Update => "update",
            OpKind::Delete => "delete",
            OpKind::CreateReplacement => "create_replacement",
            OpKind::DeleteReplaced => "delete_replaced",
        }
    }
}

/// A provider call in flight, committed before the call is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingOp {
    /// Assigned by the store on `begin_op`.
    #[serde(default)]
    pub id: i64,
    pub urn: Urn,
    pub kind: OpKind,
    #[serde(rename = "type")]
    pub type_name: String,
    /// Provider id of the resource acted on (empty for creates).
    pub resource_id: String,
    /// Inputs of the call (the new inputs for create/update).
    pub inputs: Value,
    pub started_at: String,
}

/// What a finished operation does to state; applied atomically with removing
/// the pending row.
#[derive(Debug, Clone, PartialEq)]
pub enum OpEffect {
    /// The call failed or changed nothing: only the pending row goes.
    Nothing,
    /// Insert or overwrite the resource row.
    Upsert(ResourceState),
    /// Remove the resource row.
    Remove(Urn),
    /// Create-before-delete: the new resource replaces the row and the old one
    /// moves to the condemned list until it is deleted.
    Replace(ResourceState),
    /// The condemned old resource with this id is gone.
    RemoveCondemned { urn: Urn, id: String },
    /// The resource at `from` is now `to` (an alias: renamed or moved into a
    /// component); nothing changes in the cloud.
    Rename { from: Urn, to: ResourceState },
}

/// Who holds the lock, as shown to a blocked user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    /// `user@host`
    pub who: String,
    pub host: String,
    pub pid: u32,
    pub operation: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub version: String,
    /// `/proc/sys/kernel/random/boot_id` of the holder's machine.
    #[serde(default)]
    pub boot_id: String,
    /// The inode of the holder's pid namespace (`/proc/self/ns/pid`): pids
    /// mean nothing across namespaces (containers).
    #[serde(default)]
    pub pid_ns: String,
    /// The holder process's start time (clock ticks after boot), so a
    /// reused pid is not taken for the holder.
    #[serde(default)]
    pub start_time: u64,
}

impl LockInfo {
    /// Who, where, what and since when: `ann@ci-1 on host ci-1, pid 42,
    /// operation up, since 2026-12-05T10:00:00Z (5m ago)`.
    pub fn describe(&self) -> String {
        format!(
            "{} on host {}, pid {}, operation {}, since {}{}",
            self.who,
            self.host,
            self.pid,
            self.operation,
            self.started_at,
            lock::age(&self.started_at)
                .map(|a| format!(" ({a} ago)"))
                .unwrap_or_default(),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    #[serde(default)]
    pub id: i64,
    pub operation: String,
    pub started_at: String,
    pub finished_at: String,
    /// `ok`, `failed`, `cancelled`
    pub result: String,
    pub who: String,
    /// Counts and notes (e.g. `{"created": 3, "failed": 1}`).
    pub summary: Value,
    pub serial_before: u64,
    pub serial_after: u64,
}

/// What a plan is made against, read at one moment ([`StateStore::view`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    pub serial: u64,
    pub resources: Vec<ResourceState>,
    pub condemned: Vec<ResourceState>,
    pub pending: Vec<PendingOp>,
}

/// A whole state, for `state export` / `state import`. Secrets stay sealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    pub stack: String,
    pub serial: u64,
    /// The lineage of the state it was exported from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub lineage: String,
    pub resources: Vec<ResourceState>,
    #[serde(default)]
    pub condemned: Vec<ResourceState>,
    #[serde(default)]
    pub pending: Vec<PendingOp>,
}

/// Everything the engine needs from a state backend. Every implementation
/// runs the shared conformance suite in `tests/state_conformance.rs`.
///
/// Values passed in and returned carry `$secret` markers; implementations seal
/// them with the configured [`Crypter`] before they reach storage.
pub trait StateStore: Send {
    fn stack(&self) -> &str;

    /// Installs the key used to seal and unseal secrets, checking it against
    /// the key-check token stored with the state (stored on first use).
    fn set_crypter(&mut self, crypter: Crypter) -> Result<()>;

    /// The key in use (plan files are sealed with it too).
    fn crypter(&self) -> Option<&Crypter>;

    /// Store-wide metadata (e.g. the passphrase salt).
    fn meta(&self, key: &str) -> Result<Option<String>>;
    fn set_meta(&mut self, key: &str, value: &str) -> Result<()>;
    /// Stores `value` under `key` unless a value is there already, atomically
    /// across processes; returns the value that is stored.
    fn init_meta(&mut self, key: &str, value: &str) -> Result<String>;

    /// A random id made with the state: a plan or a URN tag from another
    /// state of the same stack name is told apart by it.
    fn lineage(&self) -> Result<String>;

    /// Bumped by every change to resources or condemned rows, and by every
    /// new pending operation.
    fn serial(&self) -> Result<u64>;

    /// From now on every write of a pending operation or its result first
    /// checks, in its transaction, that lock `lock_id` is still held
    /// ([`StateError::LockLost`] otherwise). `None` stops checking.
    fn set_fence(&mut self, lock_id: Option<String>);

    /// All resources, ordered by URN.
    fn resources(&self) -> Result<Vec<ResourceState>>;
    fn resource(&self, urn: &Urn) -> Result<Option<ResourceState>>;
    /// Old halves of replacements still to be deleted.
    fn condemned(&self) -> Result<Vec<ResourceState>>;

    /// Commits a pending-operation row; returns its id.
    fn begin_op(&mut self, op: &PendingOp) -> Result<i64>;
    /// Commits several pending rows at once (group commit: one durable
    /// transaction); returns their ids in order.
    fn begin_ops(&mut self, ops: &[PendingOp]) -> Result<Vec<i64>> {
        ops.iter().map(|op| self.begin_op(op)).collect()
    }
    /// Applies `effect` and removes pending row `pending_id` in one transaction.
    fn end_op(&mut self, pending_id: i64, effect: &OpEffect) -> Result<()>;
    fn pending(&self) -> Result<Vec<PendingOp>>;

    /// `state rm`: forgets a resource without touching it.
    fn remove_resource(&mut self, urn: &Urn) -> Result<()>;

    /// Serial, resources, condemned rows and pending operations as of one
    /// moment (a preview overlapping a running `up` must not mix two states).
    fn view(&self) -> Result<View> {
        Ok(View {
            serial: self.serial()?,
            resources: self.resources()?,
            condemned: self.condemned()?,
            pending: self.pending()?,
        })
    }

    fn export(&self) -> Result<Snapshot>;
    /// Replaces the whole state with `snapshot` (its stack must match).
    fn import(&mut self, snapshot: &Snapshot) -> Result<()>;

    /// Takes the lock atomically, or fails with [`StateError::Locked`].
    fn try_lock(&mut self, info: &LockInfo) -> Result<()>;
    /// Releases the lock if `lock_id` holds it.
    fn unlock(&mut self, lock_id: &str) -> Result<()>;
    fn lock_status(&self) -> Result<Option<LockInfo>>;

    fn append_history(&mut self, entry: &HistoryEntry) -> Result<()>;
    /// Most recent first.
    fn history(&self, limit: usize) -> Result<Vec<HistoryEntry>>;
}

impl OpKind {
    pub fn parse(s: &str) -> Option<OpKind> {
        [
            OpKind::Create,
            OpKind::Update,
            OpKind::Delete,
            OpKind::CreateReplacement,
            OpKind::DeleteReplaced,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Current [`Snapshot::version`].
pub const SNAPSHOT_VERSION: u32 = 1;

fn has_marker(v: &Value, key: &str) -> bool {
    let mut found = false;
    crate::value::walk(v, &mut |x| {
        found |= matches!(x, Value::Object(m) if m.len() == 1 && m.contains_key(key))
    });
    found
}

/// Seals `$secret`s for storage. Without a key a secret is refused rather
/// than written in plaintext.
pub fn seal_for_storage(crypter: Option<&Crypter>, v: &Value) -> Result<Value> {
    match crypter {
        Some(c) => Ok(c.seal(v)),
        None if has_marker(v, crate::value::SECRET) => Err(SecretsError::NoKey.into()),
        None => Ok(v.clone()),
    }
}

/// Turns stored `$sealed` values back into `$secret`s.
pub fn unseal_from_storage(crypter: Option<&Crypter>, v: &Value) -> Result<Value> {
    match crypter {
        Some(c) => Ok(c.unseal(v)?),
        None if has_marker(v, crate::value::SEALED) => Err(SecretsError::NoKey.into()),
        None => Ok(v.clone()),
    }
}

pub(crate) fn seal_resource(c: Option<&Crypter>, r: &ResourceState) -> Result<ResourceState> {
    Ok(ResourceState {
        inputs: seal_for_storage(c, &r.inputs)?,
        outputs: seal_for_storage(c, &r.outputs)?,
        ..r.clone()
    })
}

/// Checks a snapshot before import (stack, version, duplicates, and that
/// every sealed value opens with `crypter`) and returns it with any stray
/// `$secret` sealed. Nothing is changed when this fails.
pub fn validate_import(
    stack: &str,
    crypter: Option<&Crypter>,
    snap: &Snapshot,
) -> Result<Snapshot> {
    if snap.stack != stack {
        return Err(StateError::Import(format!(
            "the snapshot is for stack {:?}, this state is stack {stack:?}",
            snap.stack
        )));
    }
    if snap.version > SNAPSHOT_VERSION {
        return Err(StateError::Import(format!(
            "snapshot version {} is newer than supported ({SNAPSHOT_VERSION})",
            snap.version
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for r in &snap.resources {
        if !seen.insert(r.urn.as_str()) {
            return Err(StateError::Import(format!("duplicate resource {}", r.urn)));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for r in &snap.condemned {
        if !seen.insert((r.urn.as_str(), r.id.as_str())) {
            return Err(StateError::Import(format!(
                "duplicate condemned resource {} id {}",
                r.urn, r.id
            )));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for p in &snap.pending {
        if p.id != 0 && !seen.insert(p.id) {
            return Err(StateError::Import(format!(
                "duplicate pending operation id {}",
                p.id
            )));
        }
    }
    let values = snap
        .resources
        .iter()
        .chain(&snap.condemned)
        .flat_map(|r| [&r.inputs, &r.outputs])
        .chain(snap.pending.iter().map(|p| &p.inputs));
    for v in values {
        unseal_from_storage(crypter, v).map_err(|e| {
            StateError::Import(format!(
                "its secrets do not open with this state's key: {e}"
            ))
        })?;
    }
    let seal_all = |rs: &[ResourceState]| -> Result<Vec<ResourceState>> {
        rs.iter().map(|r| seal_resource(crypter, r)).collect()
    };
    Ok(Snapshot {
        version: snap.version,
        stack: snap.stack.clone(),
        serial: snap.serial,
        lineage: snap.lineage.clone(),
        resources: seal_all(&snap.resources)?,
        condemned: seal_all(&snap.condemned)?,
        pending: snap
            .pending
            .iter()
            .map(|p| {
                Ok(PendingOp {
                    inputs: seal_for_storage(crypter, &p.inputs)?,
                    ..p.clone()
                })
            })
            .collect::<Result<_>>()?,
    })
}

/// RFC 3339 UTC timestamp, seconds precision.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// The holder as named in [`StateError::LockMismatch`].
pub fn describe_holder(holder: Option<&LockInfo>) -> String {
    match holder {
        Some(h) => format!("{} pid {}, lock id {}", h.who, h.pid, h.id),
        None => "nobody".into(),
    }
}
