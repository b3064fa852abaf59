//! An in-memory [`StateStore`] for tests and benchmarks. Clones are handles
//! on one shared state (as two `SqliteStore`s on one file are), and secrets
//! are kept sealed exactly as the SQLite store keeps them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{
    describe_holder, lock, seal_for_storage, seal_resource, unseal_from_storage, validate_import,
    HistoryEntry, LockInfo, OpEffect, PendingOp, ResourceState, Result, Snapshot, StateError,
    StateStore, SNAPSHOT_VERSION,
};
use crate::model::Urn;
use crate::secrets::Crypter;

#[derive(Default)]
struct Inner {
    meta: BTreeMap<String, String>,
    serial: u64,
    /// Secrets sealed.
    resources: BTreeMap<Urn, ResourceState>,
    /// Secrets sealed; insertion order within a URN.
    condemned: Vec<ResourceState>,
    /// Secrets sealed.
    pending: BTreeMap<i64, PendingOp>,
    last_pending_id: i64,
    lock: Option<LockInfo>,
    history: Vec<HistoryEntry>,
    lineage: String,
}

#[derive(Clone)]
pub struct MemoryStore {
    stack: String,
    inner: Arc<Mutex<Inner>>,
    crypter: Option<Crypter>,
    fence: Option<String>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("stack", &self.stack)
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    pub fn new(stack: &str) -> MemoryStore {
        MemoryStore {
            stack: stack.to_string(),
            inner: Arc::new(Mutex::new(Inner {
                lineage: super::sqlite::new_lineage(),
                ..Inner::default()
            })),
            crypter: None,
            fence: None,
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // A panic in another handle cannot leave Inner half-updated: every
        // mutation below validates and seals before touching it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn unseal(&self, r: &ResourceState) -> Result<ResourceState> {
        let c = self.crypter.as_ref();
        Ok(ResourceState {
            inputs: unseal_from_storage(c, &r.inputs)?,
            outputs: unseal_from_storage(c, &r.outputs)?,
            ..r.clone()
        })
    }
}

fn check_fence(inner: &Inner, fence: Option<&str>) -> Result<()> {
    let Some(id) = fence else { return Ok(()) };
    match &inner.lock {
        Some(h) if h.id == id => Ok(()),
        other => Err(StateError::LockLost {
            held: id.to_string(),
            now: describe_holder(other.as_ref()),
        }),
    }
}

fn sorted_condemned(c: &[ResourceState]) -> Vec<&ResourceState> {
    let mut v: Vec<&ResourceState> = c.iter().collect();
    v.sort_by(|a, b| a.urn.cmp(&b.urn)); // stable: keeps insertion order per URN
    v
}

impl StateStore for MemoryStore {
    fn stack(&self) -> &str {
        &self.stack
    }

    fn crypter(&self) -> Option<&Crypter> {
        self.crypter.as_ref()
    }

    fn set_crypter(&mut self, crypter: Crypter) -> Result<()> {
        {
            let mut inner = self.inner();
            match inner.meta.get("key_check") {
                Some(check) => crypter.verify(check)?,
                None => {
                    inner.meta.insert("key_check".into(), crypter.key_check());
                }
            }
        }
        self.crypter = Some(crypter);
        Ok(())
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self.inner().meta.get(key).cloned())
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.inner().meta.insert(key.into(), value.into());
        Ok(())
    }

    fn init_meta(&mut self, key: &str, value: &str) -> Result<String> {
        Ok(self
            .inner()
            .meta
            .entry(key.into())
            .or_insert_with(|| value.into())
            .clone())
    }

    fn lineage(&self) -> Result<String> {
        Ok(self.inner().lineage.clone())
    }

    fn set_fence(&mut self, lock_id: Option<String>) {
        self.fence = lock_id;
    }

    fn serial(&self) -> Result<u64> {
        Ok(self.inner().serial)
    }

    fn resources(&self) -> Result<Vec<ResourceState>> {
        let inner = self.inner();
        inner.resources.values().map(|r| self.unseal(r)).collect()
    }

    fn resource(&self, urn: &Urn) -> Result<Option<ResourceState>> {
        let inner = self.inner();
        inner.resources.get(urn).map(|r| self.unseal(r)).transpose()
    }

    fn condemned(&self) -> Result<Vec<ResourceState>> {
        let inner = self.inner();
        sorted_condemned(&inner.condemned)
            .into_iter()
            .map(|r| self.unseal(r))
            .collect()
    }

    fn begin_op(&mut self, op: &PendingOp) -> Result<i64> {
        let inputs = seal_for_storage(self.crypter.as_ref(), &op.inputs)?;
        let mut inner = self.inner();
        check_fence(&inner, self.fence.as_deref())?;
        inner.serial += 1;
        inner.last_pending_id += 1;
        let id = inner.last_pending_id;
        inner.pending.insert(
            id,
            PendingOp {
                id,
                inputs,
                ..op.clone()
            },
        );
        Ok(id)
    }

    fn end_op(&mut self, pending_id: i64, effect: &OpEffect) -> Result<()> {
        let sealed = match effect {
            OpEffect::Upsert(r) | OpEffect::Replace(r) | OpEffect::Rename { to: r, .. } => {
                Some(seal_resource(self.crypter.as_ref(), r)?)
            }
            _ => None,
        };
        let mut inner = self.inner();
        check_fence(&inner, self.fence.as_deref())?;
        if inner.pending.remove(&pending_id).is_none() {
            return Err(StateError::Db(format!(
                "end_op: no pending operation {pending_id}"
            )));
        }
        let changed = match (effect, sealed) {
            (OpEffect::Upsert(_), Some(r)) => {
                inner.resources.insert(r.urn.clone(), r);
                true
            }
            (OpEffect::Replace(_), Some(r)) => {
                if let Some(old) = inner.resources.remove(&r.urn) {
                    inner
                        .condemned
                        .retain(|c| !(c.urn == old.urn && c.id == old.id));
                    inner.condemned.push(old);
                }
                inner.resources.insert(r.urn.clone(), r);
                true
            }
            (OpEffect::Rename { from, .. }, Some(r)) => {
                inner.resources.remove(from);
                for c in inner.condemned.iter_mut().filter(|c| &c.urn == from) {
                    c.urn = r.urn.clone();
                }
                inner.resources.insert(r.urn.clone(), r);
                true
            }
            (OpEffect::Remove(urn), _) => inner.resources.remove(urn).is_some(),
            (OpEffect::RemoveCondemned { urn, id }, _) => {
                let before = inner.condemned.len();
                inner.condemned.retain(|c| !(&c.urn == urn && &c.id == id));
                inner.condemned.len() != before
            }
            _ => false,
        };
        if changed {
            inner.serial += 1;
        }
        Ok(())
    }

    fn pending(&self) -> Result<Vec<PendingOp>> {
        let inner = self.inner();
        inner
            .pending
            .values()
            .map(|p| {
                Ok(PendingOp {
                    inputs: unseal_from_storage(self.crypter.as_ref(), &p.inputs)?,
                    ..p.clone()
                })
            })
            .collect()
    }

    fn remove_resource(&mut self, urn: &Urn) -> Result<()> {
        let mut inner = self.inner();
        if inner.resources.remove(urn).is_none() {
            return Err(StateError::NotFound(urn.to_string()));
        }
        inner.serial += 1;
        Ok(())
    }

    fn export(&self) -> Result<Snapshot> {
        let inner = self.inner();
        Ok(Snapshot {
            version: SNAPSHOT_VERSION,
            stack: self.stack.clone(),
            serial: inner.serial,
            lineage: inner.lineage.clone(),
            resources: inner.resources.values().cloned().collect(),
            condemned: sorted_condemned(&inner.condemned)
                .into_iter()
                .cloned()
                .collect(),
            pending: inner.pending.values().cloned().collect(),
        })
    }

    fn import(&mut self, snapshot: &Snapshot) -> Result<()> {
        let snap = validate_import(&self.stack, self.crypter.as_ref(), snapshot)?;
        let mut inner = self.inner();
        inner.resources = snap
            .resources
            .into_iter()
            .map(|r| (r.urn.clone(), r))
            .collect();
        inner.condemned = snap.condemned;
        // Like SQLite AUTOINCREMENT: given ids are kept, new ones come after.
        let given_max = snap.pending.iter().map(|p| p.id).max().unwrap_or(0);
        let mut next = inner.last_pending_id.max(given_max);
        let mut pending = BTreeMap::new();
        for mut p in snap.pending {
            if p.id <= 0 {
                next += 1;
                p.id = next;
            }
            pending.insert(p.id, p);
        }
        inner.pending = pending;
        inner.last_pending_id = next;
        inner.serial = inner.serial.max(snap.serial) + 1;
        if !snap.lineage.is_empty() {
            inner.lineage = snap.lineage;
        }
        Ok(())
    }

    fn try_lock(&mut self, info: &LockInfo) -> Result<()> {
        let mut inner = self.inner();
        if let Some(holder) = &inner.lock {
            return Err(lock::held(holder.clone(), &self.stack));
        }
        inner.lock = Some(info.clone());
        Ok(())
    }

    fn unlock(&mut self, lock_id: &str) -> Result<()> {
        let mut inner = self.inner();
        match &inner.lock {
            Some(h) if h.id == lock_id => {
                inner.lock = None;
                Ok(())
            }
            other => Err(StateError::LockMismatch(
                lock_id.to_string(),
                describe_holder(other.as_ref()),
            )),
        }
    }

    fn lock_status(&self) -> Result<Option<LockInfo>> {
        Ok(self.inner().lock.clone())
    }

    fn append_history(&mut self, entry: &HistoryEntry) -> Result<()> {
        let summary = seal_for_storage(self.crypter.as_ref(), &entry.summary)?;
        let mut inner = self.inner();
        let id = inner.history.len() as i64 + 1;
        inner.history.push(HistoryEntry {
            id,
            summary,
            ..entry.clone()
        });
        Ok(())
    }

    fn history(&self, limit: usize) -> Result<Vec<HistoryEntry>> {
        let inner = self.inner();
        inner
            .history
            .iter()
            .rev()
            .take(limit)
            .map(|e| {
                Ok(HistoryEntry {
                    summary: unseal_from_storage(self.crypter.as_ref(), &e.summary)?,
                    ..e.clone()
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::{random_key, SecretsError};
    use serde_json::json;

    #[test]
    fn secrets_are_held_sealed() {
        let mut m = MemoryStore::new("dev");
        m.set_crypter(Crypter::new(&random_key())).unwrap();
        let id = m
            .begin_op(&PendingOp {
                id: 0,
                urn: Urn::new("dev", "", "t:x/Y", "a"),
                kind: super::super::OpKind::Create,
                type_name: "t:x/Y".into(),
                resource_id: String::new(),
                inputs: json!({"pw": {"$secret": "canary"}}),
                started_at: String::new(),
            })
            .unwrap();
        let raw = serde_json::to_string(&m.inner().pending[&id].inputs).unwrap();
        assert!(!raw.contains("canary"), "{raw}");
        assert_eq!(
            m.pending().unwrap()[0].inputs["pw"],
            json!({"$secret": "canary"})
        );
        let bare = MemoryStore {
            crypter: None,
            ..m.clone()
        };
        assert!(matches!(
            bare.pending(),
            Err(StateError::Secrets(SecretsError::NoKey))
        ));
    }
}
