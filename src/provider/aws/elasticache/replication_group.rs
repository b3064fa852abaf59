//! `aws:elasticache/ReplicationGroup` (Terraform `aws_elasticache_replication_group`),
//! cluster mode disabled: one primary and `num_cache_clusters - 1` replicas.
//! AWS shows a change a few seconds after the call, so every change waits
//! until the group reads `available` again before the next one.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticache::types::{
    AuthTokenUpdateStrategyType, AutomaticFailoverStatus, CacheCluster, MultiAzStatus,
    TransitEncryptionMode,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{require_all, require_opt, ElastiCache};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::{check_id, in_range, one_of, requires};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::{field_diff, Diff, ProviderError};

type Rg = aws_sdk_elasticache::types::ReplicationGroup;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicationGroup {
    /// Lowercase, at most 40 characters, starts with a letter.
    pub replication_group_id: String,
    pub description: String,
    /// `redis` or `valkey`.
    pub engine: String,
    /// `7.1` (AWS runs the latest patch, `7.1.0`, ...); AWS's default when unset.
    pub engine_version: Option<String>,
    /// e.g. `cache.t4g.micro`.
    pub node_type: String,
    /// Primary plus replicas, 1 to 6.
    pub num_cache_clusters: i32,
    pub automatic_failover_enabled: bool,
    pub multi_az_enabled: bool,
    pub subnet_group_name: Option<Input<String>>,
    pub security_group_ids: Vec<Input<String>>,
    pub parameter_group_name: Option<Input<String>>,
    pub port: i32,
    pub at_rest_encryption_enabled: bool,
    /// Turned on in place in two steps (`preferred`, then `required`).
    pub transit_encryption_enabled: bool,
    /// `preferred` or `required` (with transit encryption; AWS's default is `required`).
    pub transit_encryption_mode: Option<String>,
    /// Redis AUTH token; write-only: AWS never returns it, so it is not in the
    /// outputs and read keeps the declared value. Give it as a secret.
    pub auth_token: Option<Input<String>>,
    /// Days of automatic snapshots, 0 (off) to 35.
    pub snapshot_retention_limit: i32,
    /// `hh24:mi-hh24:mi` (UTC); AWS picks one when unset.
    pub snapshot_window: Option<String>,
    pub apply_immediately: bool,
    /// A snapshot taken when the group is deleted; none when unset.
    pub final_snapshot_identifier: Option<String>,
    pub tags: Tags,
}

impl Default for ReplicationGroup {
    fn default() -> Self {
        ReplicationGroup {
            replication_group_id: String::new(),
            description: String::new(),
            engine: "redis".into(),
            engine_version: None,
            node_type: String::new(),
            num_cache_clusters: 1,
            automatic_failover_enabled: false,
            multi_az_enabled: false,
            subnet_group_name: None,
            security_group_ids: Vec::new(),
            parameter_group_name: None,
            port: 6379,
            at_rest_encryption_enabled: false,
            transit_encryption_enabled: false,
            transit_encryption_mode: None,
            auth_token: None,
            snapshot_retention_limit: 0,
            snapshot_window: None,
            apply_immediately: true,
            final_snapshot_identifier: None,
            tags: Tags::new(),
        }
    }
}

impl ReplicationGroup {
    pub fn new(replication_group_id: &str, description: &str, node_type: &str) -> Self {
        ReplicationGroup {
            replication_group_id: replication_group_id.into(),
            description: description.into(),
            node_type: node_type.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for ReplicationGroup {
    const TYPE: &'static str = "aws:elasticache/ReplicationGroup";
}

impl Resource<ReplicationGroup> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn primary_endpoint_address(&self) -> Output<String> {
        self.output("primary_endpoint_address")
    }
    pub fn reader_endpoint_address(&self) -> Output<String> {
        self.output("reader_endpoint_address")
    }
    pub fn port(&self) -> Output<i64> {
        self.output("port")
    }
    pub fn member_clusters(&self) -> Output<Vec<String>> {
        self.output("member_clusters")
    }
}

/// States a group passes through on its way back to `available`; a group
/// that reads available before it has an endpoint is still being created.
const PENDING: &[&str] = &["creating", "modifying", "snapshotting", NO_ENDPOINT];
const NO_ENDPOINT: &str = "available without an endpoint";

/// The group or one of its clusters is busy with another change.
const BUSY: Retry = Retry::conflict(
    &["InvalidReplicationGroupState", "InvalidCacheClusterState"],
    Duration::from_secs(300),
);

#[async_trait]
impl AwsResource for ReplicationGroup {
    type Service = ElastiCache;
    const SCHEMA: Schema = Schema {
        force_new: &[
            "replication_group_id",
            "engine",
            "subnet_group_name",
            "port",
            "at_rest_encryption_enabled",
        ],
        unique_name: &["replication_group_id"],
        computed_on_update: &["member_clusters", "reader_endpoint_address"],
        optional_computed: &[
            "engine_version",
            "subnet_group_name",
            "parameter_group_name",
            "snapshot_window",
            "transit_encryption_mode",
        ],
        write_only: &[
            "auth_token",
            "apply_immediately",
            "final_snapshot_identifier",
        ],
        normalize: &[
            ("engine_version", Norm::VersionPrefix),
            ("security_group_ids", Norm::Set),
        ],
        terraform: &[Tf {
            resource: "aws_elasticache_replication_group",
            args: &[
                ("replication_group_id", "replication_group_id"),
                ("description", "description"),
                ("engine", "engine"),
                ("engine_version", "engine_version"),
                ("node_type", "node_type"),
                ("num_cache_clusters", "num_cache_clusters"),
                ("automatic_failover_enabled", "automatic_failover_enabled"),
                ("multi_az_enabled", "multi_az_enabled"),
                ("subnet_group_name", "subnet_group_name"),
                ("security_group_ids", "security_group_ids"),
                ("parameter_group_name", "parameter_group_name"),
                ("port", "port"),
                ("at_rest_encryption_enabled", "at_rest_encryption_enabled"),
                ("transit_encryption_enabled", "transit_encryption_enabled"),
                ("transit_encryption_mode", "transit_encryption_mode"),
                ("auth_token", "auth_token"),
                ("snapshot_retention_limit", "snapshot_retention_limit"),
                ("snapshot_window", "snapshot_window"),
                ("apply_immediately", "apply_immediately"),
                ("final_snapshot_identifier", "final_snapshot_identifier"),
                ("tags", "tags"),
            ],
            import_id: "{replication_group_id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_group_id(&self.replication_group_id)?;
        super::check_description(&self.description)?;
        one_of("engine", &self.engine, &["redis", "valkey"])?;
        if let Some(v) = &self.engine_version {
            check_engine_version(&self.engine, v)?;
        }
        if !self.node_type.starts_with("cache.") {
            return Err(ProviderError::invalid(
                "node_type",
                format!("{:?}", self.node_type),
                "expected a cache node type like cache.t4g.micro",
            ));
        }
        in_range("num_cache_clusters", self.num_cache_clusters, 1..=6)?;
        if self.automatic_failover_enabled && self.num_cache_clusters < 2 {
            return Err(ProviderError::invalid(
                "automatic_failover_enabled",
                true,
                format!(
                    "needs num_cache_clusters >= 2 (is {})",
                    self.num_cache_clusters
                ),
            ));
        }
        requires(
            ("multi_az_enabled", self.multi_az_enabled),
            (
                "automatic_failover_enabled",
                self.automatic_failover_enabled,
            ),
        )?;
        in_range("port", self.port, 1..=65535)?;
        in_range(
            "snapshot_retention_limit",
            self.snapshot_retention_limit,
            0..=35,
        )?;
        if let Some(w) = self.snapshot_window.as_deref().filter(|w| !check_window(w)) {
            return Err(ProviderError::invalid(
                "snapshot_window",
                format!("{w:?}"),
                "expected hh24:mi-hh24:mi, e.g. 05:00-06:00",
            ));
        }
        if let Some(m) = &self.transit_encryption_mode {
            one_of("transit_encryption_mode", m, &["preferred", "required"])?;
            requires(
                ("transit_encryption_mode", true),
                (
                    "transit_encryption_enabled",
                    self.transit_encryption_enabled,
                ),
            )?;
        }
        if let Some(t) = &self.auth_token {
            // The value is a secret: never echo it.
            if let Some(v) = t.known() {
                check_auth_token(v)
                    .map_err(|why| ProviderError::invalid("auth_token", "(secret)", why))?;
            }
            if !self.transit_encryption_enabled {
                return Err(ProviderError::invalid(
                    "auth_token",
                    "(secret)",
                    "needs transit_encryption_enabled = true",
                ));
            }
        }
        for sg in &self.security_group_ids {
            check_id("security_group_ids", sg, "sg")?;
        }
        Ok(())
    }

    // AWS upgrades the engine in place but never downgrades it: an older
    // version is a new group. Before Redis 7.0.5, transit encryption is set
    // only at creation. (Terraform's CustomizeDiff, on declared versions.)
    fn diff(old: &Value, new: &Value) -> Diff {
        let mut d = field_diff(old, new, Self::SCHEMA.force_new);
        let version = |v: &Value| {
            v.get("engine_version")
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let (o, n) = (version(old), version(new));
        if let (Some(o), Some(n)) = (&o, &n) {
            if older(n, o) {
                d.replace.push("engine_version".into());
            }
        }
        if d.changed.iter().any(|f| f == "transit_encryption_enabled")
            && n.as_deref().is_some_and(|n| older(n, "7.0.5"))
        {
            d.replace.push("transit_encryption_enabled".into());
        }
        d.replace.sort();
        d.replace.dedup();
        d
    }

    async fn create(&self, cx: &Call<'_, ElastiCache>) -> Result<String, ProviderError> {
        let subnet_group = require_opt("subnet_group_name", &self.subnet_group_name)?;
        let parameter_group = require_opt("parameter_group_name", &self.parameter_group_name)?;
        let auth_token = require_opt("auth_token", &self.auth_token)?;
        let sgs = require_all("security_group_ids", &self.security_group_ids)?;
        // No idempotency token: a resend of a create that ran answers
        // ReplicationGroupAlreadyExists, and the engine adopts the group by
        // its URN tag.
        cx.send("CreateReplicationGroup", |c| {
            c.create_replication_group()
                .replication_group_id(&self.replication_group_id)
                .replication_group_description(&self.description)
                .engine(&self.engine)
                .set_engine_version(self.engine_version.clone())
                .cache_node_type(&self.node_type)
                .num_cache_clusters(self.num_cache_clusters)
                .automatic_failover_enabled(self.automatic_failover_enabled)
                .multi_az_enabled(self.multi_az_enabled)
                .set_cache_subnet_group_name(subnet_group.clone())
                .set_cache_parameter_group_name(parameter_group.clone())
                .set_security_group_ids((!sgs.is_empty()).then(|| sgs.clone()))
                .port(self.port)
                .at_rest_encryption_enabled(self.at_rest_encryption_enabled)
                .transit_encryption_enabled(self.transit_encryption_enabled)
                .set_transit_encryption_mode(
                    self.transit_encryption_mode
                        .as_deref()
                        .map(TransitEncryptionMode::from),
                )
                .set_auth_token(auth_token.clone())
                .snapshot_retention_limit(self.snapshot_retention_limit)
                .set_snapshot_window(self.snapshot_window.clone())
                .set_tags(Some(cx.create_tags(&self.tags)))
                .send()
        })
        .await?;
        Ok(self.replication_group_id.clone())
    }

    async fn after_create(
        &self,
        cx: &Call<'_, ElastiCache>,
        id: &str,
    ) -> Result<(), ProviderError> {
        // Not visible yet, `creating`, and available before the primary has
        // an address all mean: not ready.
        let what = format!("replication group {id}");
        Wait::new(&what, PENDING, &["available"])
            .after_create()
            .until(cx.settings(), || seen(cx, id))
            .await
    }

    async fn read(
        cx: &Call<'_, ElastiCache>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        // A group being deleted is gone for the engine (Terraform does the same).
        let Some(rg) = describe(cx, id)
            .await?
            .filter(|rg| rg.status() != Some("deleting"))
        else {
            return Ok(None);
        };
        let ng = rg.node_groups().first();
        let primary = ng.and_then(|n| n.primary_endpoint());
        let port = primary
            .and_then(|e| e.port())
            .or_else(|| rg.configuration_endpoint().and_then(|e| e.port()))
            .unwrap_or(declared.port);
        // Engine version, subnet, security and parameter groups are on the
        // member clusters; the declared values stand in when none is readable.
        let cc = match rg.member_clusters().first() {
            Some(m) => describe_cluster(cx, m).await?,
            None => None,
        };
        let live_sgs: Vec<Input<String>> = cc
            .iter()
            .flat_map(|c| c.security_groups())
            .filter_map(|s| s.security_group_id())
            .map(|s| Input::Value(s.to_string()))
            .collect();
        let args = ReplicationGroup {
            replication_group_id: rg.replication_group_id().unwrap_or(id).into(),
            description: rg.description().unwrap_or("").into(),
            engine: rg.engine().unwrap_or(&declared.engine).into(),
            engine_version: cc.as_ref().map_or(declared.engine_version.clone(), |c| {
                c.engine_version().map(str::to_string)
            }),
            node_type: rg.cache_node_type().unwrap_or("").into(),
            num_cache_clusters: rg.member_clusters().len() as i32,
            automatic_failover_enabled: matches!(
                rg.automatic_failover(),
                Some(AutomaticFailoverStatus::Enabled | AutomaticFailoverStatus::Enabling)
            ),
            multi_az_enabled: rg.multi_az() == Some(&MultiAzStatus::Enabled),
            subnet_group_name: cc
                .as_ref()
                .and_then(|c| c.cache_subnet_group_name())
                .map(|s| Input::Value(s.into()))
                .or_else(|| declared.subnet_group_name.clone()),
            // Left out, AWS uses the VPC's default group: not drift. The
            // declared ids also stand in while no member is readable.
            security_group_ids: if declared.security_group_ids.is_empty() || live_sgs.is_empty() {
                declared.security_group_ids.clone()
            } else {
                live_sgs
            },
            parameter_group_name: cc
                .as_ref()
                .and_then(|c| c.cache_parameter_group())
                .and_then(|p| p.cache_parameter_group_name())
                .map(|p| Input::Value(p.into()))
                .or_else(|| declared.parameter_group_name.clone()),
            port,
            at_rest_encryption_enabled: rg.at_rest_encryption_enabled().unwrap_or(false),
            transit_encryption_enabled: rg.transit_encryption_enabled().unwrap_or(false),
            transit_encryption_mode: rg.transit_encryption_mode().map(|m| m.as_str().into()),
            snapshot_retention_limit: rg.snapshot_retention_limit().unwrap_or(0),
            snapshot_window: rg.snapshot_window().map(str::to_string),
            tags: cx.own_tags(&cx.live_tags(rg.arn().unwrap_or_default()).await?),
            ..declared.clone()
        };
        let outputs = json!({
            "id": rg.replication_group_id(),
            "arn": rg.arn(),
            "primary_endpoint_address": primary.and_then(|e| e.address()),
            "reader_endpoint_address": ng.and_then(|n| n.reader_endpoint()).and_then(|e| e.address()),
            "port": port,
            "member_clusters": rg.member_clusters(),
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, ElastiCache>,
        id: &str,
    ) -> Result<(), ProviderError> {
        // Terraform's order: more replicas (before failover is turned on),
        // the other changes, the token, fewer replicas (after it is off).
        if self.num_cache_clusters > old.num_cache_clusters {
            set_replicas(cx, id, self.num_cache_clusters, true).await?;
        }
        let base = Modify {
            apply_immediately: self.apply_immediately,
            ..Modify::default()
        };
        let changes = changes(old, self, base.clone())?;
        if changes != base {
            modify(cx, id, &changes).await?;
        }
        for step in transit_steps(old, self, &base) {
            modify(cx, id, &step).await?;
        }
        let token = require_opt("auth_token", &self.auth_token)?;
        if token.is_some() && token.as_ref() != old.auth_token.as_ref().and_then(Input::known) {
            // Rotate: the old token keeps working until the next rotation.
            let rotate = Modify {
                auth_token: token,
                apply_immediately: true,
                ..Modify::default()
            };
            modify(cx, id, &rotate).await?;
        }
        if self.num_cache_clusters < old.num_cache_clusters {
            set_replicas(cx, id, self.num_cache_clusters, false).await?;
        }
        if old.tags != self.tags {
            let rg = describe(cx, id)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("replication group {id}")))?;
            cx.update_tags(rg.arn().unwrap_or_default(), &old.tags, &self.tags)
                .await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, ElastiCache>, id: &str) -> Result<(), ProviderError> {
        match describe(cx, id).await? {
            None => return Ok(()),
            // Only a group that reads `deleting` is being deleted: wait for it.
            Some(rg) if rg.status() == Some("deleting") => {}
            Some(_) => {
                // Refused (InvalidReplicationGroupState) while the group is
                // modifying or snapshotting; Terraform retries 10 minutes.
                let busy =
                    Retry::conflict(&["InvalidReplicationGroupState"], Duration::from_secs(600));
                cx.send_retrying("DeleteReplicationGroup", &[busy], |c| {
                    c.delete_replication_group()
                        .replication_group_id(id)
                        .set_final_snapshot_identifier(self.final_snapshot_identifier.clone())
                        .send()
                })
                .await?;
            }
        }
        // Just after the call the group may still read as before.
        let what = format!("replication group {id}");
        Wait::new(&what, &["deleting", "available", "creating"], &[])
            .until_gone(cx.settings(), || async {
                Ok(match describe(cx, id).await? {
                    Some(rg) => Seen::State(rg.status().unwrap_or("deleting").to_string(), ()),
                    None => Seen::Gone,
                })
            })
            .await
    }

    async fn find(&self, cx: &Call<'_, ElastiCache>) -> Result<Vec<String>, ProviderError> {
        let pages = cx
            .pages(
                "DescribeReplicationGroups",
                cx.client()
                    .await
                    .describe_replication_groups()
                    .into_paginator()
                    .send(),
            )
            .await?;
        // A deleted group stays listed, `deleting`, with its tags, for a while.
        let groups: Vec<(&str, &str)> = pages
            .iter()
            .flat_map(|p| p.replication_groups())
            .filter(|g| g.status() != Some("deleting"))
            .filter_map(|g| Some((g.replication_group_id()?, g.arn()?)))
            .collect();
        cx.tagged(&groups).await
    }
}

/// One ModifyReplicationGroup request; `None` fields are not sent.
#[derive(Debug, Clone, Default, PartialEq)]
struct Modify {
    apply_immediately: bool,
    description: Option<String>,
    engine_version: Option<String>,
    node_type: Option<String>,
    automatic_failover: Option<bool>,
    multi_az: Option<bool>,
    security_group_ids: Option<Vec<String>>,
    parameter_group: Option<String>,
    snapshot_retention_limit: Option<i32>,
    snapshot_window: Option<String>,
    transit_encryption: Option<bool>,
    transit_mode: Option<TransitEncryptionMode>,
    auth_token: Option<String>,
}

/// What changed from `o` to `n`, besides replicas, transit encryption and the token.
fn changes(
    o: &ReplicationGroup,
    n: &ReplicationGroup,
    mut m: Modify,
) -> Result<Modify, ProviderError> {
    m.description = changed(&o.description, &n.description).cloned();
    m.engine_version = changed(&o.engine_version, &n.engine_version)
        .cloned()
        .flatten();
    m.node_type = changed(&o.node_type, &n.node_type).cloned();
    m.automatic_failover = changed(o.automatic_failover_enabled, n.automatic_failover_enabled);
    m.multi_az = changed(o.multi_az_enabled, n.multi_az_enabled);
    let sgs = require_all("security_group_ids", &n.security_group_ids)?;
    let old_sgs: Vec<Option<&String>> = o.security_group_ids.iter().map(Input::known).collect();
    if old_sgs != sgs.iter().map(Some).collect::<Vec<_>>() && !sgs.is_empty() {
        m.security_group_ids = Some(sgs);
    }
    let pg = require_opt("parameter_group_name", &n.parameter_group_name)?;
    if pg.is_some() && pg.as_ref() != o.parameter_group_name.as_ref().and_then(Input::known) {
        m.parameter_group = pg;
    }
    m.snapshot_retention_limit = changed(o.snapshot_retention_limit, n.snapshot_retention_limit);
    m.snapshot_window = changed(&o.snapshot_window, &n.snapshot_window)
        .cloned()
        .flatten();
    Ok(m)
}

fn changed<T: PartialEq>(a: T, b: T) -> Option<T> {
    (a != b).then_some(b)
}

/// Transit encryption goes through `preferred` both ways: on is enabled +
/// preferred, then required; off is preferred, then disabled (AWS refuses a
/// direct switch). Each step is its own request once the group settles.
fn transit_steps(o: &ReplicationGroup, n: &ReplicationGroup, base: &Modify) -> Vec<Modify> {
    let mode =
        |g: &ReplicationGroup| match (g.transit_encryption_enabled, &g.transit_encryption_mode) {
            (false, _) => "off",
            (true, Some(m)) if m == "preferred" => "preferred",
            (true, _) => "required",
        };
    let step = |on: bool, mode: Option<&str>| Modify {
        transit_encryption: Some(on),
        transit_mode: mode.map(TransitEncryptionMode::from),
        ..base.clone()
    };
    match (mode(o), mode(n)) {
        (a, b) if a == b => vec![],
        ("off", "preferred") => vec![step(true, Some("preferred"))],
        ("off", _) => vec![step(true, Some("preferred")), step(true, Some("required"))],
        ("required", "off") => vec![step(true, Some("preferred")), step(false, None)],
        (_, "off") => vec![step(false, None)],
        (_, m) => vec![step(true, Some(m))],
    }
}

async fn modify(cx: &Call<'_, ElastiCache>, id: &str, m: &Modify) -> Result<(), ProviderError> {
    cx.send_retrying("ModifyReplicationGroup", &[BUSY], |c| {
        c.modify_replication_group()
            .replication_group_id(id)
            .apply_immediately(m.apply_immediately)
            .set_replication_group_description(m.description.clone())
            .set_engine_version(m.engine_version.clone())
            .set_cache_node_type(m.node_type.clone())
            .set_automatic_failover_enabled(m.automatic_failover)
            .set_multi_az_enabled(m.multi_az)
            .set_security_group_ids(m.security_group_ids.clone())
            .set_cache_parameter_group_name(m.parameter_group.clone())
            .set_snapshot_retention_limit(m.snapshot_retention_limit)
            .set_snapshot_window(m.snapshot_window.clone())
            .set_transit_encryption_enabled(m.transit_encryption)
            .set_transit_encryption_mode(m.transit_mode.clone())
            .set_auth_token(m.auth_token.clone())
            .set_auth_token_update_strategy(
                m.auth_token
                    .as_ref()
                    .map(|_| AuthTokenUpdateStrategyType::Rotate),
            )
            .send()
    })
    .await?;
    settled(cx, id).await
}

/// Waits until the group is available again after a change: AWS shows
/// `modifying` a few seconds after the call (Terraform waits 30 s first).
async fn settled(cx: &Call<'_, ElastiCache>, id: &str) -> Result<(), ProviderError> {
    let what = format!("replication group {id}");
    Wait::new(&what, PENDING, &["available"])
        .after_modify(Duration::from_secs(30), 2)
        .until(cx.settings(), || seen(cx, id))
        .await
}

/// `want` clusters in all (a primary and `want - 1` replicas), then waits
/// for the group and every member cluster to be available.
async fn set_replicas(
    cx: &Call<'_, ElastiCache>,
    id: &str,
    want: i32,
    more: bool,
) -> Result<(), ProviderError> {
    if more {
        cx.send_retrying("IncreaseReplicaCount", &[BUSY], |c| {
            c.increase_replica_count()
                .replication_group_id(id)
                .new_replica_count(want - 1)
                .apply_immediately(true)
                .send()
        })
        .await?;
    } else {
        cx.send_retrying("DecreaseReplicaCount", &[BUSY], |c| {
            c.decrease_replica_count()
                .replication_group_id(id)
                .new_replica_count(want - 1)
                .apply_immediately(true)
                .send()
        })
        .await?;
    }
    settled(cx, id).await?;
    let what = format!("the member clusters of replication group {id}");
    let pending = &[
        "creating",
        "deleting",
        "modifying",
        "snapshotting",
        "not listed yet",
    ];
    Wait::new(&what, pending, &["available"])
        .until(cx.settings(), || async {
            let Some(rg) = describe(cx, id).await? else {
                return Ok(Seen::Gone);
            };
            if rg.member_clusters().len() != want as usize {
                return Ok(Seen::State("modifying".into(), ()));
            }
            for m in rg.member_clusters() {
                let state = describe_cluster(cx, m)
                    .await?
                    .map_or("not listed yet".into(), |c| {
                        c.cache_cluster_status().unwrap_or("creating").to_string()
                    });
                if state != "available" {
                    return Ok(Seen::State(state, ()));
                }
            }
            Ok(Seen::State("available".into(), ()))
        })
        .await
}

async fn describe(cx: &Call<'_, ElastiCache>, id: &str) -> Result<Option<Rg>, ProviderError> {
    let out = cx
        .find("DescribeReplicationGroups", |c| {
            c.describe_replication_groups()
                .replication_group_id(id)
                .send()
        })
        .await?;
    Ok(out.and_then(|o| o.replication_groups().first().cloned()))
}

async fn describe_cluster(
    cx: &Call<'_, ElastiCache>,
    id: &str,
) -> Result<Option<CacheCluster>, ProviderError> {
    let out = cx
        .find("DescribeCacheClusters", |c| {
            c.describe_cache_clusters().cache_cluster_id(id).send()
        })
        .await?;
    Ok(out.and_then(|o| o.cache_clusters().first().cloned()))
}

/// The group's state for a wait.
async fn seen(cx: &Call<'_, ElastiCache>, id: &str) -> Result<Seen<()>, ProviderError> {
    Ok(match describe(cx, id).await? {
        None => Seen::Gone,
        Some(rg) => {
            let has_endpoint = rg
                .node_groups()
                .first()
                .and_then(|n| n.primary_endpoint())
                .and_then(|e| e.address())
                .is_some();
            match rg.status().unwrap_or("creating") {
                "available" if !has_endpoint => Seen::State(NO_ENDPOINT.into(), ()),
                s => Seen::State(s.into(), ()),
            }
        }
    })
}

/// Whether version `a` is older than `b`: `7.1` < `7.2`; `7.0` is not older
/// than `7.0.5` (AWS runs its latest patch); `6.x` matches any 6.
fn older(a: &str, b: &str) -> bool {
    for (x, y) in a.split('.').zip(b.split('.')) {
        match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) if x != y => return x < y,
            (Ok(_), Ok(_)) => {}
            _ => return false,
        }
    }
    false
}

/// Lowercase letters, digits and hyphens, 1 to 40, starting with a letter.
fn check_group_id(id: &str) -> Result<(), ProviderError> {
    let bad = |why: &str| {
        Err(ProviderError::invalid(
            "replication_group_id",
            format!("{id:?}"),
            why.to_string(),
        ))
    };
    if id.is_empty() || id.len() > 40 {
        return bad("must be 1 to 40 characters");
    }
    if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        return bad("must start with a lowercase letter");
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return bad("only lowercase letters, digits and hyphens");
    }
    if id.contains("--") || id.ends_with('-') {
        return bad("no two consecutive hyphens and no trailing hyphen");
    }
    Ok(())
}

/// Redis 6 and later and Valkey take `<major>.<minor>` (Redis also `6.x`);
/// Redis 5 and earlier `<major>.<minor>.<patch>` (Terraform's rule).
fn check_engine_version(engine: &str, v: &str) -> Result<(), ProviderError> {
    let num = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let parts: Vec<&str> = v.split('.').collect();
    let major: u32 = parts[0].parse().unwrap_or(0);
    let ok = match (engine, parts.as_slice()) {
        ("valkey", [_, m]) => (7..=9).contains(&major) && num(m),
        ("redis", [_, m]) => major >= 6 && (num(m) || *m == "x"),
        ("redis", [_, m, p]) => (2..6).contains(&major) && num(m) && num(p),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    Err(ProviderError::invalid(
        "engine_version",
        format!("{v:?}"),
        format!("expected <major>.<minor> for {engine} 6 and later (e.g. 7.1), or <major>.<minor>.<patch> for Redis 5 and earlier"),
    ))
}

/// ElastiCache AUTH tokens: 16 to 128 printable ASCII characters, no `@`, `"` or `/`.
pub fn check_auth_token(token: &str) -> Result<(), String> {
    if token.len() < 16 || token.len() > 128 {
        return Err(format!(
            "must be 16 to 128 characters (has {})",
            token.chars().count()
        ));
    }
    if let Some(c) = token
        .chars()
        .find(|c| !(c.is_ascii_graphic()) || matches!(c, '@' | '"' | '/'))
    {
        return Err(format!(
            "printable ASCII only, without @, \" or / (found {c:?})"
        ));
    }
    Ok(())
}

fn check_window(w: &str) -> bool {
    let hm = |s: &str| {
        let (h, m) = s.split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60 && s.len() == 5).then_some(())
    };
    w.split_once('-')
        .is_some_and(|(a, b)| hm(a).is_some() && hm(b).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_token_and_window_rules() {
        assert!(check_auth_token("a-valid-token-0123456789").is_ok());
        assert!(check_auth_token("short").is_err());
        assert!(check_auth_token("has@at-sign-0123456789").is_err());
        assert!(check_auth_token("has/slash-0123456789").is_err());
        assert!(check_auth_token("has space 0123456789").is_err());
        assert!(check_auth_token(&"x".repeat(129)).is_err());
        assert!(check_window("05:00-06:00"));
        assert!(!check_window("5-6"));
        assert!(!check_window("25:00-26:00"));
    }

    #[test]
    fn versions_compare_and_downgrades_replace() {
        assert!(older("6.2", "7.1") && older("7.0", "7.1") && older("7.0.4", "7.0.5"));
        assert!(!older("7.0", "7.0.5") && !older("7.1", "7.1") && !older("7.2", "7.1"));
        assert!(!older("6.x", "6.2") && older("6.x", "7.0"));
        assert!(check_engine_version("redis", "7.1").is_ok());
        assert!(check_engine_version("redis", "6.x").is_ok());
        assert!(check_engine_version("redis", "5.0.6").is_ok());
        assert!(check_engine_version("valkey", "8.0").is_ok());
        let e = check_engine_version("redis", "7.1.0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("engine_version") && e.contains("7.1.0"), "{e}");
        assert!(check_engine_version("valkey", "6.2").is_err());

        let rg = |v: &str| json!({"engine_version": v, "description": "d"});
        let d = ReplicationGroup::diff(&rg("7.1"), &rg("6.2"));
        assert_eq!(d.replace, vec!["engine_version"]);
        let d = ReplicationGroup::diff(&rg("7.0"), &rg("7.1"));
        assert_eq!(d.changed, vec!["engine_version"]);
        assert!(d.replace.is_empty(), "an upgrade is in place");
        let tls =
            |v: &str, on: bool| json!({"engine_version": v, "transit_encryption_enabled": on});
        let d = ReplicationGroup::diff(&tls("6.2", false), &tls("6.2", true));
        assert_eq!(d.replace, vec!["transit_encryption_enabled"]);
        let d = ReplicationGroup::diff(&tls("7.1", false), &tls("7.1", true));
        assert!(d.replace.is_empty());
    }

    #[test]
    fn transit_encryption_goes_through_preferred() {
        let g = |on: bool, mode: Option<&str>| ReplicationGroup {
            transit_encryption_enabled: on,
            transit_encryption_mode: mode.map(str::to_string),
            ..Default::default()
        };
        let base = Modify::default();
        let steps = |o, n| -> Vec<(Option<bool>, Option<String>)> {
            transit_steps(&o, &n, &base)
                .into_iter()
                .map(|m| {
                    (
                        m.transit_encryption,
                        m.transit_mode.map(|m| m.as_str().to_string()),
                    )
                })
                .collect()
        };
        let pref = Some("preferred".to_string());
        let req = Some("required".to_string());
        assert_eq!(
            steps(g(false, None), g(true, None)),
            vec![(Some(true), pref.clone()), (Some(true), req.clone())]
        );
        assert_eq!(
            steps(g(false, None), g(true, Some("preferred"))),
            vec![(Some(true), pref.clone())]
        );
        assert_eq!(
            steps(g(true, Some("required")), g(false, None)),
            vec![(Some(true), pref.clone()), (Some(false), None)]
        );
        assert_eq!(
            steps(g(true, Some("preferred")), g(true, None)),
            vec![(Some(true), req)]
        );
        assert!(steps(g(true, None), g(true, Some("required"))).is_empty());
    }
}
