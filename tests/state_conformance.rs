//! The conformance suite every `StateStore` runs. Each check takes a factory
//! whose every call returns a new, keyed handle on the same underlying state
//! (SQLite: the file opened again; memory: a clone of the handle).

use std::path::{Path, PathBuf};
use std::process::Command;

use morket_stack::model::{ResourceOptions, Urn};
use morket_stack::secrets::{Crypter, SecretsError};
use morket_stack::state::lock::{new_lock_info, this_host};
use morket_stack::state::{
    HistoryEntry, LockInfo, MemoryStore, OpEffect, OpKind, PendingOp, ResourceState, SqliteStore,
    StateError, StateStore,
};
use serde_json::{json, Value};

#[path = "state_conformance/on_s3.rs"]
mod on_s3;
mod support;

const STACK: &str = "dev";
const KEY: [u8; 32] = [7; 32];
const CANARY: &str = "PLAINTEXT-CANARY-123";

type Factory<'a> = &'a dyn Fn() -> Box<dyn StateStore>;

fn keyed(mut s: Box<dyn StateStore>) -> Box<dyn StateStore> {
    s.set_crypter(Crypter::new(&KEY)).expect("shared key");
    s
}

fn urn(name: &str) -> Urn {
    Urn::new(STACK, "", "test:x/Thing", name)
}

fn res(name: &str, id: &str) -> ResourceState {
    ResourceState {
        urn: urn(name),
        type_name: "test:x/Thing".into(),
        id: id.into(),
        inputs: json!({"name": name, "size": 1}),
        outputs: json!({"arn": format!("arn:{id}")}),
        dependencies: vec![],
        parent: String::new(),
        options: ResourceOptions::new().protect(name == "protected"),
        tainted: false,
    }
}

fn op(name: &str, kind: OpKind, inputs: Value) -> PendingOp {
    PendingOp {
        id: 0,
        urn: urn(name),
        kind,
        type_name: "test:x/Thing".into(),
        resource_id: String::new(),
        inputs,
        started_at: "2026-01-01T00:00:00Z".into(),
    }
}

fn apply(s: &mut dyn StateStore, name: &str, kind: OpKind, effect: OpEffect) {
    let id = s.begin_op(&op(name, kind, json!({}))).unwrap();
    s.end_op(id, &effect).unwrap();
}

// ---- checks shared by every backend ----

fn empty_state(new: Factory) {
    let s = new();
    assert_eq!(s.stack(), STACK);
    assert_eq!(s.serial().unwrap(), 0);
    assert!(s.resources().unwrap().is_empty());
    assert!(s.condemned().unwrap().is_empty());
    assert!(s.pending().unwrap().is_empty());
    assert!(s.lock_status().unwrap().is_none());
    assert!(s.history(10).unwrap().is_empty());
    assert!(s.resource(&urn("a")).unwrap().is_none());
}

fn ops_and_serial(new: Factory) {
    let mut s = new();
    let reader = new();

    // Pending row is committed and visible to another handle before end_op;
    // it moves the serial, so a plan made before it is stale.
    let mut a = res("a", "id-a1");
    let pid = s
        .begin_op(&op("a", OpKind::Create, a.inputs.clone()))
        .unwrap();
    let pend = reader.pending().unwrap();
    assert_eq!(pend.len(), 1);
    assert_eq!(pend[0].id, pid);
    assert_eq!(pend[0].kind, OpKind::Create);
    assert_eq!(pend[0].urn, urn("a"));
    assert_eq!(pend[0].inputs, a.inputs);
    assert_eq!(reader.serial().unwrap(), 1);
    s.end_op(pid, &OpEffect::Upsert(a.clone())).unwrap();
    assert!(reader.pending().unwrap().is_empty());
    assert_eq!(reader.serial().unwrap(), 2);
    assert_eq!(reader.resource(&urn("a")).unwrap(), Some(a.clone()));

    // Nothing: only the pending row goes.
    apply(&mut *s, "a", OpKind::Update, OpEffect::Nothing);
    assert_eq!(reader.serial().unwrap(), 3);
    assert!(reader.pending().unwrap().is_empty());

    // Upsert overwrites.
    a.outputs = json!({"arn": "changed"});
    apply(&mut *s, "a", OpKind::Update, OpEffect::Upsert(a.clone()));
    assert_eq!(reader.serial().unwrap(), 5);
    assert_eq!(reader.resource(&urn("a")).unwrap(), Some(a.clone()));

    // Replace moves the old row to condemned.
    let a2 = res("a", "id-a2");
    apply(
        &mut *s,
        "a",
        OpKind::CreateReplacement,
        OpEffect::Replace(a2.clone()),
    );
    assert_eq!(reader.serial().unwrap(), 7);
    assert_eq!(reader.resource(&urn("a")).unwrap(), Some(a2.clone()));
    assert_eq!(reader.condemned().unwrap(), vec![a.clone()]);

    // Replace of something not in state condemns nothing.
    let b = res("b", "id-b");
    apply(&mut *s, "b", OpKind::Create, OpEffect::Replace(b.clone()));
    assert_eq!(reader.serial().unwrap(), 9);
    assert_eq!(reader.condemned().unwrap().len(), 1);

    // RemoveCondemned with the wrong id changes nothing; the right one removes.
    apply(
        &mut *s,
        "a",
        OpKind::DeleteReplaced,
        OpEffect::RemoveCondemned {
            urn: urn("a"),
            id: "nope".into(),
        },
    );
    assert_eq!(reader.serial().unwrap(), 10);
    apply(
        &mut *s,
        "a",
        OpKind::DeleteReplaced,
        OpEffect::RemoveCondemned {
            urn: urn("a"),
            id: "id-a1".into(),
        },
    );
    assert_eq!(reader.serial().unwrap(), 12);
    assert!(reader.condemned().unwrap().is_empty());

    // Remove.
    apply(&mut *s, "b", OpKind::Delete, OpEffect::Remove(urn("b")));
    assert_eq!(reader.serial().unwrap(), 14);
    assert!(reader.resource(&urn("b")).unwrap().is_none());
    assert_eq!(reader.resources().unwrap(), vec![a2]);

    // state rm.
    s.remove_resource(&urn("a")).unwrap();
    assert_eq!(reader.serial().unwrap(), 15);
    assert!(matches!(
        s.remove_resource(&urn("a")),
        Err(StateError::NotFound(_))
    ));
    assert_eq!(reader.serial().unwrap(), 15);

    // Ending an unknown pending op fails and changes nothing.
    assert!(s.end_op(9999, &OpEffect::Upsert(res("z", "z"))).is_err());
    assert!(reader.resource(&urn("z")).unwrap().is_none());
    assert!(reader.pending().unwrap().is_empty());
}

fn resources_ordered_by_urn(new: Factory) {
    let mut s = new();
    for n in ["m", "c", "x", "a", "protected"] {
        apply(&mut *s, n, OpKind::Create, OpEffect::Upsert(res(n, n)));
    }
    let got: Vec<String> = new()
        .resources()
        .unwrap()
        .into_iter()
        .map(|r| r.urn.name().to_string())
        .collect();
    assert_eq!(got, ["a", "c", "m", "protected", "x"]);
    assert!(
        new()
            .resource(&urn("protected"))
            .unwrap()
            .unwrap()
            .options
            .protect
    );

    let mut ids = Vec::new();
    for n in ["q", "b"] {
        ids.push(s.begin_op(&op(n, OpKind::Create, json!({}))).unwrap());
    }
    let pend: Vec<i64> = new().pending().unwrap().iter().map(|p| p.id).collect();
    assert_eq!(pend, ids, "pending ops in begin order");
    assert!(ids[0] < ids[1]);
}

fn meta_roundtrip(new: Factory) {
    let mut s = new();
    assert_eq!(s.meta("k").unwrap(), None);
    s.set_meta("k", "v1").unwrap();
    s.set_meta("k", "v2").unwrap();
    assert_eq!(new().meta("k").unwrap().as_deref(), Some("v2"));
}

fn lock_contention(new: Factory) {
    let mut a = new();
    let mut b = new();
    let info = new_lock_info("up");
    a.try_lock(&info).unwrap();
    assert_eq!(b.lock_status().unwrap(), Some(info.clone()));

    let other = new_lock_info("destroy");
    match b.try_lock(&other) {
        Err(StateError::Locked(held)) => {
            assert_eq!(held.holder, info);
            assert!(!held.stale, "our own pid is alive");
            let msg = StateError::Locked(held).to_string();
            assert!(msg.contains(&info.who), "{msg}");
            assert!(msg.contains(&info.pid.to_string()), "{msg}");
            assert!(msg.contains("up"), "{msg}");
        }
        other => panic!("expected Locked, got {other:?}"),
    }

    match b.unlock(&other.id) {
        Err(StateError::LockMismatch(given, holder)) => {
            assert_eq!(given, other.id);
            assert!(holder.contains(&info.id), "{holder}");
        }
        r => panic!("expected LockMismatch, got {r:?}"),
    }
    assert_eq!(a.lock_status().unwrap(), Some(info.clone()));

    b.unlock(&info.id).unwrap(); // any handle may release with the right id
    assert_eq!(a.lock_status().unwrap(), None);
    match a.unlock(&info.id) {
        Err(StateError::LockMismatch(_, holder)) => assert_eq!(holder, "nobody"),
        r => panic!("expected LockMismatch, got {r:?}"),
    }
    b.try_lock(&other).unwrap();
    assert!(matches!(a.try_lock(&info), Err(StateError::Locked(_))));
    b.unlock(&other.id).unwrap();
}

fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("spawn true");
    let pid = child.id();
    child.wait().unwrap();
    pid
}

fn stale_lock(new: Factory) {
    let mut a = new();
    let dead = LockInfo {
        pid: dead_pid(),
        host: this_host(),
        ..new_lock_info("up")
    };
    a.try_lock(&dead).unwrap();
    match new().try_lock(&new_lock_info("up")) {
        Err(StateError::Locked(held)) => {
            assert!(held.stale, "dead pid {} should be stale", dead.pid);
            assert_eq!(held.holder, dead);
            assert!(StateError::Locked(held).to_string().contains("stale"));
        }
        r => panic!("expected Locked, got {r:?}"),
    }
    new().unlock(&dead.id).unwrap();

    // A dead pid on another host can't be judged: not stale.
    let remote = LockInfo {
        host: format!("{}-elsewhere", this_host()),
        ..dead
    };
    a.try_lock(&remote).unwrap();
    match new().try_lock(&new_lock_info("up")) {
        Err(StateError::Locked(held)) => assert!(!held.stale),
        r => panic!("expected Locked, got {r:?}"),
    }
}

fn entry(n: u64) -> HistoryEntry {
    HistoryEntry {
        id: 0,
        operation: format!("op{n}"),
        started_at: "2026-01-01T00:00:00Z".into(),
        finished_at: "2026-01-01T00:00:01Z".into(),
        result: "ok".into(),
        who: "me@here".into(),
        summary: json!({"created": n}),
        serial_before: n,
        serial_after: n + 1,
    }
}

fn history_order_and_limit(new: Factory) {
    let mut s = new();
    for n in 0..5 {
        s.append_history(&entry(n)).unwrap();
    }
    let h = new().history(3).unwrap();
    let ops: Vec<&str> = h.iter().map(|e| e.operation.as_str()).collect();
    assert_eq!(ops, ["op4", "op3", "op2"]);
    assert!(h[0].id > h[1].id && h[1].id > h[2].id);
    assert_eq!(
        HistoryEntry {
            id: 0,
            ..h[0].clone()
        },
        entry(4),
        "fields round-trip"
    );
    assert_eq!(new().history(100).unwrap().len(), 5);
    assert!(new().history(0).unwrap().is_empty());
}

fn populate(s: &mut dyn StateStore) {
    let mut a = res("a", "a1");
    a.inputs["pw"] = json!({"$secret": "hunter2"});
    a.dependencies = vec![urn("b")];
    a.parent = "comp".into();
    apply(s, "a", OpKind::Create, OpEffect::Upsert(a));
    apply(s, "b", OpKind::Create, OpEffect::Upsert(res("b", "b1")));
    apply(
        s,
        "a",
        OpKind::CreateReplacement,
        OpEffect::Replace(res("a", "a2")),
    );
    s.begin_op(&op(
        "c",
        OpKind::Create,
        json!({"pw": {"$secret": "pending-secret-s3"}}),
    ))
    .unwrap();
}

/// `other` is an independent, empty store of the same backend.
fn export_import_roundtrip(new: Factory, other: Factory) {
    let mut s = new();
    populate(&mut *s);
    let snap = s.export().unwrap();
    assert_eq!(snap.stack, STACK);
    assert_eq!(snap.serial, s.serial().unwrap());
    assert_eq!(snap.resources.len(), 2);
    assert_eq!(snap.condemned.len(), 1);
    assert_eq!(snap.pending.len(), 1);
    // Exports keep secrets sealed.
    let text = serde_json::to_string(&snap).unwrap();
    assert!(
        !text.contains("hunter2") && !text.contains("pending-secret-s3"),
        "{text}"
    );
    assert!(text.contains("$sealed"));
    // and survive a JSON round trip.
    let snap: morket_stack::state::Snapshot = serde_json::from_str(&text).unwrap();

    let mut t = other();
    apply(
        &mut *t,
        "zz",
        OpKind::Create,
        OpEffect::Upsert(res("zz", "z")),
    );
    t.import(&snap).unwrap();
    assert!(t.serial().unwrap() > snap.serial);
    assert_eq!(t.resources().unwrap(), s.resources().unwrap());
    assert_eq!(t.condemned().unwrap(), s.condemned().unwrap());
    assert_eq!(t.pending().unwrap(), s.pending().unwrap());
    assert_eq!(
        t.resource(&urn("a")).unwrap().unwrap().inputs["pw"],
        Value::Null,
        "replacement a2 has no pw"
    );
    assert_eq!(
        t.condemned().unwrap()[0].inputs["pw"],
        json!({"$secret": "hunter2"})
    );
    // A new pending op after import doesn't collide with imported ids.
    let id = t.begin_op(&op("d", OpKind::Create, json!({}))).unwrap();
    assert!(snap.pending.iter().all(|p| p.id != id));
    assert_eq!(t.pending().unwrap().len(), 2);
}

fn import_refusals(new: Factory) {
    let mut s = new();
    populate(&mut *s);
    let before = s.export().unwrap();
    let serial = s.serial().unwrap();

    let mut foreign = before.clone();
    foreign.stack = "prod".into();
    foreign.resources.clear();
    let err = s.import(&foreign).unwrap_err();
    assert!(matches!(err, StateError::Import(_)), "{err}");
    assert!(err.to_string().contains("prod"), "{err}");

    // Sealed under another key: refused before anything changes.
    let other_key = Crypter::new(&[9; 32]);
    let mut wrong = before.clone();
    wrong.resources = vec![ResourceState {
        inputs: other_key.seal(&json!({"pw": {"$secret": "x"}})),
        ..res("w", "w")
    }];
    let err = s.import(&wrong).unwrap_err();
    assert!(matches!(err, StateError::Import(_)), "{err}");

    let mut dup = before.clone();
    dup.resources.push(dup.resources[0].clone());
    assert!(matches!(s.import(&dup), Err(StateError::Import(_))));

    assert_eq!(s.serial().unwrap(), serial);
    let after = new().export().unwrap();
    assert_eq!(after, before);
}

fn wrong_key_refused(new: Factory, raw: Factory) {
    drop(new()); // stores the key check
    let mut s = raw();
    let err = s.set_crypter(Crypter::new(&[1; 32])).unwrap_err();
    assert!(
        matches!(err, StateError::Secrets(SecretsError::WrongKey)),
        "{err}"
    );
    s.set_crypter(Crypter::new(&KEY)).unwrap();
}

fn no_key_no_plaintext(new: Factory, raw: Factory) {
    let mut bare = raw();
    let secret = json!({"pw": {"$secret": "x"}});
    let mut r = res("a", "a");
    r.inputs = secret.clone();
    assert!(matches!(
        bare.begin_op(&op("a", OpKind::Create, secret.clone())),
        Err(StateError::Secrets(SecretsError::NoKey))
    ));
    // Non-secret data works without a key.
    let id = bare.begin_op(&op("a", OpKind::Create, json!({}))).unwrap();
    assert!(matches!(
        bare.end_op(id, &OpEffect::Upsert(r.clone())),
        Err(StateError::Secrets(SecretsError::NoKey))
    ));
    assert_eq!(
        bare.pending().unwrap().len(),
        1,
        "failed end_op kept the row"
    );
    bare.end_op(id, &OpEffect::Upsert(res("a", "a"))).unwrap();

    // Sealed data can't be read without a key.
    let mut keyed_handle = new();
    let rb = ResourceState { urn: urn("b"), ..r };
    apply(
        &mut *keyed_handle,
        "b",
        OpKind::Create,
        OpEffect::Upsert(rb),
    );
    assert!(matches!(
        raw().resources(),
        Err(StateError::Secrets(SecretsError::NoKey))
    ));
    let back = keyed_handle.resource(&urn("b")).unwrap().unwrap();
    assert_eq!(back.inputs, secret);
}

fn secret_roundtrip(new: Factory) {
    let mut s = new();
    let mut r = res("a", "a");
    r.inputs["password"] = json!({"$secret": CANARY});
    r.outputs["nested"] = json!([{"k": {"$secret": {"deep": CANARY}}}]);
    apply(&mut *s, "a", OpKind::Create, OpEffect::Upsert(r.clone()));
    s.begin_op(&op("p", OpKind::Create, json!({"pw": {"$secret": CANARY}})))
        .unwrap();
    let mut h = entry(1);
    h.summary = json!({"note": {"$secret": CANARY}});
    s.append_history(&h).unwrap();

    let reader = new();
    assert_eq!(reader.resource(&urn("a")).unwrap(), Some(r));
    assert_eq!(
        reader.pending().unwrap()[0].inputs,
        json!({"pw": {"$secret": CANARY}})
    );
    assert_eq!(reader.history(1).unwrap()[0].summary, h.summary);
    let text = serde_json::to_string(&reader.export().unwrap()).unwrap();
    assert!(!text.contains(CANARY), "{text}");
}

fn view_agrees_with_its_parts(new: Factory) {
    let mut s = new();
    apply(
        &mut *s,
        "a",
        OpKind::Create,
        OpEffect::Upsert(res("a", "a1")),
    );
    apply(
        &mut *s,
        "a",
        OpKind::CreateReplacement,
        OpEffect::Replace(res("a", "a2")),
    );
    s.begin_op(&op("b", OpKind::Create, json!({}))).unwrap();
    let reader = new();
    let v = reader.view().unwrap();
    assert_eq!(v.serial, reader.serial().unwrap());
    assert_eq!(v.resources, reader.resources().unwrap());
    assert_eq!(v.condemned, vec![res("a", "a1")]);
    assert_eq!(v.resources, vec![res("a", "a2")]);
    assert_eq!(v.pending.len(), 1);
    assert_eq!(v.pending[0].urn, urn("b"));
}

fn lineage_init_meta_and_fence(new: Factory) {
    let mut s = new();
    let lineage = s.lineage().unwrap();
    assert_eq!(lineage.len(), 16, "{lineage}");
    assert_eq!(new().lineage().unwrap(), lineage, "one lineage per state");
    // The first value stays; a second init returns it.
    assert_eq!(s.init_meta("salt", "first").unwrap(), "first");
    assert_eq!(new().init_meta("salt", "second").unwrap(), "first");
    assert_eq!(s.meta("salt").unwrap().as_deref(), Some("first"));

    // Fenced by a lock this handle no longer holds: writes are refused and
    // change nothing.
    let mine = new_lock_info("up");
    s.try_lock(&mine).unwrap();
    s.set_fence(Some(mine.id.clone()));
    let pid = s.begin_op(&op("a", OpKind::Create, json!({}))).unwrap();
    let mut other = new();
    other.unlock(&mine.id).unwrap();
    let theirs = new_lock_info("up");
    other.try_lock(&theirs).unwrap();
    let serial = other.serial().unwrap();
    match s.end_op(pid, &OpEffect::Upsert(res("a", "a1"))) {
        Err(StateError::LockLost { held, now }) => {
            assert_eq!(held, mine.id);
            assert!(now.contains(&theirs.id), "{now}");
        }
        r => panic!("expected LockLost, got {r:?}"),
    }
    assert!(matches!(
        s.begin_op(&op("b", OpKind::Create, json!({}))),
        Err(StateError::LockLost { .. })
    ));
    assert_eq!(other.serial().unwrap(), serial);
    assert!(other.resources().unwrap().is_empty());
    assert_eq!(
        other.pending().unwrap().len(),
        1,
        "a's row stays for settling"
    );
    s.set_fence(None);
    other.unlock(&theirs.id).unwrap();
}

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $( #[test] fn $check() { super::$check(&sqlite_backend().factory()) } )*
        }
        mod memory {
            use super::*;
            $( #[test] fn $check() { super::$check(&memory_factory(MemoryStore::new(STACK))) } )*
        }
        /// The S3 backend against moto (conditional PUT and DELETE).
        mod s3 {
            use super::*;
            $( #[test] fn $check() { let b = on_s3::backend(); super::$check(&b.factory()); } )*
        }
    };
}

conformance!(
    empty_state,
    ops_and_serial,
    resources_ordered_by_urn,
    meta_roundtrip,
    lock_contention,
    stale_lock,
    history_order_and_limit,
    import_refusals,
    secret_roundtrip,
    view_agrees_with_its_parts,
    lineage_init_meta_and_fence,
);

// ---- backends ----

struct SqliteBackend {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn sqlite_backend() -> SqliteBackend {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("dev.db");
    SqliteBackend { _dir: dir, path }
}

impl SqliteBackend {
    fn raw(&self) -> impl Fn() -> Box<dyn StateStore> + '_ {
        move || Box::new(SqliteStore::open(&self.path, STACK).unwrap()) as Box<dyn StateStore>
    }
    fn factory(&self) -> impl Fn() -> Box<dyn StateStore> + '_ {
        move || keyed(self.raw()())
    }
}

fn memory_raw(m: MemoryStore) -> impl Fn() -> Box<dyn StateStore> {
    move || Box::new(m.clone()) as Box<dyn StateStore>
}

fn memory_factory(m: MemoryStore) -> impl Fn() -> Box<dyn StateStore> {
    move || keyed(Box::new(m.clone()))
}

// Checks that need two factories.

#[test]
fn sqlite_export_import_roundtrip() {
    let (a, b) = (sqlite_backend(), sqlite_backend());
    export_import_roundtrip(&a.factory(), &b.factory());
}

#[test]
fn memory_export_import_roundtrip() {
    export_import_roundtrip(
        &memory_factory(MemoryStore::new(STACK)),
        &memory_factory(MemoryStore::new(STACK)),
    );
}

#[test]
fn sqlite_import_from_memory_and_back() {
    let m = MemoryStore::new(STACK);
    let mem = memory_factory(m.clone());
    populate(&mut *mem());
    let b = sqlite_backend();
    let mut s = b.factory()();
    s.import(&mem().export().unwrap()).unwrap();
    assert_eq!(s.resources().unwrap(), mem().resources().unwrap());
    assert_eq!(s.pending().unwrap(), mem().pending().unwrap());
}

#[test]
fn sqlite_wrong_key_refused() {
    let b = sqlite_backend();
    wrong_key_refused(&b.factory(), &b.raw());
}

#[test]
fn memory_wrong_key_refused() {
    let m = MemoryStore::new(STACK);
    wrong_key_refused(&memory_factory(m.clone()), &memory_raw(m));
}

#[test]
fn sqlite_no_key_no_plaintext() {
    let b = sqlite_backend();
    no_key_no_plaintext(&b.factory(), &b.raw());
}

#[test]
fn memory_no_key_no_plaintext() {
    let m = MemoryStore::new(STACK);
    no_key_no_plaintext(&memory_factory(m.clone()), &memory_raw(m));
}

// ---- SQLite only ----

fn file_bytes(db: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let p = PathBuf::from(format!("{}{suffix}", db.display()));
        if let Ok(b) = std::fs::read(&p) {
            all.extend(b);
        }
    }
    all
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn sqlite_secret_plaintext_never_stored() {
    let b = sqlite_backend();
    let new = b.factory();
    {
        let mut s = new();
        let mut r = res("a", "a");
        r.inputs["password"] = json!({"$secret": CANARY});
        r.outputs["password"] = json!({"$secret": CANARY});
        apply(&mut *s, "a", OpKind::Create, OpEffect::Upsert(r));
        // One pending op that ends (row deleted) and one left in flight.
        apply(&mut *s, "b", OpKind::Create, OpEffect::Nothing);
        let id = s
            .begin_op(&op("b", OpKind::Create, json!({"pw": {"$secret": CANARY}})))
            .unwrap();
        s.end_op(id, &OpEffect::Nothing).unwrap();
        s.begin_op(&op("c", OpKind::Create, json!({"pw": {"$secret": CANARY}})))
            .unwrap();

        let bytes = file_bytes(&b.path);
        assert!(bytes.len() > 4096, "read the files");
        assert!(
            contains(&bytes, "test:x/Thing"),
            "sanity: plain data is visible"
        );
        assert!(
            !contains(&bytes, CANARY),
            "secret plaintext in the state files"
        );
    }
    let s = new();
    let r = s.resource(&urn("a")).unwrap().unwrap();
    assert_eq!(r.inputs["password"], json!({"$secret": CANARY}));
    assert_eq!(r.outputs["password"], json!({"$secret": CANARY}));
    assert_eq!(
        s.pending().unwrap()[0].inputs["pw"],
        json!({"$secret": CANARY})
    );
    // After the last connection closes (checkpoint into the main file).
    drop(s);
    assert!(!contains(&file_bytes(&b.path), CANARY));
}

#[test]
fn sqlite_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let b = sqlite_backend();
    let mut s = b.factory()();
    apply(
        &mut *s,
        "a",
        OpKind::Create,
        OpEffect::Upsert(res("a", "a")),
    );
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", b.path.display());
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{p} mode {mode:o}");
    }
}

#[test]
fn sqlite_schema_too_new_refused() {
    let b = sqlite_backend();
    drop(b.raw()());
    let conn = rusqlite::Connection::open(&b.path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    match SqliteStore::open(&b.path, STACK) {
        Err(StateError::SchemaTooNew { found, supported }) => {
            assert_eq!(found, 99);
            assert_eq!(supported, morket_stack::state::sqlite::SCHEMA_VERSION);
        }
        r => panic!("expected SchemaTooNew, got {:?}", r.map(|_| ())),
    }
}

#[test]
fn sqlite_schema_is_current_and_reopen_keeps_data() {
    let b = sqlite_backend();
    let s = SqliteStore::open(&b.path, STACK).unwrap();
    assert_eq!(
        s.schema_version().unwrap(),
        morket_stack::state::sqlite::SCHEMA_VERSION
    );
    let mut s = keyed(Box::new(s));
    apply(
        &mut *s,
        "a",
        OpKind::Create,
        OpEffect::Upsert(res("a", "a")),
    );
    drop(s);
    let s = b.factory()();
    assert_eq!(s.resources().unwrap().len(), 1);
    // One for the pending row, one for its result.
    assert_eq!(s.serial().unwrap(), 2);
}

#[test]
fn sqlite_other_stack_refused() {
    let b = sqlite_backend();
    drop(b.raw()());
    let err = SqliteStore::open(&b.path, "prod").unwrap_err();
    assert!(matches!(err, StateError::Corrupt(_)), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("\"dev\"") && msg.contains("\"prod\""), "{msg}");
}

#[test]
fn sqlite_not_a_database_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev.db");
    std::fs::write(&path, vec![b'x'; 8192]).unwrap();
    assert!(SqliteStore::open(&path, STACK).is_err());
}

const CONTENDER_ENV: &str = "MORKET_STATE_TEST_CONTENDER";
const CONTENDERS: usize = 4;

/// Several OS processes race for the lock on one file; exactly one wins.
/// The test re-executes its own binary as the contenders.
#[test]
fn sqlite_lock_two_processes() {
    if let Ok(spec) = std::env::var(CONTENDER_ENV) {
        return contend(&spec);
    }
    let b = sqlite_backend();
    drop(b.raw()()); // create and migrate first: contenders only race for the lock
    let go = b.path.with_file_name("go");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..CONTENDERS)
        .map(|_| {
            Command::new(&exe)
                .args(["--exact", "sqlite_lock_two_processes", "--nocapture"])
                .env(
                    CONTENDER_ENV,
                    format!("{}\n{}", b.path.display(), go.display()),
                )
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Let them all open the store, then start the race.
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::write(&go, "").unwrap();
    let mut won = Vec::new();
    let mut lost = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "contender failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in text.lines() {
            if let Some(pid) = line.strip_prefix("CONTENDER WON ") {
                won.push(pid.trim().parse::<u32>().unwrap());
            } else if line.starts_with("CONTENDER LOST") {
                lost += 1;
            }
        }
    }
    assert_eq!(won.len(), 1, "winners: {won:?}");
    assert_eq!(lost, CONTENDERS - 1);
    let holder = b.raw()().lock_status().unwrap().expect("winner's lock row");
    assert_eq!(holder.pid, won[0]);
    // The winner has exited and been reaped: its lock is now stale.
    let r = b.raw()().try_lock(&new_lock_info("up"));
    match r {
        Err(StateError::Locked(held)) => assert!(held.stale),
        r => panic!("expected Locked, got {r:?}"),
    }
}

fn contend(spec: &str) {
    let (db, go) = spec.split_once('\n').unwrap();
    let mut s = SqliteStore::open(Path::new(db), STACK).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !Path::new(go).exists() {
        assert!(std::time::Instant::now() < deadline, "never started");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    match s.try_lock(&new_lock_info("race")) {
        Ok(()) => println!("CONTENDER WON {}", std::process::id()),
        Err(StateError::Locked(held)) => println!("CONTENDER LOST to {}", held.holder.pid),
        Err(e) => panic!("contender error: {e}"),
    }
}

const VICTIM_ENV: &str = "MORKET_STATE_TEST_VICTIM";

/// What a process committed survives `kill -9`, and the lock it held shows
/// as stale (even before the parent reaps it).
#[test]
fn sqlite_commit_survives_kill_9() {
    use std::io::BufRead;
    if let Ok(db) = std::env::var(VICTIM_ENV) {
        let mut s = keyed(Box::new(SqliteStore::open(Path::new(&db), STACK).unwrap()));
        s.try_lock(&new_lock_info("up")).unwrap();
        let mut r = res("a", "a");
        r.inputs["pw"] = json!({"$secret": "x"});
        apply(&mut *s, "a", OpKind::Create, OpEffect::Upsert(r));
        s.begin_op(&op("b", OpKind::Create, json!({}))).unwrap();
        println!("VICTIM COMMITTED");
        std::thread::sleep(std::time::Duration::from_secs(60));
        return;
    }
    let b = sqlite_backend();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "sqlite_commit_survives_kill_9", "--nocapture"])
        .env(VICTIM_ENV, &b.path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    let committed = out
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("VICTIM COMMITTED"));
    assert!(committed, "victim did not get to commit");
    child.kill().unwrap(); // SIGKILL

    let s = b.factory()();
    // The victim is a zombie until waited for, and already stale (SIGKILL
    // is asynchronous, so give it a moment to die).
    let mut stale = false;
    for _ in 0..500 {
        let r = b.raw()().try_lock(&new_lock_info("up"));
        match r {
            Err(StateError::Locked(held)) => {
                assert_eq!(held.holder.pid, child.id());
                stale = held.stale;
            }
            r => panic!("expected Locked, got {r:?}"),
        }
        if stale {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(stale, "killed holder should be stale");
    child.wait().unwrap();
    let a = s
        .resource(&urn("a"))
        .unwrap()
        .expect("committed row survived");
    assert_eq!(a.inputs["pw"], json!({"$secret": "x"}));
    assert_eq!(s.pending().unwrap().len(), 1);
    // a's pending row and result, then b's pending row.
    assert_eq!(s.serial().unwrap(), 3);
}
