//! `aws:elasticache/ReplicationGroup` (Terraform `aws_elasticache_replication_group`),
//! cluster mode disabled: one primary and `num_cache_clusters - 1` replicas.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_elasticache::types::{
    AuthTokenUpdateStrategyType, AutomaticFailoverStatus, MultiAzStatus, TransitEncryptionMode,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{create_tags, has_urn_tag, list_tags, none_if_missing, update_tags};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

type Rg = aws_sdk_elasticache::types::ReplicationGroup;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationGroup {
    /// Lowercase, at most 40 characters, starts with a letter.
    pub replication_group_id: String,
    pub description: String,
    /// `redis` or `valkey`.
    #[serde(default = "default_engine")]
    pub engine: String,
    #[serde(default)]
    pub engine_version: Option<String>,
    /// e.g. `cache.t4g.micro`.
    pub node_type: String,
    /// Primary plus replicas, 1 to 6.
    #[serde(default = "one")]
    pub num_cache_clusters: i32,
    #[serde(default)]
    pub automatic_failover_enabled: bool,
    #[serde(default)]
    pub multi_az_enabled: bool,
    #[serde(default)]
    pub subnet_group_name: Option<Input<String>>,
    #[serde(default)]
    pub security_group_ids: Vec<Input<String>>,
    #[serde(default)]
    pub parameter_group_name: Option<Input<String>>,
    #[serde(default = "default_port")]
    pub port: i32,
    #[serde(default)]
    pub at_rest_encryption_enabled: bool,
    #[serde(default)]
    pub transit_encryption_enabled: bool,
    /// `preferred` or `required` (with transit encryption).
    #[serde(default)]
    pub transit_encryption_mode: Option<String>,
    /// Redis AUTH token; write-only: AWS never returns it, so it is neither in
    /// the outputs nor in the live view of the inputs. Give it as a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<Input<String>>,
    /// Days of automatic snapshots, 0 (off) to 35.
    #[serde(default)]
    pub snapshot_retention_limit: i32,
    /// `hh24:mi-hh24:mi` (UTC); AWS picks one when unset.
    #[serde(default)]
    pub snapshot_window: Option<String>,
    #[serde(default = "yes")]
    pub apply_immediately: bool,
    #[serde(default)]
    pub tags: Tags,
}

fn default_engine() -> String {
    "redis".into()
}
fn one() -> i32 {
    1
}
fn default_port() -> i32 {
    6379
}
fn yes() -> bool {
    true
}

impl ReplicationGroup {
    pub fn new(replication_group_id: &str, description: &str, node_type: &str) -> Self {
        ReplicationGroup {
            replication_group_id: replication_group_id.into(),
            description: description.into(),
            engine: default_engine(),
            engine_version: None,
            node_type: node_type.into(),
            num_cache_clusters: 1,
            automatic_failover_enabled: false,
            multi_az_enabled: false,
            subnet_group_name: None,
            security_group_ids: Vec::new(),
            parameter_group_name: None,
            port: default_port(),
            at_rest_encryption_enabled: false,
            transit_encryption_enabled: false,
            transit_encryption_mode: None,
            auth_token: None,
            snapshot_retention_limit: 0,
            snapshot_window: None,
            apply_immediately: true,
            tags: Tags::new(),
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

fn known(i: &Option<Input<String>>) -> Option<String> {
    i.as_ref().and_then(|i| i.known().cloned())
}

fn known_all(ids: &[Input<String>]) -> Vec<String> {
    ids.iter().filter_map(|i| i.known().cloned()).collect()
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

pub struct ReplicationGroupProvider {
    aws: Arc<Aws>,
}

impl ReplicationGroupProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        ReplicationGroupProvider { aws }
    }

    async fn describe(&self, ctx: &Ctx, id: &str) -> Result<Option<Rg>, ProviderError> {
        self.aws.limits.elasticache.acquire().await;
        let r = self
            .aws
            .elasticache()
            .await
            .describe_replication_groups()
            .replication_group_id(id)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeReplicationGroups", e));
        Ok(none_if_missing(r)?.and_then(|o| o.replication_groups().first().cloned()))
    }

    /// Polls until the group is `available` (after create and modify).
    async fn wait_available(&self, ctx: &Ctx, id: &str) -> Result<Rg, ProviderError> {
        let s = &self.aws.settings;
        let start = Instant::now();
        loop {
            let state = match self.describe(ctx, id).await? {
                Some(rg) => {
                    let st = rg.status().unwrap_or("").to_string();
                    if st == "available" {
                        return Ok(rg);
                    }
                    if st == "create-failed" || st == "deleting" {
                        return Err(ProviderError::Fatal(format!(
                            "{}: replication group {id} is {st}, expected available",
                            ctx.urn
                        )));
                    }
                    st
                }
                None => "missing".to_string(),
            };
            if start.elapsed() >= s.wait_timeout {
                return Err(ProviderError::Fatal(format!(
                    "{}: replication group {id} still {state} after {:?}, waiting for available",
                    ctx.urn, s.wait_timeout
                )));
            }
            tokio::time::sleep(s.poll_interval).await;
        }
    }

    /// Polls until the group no longer exists (after delete).
    async fn wait_gone(&self, ctx: &Ctx, id: &str) -> Result<(), ProviderError> {
        let s = &self.aws.settings;
        let start = Instant::now();
        loop {
            let state = match self.describe(ctx, id).await? {
                None => return Ok(()),
                Some(rg) => rg.status().unwrap_or("").to_string(),
            };
            if start.elapsed() >= s.wait_timeout {
                return Err(ProviderError::Fatal(format!(
                    "{}: replication group {id} still {state} after {:?}, waiting for it to be deleted",
                    ctx.urn, s.wait_timeout
                )));
            }
            tokio::time::sleep(s.poll_interval).await;
        }
    }

    fn outputs(rg: &Rg, fallback_port: i32) -> Value {
        let ng = rg.node_groups().first();
        let primary = ng.and_then(|n| n.primary_endpoint());
        let reader = ng.and_then(|n| n.reader_endpoint());
        let port = primary
            .and_then(|e| e.port())
            .or_else(|| rg.configuration_endpoint().and_then(|e| e.port()))
            .unwrap_or(fallback_port);
        json!({
            "id": rg.replication_group_id(),
            "arn": rg.arn(),
            "primary_endpoint_address": primary.and_then(|e| e.address()),
            "reader_endpoint_address": reader.and_then(|e| e.address()),
            "port": port,
            "member_clusters": rg.member_clusters(),
        })
    }

    async fn modify(
        &self,
        ctx: &Ctx,
        id: &str,
        o: &ReplicationGroup,
        n: &ReplicationGroup,
    ) -> Result<bool, ProviderError> {
        let mut req = self
            .aws
            .elasticache()
            .await
            .modify_replication_group()
            .replication_group_id(id)
            .apply_immediately(n.apply_immediately);
        let mut any = false;
        if o.description != n.description {
            req = req.replication_group_description(&n.description);
            any = true;
        }
        if o.engine_version != n.engine_version {
            if let Some(v) = &n.engine_version {
                req = req.engine_version(v);
                any = true;
            }
        }
        if o.node_type != n.node_type {
            req = req.cache_node_type(&n.node_type);
            any = true;
        }
        if o.automatic_failover_enabled != n.automatic_failover_enabled {
            req = req.automatic_failover_enabled(n.automatic_failover_enabled);
            any = true;
        }
        if o.multi_az_enabled != n.multi_az_enabled {
            req = req.multi_az_enabled(n.multi_az_enabled);
            any = true;
        }
        if known_all(&o.security_group_ids) != known_all(&n.security_group_ids) {
            req = req.set_security_group_ids(Some(known_all(&n.security_group_ids)));
            any = true;
        }
        if known(&o.parameter_group_name) != known(&n.parameter_group_name) {
            if let Some(p) = known(&n.parameter_group_name) {
                req = req.cache_parameter_group_name(p);
                any = true;
            }
        }
        if o.snapshot_retention_limit != n.snapshot_retention_limit {
            req = req.snapshot_retention_limit(n.snapshot_retention_limit);
            any = true;
        }
        if o.snapshot_window != n.snapshot_window {
            if let Some(w) = &n.snapshot_window {
                req = req.snapshot_window(w);
                any = true;
            }
        }
        if o.transit_encryption_enabled != n.transit_encryption_enabled
            || o.transit_encryption_mode != n.transit_encryption_mode
        {
            req = req.transit_encryption_enabled(n.transit_encryption_enabled);
            if let Some(m) = &n.transit_encryption_mode {
                req = req.transit_encryption_mode(TransitEncryptionMode::from(m.as_str()));
            }
            any = true;
        }
        let (ot, nt) = (known(&o.auth_token), known(&n.auth_token));
        if ot != nt {
            if let Some(t) = nt {
                // Rotate: the old token keeps working until the next rotation.
                req = req
                    .auth_token(t)
                    .auth_token_update_strategy(AuthTokenUpdateStrategyType::Rotate);
                any = true;
            }
        }
        if !any {
            return Ok(false);
        }
        self.aws.limits.elasticache.acquire().await;
        req.send()
            .await
            .map_err(|e| error::map(&ctx.urn, "ModifyReplicationGroup", e))?;
        Ok(true)
    }

    async fn set_replicas(
        &self,
        ctx: &Ctx,
        id: &str,
        from: i32,
        to: i32,
    ) -> Result<(), ProviderError> {
        let client = self.aws.elasticache().await;
        self.aws.limits.elasticache.acquire().await;
        if to > from {
            client
                .increase_replica_count()
                .replication_group_id(id)
                .new_replica_count(to - 1)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "IncreaseReplicaCount", e))?;
        } else {
            client
                .decrease_replica_count()
                .replication_group_id(id)
                .new_replica_count(to - 1)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "DecreaseReplicaCount", e))?;
        }
        self.wait_available(ctx, id).await.map(|_| ())
    }
}

#[async_trait]
impl Provider for ReplicationGroupProvider {
    fn type_name(&self) -> &'static str {
        ReplicationGroup::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &[
            "replication_group_id",
            "engine",
            "subnet_group_name",
            "port",
            "at_rest_encryption_enabled",
        ]
    }

    fn unique_name(&self) -> &'static [&'static str] {
        &["replication_group_id"]
    }

    fn outputs_changed_by_update(&self) -> &'static [&'static str] {
        &["member_clusters", "reader_endpoint_address"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("elasticache", 10))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let g: ReplicationGroup = parse(inputs)?;
        let id = &g.replication_group_id;
        let bad_id = |why: &str| {
            Err(ProviderError::invalid(
                "replication_group_id",
                format!("{id:?}"),
                why.to_string(),
            ))
        };
        if id.is_empty() || id.len() > 40 {
            return bad_id("must be 1 to 40 characters");
        }
        if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
            return bad_id("must start with a lowercase letter");
        }
        if !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return bad_id("only lowercase letters, digits and hyphens");
        }
        if id.contains("--") || id.ends_with('-') {
            return bad_id("no two consecutive hyphens and no trailing hyphen");
        }
        if g.description.is_empty() {
            return Err(ProviderError::invalid(
                "description",
                "\"\"",
                "must not be empty",
            ));
        }
        if !matches!(g.engine.as_str(), "redis" | "valkey") {
            return Err(ProviderError::invalid(
                "engine",
                format!("{:?}", g.engine),
                "must be \"redis\" or \"valkey\"",
            ));
        }
        if !g.node_type.starts_with("cache.") {
            return Err(ProviderError::invalid(
                "node_type",
                format!("{:?}", g.node_type),
                "expected a cache node type like cache.t4g.micro",
            ));
        }
        if !(1..=6).contains(&g.num_cache_clusters) {
            return Err(ProviderError::invalid(
                "num_cache_clusters",
                g.num_cache_clusters,
                "must be 1 to 6 (a primary and up to 5 replicas)",
            ));
        }
        if g.automatic_failover_enabled && g.num_cache_clusters < 2 {
            return Err(ProviderError::invalid(
                "automatic_failover_enabled",
                true,
                format!(
                    "needs num_cache_clusters >= 2 (is {})",
                    g.num_cache_clusters
                ),
            ));
        }
        if g.multi_az_enabled && !g.automatic_failover_enabled {
            return Err(ProviderError::invalid(
                "multi_az_enabled",
                true,
                "needs automatic_failover_enabled = true",
            ));
        }
        if !(1..=65535).contains(&g.port) {
            return Err(ProviderError::invalid("port", g.port, "must be 1 to 65535"));
        }
        if !(0..=35).contains(&g.snapshot_retention_limit) {
            return Err(ProviderError::invalid(
                "snapshot_retention_limit",
                g.snapshot_retention_limit,
                "must be 0 to 35 days",
            ));
        }
        if let Some(w) = &g.snapshot_window {
            if !check_window(w) {
                return Err(ProviderError::invalid(
                    "snapshot_window",
                    format!("{w:?}"),
                    "expected hh24:mi-hh24:mi, e.g. 05:00-06:00",
                ));
            }
        }
        if let Some(m) = &g.transit_encryption_mode {
            if !matches!(m.as_str(), "preferred" | "required") {
                return Err(ProviderError::invalid(
                    "transit_encryption_mode",
                    format!("{m:?}"),
                    "must be \"preferred\" or \"required\"",
                ));
            }
            if !g.transit_encryption_enabled {
                return Err(ProviderError::invalid(
                    "transit_encryption_mode",
                    format!("{m:?}"),
                    "needs transit_encryption_enabled = true",
                ));
            }
        }
        if let Some(t) = &g.auth_token {
            if let Some(v) = t.known() {
                // The value is a secret: never echo it.
                check_auth_token(v)
                    .map_err(|why| ProviderError::invalid("auth_token", "(secret)", why))?;
            }
            if !g.transit_encryption_enabled {
                return Err(ProviderError::invalid(
                    "auth_token",
                    "(secret)",
                    "needs transit_encryption_enabled = true",
                ));
            }
        }
        for sg in known_all(&g.security_group_ids) {
            if !sg.starts_with("sg-") {
                return Err(ProviderError::invalid(
                    "security_group_ids",
                    format!("{sg:?}"),
                    "not a security group id (sg-...)",
                ));
            }
        }
        tags::validate(&g.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let g: ReplicationGroup = parse(inputs)?;
        self.aws.limits.elasticache.acquire().await;
        let mut req = self
            .aws
            .elasticache()
            .await
            .create_replication_group()
            .replication_group_id(&g.replication_group_id)
            .replication_group_description(&g.description)
            .engine(&g.engine)
            .set_engine_version(g.engine_version.clone())
            .cache_node_type(&g.node_type)
            .num_cache_clusters(g.num_cache_clusters)
            .automatic_failover_enabled(g.automatic_failover_enabled)
            .multi_az_enabled(g.multi_az_enabled)
            .set_cache_subnet_group_name(known(&g.subnet_group_name))
            .set_cache_parameter_group_name(known(&g.parameter_group_name))
            .port(g.port)
            .at_rest_encryption_enabled(g.at_rest_encryption_enabled)
            .transit_encryption_enabled(g.transit_encryption_enabled)
            .set_auth_token(known(&g.auth_token))
            .snapshot_retention_limit(g.snapshot_retention_limit)
            .set_snapshot_window(g.snapshot_window.clone())
            .set_tags(Some(create_tags(&self.aws, ctx, &g.tags)));
        let sgs = known_all(&g.security_group_ids);
        if !sgs.is_empty() {
            req = req.set_security_group_ids(Some(sgs));
        }
        if let Some(m) = &g.transit_encryption_mode {
            req = req.transit_encryption_mode(TransitEncryptionMode::from(m.as_str()));
        }
        req.send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateReplicationGroup", e))?;
        let rg = self.wait_available(ctx, &g.replication_group_id).await?;
        Ok(Created {
            id: g.replication_group_id.clone(),
            outputs: Self::outputs(&rg, g.port),
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(rg) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        if rg.status() == Some("deleting") {
            return Ok(None);
        }
        // The token is write-only; leave it out before parsing the prior inputs.
        let mut prior_v = inputs.clone();
        if let Some(o) = prior_v.as_object_mut() {
            o.remove("auth_token");
        }
        let prior: ReplicationGroup = parse(&prior_v)?;
        let live_tags = list_tags(&self.aws, ctx, rg.arn().unwrap_or_default()).await?;
        // Engine version, subnet group, security and parameter groups are on
        // the member clusters; the prior values stand in when they cannot be read.
        let mut engine_version = prior.engine_version.clone();
        let mut subnet_group_name = prior.subnet_group_name.clone();
        let mut security_group_ids = prior.security_group_ids.clone();
        let mut parameter_group_name = prior.parameter_group_name.clone();
        if let Some(member) = rg.member_clusters().first() {
            self.aws.limits.elasticache.acquire().await;
            let r = self
                .aws
                .elasticache()
                .await
                .describe_cache_clusters()
                .cache_cluster_id(member)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "DescribeCacheClusters", e));
            if let Some(cc) = none_if_missing(r)?.and_then(|o| o.cache_clusters().first().cloned())
            {
                if prior.engine_version.is_some() {
                    engine_version = cc.engine_version().map(str::to_string);
                }
                if let Some(s) = cc.cache_subnet_group_name() {
                    subnet_group_name = Some(Input::Value(s.to_string()));
                }
                if !cc.security_groups().is_empty() {
                    security_group_ids = cc
                        .security_groups()
                        .iter()
                        .filter_map(|s| s.security_group_id())
                        .map(|s| Input::Value(s.to_string()))
                        .collect();
                }
                if let Some(p) = cc
                    .cache_parameter_group()
                    .and_then(|p| p.cache_parameter_group_name())
                {
                    if prior.parameter_group_name.is_some() || !p.starts_with("default.") {
                        parameter_group_name = Some(Input::Value(p.to_string()));
                    }
                }
            }
        }
        let outputs = Self::outputs(&rg, prior.port);
        let live = ReplicationGroup {
            replication_group_id: rg.replication_group_id().unwrap_or(id).to_string(),
            description: rg.description().unwrap_or("").to_string(),
            engine: rg.engine().map(str::to_string).unwrap_or(prior.engine),
            engine_version,
            node_type: rg.cache_node_type().unwrap_or("").to_string(),
            num_cache_clusters: rg.member_clusters().len() as i32,
            automatic_failover_enabled: matches!(
                rg.automatic_failover(),
                Some(AutomaticFailoverStatus::Enabled | AutomaticFailoverStatus::Enabling)
            ),
            multi_az_enabled: matches!(rg.multi_az(), Some(MultiAzStatus::Enabled)),
            subnet_group_name,
            security_group_ids,
            parameter_group_name,
            port: outputs["port"].as_i64().unwrap_or(prior.port as i64) as i32,
            at_rest_encryption_enabled: rg.at_rest_encryption_enabled().unwrap_or(false),
            transit_encryption_enabled: rg.transit_encryption_enabled().unwrap_or(false),
            transit_encryption_mode: if prior.transit_encryption_mode.is_some() {
                rg.transit_encryption_mode().map(|m| m.as_str().to_string())
            } else {
                None
            },
            auth_token: None,
            snapshot_retention_limit: rg.snapshot_retention_limit().unwrap_or(0),
            snapshot_window: if prior.snapshot_window.is_some() {
                rg.snapshot_window().map(str::to_string)
            } else {
                None
            },
            apply_immediately: prior.apply_immediately,
            tags: tags::own_view(&self.aws.settings.default_tags, &live_tags),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs,
        }))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        id: &str,
        old_inputs: &Value,
        new_inputs: &Value,
        old_outputs: &Value,
    ) -> Result<Value, ProviderError> {
        let (o, n): (ReplicationGroup, ReplicationGroup) = (parse(old_inputs)?, parse(new_inputs)?);
        // More replicas before failover is turned on; fewer after it is off.
        let grow = n.num_cache_clusters > o.num_cache_clusters;
        if grow {
            self.set_replicas(ctx, id, o.num_cache_clusters, n.num_cache_clusters)
                .await?;
        }
        if self.modify(ctx, id, &o, &n).await? {
            self.wait_available(ctx, id).await?;
        }
        if n.num_cache_clusters < o.num_cache_clusters {
            self.set_replicas(ctx, id, o.num_cache_clusters, n.num_cache_clusters)
                .await?;
        }
        if o.tags != n.tags {
            let arn = old_outputs["arn"].as_str().unwrap_or_default().to_string();
            update_tags(&self.aws, ctx, &arn, &o.tags, &n.tags).await?;
        }
        let rg = self.wait_available(ctx, id).await?;
        Ok(Self::outputs(&rg, n.port))
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        self.aws.limits.elasticache.acquire().await;
        let r = self
            .aws
            .elasticache()
            .await
            .delete_replication_group()
            .replication_group_id(id)
            .send()
            .await;
        if let Err(e) = r {
            let code = aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e)
                .unwrap_or("")
                .to_string();
            match error::map(&ctx.urn, "DeleteReplicationGroup", e) {
                ProviderError::NotFound(_) => return Ok(()),
                // Already being deleted: wait for it like for our own delete.
                _ if code == "InvalidReplicationGroupState" => {}
                other => return Err(other),
            }
        }
        self.wait_gone(ctx, id).await
    }

    async fn find_by_urn(&self, ctx: &Ctx, inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        let port = inputs["port"].as_i64().unwrap_or(6379) as i32;
        let mut found = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            self.aws.limits.elasticache.acquire().await;
            let out = self
                .aws
                .elasticache()
                .await
                .describe_replication_groups()
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "DescribeReplicationGroups", e))?;
            for rg in out.replication_groups() {
                if rg.status() == Some("deleting") {
                    continue;
                }
                let Some(arn) = rg.arn() else { continue };
                if has_urn_tag(&self.aws, ctx, arn).await? {
                    found.push(Created {
                        id: rg.replication_group_id().unwrap_or_default().to_string(),
                        outputs: Self::outputs(rg, port),
                    });
                }
            }
            marker = out.marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
        Ok(found)
    }
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
}
