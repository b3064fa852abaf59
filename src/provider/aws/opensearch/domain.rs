//! `aws:opensearch/Domain` (Terraform `aws_opensearch_domain`). The state id
//! is the domain name (every API takes it); the `id` output is the DomainId.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_opensearch::types::{
    AdvancedSecurityOptionsInput, ClusterConfig as SdkClusterConfig,
    DomainEndpointOptions as SdkEndpoint, DomainStatus, EbsOptions as SdkEbs,
    EncryptionAtRestOptions, MasterUserOptions, NodeToNodeEncryptionOptions,
    OpenSearchPartitionInstanceType, SnapshotOptions as SdkSnapshot, TlsSecurityPolicy, VolumeType,
    VpcOptions as SdkVpc, ZoneAwarenessConfig,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{create_tags, list_tags, update_tags};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::iam::normal_policy;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{field_diff, parse, Created, Ctx, Diff, Provider, ProviderError, ReadResult};
use crate::value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    /// 3 to 28 characters of `[a-z0-9-]`, starting with a letter.
    pub domain_name: String,
    /// e.g. `OpenSearch_2.11`.
    #[serde(default = "default_engine")]
    pub engine_version: String,
    #[serde(default)]
    pub cluster_config: ClusterConfig,
    #[serde(default)]
    pub ebs_options: EbsOptions,
    #[serde(default)]
    pub encrypt_at_rest: Enabled,
    #[serde(default)]
    pub node_to_node_encryption: Enabled,
    #[serde(default)]
    pub domain_endpoint_options: DomainEndpointOptions,
    /// A VPC domain (its endpoint is the VPC endpoint); absent = public.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_options: Option<VpcOptions>,
    #[serde(default)]
    pub snapshot_options: SnapshotOptions,
    /// An IAM policy document (JSON text); compared as normalised JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_policies: Option<Input<String>>,
    #[serde(default)]
    pub advanced_security_options: AdvancedSecurityOptions,
    #[serde(default)]
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    #[serde(default = "default_instance_type")]
    pub instance_type: String,
    #[serde(default = "one")]
    pub instance_count: i32,
    #[serde(default)]
    pub zone_awareness_enabled: bool,
    /// 2 or 3, with zone awareness only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone_count: Option<i32>,
    #[serde(default)]
    pub dedicated_master_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedicated_master_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedicated_master_count: Option<i32>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            instance_type: default_instance_type(),
            instance_count: 1,
            zone_awareness_enabled: false,
            availability_zone_count: None,
            dedicated_master_enabled: false,
            dedicated_master_type: None,
            dedicated_master_count: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EbsOptions {
    #[serde(default = "yes")]
    pub ebs_enabled: bool,
    #[serde(default = "gp3")]
    pub volume_type: String,
    /// GiB.
    #[serde(default = "ten")]
    pub volume_size: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<i32>,
    /// MiB/s (gp3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<i32>,
}

impl Default for EbsOptions {
    fn default() -> Self {
        EbsOptions {
            ebs_enabled: true,
            volume_type: gp3(),
            volume_size: 10,
            iops: None,
            throughput: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enabled {
    #[serde(default)]
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainEndpointOptions {
    #[serde(default = "yes")]
    pub enforce_https: bool,
    #[serde(default = "default_tls")]
    pub tls_security_policy: String,
}

impl Default for DomainEndpointOptions {
    fn default() -> Self {
        DomainEndpointOptions {
            enforce_https: true,
            tls_security_policy: default_tls(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcOptions {
    pub subnet_ids: Vec<Input<String>>,
    #[serde(default)]
    pub security_group_ids: Vec<Input<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotOptions {
    /// 0 to 23 (UTC).
    #[serde(default)]
    pub automated_snapshot_start_hour: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvancedSecurityOptions {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub internal_user_database_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_user_name: Option<String>,
    /// At least 8 characters with an upper-case letter, a lower-case letter, a
    /// digit and a special character.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_user_password: Option<Input<String>>,
}

fn yes() -> bool {
    true
}
fn one() -> i32 {
    1
}
fn ten() -> i32 {
    10
}
fn gp3() -> String {
    "gp3".into()
}
fn default_engine() -> String {
    "OpenSearch_2.11".into()
}
fn default_instance_type() -> String {
    "t3.small.search".into()
}
fn default_tls() -> String {
    "Policy-Min-TLS-1-2-2019-07".into()
}

const TLS_POLICIES: &[&str] = &[
    "Policy-Min-TLS-1-0-2019-07",
    "Policy-Min-TLS-1-2-2019-07",
    "Policy-Min-TLS-1-2-PFS-2023-10",
];

impl Domain {
    pub fn new(domain_name: &str) -> Self {
        Domain {
            domain_name: domain_name.into(),
            engine_version: default_engine(),
            cluster_config: ClusterConfig::default(),
            ebs_options: EbsOptions::default(),
            encrypt_at_rest: Enabled { enabled: true },
            node_to_node_encryption: Enabled { enabled: true },
            domain_endpoint_options: DomainEndpointOptions::default(),
            vpc_options: None,
            snapshot_options: SnapshotOptions::default(),
            access_policies: None,
            advanced_security_options: AdvancedSecurityOptions::default(),
            tags: Tags::new(),
        }
    }
}

impl ResourceArgs for Domain {
    const TYPE: &'static str = "aws:opensearch/Domain";
}

impl Resource<Domain> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// The domain endpoint (the VPC endpoint for a VPC domain).
    pub fn endpoint(&self) -> Output<String> {
        self.output("endpoint")
    }
    pub fn domain_name(&self) -> Output<String> {
        self.output("domain_name")
    }
}

fn check_master_password(p: &Input<String>) -> Result<(), ProviderError> {
    let Some(pw) = p.known() else {
        return Ok(());
    };
    let field = "advanced_security_options.master_user_password";
    let ok = pw.chars().count() >= 8
        && pw.chars().count() <= 128
        && pw.chars().any(|c| c.is_ascii_uppercase())
        && pw.chars().any(|c| c.is_ascii_lowercase())
        && pw.chars().any(|c| c.is_ascii_digit())
        && pw.chars().any(|c| !c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        // Never echo the secret itself.
        Err(ProviderError::invalid(
            field,
            format!("({} characters)", pw.chars().count()),
            "8 to 128 characters with an upper-case letter, a lower-case letter, a digit \
             and a special character",
        ))
    }
}

fn known(v: &[Input<String>]) -> Vec<String> {
    v.iter().filter_map(|i| i.known().cloned()).collect()
}

fn sdk_cluster(c: &ClusterConfig) -> SdkClusterConfig {
    let mut b = SdkClusterConfig::builder()
        .instance_type(OpenSearchPartitionInstanceType::from(
            c.instance_type.as_str(),
        ))
        .instance_count(c.instance_count)
        .zone_awareness_enabled(c.zone_awareness_enabled)
        .dedicated_master_enabled(c.dedicated_master_enabled);
    if c.zone_awareness_enabled {
        b = b.zone_awareness_config(
            ZoneAwarenessConfig::builder()
                .availability_zone_count(c.availability_zone_count.unwrap_or(2))
                .build(),
        );
    }
    if c.dedicated_master_enabled {
        b = b
            .set_dedicated_master_type(
                c.dedicated_master_type
                    .as_deref()
                    .map(OpenSearchPartitionInstanceType::from),
            )
            .set_dedicated_master_count(c.dedicated_master_count);
    }
    b.build()
}

fn sdk_ebs(e: &EbsOptions) -> SdkEbs {
    let b = SdkEbs::builder().ebs_enabled(e.ebs_enabled);
    if !e.ebs_enabled {
        return b.build();
    }
    b.volume_type(VolumeType::from(e.volume_type.as_str()))
        .volume_size(e.volume_size)
        .set_iops(e.iops)
        .set_throughput(e.throughput)
        .build()
}

fn sdk_endpoint(e: &DomainEndpointOptions) -> SdkEndpoint {
    SdkEndpoint::builder()
        .enforce_https(e.enforce_https)
        .tls_security_policy(TlsSecurityPolicy::from(e.tls_security_policy.as_str()))
        .build()
}

fn sdk_vpc(v: &VpcOptions) -> SdkVpc {
    SdkVpc::builder()
        .set_subnet_ids(Some(known(&v.subnet_ids)))
        .set_security_group_ids(Some(known(&v.security_group_ids)))
        .build()
}

fn sdk_snapshot(s: &SnapshotOptions) -> SdkSnapshot {
    SdkSnapshot::builder()
        .automated_snapshot_start_hour(s.automated_snapshot_start_hour)
        .build()
}

fn sdk_security(a: &AdvancedSecurityOptions) -> AdvancedSecurityOptionsInput {
    let mut b = AdvancedSecurityOptionsInput::builder()
        .enabled(a.enabled)
        .internal_user_database_enabled(a.internal_user_database_enabled);
    if a.enabled && a.internal_user_database_enabled {
        b = b.master_user_options(
            MasterUserOptions::builder()
                .set_master_user_name(a.master_user_name.clone())
                .set_master_user_password(
                    a.master_user_password
                        .as_ref()
                        .and_then(|p| p.known().cloned()),
                )
                .build(),
        );
    }
    b.build()
}

pub struct DomainProvider {
    aws: Arc<Aws>,
}

impl DomainProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        DomainProvider { aws }
    }

    async fn describe(&self, ctx: &Ctx, name: &str) -> Result<Option<DomainStatus>, ProviderError> {
        self.aws.limits.opensearch.acquire().await;
        match self
            .aws
            .opensearch()
            .await
            .describe_domain()
            .domain_name(name)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .domain_status()
                .filter(|d| d.deleted() != Some(true))
                .cloned()),
            Err(e) => match error::map(&ctx.urn, "DescribeDomain", e) {
                ProviderError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    /// Polls until neither a configuration change nor an upgrade is processing.
    async fn wait_settled(&self, ctx: &Ctx, name: &str) -> Result<DomainStatus, ProviderError> {
        let s = &self.aws.settings;
        let start = Instant::now();
        loop {
            let d = self.describe(ctx, name).await?.ok_or_else(|| {
                ProviderError::NotFound(format!("{}: domain {name} disappeared", ctx.urn))
            })?;
            let busy = d.processing() == Some(true) || d.upgrade_processing() == Some(true);
            if !busy {
                return Ok(d);
            }
            if start.elapsed() >= s.wait_timeout {
                return Err(ProviderError::Fatal(format!(
                    "{}: domain {name} still processing (Processing={:?}, UpgradeProcessing={:?}) after {:?}",
                    ctx.urn,
                    d.processing(),
                    d.upgrade_processing(),
                    s.wait_timeout
                )));
            }
            tokio::time::sleep(s.poll_interval).await;
        }
    }

    fn outputs(d: &DomainStatus) -> Value {
        let endpoint = d
            .endpoint()
            .map(str::to_string)
            .or_else(|| d.endpoints().and_then(|e| e.get("vpc").cloned()));
        json!({
            "id": d.domain_id(),
            "arn": d.arn(),
            "domain_name": d.domain_name(),
            "endpoint": endpoint,
        })
    }

    fn live_inputs(&self, d: &DomainStatus, declared: Option<&Domain>, live_tags: &Tags) -> Domain {
        let c = d.cluster_config();
        let zone_awareness = c.and_then(|c| c.zone_awareness_enabled()).unwrap_or(false);
        let dedicated = c
            .and_then(|c| c.dedicated_master_enabled())
            .unwrap_or(false);
        let cluster_config = ClusterConfig {
            instance_type: c
                .and_then(|c| c.instance_type())
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            instance_count: c.and_then(|c| c.instance_count()).unwrap_or(1),
            zone_awareness_enabled: zone_awareness,
            availability_zone_count: if zone_awareness {
                c.and_then(|c| c.zone_awareness_config())
                    .and_then(|z| z.availability_zone_count())
            } else {
                None
            },
            dedicated_master_enabled: dedicated,
            dedicated_master_type: c
                .filter(|_| dedicated)
                .and_then(|c| c.dedicated_master_type())
                .map(|t| t.as_str().to_string()),
            dedicated_master_count: c
                .filter(|_| dedicated)
                .and_then(|c| c.dedicated_master_count()),
        };
        let e = d.ebs_options();
        let declared_ebs = declared.map(|d| &d.ebs_options);
        let ebs_options = EbsOptions {
            ebs_enabled: e.and_then(|e| e.ebs_enabled()).unwrap_or(false),
            volume_type: e
                .and_then(|e| e.volume_type())
                .map(|t| t.as_str().to_string())
                .or_else(|| declared_ebs.map(|d| d.volume_type.clone()))
                .unwrap_or_else(gp3),
            volume_size: e
                .and_then(|e| e.volume_size())
                .or_else(|| declared_ebs.map(|d| d.volume_size))
                .unwrap_or(10),
            // AWS fills gp3 baseline figures in; report them only when declared.
            iops: declared_ebs
                .and_then(|d| d.iops)
                .and(e.and_then(|e| e.iops())),
            throughput: declared_ebs
                .and_then(|d| d.throughput)
                .and(e.and_then(|e| e.throughput())),
        };
        let ep = d.domain_endpoint_options();
        let vpc_options = d.vpc_options().map(|v| VpcOptions {
            subnet_ids: v
                .subnet_ids()
                .iter()
                .map(|s| Input::Value(s.clone()))
                .collect(),
            security_group_ids: v
                .security_group_ids()
                .iter()
                .map(|s| Input::Value(s.clone()))
                .collect(),
        });
        let access_policies = match (d.access_policies().filter(|s| !s.is_empty()), declared) {
            (None, _) => None,
            // Same document, other formatting: keep the declared text.
            (Some(live), Some(dec))
                if dec
                    .access_policies
                    .as_ref()
                    .and_then(|p| p.known())
                    .is_some_and(|p| normal_policy(p) == normal_policy(live)) =>
            {
                dec.access_policies.clone()
            }
            (Some(live), _) => Some(Input::Value(live.to_string())),
        };
        let a = d.advanced_security_options();
        let declared_sec = declared.map(|d| &d.advanced_security_options);
        Domain {
            domain_name: d.domain_name().to_string(),
            engine_version: d.engine_version().unwrap_or_default().to_string(),
            cluster_config,
            ebs_options,
            encrypt_at_rest: Enabled {
                enabled: d
                    .encryption_at_rest_options()
                    .and_then(|o| o.enabled())
                    .unwrap_or(false),
            },
            node_to_node_encryption: Enabled {
                enabled: d
                    .node_to_node_encryption_options()
                    .and_then(|o| o.enabled())
                    .unwrap_or(false),
            },
            domain_endpoint_options: DomainEndpointOptions {
                enforce_https: ep.and_then(|e| e.enforce_https()).unwrap_or(false),
                tls_security_policy: ep
                    .and_then(|e| e.tls_security_policy())
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_else(default_tls),
            },
            vpc_options,
            snapshot_options: SnapshotOptions {
                automated_snapshot_start_hour: d
                    .snapshot_options()
                    .and_then(|s| s.automated_snapshot_start_hour())
                    .unwrap_or(0),
            },
            access_policies,
            advanced_security_options: AdvancedSecurityOptions {
                enabled: a.and_then(|a| a.enabled()).unwrap_or(false),
                internal_user_database_enabled: a
                    .and_then(|a| a.internal_user_database_enabled())
                    .unwrap_or(false),
                // AWS never returns the master user: keep the declared one.
                master_user_name: declared_sec.and_then(|s| s.master_user_name.clone()),
                master_user_password: declared_sec.and_then(|s| s.master_user_password.clone()),
            },
            tags: tags::own_view(&self.aws.settings.default_tags, live_tags),
        }
    }
}

fn validate_domain(d: &Domain) -> Result<(), ProviderError> {
    let n = &d.domain_name;
    let name_ok = (3..=28).contains(&n.len())
        && n.starts_with(|c: char| c.is_ascii_lowercase())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !name_ok {
        return Err(ProviderError::invalid(
            "domain_name",
            format!("{n:?}"),
            "3 to 28 characters of a-z, 0-9 and '-', starting with a lower-case letter",
        ));
    }
    let v = &d.engine_version;
    let version_ok = v
        .strip_prefix("OpenSearch_")
        .or_else(|| v.strip_prefix("Elasticsearch_"))
        .is_some_and(|x| {
            x.split('.').count() == 2
                && x.split('.')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        });
    if !version_ok {
        return Err(ProviderError::invalid(
            "engine_version",
            format!("{v:?}"),
            "expected OpenSearch_X.Y (or Elasticsearch_X.Y), e.g. \"OpenSearch_2.11\"",
        ));
    }
    let c = &d.cluster_config;
    if !c.instance_type.ends_with(".search") {
        return Err(ProviderError::invalid(
            "cluster_config.instance_type",
            format!("{:?}", c.instance_type),
            "expected an OpenSearch instance type like \"r6g.large.search\"",
        ));
    }
    if c.instance_count < 1 {
        return Err(ProviderError::invalid(
            "cluster_config.instance_count",
            c.instance_count,
            "at least 1",
        ));
    }
    if c.zone_awareness_enabled {
        let azs = c.availability_zone_count.unwrap_or(2);
        if !(2..=3).contains(&azs) {
            return Err(ProviderError::invalid(
                "cluster_config.availability_zone_count",
                azs,
                "must be 2 or 3",
            ));
        }
        if c.instance_count < 2 || c.instance_count % azs != 0 {
            return Err(ProviderError::invalid(
                "cluster_config.instance_count",
                c.instance_count,
                format!(
                    "with zone awareness over {azs} availability zones the instance count must be \
                     a multiple of {azs} (at least 2)"
                ),
            ));
        }
    } else if let Some(n) = c.availability_zone_count {
        return Err(ProviderError::invalid(
            "cluster_config.availability_zone_count",
            n,
            "needs zone_awareness_enabled = true",
        ));
    }
    if c.dedicated_master_enabled {
        match &c.dedicated_master_type {
            Some(t) if t.ends_with(".search") => {}
            other => {
                return Err(ProviderError::invalid(
                    "cluster_config.dedicated_master_type",
                    format!("{other:?}"),
                    "dedicated masters need an instance type like \"m6g.large.search\"",
                ))
            }
        }
        let n = c.dedicated_master_count.unwrap_or(0);
        if n != 3 && n != 5 {
            return Err(ProviderError::invalid(
                "cluster_config.dedicated_master_count",
                n,
                "dedicated masters come in 3 or 5",
            ));
        }
    } else if c.dedicated_master_type.is_some() || c.dedicated_master_count.is_some() {
        return Err(ProviderError::invalid(
            "cluster_config.dedicated_master_enabled",
            false,
            "dedicated_master_type/count need dedicated_master_enabled = true",
        ));
    }
    let e = &d.ebs_options;
    if !matches!(e.volume_type.as_str(), "gp2" | "gp3" | "io1" | "standard") {
        return Err(ProviderError::invalid(
            "ebs_options.volume_type",
            format!("{:?}", e.volume_type),
            "must be gp2, gp3, io1 or standard",
        ));
    }
    if e.volume_type == "gp3" && !e.ebs_enabled {
        return Err(ProviderError::invalid(
            "ebs_options.ebs_enabled",
            false,
            "volume_type gp3 needs ebs_enabled = true",
        ));
    }
    if e.ebs_enabled {
        if !(10..=16384).contains(&e.volume_size) {
            return Err(ProviderError::invalid(
                "ebs_options.volume_size",
                e.volume_size,
                "10 to 16384 GiB",
            ));
        }
        if let Some(i) = e.iops {
            let ok = match e.volume_type.as_str() {
                "gp3" => (3000..=16000).contains(&i),
                "io1" => (1000..=16000).contains(&i),
                _ => false,
            };
            if !ok {
                return Err(ProviderError::invalid(
                    "ebs_options.iops",
                    i,
                    "gp3 takes 3000 to 16000, io1 1000 to 16000; other volume types none",
                ));
            }
        }
        if let Some(t) = e.throughput {
            if e.volume_type != "gp3" || !(125..=1000).contains(&t) {
                return Err(ProviderError::invalid(
                    "ebs_options.throughput",
                    t,
                    "gp3 only, 125 to 1000 MiB/s",
                ));
            }
        }
    } else if !c.instance_type.contains('d') {
        // i3 / r6gd / im4gn carry instance storage; others need EBS.
        return Err(ProviderError::invalid(
            "ebs_options.ebs_enabled",
            false,
            format!("{} has no instance storage: enable EBS", c.instance_type),
        ));
    }
    let p = &d.domain_endpoint_options.tls_security_policy;
    if !TLS_POLICIES.contains(&p.as_str()) {
        return Err(ProviderError::invalid(
            "domain_endpoint_options.tls_security_policy",
            format!("{p:?}"),
            format!("must be one of {}", TLS_POLICIES.join(", ")),
        ));
    }
    if let Some(v) = &d.vpc_options {
        let want = if c.zone_awareness_enabled {
            c.availability_zone_count.unwrap_or(2) as usize
        } else {
            1
        };
        if v.subnet_ids.len() != want {
            return Err(ProviderError::invalid(
                "vpc_options.subnet_ids",
                v.subnet_ids.len(),
                format!(
                    "this cluster layout takes exactly {want} subnet(s), one per availability zone"
                ),
            ));
        }
    }
    let h = d.snapshot_options.automated_snapshot_start_hour;
    if !(0..=23).contains(&h) {
        return Err(ProviderError::invalid(
            "snapshot_options.automated_snapshot_start_hour",
            h,
            "0 to 23",
        ));
    }
    if let Some(p) = d.access_policies.as_ref().and_then(|p| p.known()) {
        if !serde_json::from_str::<Value>(p).is_ok_and(|v| v.is_object()) {
            return Err(ProviderError::invalid(
                "access_policies",
                format!("{p:?}"),
                "must be a JSON policy document (an object)",
            ));
        }
    }
    let a = &d.advanced_security_options;
    if a.enabled {
        for (field, on) in [
            (
                "domain_endpoint_options.enforce_https",
                d.domain_endpoint_options.enforce_https,
            ),
            (
                "node_to_node_encryption.enabled",
                d.node_to_node_encryption.enabled,
            ),
            ("encrypt_at_rest.enabled", d.encrypt_at_rest.enabled),
        ] {
            if !on {
                return Err(ProviderError::invalid(
                    field,
                    false,
                    "fine-grained access control (advanced_security_options) needs HTTPS, \
                     node-to-node encryption and encryption at rest",
                ));
            }
        }
        if !a.internal_user_database_enabled {
            return Err(ProviderError::invalid(
                "advanced_security_options.internal_user_database_enabled",
                false,
                "only the internal user database (master user name and password) is supported",
            ));
        }
        let name = a.master_user_name.as_deref().unwrap_or("");
        if name.is_empty() || name.len() > 64 {
            return Err(ProviderError::invalid(
                "advanced_security_options.master_user_name",
                format!("{name:?}"),
                "1 to 64 characters, required with the internal user database",
            ));
        }
        match &a.master_user_password {
            Some(p) => check_master_password(p)?,
            None => {
                return Err(ProviderError::invalid(
                    "advanced_security_options.master_user_password",
                    "(absent)",
                    "required with the internal user database",
                ))
            }
        }
    } else if a.internal_user_database_enabled || a.master_user_password.is_some() {
        return Err(ProviderError::invalid(
            "advanced_security_options.enabled",
            false,
            "the internal user database and master user need enabled = true",
        ));
    }
    tags::validate(&d.tags)
}

#[async_trait]
impl Provider for DomainProvider {
    fn type_name(&self) -> &'static str {
        Domain::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["domain_name", "encrypt_at_rest", "node_to_node_encryption"]
    }

    fn unique_name(&self) -> &'static [&'static str] {
        &["domain_name"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("opensearch", 10))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        validate_domain(&parse(inputs)?)
    }

    fn diff(&self, old: &Value, new: &Value) -> Diff {
        let mut d = field_diff(old, new, self.force_new());
        // The same policy document, formatted differently, is no change.
        let policy = |v: &Value| {
            let p = value::reveal(&v["access_policies"]);
            p.as_str().map(normal_policy)
        };
        if d.changed.iter().any(|f| f == "access_policies")
            && !value::contains_unknown(&new["access_policies"])
            && policy(old).is_some()
            && policy(old) == policy(new)
        {
            d.changed.retain(|f| f != "access_policies");
        }
        // A public domain cannot move into a VPC, nor back.
        if d.changed.iter().any(|f| f == "vpc_options")
            && old["vpc_options"].is_null() != new["vpc_options"].is_null()
        {
            d.replace.push("vpc_options".into());
        }
        d
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let d: Domain = parse(inputs)?;
        self.aws.limits.opensearch.acquire().await;
        let out = self
            .aws
            .opensearch()
            .await
            .create_domain()
            .domain_name(&d.domain_name)
            .engine_version(&d.engine_version)
            .cluster_config(sdk_cluster(&d.cluster_config))
            .ebs_options(sdk_ebs(&d.ebs_options))
            .encryption_at_rest_options(
                EncryptionAtRestOptions::builder()
                    .enabled(d.encrypt_at_rest.enabled)
                    .build(),
            )
            .node_to_node_encryption_options(
                NodeToNodeEncryptionOptions::builder()
                    .enabled(d.node_to_node_encryption.enabled)
                    .build(),
            )
            .domain_endpoint_options(sdk_endpoint(&d.domain_endpoint_options))
            .set_vpc_options(d.vpc_options.as_ref().map(sdk_vpc))
            .snapshot_options(sdk_snapshot(&d.snapshot_options))
            .set_access_policies(d.access_policies.as_ref().and_then(|p| p.known().cloned()))
            .advanced_security_options(sdk_security(&d.advanced_security_options))
            .set_tag_list(Some(create_tags(&self.aws, ctx, &d.tags)))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateDomain", e))?;
        let name = out
            .domain_status()
            .map(|s| s.domain_name().to_string())
            .unwrap_or_else(|| d.domain_name.clone());
        let live = self.wait_settled(ctx, &name).await?;
        Ok(Created {
            id: name,
            outputs: Self::outputs(&live),
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(d) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        let declared: Option<Domain> = parse(inputs).ok();
        let live_tags = list_tags(&self.aws, ctx, d.arn()).await?;
        let live = self.live_inputs(&d, declared.as_ref(), &live_tags);
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: Self::outputs(&d),
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
        let (o, n): (Domain, Domain) = (parse(old_inputs)?, parse(new_inputs)?);
        let os = self.aws.opensearch().await;
        // UpdateDomainConfig replaces every block it is given, so each changed
        // section goes whole; unchanged ones are left out.
        let mut req = os.update_domain_config().domain_name(id);
        let mut any = false;
        if o.cluster_config != n.cluster_config {
            req = req.cluster_config(sdk_cluster(&n.cluster_config));
            any = true;
        }
        if o.ebs_options != n.ebs_options {
            req = req.ebs_options(sdk_ebs(&n.ebs_options));
            any = true;
        }
        if o.domain_endpoint_options != n.domain_endpoint_options {
            req = req.domain_endpoint_options(sdk_endpoint(&n.domain_endpoint_options));
            any = true;
        }
        if let Some(v) = n
            .vpc_options
            .as_ref()
            .filter(|_| o.vpc_options != n.vpc_options)
        {
            req = req.vpc_options(sdk_vpc(v));
            any = true;
        }
        if o.snapshot_options != n.snapshot_options {
            req = req.snapshot_options(sdk_snapshot(&n.snapshot_options));
            any = true;
        }
        let pol = |d: &Domain| {
            d.access_policies
                .as_ref()
                .and_then(|p| p.known())
                .map(|p| normal_policy(p))
        };
        if pol(&o) != pol(&n) {
            req = req.access_policies(
                n.access_policies
                    .as_ref()
                    .and_then(|p| p.known().cloned())
                    .unwrap_or_default(),
            );
            any = true;
        }
        let sec = |d: &Domain| {
            let a = &d.advanced_security_options;
            (
                a.enabled,
                a.internal_user_database_enabled,
                a.master_user_name.clone(),
                a.master_user_password
                    .as_ref()
                    .and_then(|p| p.known().cloned()),
            )
        };
        if sec(&o) != sec(&n) {
            req = req.advanced_security_options(sdk_security(&n.advanced_security_options));
            any = true;
        }
        if any {
            self.aws.limits.opensearch.acquire().await;
            req.send()
                .await
                .map_err(|e| error::map(&ctx.urn, "UpdateDomainConfig", e))?;
            self.wait_settled(ctx, id).await?;
        }
        if o.engine_version != n.engine_version {
            self.aws.limits.opensearch.acquire().await;
            os.upgrade_domain()
                .domain_name(id)
                .target_version(&n.engine_version)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "UpgradeDomain", e))?;
        }
        let arn = old_outputs["arn"].as_str().unwrap_or_default();
        update_tags(&self.aws, ctx, arn, &o.tags, &n.tags).await?;
        let live = self.wait_settled(ctx, id).await?;
        Ok(Self::outputs(&live))
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        self.aws.limits.opensearch.acquire().await;
        if let Err(e) = self
            .aws
            .opensearch()
            .await
            .delete_domain()
            .domain_name(id)
            .send()
            .await
        {
            match error::map(&ctx.urn, "DeleteDomain", e) {
                ProviderError::NotFound(_) => return Ok(()),
                other => return Err(other),
            }
        }
        // Deleted=true stays visible while AWS tears the domain down.
        let s = &self.aws.settings;
        let start = Instant::now();
        loop {
            self.aws.limits.opensearch.acquire().await;
            match self
                .aws
                .opensearch()
                .await
                .describe_domain()
                .domain_name(id)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) => match error::map(&ctx.urn, "DescribeDomain", e) {
                    ProviderError::NotFound(_) => return Ok(()),
                    other => return Err(other),
                },
            }
            if start.elapsed() >= s.wait_timeout {
                return Err(ProviderError::Fatal(format!(
                    "{}: domain {id} still being deleted after {:?}",
                    ctx.urn, s.wait_timeout
                )));
            }
            tokio::time::sleep(s.poll_interval).await;
        }
    }

    async fn find_by_urn(&self, ctx: &Ctx, _inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        self.aws.limits.opensearch.acquire().await;
        let names = self
            .aws
            .opensearch()
            .await
            .list_domain_names()
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "ListDomainNames", e))?;
        let mut found = Vec::new();
        for info in names.domain_names() {
            let Some(name) = info.domain_name() else {
                continue;
            };
            let Some(d) = self.describe(ctx, name).await? else {
                continue;
            };
            let t = list_tags(&self.aws, ctx, d.arn()).await?;
            if t.get(tags::URN_TAG).is_some_and(|v| ctx.urn_tag_matches(v)) {
                found.push(Created {
                    id: name.to_string(),
                    outputs: Self::outputs(&d),
                });
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_formatting_is_no_change() {
        let p = DomainProvider::new(Arc::new(Aws::new(Default::default())));
        let mut a = Domain::new("logs");
        a.access_policies = Some(Input::Value(
            r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
        ));
        let mut b = a.clone();
        b.access_policies = Some(Input::Value(
            "{ \"Statement\": [],\n  \"Version\": \"2012-10-17\" }".into(),
        ));
        let d = p.diff(
            &serde_json::to_value(&a).unwrap(),
            &serde_json::to_value(&b).unwrap(),
        );
        assert!(d.is_empty(), "{d:?}");
        b.access_policies = Some(Input::Value(
            r#"{"Version":"2012-10-17","Statement":[{}]}"#.into(),
        ));
        let d = p.diff(
            &serde_json::to_value(&a).unwrap(),
            &serde_json::to_value(&b).unwrap(),
        );
        assert_eq!(d.changed, vec!["access_policies"]);
    }

    #[test]
    fn zone_awareness_and_master_password_rules() {
        let mut d = Domain::new("logs");
        d.cluster_config.zone_awareness_enabled = true;
        d.cluster_config.instance_count = 3;
        let e = validate_domain(&d).unwrap_err().to_string();
        assert!(
            e.contains("cluster_config.instance_count") && e.contains('3'),
            "{e}"
        );
        d.cluster_config.instance_count = 4;
        assert!(validate_domain(&d).is_ok());
        d.advanced_security_options = AdvancedSecurityOptions {
            enabled: true,
            internal_user_database_enabled: true,
            master_user_name: Some("admin".into()),
            master_user_password: Some(Input::secret("alllowercase1!")),
        };
        let e = validate_domain(&d).unwrap_err().to_string();
        assert!(
            e.contains("master_user_password") && !e.contains("alllowercase1!"),
            "{e}"
        );
    }
}
