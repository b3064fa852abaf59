//! `aws:servicediscovery/Service` (Terraform `aws_service_discovery_service`):
//! a Cloud Map service whose instances ECS registers (`temporal` in
//! `morket.local`), answered as DNS records. Name, namespace, routing policy,
//! record types and the custom health check force a replacement; the
//! description and record TTLs change in place.

use async_trait::async_trait;
use aws_sdk_servicediscovery::types::{
    DnsConfig as SdDnsConfig, DnsConfigChange, DnsRecord as SdDnsRecord, FilterCondition,
    HealthCheckCustomConfig as SdHealthCheckCustomConfig, OperationTargetType, RecordType,
    RoutingPolicy, Service as SdService, ServiceChange, ServiceFilter, ServiceFilterName,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{live_tags, to_tags, wait_operation, ServiceDiscovery};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::aws::validate::{in_range, one_of};
use crate::provider::schema::{Schema, Tf};
use crate::provider::{Diff, ProviderError};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Service {
    /// The DNS label the instances answer under: `temporal`.
    pub name: String,
    /// The namespace id (`Resource<PrivateDnsNamespace>::id()`).
    pub namespace_id: Input<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub dns_config: DnsConfig,
    /// ECS reports instance health (the task's own health check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_custom_config: Option<HealthCheckCustomConfig>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// `MULTIVALUE` (up to 8 healthy records) or `WEIGHTED` (one at random).
    pub routing_policy: String,
    pub dns_records: Vec<DnsRecord>,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            routing_policy: "MULTIVALUE".into(),
            dns_records: vec![DnsRecord::default()],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsRecord {
    /// `A`, `AAAA` or `SRV` (`CNAME` is for instances registered by hand).
    #[serde(rename = "type")]
    pub record_type: String,
    /// Seconds resolvers cache the record.
    pub ttl: i64,
}

impl Default for DnsRecord {
    fn default() -> Self {
        DnsRecord {
            record_type: "A".into(),
            ttl: 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheckCustomConfig {
    /// Deprecated by AWS, which always applies 1: only 1 is accepted here,
    /// so the value read back is the value declared.
    pub failure_threshold: i32,
}

impl Default for HealthCheckCustomConfig {
    fn default() -> Self {
        HealthCheckCustomConfig {
            failure_threshold: 1,
        }
    }
}

impl Service {
    /// A service named `name` in `namespace_id` answering A records with a
    /// `ttl`, its instances' health reported by ECS.
    pub fn a_records(name: &str, namespace_id: impl Into<Input<String>>, ttl: i64) -> Self {
        Service {
            name: name.into(),
            namespace_id: namespace_id.into(),
            dns_config: DnsConfig {
                routing_policy: "MULTIVALUE".into(),
                dns_records: vec![DnsRecord {
                    record_type: "A".into(),
                    ttl,
                }],
            },
            health_check_custom_config: Some(HealthCheckCustomConfig::default()),
            ..Default::default()
        }
    }
}

impl ResourceArgs for Service {
    const TYPE: &'static str = "aws:servicediscovery/Service";
}

impl Resource<Service> {
    /// What an ECS service's `service_registries` takes.
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
}

fn records(d: &DnsConfig) -> Result<Vec<SdDnsRecord>, ProviderError> {
    d.dns_records
        .iter()
        .map(|r| {
            SdDnsRecord::builder()
                .r#type(RecordType::from(r.record_type.as_str()))
                .ttl(r.ttl)
                .build()
                .map_err(|e| ProviderError::Fatal(e.to_string()))
        })
        .collect()
}

async fn get(
    cx: &Call<'_, ServiceDiscovery>,
    id: &str,
) -> Result<Option<SdService>, ProviderError> {
    Ok(cx
        .find("GetService", |c| c.get_service().id(id).send())
        .await?
        .and_then(|o| o.service().cloned()))
}

/// The routing policy and the record types: what UpdateService cannot change.
fn fixed_part(dns: &Value) -> (Value, Vec<Value>) {
    let types = dns["dns_records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["type"].clone())
        .collect();
    (dns["routing_policy"].clone(), types)
}

#[async_trait]
impl AwsResource for Service {
    type Service = ServiceDiscovery;
    const SCHEMA: Schema = Schema {
        force_new: &["name", "namespace_id", "health_check_custom_config"],
        unique_name: &["name", "namespace_id"],
        terraform: &[Tf {
            resource: "aws_service_discovery_service",
            args: &[
                ("name", "name"),
                ("namespace_id", "namespace_id"),
                ("namespace_id", "dns_config.namespace_id"),
                ("description", "description"),
                ("dns_config.routing_policy", "dns_config.routing_policy"),
                ("dns_config.dns_records", "dns_config.dns_records"),
                (
                    "health_check_custom_config.failure_threshold",
                    "health_check_custom_config.failure_threshold",
                ),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    /// Terraform's ForceNew on `dns_config.routing_policy` and on each
    /// record's `type`: a change of either replaces; TTLs change in place.
    fn diff(old: &Value, new: &Value) -> Diff {
        let mut d = crate::provider::field_diff(old, new, Self::SCHEMA.force_new);
        let key = "dns_config".to_string();
        if d.changed.contains(&key)
            && fixed_part(&old["dns_config"]) != fixed_part(&new["dns_config"])
        {
            d.replace.push(key);
        }
        d
    }

    fn check(&self) -> Result<(), ProviderError> {
        let label_ok = (1..=63).contains(&self.name.len())
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !self.name.starts_with('-')
            && !self.name.ends_with('-');
        if !label_ok {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", self.name),
                "a DNS label: 1 to 63 letters, digits, '-' or '_'",
            ));
        }
        let d = &self.dns_config;
        one_of(
            "dns_config.routing_policy",
            &d.routing_policy,
            &["MULTIVALUE", "WEIGHTED"],
        )?;
        if d.dns_records.is_empty() {
            return Err(ProviderError::invalid(
                "dns_config.dns_records",
                "[]",
                "at least one record",
            ));
        }
        let mut seen = Vec::new();
        for (i, r) in d.dns_records.iter().enumerate() {
            one_of(
                &format!("dns_config.dns_records[{i}].type"),
                &r.record_type,
                &["A", "AAAA", "SRV", "CNAME"],
            )?;
            in_range(
                &format!("dns_config.dns_records[{i}].ttl"),
                r.ttl,
                0..=2_147_483_647,
            )?;
            if seen.contains(&r.record_type) {
                return Err(ProviderError::invalid(
                    &format!("dns_config.dns_records[{i}].type"),
                    format!("{:?}", r.record_type),
                    "each record type at most once",
                ));
            }
            seen.push(r.record_type.clone());
        }
        // AWS's own combination rules (CreateService refuses the others).
        if seen.iter().any(|t| t == "CNAME") && (seen.len() > 1 || d.routing_policy != "WEIGHTED") {
            return Err(ProviderError::invalid(
                "dns_config.dns_records",
                format!("{seen:?}"),
                "a CNAME record stands alone, with routing_policy WEIGHTED",
            ));
        }
        if let Some(h) = &self.health_check_custom_config {
            if h.failure_threshold != 1 {
                return Err(ProviderError::invalid(
                    "health_check_custom_config.failure_threshold",
                    h.failure_threshold,
                    "AWS always applies 1 (the setting is deprecated)",
                ));
            }
        }
        if let Some(desc) = &self.description {
            if desc.chars().count() > 1024 {
                return Err(ProviderError::invalid(
                    "description",
                    format!("{} characters", desc.chars().count()),
                    "at most 1024 characters",
                ));
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, ServiceDiscovery>) -> Result<String, ProviderError> {
        let ns = self.namespace_id.require("namespace_id")?;
        let dns = SdDnsConfig::builder()
            .routing_policy(RoutingPolicy::from(self.dns_config.routing_policy.as_str()))
            .set_dns_records(Some(records(&self.dns_config)?))
            .build()
            .map_err(|e| cx.fatal(e.to_string()))?;
        // The threshold is deprecated and always 1: an empty block asks for
        // ECS-managed health.
        let health = self
            .health_check_custom_config
            .as_ref()
            .map(|_| SdHealthCheckCustomConfig::builder().build());
        let tags = to_tags(&cx.all_tags(&self.tags));
        let token = format!("morket-{:032x}", rand::random::<u128>());
        let made = cx
            .try_send("CreateService", |c| {
                c.create_service()
                    .name(&self.name)
                    .namespace_id(ns)
                    .set_description(self.description.clone())
                    .dns_config(dns.clone())
                    .set_health_check_custom_config(health.clone())
                    .creator_request_id(&token)
                    .set_tags(Some(tags.clone()))
                    .send()
            })
            .await;
        match made {
            Ok(o) => o
                .service()
                .and_then(|s| s.id())
                .map(str::to_string)
                .ok_or_else(|| cx.fatal("CreateService answered without a service id")),
            // Our own service from an earlier attempt (by its URN tag):
            // carry on from it; anyone else's stays an error.
            Err(f) if f.code == "ServiceAlreadyExists" => self.find(cx).await?.pop().ok_or(f.error),
            Err(f) => Err(f.error),
        }
    }

    async fn read(
        cx: &Call<'_, ServiceDiscovery>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(s) = get(cx, id).await? else {
            return Ok(None);
        };
        let arn = s.arn().unwrap_or_default().to_string();
        let dns = s.dns_config();
        let name = s.name().unwrap_or_default().to_string();
        let args = Service {
            name: name.clone(),
            namespace_id: Input::Value(s.namespace_id().unwrap_or_default().to_string()),
            description: s
                .description()
                .filter(|d| !d.is_empty())
                .map(str::to_string),
            dns_config: dns
                .map(|d| DnsConfig {
                    routing_policy: d
                        .routing_policy()
                        .map(|p| p.as_str().to_string())
                        .unwrap_or_default(),
                    dns_records: d
                        .dns_records()
                        .iter()
                        .map(|r| DnsRecord {
                            record_type: r.r#type().as_str().to_string(),
                            ttl: r.ttl(),
                        })
                        .collect(),
                })
                .unwrap_or(DnsConfig {
                    routing_policy: String::new(),
                    dns_records: Vec::new(),
                }),
            health_check_custom_config: s
                .health_check_custom_config()
                .map(|_| HealthCheckCustomConfig::default()),
            tags: cx.own_tags(&live_tags(cx, &arn).await?),
        };
        Ok(Some(Live {
            args,
            outputs: json!({"id": id, "arn": arn, "name": name}),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, ServiceDiscovery>,
        id: &str,
    ) -> Result<(), ProviderError> {
        if (&old.description, &old.dns_config) != (&self.description, &self.dns_config) {
            let change = ServiceChange::builder()
                .description(self.description.clone().unwrap_or_default())
                .dns_config(
                    DnsConfigChange::builder()
                        .set_dns_records(Some(records(&self.dns_config)?))
                        .build()
                        .map_err(|e| cx.fatal(e.to_string()))?,
                )
                .build();
            let out = cx
                .send("UpdateService", |c| {
                    c.update_service().id(id).service(change.clone()).send()
                })
                .await?;
            if let Some(op) = out.operation_id() {
                wait_operation(cx, "Cloud Map service", op, OperationTargetType::Service).await?;
            }
        }
        if old.tags != self.tags {
            let s = get(cx, id)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("service {id} is gone")))?;
            cx.update_tags(s.arn().unwrap_or_default(), &old.tags, &self.tags)
                .await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, ServiceDiscovery>, id: &str) -> Result<(), ProviderError> {
        // ECS deregisters a deleted service's tasks a while after the ECS
        // service is gone: `ResourceInUse` until then.
        cx.send_retrying(
            "DeleteService",
            &[Retry::conflict(
                &["ResourceInUse"],
                cx.settings().delete_timeout,
            )],
            |c| c.delete_service().id(id).send(),
        )
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, ServiceDiscovery>) -> Result<Vec<String>, ProviderError> {
        let Some(ns) = self.namespace_id.known() else {
            return Ok(Vec::new());
        };
        let filter = ServiceFilter::builder()
            .name(ServiceFilterName::NamespaceId)
            .values(ns)
            .condition(FilterCondition::Eq)
            .build()
            .map_err(|e| cx.fatal(e.to_string()))?;
        let pages = cx
            .pages(
                "ListServices",
                cx.client()
                    .await
                    .list_services()
                    .filters(filter)
                    .into_paginator()
                    .send(),
            )
            .await?;
        let mut found = Vec::new();
        for s in pages.iter().flat_map(|p| p.services()) {
            let (Some(id), Some(arn)) = (s.id(), s.arn()) else {
                continue;
            };
            if s.name() != Some(self.name.as_str()) {
                continue;
            }
            let tags = live_tags(cx, arn).await?;
            if tags.get(URN_TAG).is_some_and(|v| cx.ctx.urn_tag_matches(v)) {
                found.push(id.to_string());
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_field_and_value() {
        let ok = Service::a_records("temporal", "ns-1", 10);
        assert!(ok.check().is_ok());
        let mut bad = ok.clone();
        bad.dns_config.routing_policy = "LATENCY".into();
        let e = bad.check().unwrap_err().to_string();
        assert!(e.contains("dns_config.routing_policy = \"LATENCY\""), "{e}");
        let mut bad = ok.clone();
        bad.dns_config.dns_records[0].ttl = -5;
        let e = bad.check().unwrap_err().to_string();
        assert!(e.contains("dns_config.dns_records[0].ttl = -5"), "{e}");
        let mut bad = ok.clone();
        bad.health_check_custom_config = Some(HealthCheckCustomConfig {
            failure_threshold: 3,
        });
        let e = bad.check().unwrap_err().to_string();
        assert!(e.contains("failure_threshold = 3"), "{e}");
        let mut bad = ok;
        bad.name = "temporal.x".into();
        assert!(bad.check().unwrap_err().to_string().contains("temporal.x"));
    }

    #[test]
    fn routing_policy_and_record_types_replace_ttls_do_not() {
        let a = serde_json::to_value(Service::a_records("t", "ns-1", 10)).unwrap();
        let mut ttl = a.clone();
        ttl["dns_config"]["dns_records"][0]["ttl"] = json!(60);
        let d = <Service as AwsResource>::diff(&a, &ttl);
        assert_eq!(d.changed, vec!["dns_config"]);
        assert!(d.replace.is_empty());
        let mut srv = a.clone();
        srv["dns_config"]["dns_records"][0]["type"] = json!("SRV");
        assert_eq!(
            <Service as AwsResource>::diff(&a, &srv).replace,
            vec!["dns_config"]
        );
        let mut weighted = a.clone();
        weighted["dns_config"]["routing_policy"] = json!("WEIGHTED");
        assert_eq!(
            <Service as AwsResource>::diff(&a, &weighted).replace,
            vec!["dns_config"]
        );
    }
}
