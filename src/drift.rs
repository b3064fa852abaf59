//! Drift: what state recorded at the last apply against what is live
//! (Terraform's refresh-only view). Pure: the engine reads, this compares and
//! builds the versioned report that `drift --json` prints.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::Urn;
use crate::provider::{same_value, ReadResult, Tagged};
use crate::state::{PendingOp, ResourceState};
use crate::value;

pub const REPORT_SCHEMA: &str = "morket-stack/drift";
pub const REPORT_VERSION: u32 = 1;

/// Suffix of the outputs in which a type reports the version AWS actually
/// runs (`engine_version_actual`), apart from the declared one.
pub const ACTUAL_SUFFIX: &str = "_actual";

/// One field that differs: its path (`tags.team`, `ingress[2]`), the value
/// state recorded and the live one. Secrets show as `(sensitive)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub path: String,
    pub recorded: Value,
    pub live: Value,
    /// Why an informational change needs no action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Changed {
    pub urn: Urn,
    #[serde(rename = "type")]
    pub type_name: String,
    pub id: String,
    pub fields: Vec<FieldChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gone {
    pub urn: Urn,
    #[serde(rename = "type")]
    pub type_name: String,
    pub id: String,
}

/// An object carrying the stack's tag that state does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmanaged {
    pub arn: String,
    /// Its `morket:urn` tag, if it has one (a leftover of a failed run).
    pub urn_tag: Option<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingNote {
    pub urn: Urn,
    pub kind: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub resources: usize,
    pub modified: usize,
    pub deleted: usize,
    pub unmanaged: usize,
    pub informational: usize,
}

/// The drift report, schema `morket-stack/drift` version 1 (docs/drift.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub version: u32,
    pub stack: String,
    pub checked_at: String,
    pub serial: u64,
    /// Something to act on: modified, deleted or unmanaged objects. An
    /// informational change alone is not drift.
    pub drifted: bool,
    pub summary: Summary,
    pub modified: Vec<Changed>,
    pub deleted: Vec<Gone>,
    pub unmanaged: Vec<Unmanaged>,
    pub informational: Vec<Changed>,
    /// Interrupted operations of a killed run: reported, not settled.
    pub pending: Vec<PendingNote>,
}

impl Report {
    /// What drifted, without times or serials: two runs with the same
    /// fingerprint found the same drift (`--notify` posts only on change).
    pub fn fingerprint(&self) -> Value {
        serde_json::json!({
            "modified": self.modified, "deleted": self.deleted,
            "unmanaged": self.unmanaged.iter().map(|u| &u.arn).collect::<Vec<_>>(),
        })
    }

    /// A one-paragraph summary (Slack's `text`).
    pub fn headline(&self) -> String {
        let s = &self.summary;
        if !self.drifted {
            return format!(
                "morket-stack drift {}: no drift in {} resources{}",
                self.stack,
                s.resources,
                if s.informational > 0 {
                    format!(" ({} informational)", s.informational)
                } else {
                    String::new()
                }
            );
        }
        let mut parts = Vec::new();
        for (n, what) in [
            (s.modified, "modified"),
            (s.deleted, "deleted"),
            (s.unmanaged, "unmanaged"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        let mut text = format!(
            "morket-stack drift {}: {} of {} resources",
            self.stack,
            parts.join(", "),
            s.resources
        );
        for c in self.modified.iter().take(5) {
            let fields: Vec<&str> = c.fields.iter().map(|f| f.path.as_str()).collect();
            text.push_str(&format!("\n• modified {} ({})", c.urn, fields.join(", ")));
        }
        for g in self.deleted.iter().take(5) {
            text.push_str(&format!("\n• deleted {} ({})", g.urn, g.id));
        }
        for u in self.unmanaged.iter().take(5) {
            text.push_str(&format!("\n• unmanaged {}", u.arn));
        }
        text
    }
}

/// The live read of one row of state (`None`: gone).
#[derive(Debug, Clone)]
pub struct LiveRow {
    pub recorded: ResourceState,
    pub live: Option<ReadResult>,
}

/// Compares every row with its live read and the tagged inventory with state.
pub fn report(
    stack: &str,
    checked_at: String,
    serial: u64,
    rows: &[LiveRow],
    known: &[ResourceState],
    inventory: &[Tagged],
    pending: &[PendingOp],
) -> Report {
    let mut modified = Vec::new();
    let mut informational = Vec::new();
    let mut deleted = Vec::new();
    // An object with an operation in flight (an `up` running now, or a
    // killed one) differs from state by design: it is reported as pending.
    let in_flight: HashSet<&Urn> = pending.iter().map(|p| &p.urn).collect();
    for r in rows {
        let rec = &r.recorded;
        if in_flight.contains(&rec.urn) {
            continue;
        }
        match &r.live {
            None => deleted.push(Gone {
                urn: rec.urn.clone(),
                type_name: rec.type_name.clone(),
                id: rec.id.clone(),
            }),
            Some(live) => {
                let (changes, info) = compare(rec, live);
                let entry = |fields| Changed {
                    urn: rec.urn.clone(),
                    type_name: rec.type_name.clone(),
                    id: rec.id.clone(),
                    fields,
                };
                if !changes.is_empty() {
                    modified.push(entry(changes));
                }
                if !info.is_empty() {
                    informational.push(entry(info));
                }
            }
        }
    }
    let unmanaged = unmanaged(known, inventory);
    let summary = Summary {
        resources: rows.len(),
        modified: modified.len(),
        deleted: deleted.len(),
        unmanaged: unmanaged.len(),
        informational: informational.len(),
    };
    Report {
        schema: REPORT_SCHEMA.into(),
        version: REPORT_VERSION,
        stack: stack.into(),
        checked_at,
        serial,
        drifted: summary.modified + summary.deleted + summary.unmanaged > 0,
        summary,
        modified,
        deleted,
        unmanaged,
        informational,
        pending: pending
            .iter()
            .map(|p| PendingNote {
                urn: p.urn.clone(),
                kind: p.kind.as_str().into(),
            })
            .collect(),
    }
}

/// Field changes of inputs (drift), and of the `*_actual` outputs
/// (informational: AWS upgraded a minor version by itself; the declared
/// version still matches, so nothing is undone).
pub fn compare(
    recorded: &ResourceState,
    live: &ReadResult,
) -> (Vec<FieldChange>, Vec<FieldChange>) {
    let mut changes = Vec::new();
    diff_paths(
        "",
        &recorded.inputs,
        &comparable(recorded, &live.inputs),
        &mut changes,
    );
    let mut info = Vec::new();
    if let Some(outs) = live.outputs.as_object() {
        for (k, now) in outs {
            let Some(field) = k.strip_suffix(ACTUAL_SUFFIX) else {
                continue;
            };
            // A state recorded before `*_actual` outputs existed has none.
            let Some(then) = recorded.outputs.get(k).cloned() else {
                continue;
            };
            if then != *now {
                info.push(FieldChange {
                    path: k.clone(),
                    recorded: then,
                    live: now.clone(),
                    reason: Some(format!(
                        "AWS upgraded {field} within the declared version; nothing to undo"
                    )),
                });
            }
        }
    }
    (changes, info)
}

/// The live inputs as drift compares and refresh records them: the fields
/// the resource's `ignore_changes` names keep their recorded values (as the
/// plan does), and a value state holds as a secret stays one.
pub fn comparable(recorded: &ResourceState, live: &Value) -> Value {
    let mut live = live.clone();
    for path in &recorded.options.ignore_changes {
        value::set_path(
            &mut live,
            path,
            value::get_path(&recorded.inputs, path).cloned(),
        );
    }
    remark_secrets(&recorded.inputs, &mut live);
    live
}

/// Wraps as a secret every plain live value that state holds as a secret
/// at the same path.
fn remark_secrets(recorded: &Value, live: &mut Value) {
    if is_secret(recorded) {
        if !is_secret(live) && !live.is_null() {
            *live = value::secret(live.take());
        }
        return;
    }
    match (recorded, live) {
        (Value::Object(r), Value::Object(l)) => {
            for (k, rv) in r {
                if let Some(lv) = l.get_mut(k) {
                    remark_secrets(rv, lv);
                }
            }
        }
        (Value::Array(r), Value::Array(l)) => {
            for (rv, lv) in r.iter().zip(l.iter_mut()) {
                remark_secrets(rv, lv);
            }
        }
        _ => {}
    }
}

/// Recursive field diff: objects by key, lists of equal length by index,
/// anything else as a whole. Secrets compare by plaintext and print redacted.
fn diff_paths(path: &str, a: &Value, b: &Value, out: &mut Vec<FieldChange>) {
    if same_value(a, b) {
        return;
    }
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) if !is_secret(a) && !is_secret(b) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let null = Value::Null;
                diff_paths(
                    &join(k),
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff_paths(&format!("{path}[{i}]"), p, q, out);
            }
        }
        // An absent key and an empty value mean the same.
        (Value::Null, v) | (v, Value::Null) if is_empty(v) => {}
        _ => out.push(FieldChange {
            path: if path.is_empty() {
                "inputs".into()
            } else {
                path.into()
            },
            recorded: value::redact(a),
            live: value::redact(b),
            reason: None,
        }),
    }
}

/// A secret marker itself (compared whole, shown redacted).
fn is_secret(v: &Value) -> bool {
    value::as_secret(v).is_some() || value::as_sealed(v).is_some()
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// The ARN's service and resource type: `ec2:security-group`,
/// `rds:cluster`, `s3:` (a bucket).
fn arn_kind(arn: &str) -> Option<String> {
    let mut parts = arn.splitn(6, ':');
    let (_, _, service, _, _, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let kind = resource.split(['/', ':']).next().unwrap_or("");
    let kind = if kind == resource { "" } else { kind };
    Some(format!("{service}:{kind}"))
}

/// Whether `arn` names the object of `row`: its `arn` output, or an ARN
/// ending in its id.
fn names(row: &ResourceState, arn: &str) -> bool {
    let own = row.outputs.get("arn").and_then(Value::as_str);
    if own == Some(arn) || row.id == arn {
        return true;
    }
    // By id only where the row's own ARN does not say its kind otherwise
    // (an alarm named `x` does not hide a bucket named `x`).
    !row.id.is_empty()
        && own.is_none_or(|o| arn_kind(o) == arn_kind(arn))
        && (arn.ends_with(&format!("/{}", row.id)) || arn.ends_with(&format!(":{}", row.id)))
}

/// Tagged objects state does not know. An object whose `morket:urn` tag
/// names a resource in state but is not that object is a child the service
/// made and tagged from it (a task of a service, the root volume of an
/// instance), unless it is of the same kind as the resource: then it is a
/// second one (a leftover of a create that state lost).
pub fn unmanaged(known: &[ResourceState], inventory: &[Tagged]) -> Vec<Unmanaged> {
    let by_urn: BTreeMap<&str, Vec<&ResourceState>> =
        known.iter().fold(BTreeMap::new(), |mut m, r| {
            m.entry(r.urn.as_str()).or_insert_with(Vec::new).push(r);
            m
        });
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for t in inventory {
        if !seen.insert(&t.arn) || known.iter().any(|r| names(r, &t.arn)) {
            continue;
        }
        let urn_tag = t.tags.get(crate::provider::aws::tags::URN_TAG).cloned();
        let owner = urn_tag
            .as_deref()
            .map(|u| u.rsplit_once('#').map_or(u, |(urn, _)| urn))
            .and_then(|u| by_urn.get(u));
        if let Some(rows) = owner {
            // An earlier revision of a task definition, kept ACTIVE for the
            // circuit breaker's rollback: tagged with the row's first
            // revision (ecs/task_definition.rs).
            let revision_of = t.tags.get("morket:revision-of").is_some_and(|first| {
                t.arn
                    .rsplit_once(':')
                    .is_some_and(|(base, _)| rows.iter().any(|r| r.id == format!("{base}:{first}")))
            });
            if revision_of {
                continue;
            }
            let kind = arn_kind(&t.arn);
            let same_kind = rows.iter().any(|r| {
                r.outputs
                    .get("arn")
                    .and_then(Value::as_str)
                    .map(arn_kind)
                    .is_some_and(|k| k == kind)
            });
            if !same_kind {
                continue;
            }
        }
        out.push(Unmanaged {
            arn: t.arn.clone(),
            urn_tag,
            tags: t.tags.clone(),
        });
    }
    out.sort_by(|a, b| a.arn.cmp(&b.arn));
    out
}

/// What a refresh records for one row: the live object, or its absence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refreshed {
    /// Changed outside morket-stack: recorded as it is live.
    Changed {
        row: Box<ResourceState>,
        fields: Vec<FieldChange>,
    },
    /// Deleted outside morket-stack: forgotten, so the plan creates it again.
    Gone {
        urn: Urn,
        #[serde(rename = "type")]
        type_name: String,
        id: String,
    },
}

impl Refreshed {
    pub fn urn(&self) -> &Urn {
        match self {
            Refreshed::Changed { row, .. } => &row.urn,
            Refreshed::Gone { urn, .. } => urn,
        }
    }
}

/// What refresh records: rows whose inputs (or the versions AWS runs)
/// changed, recorded live with the outputs' secrets marked, and rows gone.
/// Outputs that move by themselves (status) alone record nothing.
pub fn refresh(
    rows: &[LiveRow],
    pending: &[PendingOp],
    secret_outputs: &dyn Fn(&str) -> Vec<&'static str>,
) -> Vec<Refreshed> {
    let in_flight: HashSet<&Urn> = pending.iter().map(|p| &p.urn).collect();
    let mut out = Vec::new();
    for r in rows {
        let rec = &r.recorded;
        // What an operation in flight does is for it (or the next run) to record.
        if in_flight.contains(&rec.urn) {
            continue;
        }
        match &r.live {
            None => out.push(Refreshed::Gone {
                urn: rec.urn.clone(),
                type_name: rec.type_name.clone(),
                id: rec.id.clone(),
            }),
            Some(live) => {
                let (mut fields, info) = compare(rec, live);
                if fields.is_empty() && info.is_empty() {
                    continue;
                }
                fields.extend(info);
                let mut outputs = live.outputs.clone();
                value::mark_secret_fields(&mut outputs, &secret_outputs(&rec.type_name));
                out.push(Refreshed::Changed {
                    row: Box::new(ResourceState {
                        inputs: comparable(rec, &live.inputs),
                        outputs,
                        ..rec.clone()
                    }),
                    fields,
                });
            }
        }
    }
    out
}

/// `resources` as they are after `refreshed` is recorded.
pub fn apply_refresh(resources: &mut Vec<ResourceState>, refreshed: &[Refreshed]) {
    for r in refreshed {
        match r {
            Refreshed::Changed { row, .. } => {
                if let Some(slot) = resources.iter_mut().find(|x| x.urn == row.urn) {
                    *slot = (**row).clone();
                }
            }
            Refreshed::Gone { urn, .. } => resources.retain(|x| &x.urn != urn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(urn: &str, id: &str, inputs: Value, outputs: Value) -> ResourceState {
        ResourceState {
            urn: Urn::parse(urn).unwrap(),
            type_name: "aws:ec2/Vpc".into(),
            id: id.into(),
            inputs,
            outputs,
            dependencies: vec![],
            parent: String::new(),
            options: Default::default(),
            tainted: false,
        }
    }

    #[test]
    fn fields_are_reported_by_path_and_secrets_redacted() {
        let rec = row(
            "s::net::aws:ec2/Vpc::v",
            "vpc-1",
            json!({"cidr": "10.0.0.0/16", "tags": {"team": "a", "x": "1"}, "pw": {"$secret": "old"},
                   "list": [1, 2], "empty": []}),
            json!({}),
        );
        let live = ReadResult {
            inputs: json!({"cidr": "10.0.0.0/16", "tags": {"team": "b", "x": "1"}, "pw": {"$secret": "new"},
                   "list": [1, 2, 3]}),
            outputs: json!({}),
        };
        let (changes, info) = compare(&rec, &live);
        assert!(info.is_empty());
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["list", "pw", "tags.team"]);
        assert_eq!(changes[2].recorded, json!("a"));
        assert_eq!(changes[2].live, json!("b"));
        let text = serde_json::to_string(&changes).unwrap();
        assert!(!text.contains("old") && !text.contains("new"), "{text}");
    }

    #[test]
    fn an_upgrade_within_the_declared_version_is_informational() {
        let rec = row(
            "s::data::aws:rds/Cluster::db",
            "db",
            json!({"engine_version": "15.14"}),
            json!({"engine_version_actual": "15.14"}),
        );
        let live = ReadResult {
            inputs: json!({"engine_version": "15.14"}),
            outputs: json!({"engine_version_actual": "15.15", "status": "available"}),
        };
        let (changes, info) = compare(&rec, &live);
        assert!(changes.is_empty());
        assert_eq!(info.len(), 1);
        assert_eq!(info[0].path, "engine_version_actual");
        assert_eq!(info[0].live, json!("15.15"));
        let r = report(
            "s",
            "t".into(),
            1,
            &[LiveRow {
                recorded: rec,
                live: Some(live),
            }],
            &[],
            &[],
            &[],
        );
        assert!(!r.drifted);
        assert_eq!(r.summary.informational, 1);
    }

    #[test]
    fn unmanaged_objects_are_those_state_does_not_name() {
        let vpc = row(
            "s::net::aws:ec2/Vpc::v",
            "vpc-1",
            json!({}),
            json!({"arn": "arn:aws:ec2:eu-west-1:1:vpc/vpc-1"}),
        );
        let tagged = |arn: &str, urn: Option<&str>| Tagged {
            arn: arn.into(),
            tags: urn
                .map(|u| [("morket:urn".to_string(), u.to_string())].into())
                .unwrap_or_default(),
        };
        let inv = [
            tagged("arn:aws:ec2:eu-west-1:1:vpc/vpc-1", None),
            // A child the service tagged from the VPC's URN: not reported.
            tagged(
                "arn:aws:ec2:eu-west-1:1:network-interface/eni-1",
                Some("s::net::aws:ec2/Vpc::v#ab"),
            ),
            // A second VPC with the same URN: a lost create.
            tagged(
                "arn:aws:ec2:eu-west-1:1:vpc/vpc-2",
                Some("s::net::aws:ec2/Vpc::v#ab"),
            ),
            tagged("arn:aws:ec2:eu-west-1:1:security-group/sg-9", None),
        ];
        let u = unmanaged(&[vpc], &inv);
        let arns: Vec<&str> = u.iter().map(|u| u.arn.as_str()).collect();
        assert_eq!(
            arns,
            [
                "arn:aws:ec2:eu-west-1:1:security-group/sg-9",
                "arn:aws:ec2:eu-west-1:1:vpc/vpc-2"
            ]
        );

        // A task definition's earlier revisions (kept for rollbacks) are its
        // own; a revision of another resource of the same URN is not.
        let td = row(
            "s::app::aws:ecs/TaskDefinition::migrate-task",
            "arn:aws:ecs:r:1:task-definition/migrate:1",
            json!({}),
            json!({"arn": "arn:aws:ecs:r:1:task-definition/migrate:4"}),
        );
        let revision = |n: u32, of: &str| {
            let mut t = tagged(
                &format!("arn:aws:ecs:r:1:task-definition/migrate:{n}"),
                Some("s::app::aws:ecs/TaskDefinition::migrate-task#ab"),
            );
            t.tags.insert("morket:revision-of".into(), of.into());
            t
        };
        let inv = [
            revision(2, "1"),
            revision(3, "1"),
            revision(4, "1"),
            revision(6, "5"),
        ];
        let u = unmanaged(&[td], &inv);
        let arns: Vec<&str> = u.iter().map(|u| u.arn.as_str()).collect();
        assert_eq!(arns, ["arn:aws:ecs:r:1:task-definition/migrate:6"]);
        assert_eq!(arn_kind("arn:aws:s3:::bucket").as_deref(), Some("s3:"));
        assert_eq!(
            arn_kind("arn:aws:rds:r:1:cluster:db").as_deref(),
            Some("rds:cluster")
        );
    }

    #[test]
    fn ignored_fields_are_not_drift_and_secrets_stay_secret() {
        let mut rec = row(
            "s::app::aws:ecs/Service::api",
            "svc",
            json!({"desired_count": 2, "image": "a", "token": {"$secret": "t"}}),
            json!({}),
        );
        rec.options.ignore_changes = vec!["desired_count".into()];
        let live = ReadResult {
            inputs: json!({"desired_count": 5, "image": "b", "token": "t2"}),
            outputs: json!({}),
        };
        let (changes, _) = compare(&rec, &live);
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["image", "token"]);
        assert_eq!(changes[1].live, json!("(sensitive)"));
        let rows = [LiveRow {
            recorded: rec,
            live: Some(live),
        }];
        let r = refresh(&rows, &[], &|_| Vec::new());
        let Refreshed::Changed { row, .. } = &r[0] else {
            panic!("{r:?}")
        };
        assert_eq!(row.inputs["desired_count"], 2);
        assert_eq!(row.inputs["token"], json!({"$secret": "t2"}));
    }

    #[test]
    fn an_object_with_an_operation_in_flight_is_pending_not_drift() {
        let rec = row(
            "s::net::aws:ec2/Vpc::v",
            "vpc-1",
            json!({"cidr": "a"}),
            json!({}),
        );
        let live = ReadResult {
            inputs: json!({"cidr": "b"}),
            outputs: json!({}),
        };
        let pending = PendingOp {
            id: 1,
            urn: rec.urn.clone(),
            kind: crate::state::OpKind::Update,
            type_name: rec.type_name.clone(),
            resource_id: "vpc-1".into(),
            inputs: json!({"cidr": "b"}),
            started_at: "t".into(),
        };
        let rows = [
            LiveRow {
                recorded: rec.clone(),
                live: Some(live),
            },
            LiveRow {
                recorded: row("s::net::aws:ec2/Vpc::w", "vpc-2", json!({}), json!({})),
                live: None,
            },
        ];
        let r = report("s", "t".into(), 1, &rows, &[], &[], &[pending]);
        assert!(r.modified.is_empty(), "{r:?}");
        assert_eq!(r.deleted.len(), 1);
        assert_eq!(r.pending[0].urn, rec.urn);
        assert!(r.drifted);
    }

    #[test]
    fn headline_and_fingerprint_leave_times_out() {
        let mut r = report("prod", "t1".into(), 3, &[], &[], &[], &[]);
        assert!(!r.drifted);
        assert!(r.headline().contains("no drift"), "{}", r.headline());
        let before = r.fingerprint();
        r.checked_at = "t2".into();
        r.serial = 4;
        assert_eq!(before, r.fingerprint());
    }
}
