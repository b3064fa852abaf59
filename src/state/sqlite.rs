//! The SQLite state backend: one file per stack, WAL mode, a versioned schema.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use serde_json::Value;

use super::{
    lock, now_rfc3339, seal_for_storage, seal_resource, unseal_from_storage, validate_import,
    HistoryEntry, LockInfo, OpEffect, OpKind, PendingOp, ResourceState, Result, Snapshot,
    StateError, StateStore, SNAPSHOT_VERSION,
};
use crate::model::Urn;
use crate::secrets::Crypter;

impl From<rusqlite::Error> for StateError {
    fn from(e: rusqlite::Error) -> Self {
        StateError::Db(e.to_string())
    }
}

/// Schema migrations, applied in order; `PRAGMA user_version` counts how
/// many have run. Append only: never edit a released entry.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE resources (
    urn TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    inputs TEXT NOT NULL,
    outputs TEXT NOT NULL,
    dependencies TEXT NOT NULL,
    parent TEXT NOT NULL,
    options TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE condemned (
    urn TEXT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    inputs TEXT NOT NULL,
    outputs TEXT NOT NULL,
    dependencies TEXT NOT NULL,
    parent TEXT NOT NULL,
    options TEXT NOT NULL,
    PRIMARY KEY (urn, id)
);
CREATE TABLE lock (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    id TEXT NOT NULL,
    who TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    operation TEXT NOT NULL,
    started_at TEXT NOT NULL,
    version TEXT NOT NULL
);
CREATE TABLE pending_ops (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    urn TEXT NOT NULL,
    kind TEXT NOT NULL,
    type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    inputs TEXT NOT NULL,
    started_at TEXT NOT NULL
);
CREATE TABLE history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    operation TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    result TEXT NOT NULL,
    who TEXT NOT NULL,
    summary TEXT NOT NULL,
    serial_before INTEGER NOT NULL,
    serial_after INTEGER NOT NULL
);
"#,
    r#"
ALTER TABLE resources ADD COLUMN tainted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE condemned ADD COLUMN tainted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE lock ADD COLUMN boot_id TEXT NOT NULL DEFAULT '';
ALTER TABLE lock ADD COLUMN pid_ns TEXT NOT NULL DEFAULT '';
ALTER TABLE lock ADD COLUMN start_time INTEGER NOT NULL DEFAULT 0;
"#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub struct SqliteStore {
    conn: Connection,
    stack: String,
    path: PathBuf,
    crypter: Option<Crypter>,
    lineage: String,
    fence: Option<String>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("stack", &self.stack)
            .finish_non_exhaustive()
    }
}

fn io_err(path: &Path, source: std::io::Error) -> StateError {
    StateError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn corrupt(what: impl std::fmt::Display) -> StateError {
    StateError::Corrupt(what.to_string())
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StateError::Db(format!("serializing state: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| corrupt(format_args!("{what}: {e}")))
}

fn parse_urn(s: &str) -> Result<Urn> {
    Urn::parse(s).map_err(corrupt)
}

/// A row of `resources` or `condemned` as stored (secrets sealed).
struct RawResource {
    urn: String,
    type_name: String,
    id: String,
    inputs: String,
    outputs: String,
    dependencies: String,
    parent: String,
    options: String,
    tainted: bool,
}

const RES_COLS: &str = "urn, type, id, inputs, outputs, dependencies, parent, options, tainted";

impl RawResource {
    fn from_row(r: &Row) -> rusqlite::Result<Self> {
        Ok(RawResource {
            urn: r.get(0)?,
            type_name: r.get(1)?,
            id: r.get(2)?,
            inputs: r.get(3)?,
            outputs: r.get(4)?,
            dependencies: r.get(5)?,
            parent: r.get(6)?,
            options: r.get(7)?,
            tainted: r.get(8)?,
        })
    }

    /// Decodes the row; `crypter` is `None` to keep secrets sealed.
    fn decode(self, unseal: Option<Option<&Crypter>>) -> Result<ResourceState> {
        let what = |f: &str| format!("{} {f}", self.urn);
        let mut inputs: Value = from_json(&self.inputs, &what("inputs"))?;
        let mut outputs: Value = from_json(&self.outputs, &what("outputs"))?;
        if let Some(c) = unseal {
            inputs = unseal_from_storage(c, &inputs)?;
            outputs = unseal_from_storage(c, &outputs)?;
        }
        Ok(ResourceState {
            dependencies: from_json(&self.dependencies, &what("dependencies"))?,
            options: from_json(&self.options, &what("options"))?,
            urn: parse_urn(&self.urn)?,
            type_name: self.type_name,
            id: self.id,
            inputs,
            outputs,
            parent: self.parent,
            tainted: self.tainted,
        })
    }
}

/// Column values for a resource whose secrets are already sealed.
fn encode_resource(r: &ResourceState) -> Result<[String; 8]> {
    Ok([
        r.urn.as_str().to_string(),
        r.type_name.clone(),
        r.id.clone(),
        to_json(&r.inputs)?,
        to_json(&r.outputs)?,
        to_json(&r.dependencies)?,
        r.parent.clone(),
        to_json(&r.options)?,
    ])
}

fn insert_resource(tx: &Connection, r: &ResourceState) -> Result<()> {
    let c = encode_resource(r)?;
    tx.prepare_cached(&format!(
        "INSERT INTO resources ({RES_COLS}, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(urn) DO UPDATE SET type = excluded.type, id = excluded.id,
           inputs = excluded.inputs, outputs = excluded.outputs,
           dependencies = excluded.dependencies, parent = excluded.parent,
           options = excluded.options, tainted = excluded.tainted,
           updated_at = excluded.updated_at"
    ))?
    .execute(params![
        c[0],
        c[1],
        c[2],
        c[3],
        c[4],
        c[5],
        c[6],
        c[7],
        r.tainted,
        now_rfc3339()
    ])?;
    Ok(())
}

fn insert_condemned(tx: &Connection, r: &ResourceState) -> Result<()> {
    let c = encode_resource(r)?;
    tx.prepare_cached(&format!(
        "INSERT INTO condemned ({RES_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?
    .execute(params![
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], r.tainted
    ])?;
    Ok(())
}

fn insert_pending(tx: &Connection, p: &PendingOp, keep_id: bool) -> Result<i64> {
    let id = keep_id.then_some(p.id).filter(|&id| id > 0);
    tx.prepare_cached(
        "INSERT INTO pending_ops (id, urn, kind, type, resource_id, inputs, started_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id,
        p.urn.as_str(),
        p.kind.as_str(),
        p.type_name,
        p.resource_id,
        to_json(&p.inputs)?,
        p.started_at
    ])?;
    Ok(tx.last_insert_rowid())
}

fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

fn put_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}

/// Reads `key`, first storing `init()` if absent. Only the first writer
/// takes the write lock; `true` when this call stored the value.
fn meta_or_init(
    conn: &mut Connection,
    key: &str,
    init: impl FnOnce() -> String,
) -> Result<(String, bool)> {
    if let Some(v) = get_meta(conn, key)? {
        return Ok((v, false));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have stored it between the read and the lock.
    if let Some(v) = get_meta(&tx, key)? {
        return Ok((v, false));
    }
    let v = init();
    put_meta(&tx, key, &v)?;
    tx.commit()?;
    Ok((v, true))
}

fn read_serial(conn: &Connection) -> Result<u64> {
    match get_meta(conn, "serial")? {
        None => Ok(0),
        Some(s) => s.parse().map_err(|_| corrupt(format_args!("serial {s:?}"))),
    }
}

fn bump_serial(conn: &Connection) -> Result<u64> {
    let s = read_serial(conn)? + 1;
    put_meta(conn, "serial", &s.to_string())?;
    Ok(s)
}

fn read_lock(conn: &Connection) -> Result<Option<LockInfo>> {
    let row = conn
        .prepare_cached(
            "SELECT id, who, host, pid, operation, started_at, version, boot_id, pid_ns, start_time
             FROM lock WHERE singleton = 1",
        )?
        .query_row([], |r| {
            Ok(LockInfo {
                id: r.get(0)?,
                who: r.get(1)?,
                host: r.get(2)?,
                pid: r.get(3)?,
                operation: r.get(4)?,
                started_at: r.get(5)?,
                version: r.get(6)?,
                boot_id: r.get(7)?,
                pid_ns: r.get(8)?,
                start_time: r.get::<_, i64>(9)? as u64,
            })
        })
        .optional()?;
    Ok(row)
}

/// A fresh random lineage id.
pub fn new_lineage() -> String {
    let mut b = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut b);
    hex::encode(b)
}

/// Fails unless lock `fence` (when set) is the lock row, in `tx`.
fn check_fence(tx: &Connection, fence: Option<&str>) -> Result<()> {
    let Some(id) = fence else { return Ok(()) };
    let holder = read_lock(tx)?;
    if holder.as_ref().is_some_and(|h| h.id == id) {
        return Ok(());
    }
    Err(StateError::LockLost {
        held: id.to_string(),
        now: super::describe_holder(holder.as_ref()),
    })
}

fn check_owner(owner: String, stack: &str, label: &str) -> Result<()> {
    if owner != stack {
        return Err(corrupt(format_args!(
            "{label} holds the state of stack {owner:?}, not {stack:?}"
        )));
    }
    Ok(())
}

/// Header bytes 18 and 19 say WAL (2) or rollback journal (1); a database
/// loaded into memory must not claim WAL, and whole-file bytes carry no WAL.
fn set_rollback_journal(b: &mut [u8]) {
    if b.len() >= 100 {
        b[18] = 1;
        b[19] = 1;
    }
}

/// Loads a whole state file's `bytes` into the in-memory `conn`.
fn load_bytes(conn: &mut Connection, bytes: &[u8], read_only: bool, label: &str) -> Result<()> {
    if bytes.len() < 100 || !bytes.starts_with(b"SQLite format 3\0") {
        return Err(corrupt(format_args!(
            "{label} is not a state file (not SQLite)"
        )));
    }
    let mut b = bytes.to_vec();
    set_rollback_journal(&mut b);
    // SAFETY: sqlite3_deserialize takes ownership of a buffer from
    // sqlite3_malloc64 (FREEONCLOSE); it is allocated with exactly b.len()
    // bytes and filled before being handed over.
    unsafe {
        let p = rusqlite::ffi::sqlite3_malloc64(b.len() as u64).cast::<u8>();
        let p = std::ptr::NonNull::new(p)
            .ok_or_else(|| StateError::Db(format!("{label}: out of memory")))?;
        std::ptr::copy_nonoverlapping(b.as_ptr(), p.as_ptr(), b.len());
        let data = rusqlite::serialize::OwnedData::from_raw_nonnull(p, b.len());
        conn.deserialize(rusqlite::DatabaseName::Main, data, read_only)?;
    }
    // A malformed file fails here rather than at the first query.
    let ok: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if ok != "ok" {
        return Err(corrupt(format_args!("{label}: {ok}")));
    }
    Ok(())
}

/// Runs the migrations this file has not seen yet.
fn migrate(conn: &mut Connection) -> Result<()> {
    let version = |c: &Connection| -> Result<i64> {
        Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    };
    let found = version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(StateError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    // Re-read under the write lock: another process may have migrated meanwhile.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = version(&tx)?;
    if found > SCHEMA_VERSION {
        return Err(StateError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the state file for `stack`.
    pub fn open(path: &Path, stack: &str) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        }
        // Owner-only from the start: secrets are sealed, but ids and inputs are
        // not. SQLite gives the -wal and -shm files the database file's mode.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err(path, e)),
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // WAL: readers never block the writer. synchronous=NORMAL in WAL mode
        // syncs only at checkpoints, but every commit is write(2)n to the WAL
        // before COMMIT returns, so it survives kill -9 of this process; only
        // an OS crash or power loss can drop the latest commits (never corrupt).
        // `begin_op` alone commits with FULL (see there).
        // Switching a new file to WAL answers SQLITE_BUSY at once, without
        // the busy timeout, while another process opens it too: retry.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mode: String = loop {
            match conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)) {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                r => break r?,
            }
        };
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StateError::Db(format!(
                "{}: cannot enable WAL journaling (got {mode})",
                path.display()
            )));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;

        let (owner, _) = meta_or_init(&mut conn, "stack", || stack.to_string())?;
        if owner != stack {
            return Err(corrupt(format_args!(
                "{} holds the state of stack {owner:?}, not {stack:?}",
                path.display()
            )));
        }
        let (lineage, _) = meta_or_init(&mut conn, "lineage", new_lineage)?;
        Ok(SqliteStore {
            conn,
            stack: stack.to_string(),
            path: path.to_path_buf(),
            crypter: None,
            lineage,
            fence: None,
        })
    }

    /// Opens an existing state file read only (drift): nothing is created,
    /// migrated or written, and no lock is taken, so it works while an `up`
    /// runs (WAL readers never block the writer). Writes fail.
    pub fn open_read_only(path: &Path, stack: &str) -> Result<SqliteStore> {
        if !path.exists() {
            return Err(StateError::Db(format!(
                "{}: no state for stack {stack:?}: nothing has been applied from here",
                path.display()
            )));
        }
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StateError::SchemaTooNew {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version < SCHEMA_VERSION {
            return Err(StateError::Db(format!(
                "{}: state schema version {version} needs migrating to {SCHEMA_VERSION}; run `morket-stack preview {stack}` once",
                path.display()
            )));
        }
        let owner = get_meta(&conn, "stack")?.unwrap_or_default();
        if owner != stack {
            return Err(corrupt(format_args!(
                "{} holds the state of stack {owner:?}, not {stack:?}",
                path.display()
            )));
        }
        let lineage = get_meta(&conn, "lineage")?.unwrap_or_default();
        Ok(SqliteStore {
            conn,
            stack: stack.to_string(),
            path: path.to_path_buf(),
            crypter: None,
            lineage,
            fence: None,
        })
    }

    /// A state held in memory, made from `bytes` (a whole state file, as a
    /// remote backend stores it) or new when `None`: the working copy of
    /// [`super::remote::RemoteStore`]. `read_only` neither migrates nor
    /// initialises anything, and refuses writes.
    pub fn from_bytes(
        bytes: Option<&[u8]>,
        stack: &str,
        label: &str,
        read_only: bool,
    ) -> Result<SqliteStore> {
        let mut conn = Connection::open_in_memory()?;
        if let Some(b) = bytes {
            load_bytes(&mut conn, b, read_only, label)?;
        }
        let lineage = if read_only {
            let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if version != SCHEMA_VERSION {
                return Err(if version > SCHEMA_VERSION {
                    StateError::SchemaTooNew {
                        found: version,
                        supported: SCHEMA_VERSION,
                    }
                } else {
                    StateError::Db(format!(
                        "{label}: state schema version {version} needs migrating to {SCHEMA_VERSION}; run `morket-stack preview {stack}` once"
                    ))
                });
            }
            check_owner(get_meta(&conn, "stack")?.unwrap_or_default(), stack, label)?;
            get_meta(&conn, "lineage")?.unwrap_or_default()
        } else {
            conn.pragma_update(None, "foreign_keys", "ON")?;
            migrate(&mut conn)?;
            let (owner, _) = meta_or_init(&mut conn, "stack", || stack.to_string())?;
            check_owner(owner, stack, label)?;
            meta_or_init(&mut conn, "lineage", new_lineage)?.0
        };
        Ok(SqliteStore {
            conn,
            stack: stack.to_string(),
            path: PathBuf::from(label),
            crypter: None,
            lineage,
            fence: None,
        })
    }

    /// The whole state as one file's bytes (no WAL: what
    /// [`SqliteStore::from_bytes`] takes back).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let data = self.conn.serialize(rusqlite::DatabaseName::Main)?;
        let mut b = data.to_vec();
        set_rollback_journal(&mut b);
        Ok(b)
    }

    /// The state as a file to copy elsewhere (`state migrate`): without
    /// the lock row (the copy's backend has its own lock) and compacted.
    pub fn to_copy_bytes(&self) -> Result<Vec<u8>> {
        let copy = SqliteStore::from_bytes(
            Some(&self.to_bytes()?),
            &self.stack,
            &self.path.display().to_string(),
            false,
        )?;
        copy.conn.execute("DELETE FROM lock", [])?;
        copy.conn.execute_batch("VACUUM")?;
        copy.to_bytes()
    }

    /// Takes the state `bytes` in place of this one's, keeping the key.
    pub fn replace_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let mut fresh = SqliteStore::from_bytes(
            Some(bytes),
            &self.stack,
            &self.path.display().to_string(),
            false,
        )?;
        fresh.crypter = self.crypter.take();
        fresh.fence = self.fence.take();
        *self = fresh;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's `PRAGMA user_version`.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    // IMMEDIATE takes the write lock up front: a deferred transaction that
    // upgrades from read to write can fail with SQLITE_BUSY regardless of
    // busy_timeout when another process writes concurrently.
    fn write_tx(&mut self) -> Result<Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    fn query_resources(&self, sql: &str, unseal: bool) -> Result<Vec<ResourceState>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt
            .query_map([], RawResource::from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let c = unseal.then_some(self.crypter.as_ref());
        rows.into_iter().map(|r| r.decode(c)).collect()
    }

    fn query_pending(&self, unseal: bool) -> Result<Vec<PendingOp>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, urn, kind, type, resource_id, inputs, started_at FROM pending_ops ORDER BY id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(
                |(id, urn, kind, type_name, resource_id, inputs, started_at)| {
                    let mut inputs: Value = from_json(&inputs, &format!("pending {id} inputs"))?;
                    if unseal {
                        inputs = unseal_from_storage(self.crypter.as_ref(), &inputs)?;
                    }
                    Ok(PendingOp {
                        id,
                        urn: parse_urn(&urn)?,
                        kind: OpKind::parse(&kind)
                            .ok_or_else(|| corrupt(format_args!("pending {id}: kind {kind:?}")))?,
                        type_name,
                        resource_id,
                        inputs,
                        started_at,
                    })
                },
            )
            .collect()
    }
}

impl StateStore for SqliteStore {
    fn stack(&self) -> &str {
        &self.stack
    }

    fn crypter(&self) -> Option<&Crypter> {
        self.crypter.as_ref()
    }

    fn set_crypter(&mut self, crypter: Crypter) -> Result<()> {
        // Read first: a read-only store must not try to write.
        match get_meta(&self.conn, "key_check")? {
            Some(check) => crypter.verify(&check)?,
            None => {
                let (check, created) =
                    meta_or_init(&mut self.conn, "key_check", || crypter.key_check())?;
                if !created {
                    crypter.verify(&check)?;
                }
            }
        }
        self.crypter = Some(crypter);
        Ok(())
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        get_meta(&self.conn, key)
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        put_meta(&self.conn, key, value)
    }

    fn init_meta(&mut self, key: &str, value: &str) -> Result<String> {
        Ok(meta_or_init(&mut self.conn, key, || value.to_string())?.0)
    }

    fn lineage(&self) -> Result<String> {
        Ok(self.lineage.clone())
    }

    fn set_fence(&mut self, lock_id: Option<String>) {
        self.fence = lock_id;
    }

    fn serial(&self) -> Result<u64> {
        read_serial(&self.conn)
    }

    fn resources(&self) -> Result<Vec<ResourceState>> {
        self.query_resources(
            &format!("SELECT {RES_COLS} FROM resources ORDER BY urn"),
            true,
        )
    }

    fn resource(&self, urn: &Urn) -> Result<Option<ResourceState>> {
        let raw = self
            .conn
            .prepare_cached(&format!("SELECT {RES_COLS} FROM resources WHERE urn = ?1"))?
            .query_row([urn.as_str()], RawResource::from_row)
            .optional()?;
        raw.map(|r| r.decode(Some(self.crypter.as_ref())))
            .transpose()
    }

    fn condemned(&self) -> Result<Vec<ResourceState>> {
        self.query_resources(
            &format!("SELECT {RES_COLS} FROM condemned ORDER BY urn, rowid"),
            true,
        )
    }

    fn begin_op(&mut self, op: &PendingOp) -> Result<i64> {
        Ok(self.begin_ops(std::slice::from_ref(op))?[0])
    }

    fn begin_ops(&mut self, ops: &[PendingOp]) -> Result<Vec<i64>> {
        let sealed = ops
            .iter()
            .map(|op| {
                Ok(PendingOp {
                    inputs: seal_for_storage(self.crypter.as_ref(), &op.inputs)?,
                    ..op.clone()
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // The provider calls follow: the rows must survive power loss, not
        // just kill -9, so this commit alone is fsynced. Results stay NORMAL:
        // a lost result leaves its row, which the next run settles by
        // looking the object up; WAL frames are replayed in order, so a
        // later synced commit also makes every earlier one durable.
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        let fence = self.fence.clone();
        let r = (|| {
            let tx = self.write_tx()?;
            check_fence(&tx, fence.as_deref())?;
            let mut ids = Vec::with_capacity(sealed.len());
            for p in &sealed {
                ids.push(insert_pending(&tx, p, false)?);
            }
            // A plan made before these operations is stale now.
            bump_serial(&tx)?;
            tx.commit()?;
            Ok(ids)
        })();
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        r
    }

    fn end_op(&mut self, pending_id: i64, effect: &OpEffect) -> Result<()> {
        // Seal before the transaction so a missing key changes nothing.
        let c = self.crypter.clone();
        let sealed = match effect {
            OpEffect::Upsert(r) | OpEffect::Replace(r) | OpEffect::Rename { to: r, .. } => {
                Some(seal_resource(c.as_ref(), r)?)
            }
            _ => None,
        };
        let fence = self.fence.clone();
        let tx = self.write_tx()?;
        check_fence(&tx, fence.as_deref())?;
        let gone = tx
            .prepare_cached("DELETE FROM pending_ops WHERE id = ?1")?
            .execute([pending_id])?;
        if gone == 0 {
            return Err(StateError::Db(format!(
                "end_op: no pending operation {pending_id}"
            )));
        }
        let changed = match (effect, sealed) {
            (OpEffect::Nothing, _) => false,
            (OpEffect::Upsert(_), Some(r)) => {
                insert_resource(&tx, &r)?;
                true
            }
            (OpEffect::Replace(_), Some(r)) => {
                tx.prepare_cached(&format!(
                    "INSERT OR REPLACE INTO condemned ({RES_COLS})
                     SELECT {RES_COLS} FROM resources WHERE urn = ?1"
                ))?
                .execute([r.urn.as_str()])?;
                insert_resource(&tx, &r)?;
                true
            }
            (OpEffect::Remove(urn), _) => {
                tx.prepare_cached("DELETE FROM resources WHERE urn = ?1")?
                    .execute([urn.as_str()])?
                    > 0
            }
            (OpEffect::RemoveCondemned { urn, id }, _) => {
                tx.prepare_cached("DELETE FROM condemned WHERE urn = ?1 AND id = ?2")?
                    .execute([urn.as_str(), id.as_str()])?
                    > 0
            }
            (OpEffect::Rename { from, .. }, Some(r)) => {
                tx.prepare_cached("DELETE FROM resources WHERE urn = ?1")?
                    .execute([from.as_str()])?;
                tx.prepare_cached("UPDATE condemned SET urn = ?2 WHERE urn = ?1")?
                    .execute([from.as_str(), r.urn.as_str()])?;
                insert_resource(&tx, &r)?;
                true
            }
            (OpEffect::Upsert(_) | OpEffect::Replace(_) | OpEffect::Rename { .. }, None) => {
                unreachable!("sealed above")
            }
        };
        if changed {
            bump_serial(&tx)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn pending(&self) -> Result<Vec<PendingOp>> {
        self.query_pending(true)
    }

    fn remove_resource(&mut self, urn: &Urn) -> Result<()> {
        let tx = self.write_tx()?;
        let n = tx
            .prepare_cached("DELETE FROM resources WHERE urn = ?1")?
            .execute([urn.as_str()])?;
        if n == 0 {
            return Err(StateError::NotFound(urn.to_string()));
        }
        bump_serial(&tx)?;
        tx.commit()?;
        Ok(())
    }

    fn view(&self) -> Result<super::View> {
        // One read transaction: the parts agree with each other.
        self.conn.execute_batch("BEGIN DEFERRED")?;
        let view = (|| {
            Ok(super::View {
                serial: read_serial(&self.conn)?,
                resources: self.resources()?,
                condemned: self.condemned()?,
                pending: self.pending()?,
            })
        })();
        self.conn.execute_batch("COMMIT")?;
        view
    }

    fn export(&self) -> Result<Snapshot> {
        // One read transaction so the parts agree with each other.
        self.conn.execute_batch("BEGIN DEFERRED")?;
        let snap = (|| {
            Ok(Snapshot {
                version: SNAPSHOT_VERSION,
                stack: self.stack.clone(),
                serial: read_serial(&self.conn)?,
                lineage: self.lineage.clone(),
                resources: self.query_resources(
                    &format!("SELECT {RES_COLS} FROM resources ORDER BY urn"),
                    false,
                )?,
                condemned: self.query_resources(
                    &format!("SELECT {RES_COLS} FROM condemned ORDER BY urn, rowid"),
                    false,
                )?,
                pending: self.query_pending(false)?,
            })
        })();
        self.conn.execute_batch("COMMIT")?;
        snap
    }

    fn import(&mut self, snapshot: &Snapshot) -> Result<()> {
        let snap = validate_import(&self.stack, self.crypter.as_ref(), snapshot)?;
        let tx = self.write_tx()?;
        tx.execute_batch("DELETE FROM resources; DELETE FROM condemned; DELETE FROM pending_ops;")?;
        for r in &snap.resources {
            insert_resource(&tx, r)?;
        }
        for r in &snap.condemned {
            insert_condemned(&tx, r)?;
        }
        for p in &snap.pending {
            insert_pending(&tx, p, true)?;
        }
        // Past both histories, so no earlier export can look newer.
        let serial = read_serial(&tx)?.max(snap.serial) + 1;
        put_meta(&tx, "serial", &serial.to_string())?;
        // Its objects carry the lineage they were made under.
        if !snap.lineage.is_empty() {
            put_meta(&tx, "lineage", &snap.lineage)?;
        }
        tx.commit()?;
        if !snap.lineage.is_empty() {
            self.lineage = snap.lineage.clone();
        }
        Ok(())
    }

    fn try_lock(&mut self, info: &LockInfo) -> Result<()> {
        let stack = self.stack.clone();
        let tx = self.write_tx()?;
        if let Some(holder) = read_lock(&tx)? {
            return Err(lock::held(holder, &stack));
        }
        tx.prepare_cached(
            "INSERT INTO lock (singleton, id, who, host, pid, operation, started_at, version,
               boot_id, pid_ns, start_time)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            info.id,
            info.who,
            info.host,
            info.pid,
            info.operation,
            info.started_at,
            info.version,
            info.boot_id,
            info.pid_ns,
            info.start_time as i64
        ])?;
        tx.commit()?;
        Ok(())
    }

    fn unlock(&mut self, lock_id: &str) -> Result<()> {
        let tx = self.write_tx()?;
        let n = tx
            .prepare_cached("DELETE FROM lock WHERE singleton = 1 AND id = ?1")?
            .execute([lock_id])?;
        if n == 0 {
            let holder = read_lock(&tx)?;
            return Err(StateError::LockMismatch(
                lock_id.to_string(),
                super::describe_holder(holder.as_ref()),
            ));
        }
        tx.commit()?;
        Ok(())
    }

    fn lock_status(&self) -> Result<Option<LockInfo>> {
        read_lock(&self.conn)
    }

    fn append_history(&mut self, e: &HistoryEntry) -> Result<()> {
        let summary = seal_for_storage(self.crypter.as_ref(), &e.summary)?;
        self.conn
            .prepare_cached(
                "INSERT INTO history (operation, started_at, finished_at, result, who, summary,
                   serial_before, serial_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                e.operation,
                e.started_at,
                e.finished_at,
                e.result,
                e.who,
                to_json(&summary)?,
                e.serial_before as i64,
                e.serial_after as i64
            ])?;
        Ok(())
    }

    fn history(&self, limit: usize) -> Result<Vec<HistoryEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, operation, started_at, finished_at, result, who, summary,
               serial_before, serial_after FROM history ORDER BY id DESC LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map([limit], |r| {
                Ok((
                    HistoryEntry {
                        id: r.get(0)?,
                        operation: r.get(1)?,
                        started_at: r.get(2)?,
                        finished_at: r.get(3)?,
                        result: r.get(4)?,
                        who: r.get(5)?,
                        summary: Value::Null,
                        serial_before: r.get::<_, i64>(7)? as u64,
                        serial_after: r.get::<_, i64>(8)? as u64,
                    },
                    r.get::<_, String>(6)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(mut e, summary)| {
                let v: Value = from_json(&summary, &format!("history {} summary", e.id))?;
                e.summary = unseal_from_storage(self.crypter.as_ref(), &v)?;
                Ok(e)
            })
            .collect()
    }
}
