//! `aws:opensearch/Domain` (Terraform `aws_opensearch_domain`). The state id
//! is the domain name (every API takes it); the `id` output is the DomainId.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_opensearch::types::{
    AdvancedSecurityOptionsInput, ClusterConfig as SdkClusterConfig,
    DomainEndpointOptions as SdkEndpoint, DomainStatus, EbsOptions as SdkEbs,
    EncryptionAtRestOptions, LogPublishingOption, LogType, MasterUserOptions,
    NodeToNodeEncryptionOptions, OpenSearchPartitionInstanceType, SnapshotOptions as SdkSnapshot,
    TlsSecurityPolicy, VolumeType, VpcOptions as SdkVpc, ZoneAwarenessConfig,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::OpenSearch;
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, On, Retry};
use crate::provider::aws::iam::normal_policy;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::aws::validate::{in_range, one_of, requires};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::{field_diff, Diff, ProviderError};
use crate::value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Domain {
    /// 3 to 28 characters of `[a-z0-9-]`, starting with a letter.
    pub domain_name: String,
    /// e.g. `OpenSearch_2.11`.
    pub engine_version: String,
    pub cluster_config: ClusterConfig,
    pub ebs_options: EbsOptions,
    pub encrypt_at_rest: Enabled,
    pub node_to_node_encryption: Enabled,
    pub domain_endpoint_options: DomainEndpointOptions,
    /// A VPC domain (its endpoint is the VPC endpoint); absent = public.
    pub vpc_options: Option<VpcOptions>,
    pub snapshot_options: SnapshotOptions,
    /// An IAM policy document (JSON text); compared as normalised JSON.
    pub access_policies: Option<Input<String>>,
    pub advanced_security_options: AdvancedSecurityOptions,
    /// Logs published to CloudWatch Logs, one per log type. A CloudWatch
    /// Logs resource policy must let `es.amazonaws.com` write to each group
    /// first (`aws:logs/ResourcePolicy`), or OpenSearch refuses them.
    pub log_publishing_options: Vec<LogPublishing>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogPublishing {
    /// `ES_APPLICATION_LOGS`, `SEARCH_SLOW_LOGS`, `INDEX_SLOW_LOGS` or
    /// `AUDIT_LOGS` (this one needs fine-grained access control).
    pub log_type: String,
    pub cloudwatch_log_group_arn: Input<String>,
    pub enabled: bool,
}

const LOG_TYPES: &[&str] = &[
    "ES_APPLICATION_LOGS",
    "SEARCH_SLOW_LOGS",
    "INDEX_SLOW_LOGS",
    "AUDIT_LOGS",
];

impl Default for Domain {
    fn default() -> Self {
        Domain {
            domain_name: String::new(),
            engine_version: "OpenSearch_2.11".into(),
            cluster_config: ClusterConfig::default(),
            ebs_options: EbsOptions::default(),
            encrypt_at_rest: Enabled { enabled: true },
            node_to_node_encryption: Enabled { enabled: true },
            domain_endpoint_options: DomainEndpointOptions::default(),
            vpc_options: None,
            snapshot_options: SnapshotOptions::default(),
            access_policies: None,
            advanced_security_options: AdvancedSecurityOptions::default(),
            log_publishing_options: Vec::new(),
            tags: Tags::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    pub instance_type: String,
    pub instance_count: i32,
    pub zone_awareness_enabled: bool,
    /// 2 or 3, with zone awareness only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone_count: Option<i32>,
    pub dedicated_master_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedicated_master_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedicated_master_count: Option<i32>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            instance_type: "t3.small.search".into(),
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
#[serde(deny_unknown_fields, default)]
pub struct EbsOptions {
    pub ebs_enabled: bool,
    pub volume_type: String,
    /// GiB.
    pub volume_size: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iops: Option<i32>,
    /// MiB/s (gp3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput: Option<i32>,
}

impl Default for EbsOptions {
    fn default() -> Self {
        EbsOptions {
            ebs_enabled: true,
            volume_type: "gp3".into(),
            volume_size: 10,
            iops: None,
            throughput: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Enabled {
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DomainEndpointOptions {
    pub enforce_https: bool,
    pub tls_security_policy: String,
}

impl Default for DomainEndpointOptions {
    fn default() -> Self {
        DomainEndpointOptions {
            enforce_https: true,
            tls_security_policy: "Policy-Min-TLS-1-2-2019-07".into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VpcOptions {
    pub subnet_ids: Vec<Input<String>>,
    pub security_group_ids: Vec<Input<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotOptions {
    /// 0 to 23 (UTC).
    pub automated_snapshot_start_hour: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdvancedSecurityOptions {
    pub enabled: bool,
    pub internal_user_database_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_user_name: Option<String>,
    /// At least 8 characters with an upper-case letter, a lower-case letter, a
    /// digit and a special character.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_user_password: Option<Input<String>>,
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
            ..Default::default()
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

/// UpdateDomainConfig, UpgradeDomain and DeleteDomain while the domain is
/// processing another change.
const BUSY: Retry = Retry::conflict(&["ConflictException"], Duration::from_secs(600));

/// What OpenSearch answers a config change or upgrade while the domain is
/// processing (Terraform retries the same message).
const IN_PROGRESS: Retry = Retry {
    on: On::Message("ValidationException", "A change/update is in progress"),
    budget: Duration::from_secs(600),
};

/// A VPC domain needs OpenSearch's service-linked role; CreateDomain refuses
/// with this while it is missing or still propagating.
const SLR: Retry = Retry::propagation("ValidationException", "service-linked role");

/// A log resource policy put moments ago is not in force yet.
const LOG_POLICY: Retry = Retry::propagation("ValidationException", "Resource Access Policy");

const PENDING: &[&str] = &["processing", NO_ENDPOINT];
const NO_ENDPOINT: &str = "without an endpoint";

fn check_master_password(p: &Input<String>) -> Result<(), ProviderError> {
    let Some(pw) = p.known() else {
        return Ok(());
    };
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
            "advanced_security_options.master_user_password",
            format!("({} characters)", pw.chars().count()),
            "8 to 128 characters with an upper-case letter, a lower-case letter, a digit \
             and a special character",
        ))
    }
}

fn check_cluster(c: &ClusterConfig) -> Result<(), ProviderError> {
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
        in_range("cluster_config.availability_zone_count", azs, 2..=3)?;
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
    Ok(())
}

fn check_ebs(e: &EbsOptions, instance_type: &str) -> Result<(), ProviderError> {
    one_of(
        "ebs_options.volume_type",
        &e.volume_type,
        &["gp2", "gp3", "io1", "standard"],
    )?;
    if !e.ebs_enabled {
        if e.volume_type == "gp3" {
            return Err(ProviderError::invalid(
                "ebs_options.ebs_enabled",
                false,
                "volume_type gp3 needs ebs_enabled = true",
            ));
        }
        // i3 / r6gd / im4gn carry instance storage; others need EBS.
        if !instance_type.contains('d') {
            return Err(ProviderError::invalid(
                "ebs_options.ebs_enabled",
                false,
                format!("{instance_type} has no instance storage: enable EBS"),
            ));
        }
        return Ok(());
    }
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
    Ok(())
}

fn check_security(d: &Domain) -> Result<(), ProviderError> {
    let a = &d.advanced_security_options;
    if !a.enabled {
        return requires(
            (
                "advanced_security_options.internal_user_database_enabled",
                a.internal_user_database_enabled || a.master_user_password.is_some(),
            ),
            ("advanced_security_options.enabled", false),
        );
    }
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
        Some(p) => check_master_password(p),
        None => Err(ProviderError::invalid(
            "advanced_security_options.master_user_password",
            "(absent)",
            "required with the internal user database",
        )),
    }
}

fn require_all(field: &str, v: &[Input<String>]) -> Result<Vec<String>, ProviderError> {
    v.iter()
        .map(|i| i.require(field).cloned().map_err(Into::into))
        .collect()
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

fn sdk_vpc(v: &VpcOptions) -> Result<SdkVpc, ProviderError> {
    Ok(SdkVpc::builder()
        .set_subnet_ids(Some(require_all("vpc_options.subnet_ids", &v.subnet_ids)?))
        .set_security_group_ids(Some(require_all(
            "vpc_options.security_group_ids",
            &v.security_group_ids,
        )?))
        .build())
}

fn sdk_snapshot(s: &SnapshotOptions) -> SdkSnapshot {
    SdkSnapshot::builder()
        .automated_snapshot_start_hour(s.automated_snapshot_start_hour)
        .build()
}

fn sdk_security(
    a: &AdvancedSecurityOptions,
) -> Result<AdvancedSecurityOptionsInput, ProviderError> {
    let mut b = AdvancedSecurityOptionsInput::builder()
        .enabled(a.enabled)
        .internal_user_database_enabled(a.internal_user_database_enabled);
    if a.enabled && a.internal_user_database_enabled {
        let field = "advanced_security_options.master_user_password";
        let password = match &a.master_user_password {
            Some(p) => Some(p.require(field)?.clone()),
            None => None,
        };
        b = b.master_user_options(
            MasterUserOptions::builder()
                .set_master_user_name(a.master_user_name.clone())
                .set_master_user_password(password)
                .build(),
        );
    }
    Ok(b.build())
}

fn sdk_logs(
    logs: &[LogPublishing],
) -> Result<HashMap<LogType, LogPublishingOption>, ProviderError> {
    logs.iter()
        .enumerate()
        .map(|(i, l)| {
            let arn = l.cloudwatch_log_group_arn.require(&format!(
                "log_publishing_options[{i}].cloudwatch_log_group_arn"
            ))?;
            Ok((
                LogType::from(l.log_type.as_str()),
                LogPublishingOption::builder()
                    .cloud_watch_logs_log_group_arn(arn)
                    .enabled(l.enabled)
                    .build(),
            ))
        })
        .collect()
}

/// The published logs as DescribeDomain has them, in the declared order.
/// OpenSearch keeps a type once given (disabled when taken out): one not
/// declared is reported only while it is enabled.
fn live_logs(d: &DomainStatus, declared: &[LogPublishing]) -> Vec<LogPublishing> {
    let Some(m) = d.log_publishing_options() else {
        return Vec::new();
    };
    let at = |t: &str| declared.iter().position(|l| l.log_type == t);
    let mut out: Vec<LogPublishing> = m
        .iter()
        .map(|(t, o)| LogPublishing {
            log_type: t.as_str().to_string(),
            // AWS may answer the ARN with the `:*` DescribeLogGroups uses.
            cloudwatch_log_group_arn: Input::Value(
                o.cloud_watch_logs_log_group_arn()
                    .unwrap_or_default()
                    .trim_end_matches(":*")
                    .to_string(),
            ),
            enabled: o.enabled().unwrap_or(false),
        })
        .filter(|l| l.enabled || at(&l.log_type).is_some())
        .collect();
    out.sort_by_key(|l| (at(&l.log_type).unwrap_or(usize::MAX), l.log_type.clone()));
    out
}

fn check_logs(d: &Domain) -> Result<(), ProviderError> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, l) in d.log_publishing_options.iter().enumerate() {
        let field = format!("log_publishing_options[{i}].log_type");
        one_of(&field, &l.log_type, LOG_TYPES)?;
        if !seen.insert(&l.log_type) {
            return Err(ProviderError::invalid(
                &field,
                format!("{:?}", l.log_type),
                "each log type at most once",
            ));
        }
        if l.log_type == "AUDIT_LOGS" && l.enabled && !d.advanced_security_options.enabled {
            return Err(ProviderError::invalid(
                &field,
                "\"AUDIT_LOGS\"",
                "audit logs need fine-grained access control (advanced_security_options.enabled)",
            ));
        }
        if let Some(arn) = l.cloudwatch_log_group_arn.known() {
            // OpenSearch answers the ARN without DescribeLogGroups' `:*`.
            if !arn.starts_with("arn:") || !arn.contains(":log-group:") || arn.ends_with(":*") {
                return Err(ProviderError::invalid(
                    &format!("log_publishing_options[{i}].cloudwatch_log_group_arn"),
                    format!("{arn:?}"),
                    "expected a log group ARN without a trailing \":*\" \
                     (arn:aws:logs:REGION:ACCOUNT:log-group:NAME)",
                ));
            }
        }
    }
    Ok(())
}

fn sdk_encrypt(on: bool) -> EncryptionAtRestOptions {
    EncryptionAtRestOptions::builder().enabled(on).build()
}

fn sdk_n2n(on: bool) -> NodeToNodeEncryptionOptions {
    NodeToNodeEncryptionOptions::builder().enabled(on).build()
}

fn policy(d: &Domain) -> Result<Option<String>, ProviderError> {
    match &d.access_policies {
        Some(p) => Ok(Some(p.require("access_policies")?.clone())),
        None => Ok(None),
    }
}

/// The domain as DescribeDomain has it, deleted or not.
async fn describe(
    cx: &Call<'_, OpenSearch>,
    name: &str,
) -> Result<Option<DomainStatus>, ProviderError> {
    let out = cx
        .find("DescribeDomain", |c| {
            c.describe_domain().domain_name(name).send()
        })
        .await?;
    Ok(out.and_then(|o| o.domain_status().cloned()))
}

fn endpoint(d: &DomainStatus) -> Option<String> {
    d.endpoint()
        .map(str::to_string)
        .or_else(|| d.endpoints().and_then(|e| e.get("vpc").cloned()))
}

/// Settled is neither processing a change or an upgrade, and with an
/// endpoint (a new domain has none for its first minutes).
async fn seen(cx: &Call<'_, OpenSearch>, name: &str) -> Result<Seen<()>, ProviderError> {
    let Some(d) = describe(cx, name).await? else {
        return Ok(Seen::Gone);
    };
    let state = if d.deleted() == Some(true) {
        "deleted"
    } else if d.processing() == Some(true) || d.upgrade_processing() == Some(true) {
        "processing"
    } else if endpoint(&d).is_none() {
        NO_ENDPOINT
    } else {
        "active"
    };
    Ok(Seen::State(state.into(), ()))
}

async fn settled(cx: &Call<'_, OpenSearch>, name: &str) -> Result<(), ProviderError> {
    // Processing is still false right after the call (Terraform waits 1 min).
    let what = format!("domain {name}");
    Wait::new(&what, PENDING, &["active"])
        .after_modify(Duration::from_secs(60), 2)
        .until(cx.settings(), || seen(cx, name))
        .await
}

#[async_trait]
impl AwsResource for Domain {
    type Service = OpenSearch;
    const SCHEMA: Schema = Schema {
        force_new: &["domain_name"],
        unique_name: &["domain_name"],
        write_only: &[
            "advanced_security_options.master_user_name",
            "advanced_security_options.master_user_password",
        ],
        // AWS fills gp3 baseline figures in: reported only when declared.
        optional_computed: &["ebs_options.iops", "ebs_options.throughput"],
        normalize: &[
            ("access_policies", Norm::Json),
            ("vpc_options.subnet_ids", Norm::Set),
            ("vpc_options.security_group_ids", Norm::Set),
        ],
        terraform: &[Tf {
            resource: "aws_opensearch_domain",
            args: &[
                ("domain_name", "domain_name"),
                ("engine_version", "engine_version"),
                (
                    "cluster_config.instance_type",
                    "cluster_config.instance_type",
                ),
                (
                    "cluster_config.instance_count",
                    "cluster_config.instance_count",
                ),
                (
                    "cluster_config.zone_awareness_enabled",
                    "cluster_config.zone_awareness_enabled",
                ),
                (
                    "cluster_config.availability_zone_count",
                    "cluster_config.zone_awareness_config.availability_zone_count",
                ),
                (
                    "cluster_config.dedicated_master_enabled",
                    "cluster_config.dedicated_master_enabled",
                ),
                (
                    "cluster_config.dedicated_master_type",
                    "cluster_config.dedicated_master_type",
                ),
                (
                    "cluster_config.dedicated_master_count",
                    "cluster_config.dedicated_master_count",
                ),
                ("ebs_options.ebs_enabled", "ebs_options.ebs_enabled"),
                ("ebs_options.volume_type", "ebs_options.volume_type"),
                ("ebs_options.volume_size", "ebs_options.volume_size"),
                ("ebs_options.iops", "ebs_options.iops"),
                ("ebs_options.throughput", "ebs_options.throughput"),
                ("encrypt_at_rest.enabled", "encrypt_at_rest.enabled"),
                (
                    "node_to_node_encryption.enabled",
                    "node_to_node_encryption.enabled",
                ),
                (
                    "domain_endpoint_options.enforce_https",
                    "domain_endpoint_options.enforce_https",
                ),
                (
                    "domain_endpoint_options.tls_security_policy",
                    "domain_endpoint_options.tls_security_policy",
                ),
                ("vpc_options.subnet_ids", "vpc_options.subnet_ids"),
                (
                    "vpc_options.security_group_ids",
                    "vpc_options.security_group_ids",
                ),
                (
                    "snapshot_options.automated_snapshot_start_hour",
                    "snapshot_options.automated_snapshot_start_hour",
                ),
                ("access_policies", "access_policies"),
                (
                    "advanced_security_options.enabled",
                    "advanced_security_options.enabled",
                ),
                (
                    "advanced_security_options.internal_user_database_enabled",
                    "advanced_security_options.internal_user_database_enabled",
                ),
                (
                    "advanced_security_options.master_user_name",
                    "advanced_security_options.master_user_options.master_user_name",
                ),
                (
                    "advanced_security_options.master_user_password",
                    "advanced_security_options.master_user_options.master_user_password",
                ),
                (
                    "log_publishing_options.log_type",
                    "log_publishing_options.log_type",
                ),
                (
                    "log_publishing_options.cloudwatch_log_group_arn",
                    "log_publishing_options.cloudwatch_log_group_arn",
                ),
                (
                    "log_publishing_options.enabled",
                    "log_publishing_options.enabled",
                ),
                ("tags", "tags"),
            ],
            import_id: "{domain_name}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        let n = &self.domain_name;
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
        let v = &self.engine_version;
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
        let c = &self.cluster_config;
        check_cluster(c)?;
        check_ebs(&self.ebs_options, &c.instance_type)?;
        one_of(
            "domain_endpoint_options.tls_security_policy",
            &self.domain_endpoint_options.tls_security_policy,
            TLS_POLICIES,
        )?;
        if let Some(v) = &self.vpc_options {
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
        in_range(
            "snapshot_options.automated_snapshot_start_hour",
            self.snapshot_options.automated_snapshot_start_hour,
            0..=23,
        )?;
        if let Some(p) = self.access_policies.as_ref().and_then(|p| p.known()) {
            if !serde_json::from_str::<Value>(p).is_ok_and(|v| v.is_object()) {
                return Err(ProviderError::invalid(
                    "access_policies",
                    format!("{p:?}"),
                    "must be a JSON policy document (an object)",
                ));
            }
        }
        check_logs(self)?;
        check_security(self)
    }

    fn diff(old: &Value, new: &Value) -> Diff {
        let mut d = field_diff(old, new, Self::SCHEMA.force_new);
        // The same policy document, formatted differently, is no change.
        let doc = |v: &Value| {
            value::reveal(&v["access_policies"])
                .as_str()
                .map(normal_policy)
        };
        if d.changed.iter().any(|f| f == "access_policies")
            && !value::contains_unknown(&new["access_policies"])
            && doc(old).is_some()
            && doc(old) == doc(new)
        {
            d.changed.retain(|f| f != "access_policies");
        }
        // A public domain cannot move into a VPC, nor back.
        if d.changed.iter().any(|f| f == "vpc_options")
            && old["vpc_options"].is_null() != new["vpc_options"].is_null()
        {
            d.replace.push("vpc_options".into());
        }
        // Encryption is turned on in place but never off (Terraform: force-new
        // on true -> false only).
        for f in ["encrypt_at_rest", "node_to_node_encryption"] {
            let on = |v: &Value| v[f]["enabled"].as_bool().unwrap_or(false);
            if d.changed.iter().any(|c| c == f) && on(old) && !on(new) {
                d.replace.push(f.into());
            }
        }
        d
    }

    async fn create(&self, cx: &Call<'_, OpenSearch>) -> Result<String, ProviderError> {
        let vpc = self.vpc_options.as_ref().map(sdk_vpc).transpose()?;
        let security = sdk_security(&self.advanced_security_options)?;
        let access = policy(self)?;
        let logs = sdk_logs(&self.log_publishing_options)?;
        let tags = super::to_tags(&cx.all_tags(&self.tags));
        // No idempotency token: an SDK resend of a create AWS carried out
        // answers ResourceAlreadyExistsException (handled below).
        let made = cx
            .try_send_retrying("CreateDomain", &[SLR, LOG_POLICY], |c| {
                c.create_domain()
                    .domain_name(&self.domain_name)
                    .engine_version(&self.engine_version)
                    .cluster_config(sdk_cluster(&self.cluster_config))
                    .ebs_options(sdk_ebs(&self.ebs_options))
                    .encryption_at_rest_options(sdk_encrypt(self.encrypt_at_rest.enabled))
                    .node_to_node_encryption_options(sdk_n2n(self.node_to_node_encryption.enabled))
                    .domain_endpoint_options(sdk_endpoint(&self.domain_endpoint_options))
                    .set_vpc_options(vpc.clone())
                    .snapshot_options(sdk_snapshot(&self.snapshot_options))
                    .set_access_policies(access.clone())
                    .advanced_security_options(security.clone())
                    .set_log_publishing_options((!logs.is_empty()).then(|| logs.clone()))
                    .set_tag_list(Some(tags.clone()))
                    .send()
            })
            .await;
        match made {
            Ok(_) => Ok(self.domain_name.clone()),
            Err(f) if f.message.contains("service-linked role") => Err(cx.fatal(format!(
                "a VPC domain needs OpenSearch's service-linked role \
                 AWSServiceRoleForAmazonOpenSearchService, which the account lacks (or made \
                 only now): declare aws:iam/ServiceLinkedRole for \
                 \"opensearchservice.amazonaws.com\" and make the domain depend on it ({})",
                f.error
            ))),
            // Our own domain from an earlier attempt (by its URN tag): carry
            // on from it; anyone else's stays an error.
            Err(f) if f.code == "ResourceAlreadyExistsException" => {
                if self.find(cx).await?.contains(&self.domain_name) {
                    Ok(self.domain_name.clone())
                } else {
                    Err(f.error)
                }
            }
            Err(f) => Err(f.error),
        }
    }

    async fn after_create(
        &self,
        cx: &Call<'_, OpenSearch>,
        name: &str,
    ) -> Result<(), ProviderError> {
        let what = format!("domain {name}");
        Wait::new(&what, PENDING, &["active"])
            .after_create()
            .until(cx.settings(), || seen(cx, name))
            .await
    }

    async fn read(
        cx: &Call<'_, OpenSearch>,
        name: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(d) = describe(cx, name)
            .await?
            .filter(|d| d.deleted() != Some(true))
        else {
            return Ok(None);
        };
        let c = d.cluster_config();
        let zones = c.and_then(|c| c.zone_awareness_enabled()).unwrap_or(false);
        let dedicated = c
            .and_then(|c| c.dedicated_master_enabled())
            .unwrap_or(false);
        let e = d.ebs_options();
        let declared_ebs = &declared.ebs_options;
        let ep = d.domain_endpoint_options();
        let live_ids = |v: &[String]| v.iter().map(|s| Input::Value(s.clone())).collect();
        let sec = d.advanced_security_options();
        let args = Domain {
            domain_name: d.domain_name().to_string(),
            engine_version: d.engine_version().unwrap_or_default().to_string(),
            cluster_config: ClusterConfig {
                instance_type: c
                    .and_then(|c| c.instance_type())
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                instance_count: c.and_then(|c| c.instance_count()).unwrap_or(1),
                zone_awareness_enabled: zones,
                availability_zone_count: c
                    .filter(|_| zones)
                    .and_then(|c| c.zone_awareness_config())
                    .and_then(|z| z.availability_zone_count()),
                dedicated_master_enabled: dedicated,
                dedicated_master_type: c
                    .filter(|_| dedicated)
                    .and_then(|c| c.dedicated_master_type())
                    .map(|t| t.as_str().to_string()),
                dedicated_master_count: c
                    .filter(|_| dedicated)
                    .and_then(|c| c.dedicated_master_count()),
            },
            ebs_options: EbsOptions {
                ebs_enabled: e.and_then(|e| e.ebs_enabled()).unwrap_or(false),
                volume_type: e
                    .and_then(|e| e.volume_type())
                    .map_or(declared_ebs.volume_type.clone(), |t| t.as_str().to_string()),
                volume_size: e
                    .and_then(|e| e.volume_size())
                    .unwrap_or(declared_ebs.volume_size),
                iops: e.and_then(|e| e.iops()),
                throughput: e.and_then(|e| e.throughput()),
            },
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
                tls_security_policy: ep.and_then(|e| e.tls_security_policy()).map_or(
                    declared.domain_endpoint_options.tls_security_policy.clone(),
                    |t| t.as_str().to_string(),
                ),
            },
            vpc_options: d.vpc_options().map(|v| VpcOptions {
                subnet_ids: live_ids(v.subnet_ids()),
                security_group_ids: live_ids(v.security_group_ids()),
            }),
            snapshot_options: SnapshotOptions {
                automated_snapshot_start_hour: d
                    .snapshot_options()
                    .and_then(|s| s.automated_snapshot_start_hour())
                    .unwrap_or(0),
            },
            access_policies: d
                .access_policies()
                .filter(|s| !s.is_empty())
                .map(|p| Input::Value(p.to_string())),
            // AWS never returns the master user (`write_only`).
            advanced_security_options: AdvancedSecurityOptions {
                enabled: sec.and_then(|a| a.enabled()).unwrap_or(false),
                internal_user_database_enabled: sec
                    .and_then(|a| a.internal_user_database_enabled())
                    .unwrap_or(false),
                ..declared.advanced_security_options.clone()
            },
            log_publishing_options: live_logs(&d, &declared.log_publishing_options),
            tags: cx.own_tags(&cx.live_tags(d.arn()).await?),
        };
        let outputs = json!({
            "id": d.domain_id(),
            "arn": d.arn(),
            "domain_name": d.domain_name(),
            "endpoint": endpoint(&d),
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, OpenSearch>,
        name: &str,
    ) -> Result<(), ProviderError> {
        // UpdateDomainConfig replaces every block it is given, so each changed
        // block goes whole; unchanged ones are left out.
        let cluster =
            (old.cluster_config != self.cluster_config).then(|| sdk_cluster(&self.cluster_config));
        let ebs = (old.ebs_options != self.ebs_options).then(|| sdk_ebs(&self.ebs_options));
        let endpoint = (old.domain_endpoint_options != self.domain_endpoint_options)
            .then(|| sdk_endpoint(&self.domain_endpoint_options));
        let vpc = match &self.vpc_options {
            Some(v) if old.vpc_options.as_ref() != Some(v) => Some(sdk_vpc(v)?),
            _ => None,
        };
        let snapshot = (old.snapshot_options != self.snapshot_options)
            .then(|| sdk_snapshot(&self.snapshot_options));
        let (old_doc, new_doc) = (policy(old)?, policy(self)?);
        let access = (old_doc.as_deref().map(normal_policy)
            != new_doc.as_deref().map(normal_policy))
        .then(|| new_doc.clone().unwrap_or_default());
        let sec_key = |d: &Domain| {
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
        let security = match sec_key(old) != sec_key(self) {
            true => Some(sdk_security(&self.advanced_security_options)?),
            false => None,
        };
        // Turning encryption off is a replacement (`diff`).
        let at_rest = (!old.encrypt_at_rest.enabled && self.encrypt_at_rest.enabled)
            .then(|| sdk_encrypt(true));
        let n2n = (!old.node_to_node_encryption.enabled && self.node_to_node_encryption.enabled)
            .then(|| sdk_n2n(true));
        // Every type given before and not now goes as disabled: OpenSearch
        // keeps one left out of the map.
        let logs = if old.log_publishing_options != self.log_publishing_options {
            let mut m = sdk_logs(&self.log_publishing_options)?;
            for o in &old.log_publishing_options {
                let t = LogType::from(o.log_type.as_str());
                if let (false, Some(arn)) = (m.contains_key(&t), o.cloudwatch_log_group_arn.known())
                {
                    let off = LogPublishingOption::builder()
                        .cloud_watch_logs_log_group_arn(arn)
                        .enabled(false)
                        .build();
                    m.insert(t, off);
                }
            }
            Some(m)
        } else {
            None
        };
        let any = cluster.is_some()
            || logs.is_some()
            || ebs.is_some()
            || endpoint.is_some()
            || vpc.is_some()
            || snapshot.is_some()
            || access.is_some()
            || security.is_some()
            || at_rest.is_some()
            || n2n.is_some();
        if any {
            cx.send_retrying(
                "UpdateDomainConfig",
                &[BUSY, IN_PROGRESS, LOG_POLICY],
                |c| {
                    c.update_domain_config()
                        .domain_name(name)
                        .set_cluster_config(cluster.clone())
                        .set_ebs_options(ebs.clone())
                        .set_domain_endpoint_options(endpoint.clone())
                        .set_vpc_options(vpc.clone())
                        .set_snapshot_options(snapshot.clone())
                        .set_access_policies(access.clone())
                        .set_advanced_security_options(security.clone())
                        .set_encryption_at_rest_options(at_rest.clone())
                        .set_node_to_node_encryption_options(n2n.clone())
                        .set_log_publishing_options(logs.clone())
                        .send()
                },
            )
            .await?;
            settled(cx, name).await?;
        }
        if old.engine_version != self.engine_version {
            cx.send_retrying("UpgradeDomain", &[BUSY, IN_PROGRESS], |c| {
                c.upgrade_domain()
                    .domain_name(name)
                    .target_version(&self.engine_version)
                    .send()
            })
            .await?;
            settled(cx, name).await?;
        }
        if old.tags != self.tags {
            let d = describe(cx, name)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("domain {name} is gone")))?;
            cx.update_tags(d.arn(), &old.tags, &self.tags).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, OpenSearch>, name: &str) -> Result<(), ProviderError> {
        match describe(cx, name).await? {
            None => return Ok(()),
            // An earlier attempt's delete is under way.
            Some(d) if d.deleted() == Some(true) => {}
            Some(_) => {
                cx.send_retrying("DeleteDomain", &[BUSY], |c| {
                    c.delete_domain().domain_name(name).send()
                })
                .await?;
            }
        }
        // Deleted = true stays visible while AWS tears the domain down.
        let what = format!("domain {name}");
        Wait::new(
            &what,
            &["deleted", "processing", "active", NO_ENDPOINT],
            &[],
        )
        .until_gone(cx.settings(), || seen(cx, name))
        .await
    }

    async fn find(&self, cx: &Call<'_, OpenSearch>) -> Result<Vec<String>, ProviderError> {
        let out = cx
            .send("ListDomainNames", |c| c.list_domain_names().send())
            .await?;
        let mut ours = Vec::new();
        for name in out.domain_names().iter().filter_map(|i| i.domain_name()) {
            let Some(d) = describe(cx, name)
                .await?
                .filter(|d| d.deleted() != Some(true))
            else {
                continue;
            };
            let tags = cx.live_tags(d.arn()).await?;
            if tags.get(URN_TAG).is_some_and(|v| cx.ctx.urn_tag_matches(v)) {
                ours.push(name.to_string());
            }
        }
        Ok(ours)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(a: &Domain, b: &Domain) -> Diff {
        <Domain as AwsResource>::diff(
            &serde_json::to_value(a).unwrap(),
            &serde_json::to_value(b).unwrap(),
        )
    }

    #[test]
    fn policy_formatting_is_no_change() {
        let mut a = Domain::new("logs");
        a.access_policies = Some(Input::Value(
            r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
        ));
        let mut b = a.clone();
        b.access_policies = Some(Input::Value(
            "{ \"Statement\": [],\n  \"Version\": \"2012-10-17\" }".into(),
        ));
        let d = diff(&a, &b);
        assert!(d.is_empty(), "{d:?}");
        b.access_policies = Some(Input::Value(
            r#"{"Version":"2012-10-17","Statement":[{}]}"#.into(),
        ));
        assert_eq!(diff(&a, &b).changed, vec!["access_policies"]);
    }

    #[test]
    fn encryption_goes_on_in_place_and_off_by_replacement() {
        let mut off = Domain::new("logs");
        off.encrypt_at_rest.enabled = false;
        off.node_to_node_encryption.enabled = false;
        let on = Domain::new("logs");
        let d = diff(&off, &on);
        assert_eq!(
            d.changed,
            vec!["encrypt_at_rest", "node_to_node_encryption"]
        );
        assert!(d.replace.is_empty(), "{d:?}");
        let d = diff(&on, &off);
        assert_eq!(
            d.replace,
            vec!["encrypt_at_rest", "node_to_node_encryption"]
        );
    }

    #[test]
    fn zone_awareness_and_master_password_rules() {
        let mut d = Domain::new("logs");
        d.cluster_config.zone_awareness_enabled = true;
        d.cluster_config.instance_count = 3;
        let e = d.check().unwrap_err().to_string();
        assert!(
            e.contains("cluster_config.instance_count") && e.contains('3'),
            "{e}"
        );
        d.cluster_config.instance_count = 4;
        assert!(d.check().is_ok());
        d.advanced_security_options = AdvancedSecurityOptions {
            enabled: true,
            internal_user_database_enabled: true,
            master_user_name: Some("admin".into()),
            master_user_password: Some(Input::secret("alllowercase1!")),
        };
        let e = d.check().unwrap_err().to_string();
        assert!(
            e.contains("master_user_password") && !e.contains("alllowercase1!"),
            "{e}"
        );
        d.advanced_security_options = AdvancedSecurityOptions {
            internal_user_database_enabled: true,
            ..Default::default()
        };
        let e = d.check().unwrap_err().to_string();
        assert!(e.contains("internal_user_database_enabled"), "{e}");
    }
}
