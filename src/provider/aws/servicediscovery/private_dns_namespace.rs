//! `aws:servicediscovery/PrivateDnsNamespace` (Terraform
//! `aws_service_discovery_private_dns_namespace`): a Cloud Map namespace and
//! the private Route 53 zone AWS makes for it in a VPC. Name and VPC force a
//! replacement; the description changes in place. Create, update and delete
//! are asynchronous operations, waited for as Terraform does.

use async_trait::async_trait;
use aws_sdk_servicediscovery::types::{
    FilterCondition, Namespace, NamespaceFilter, NamespaceFilterName, OperationTargetType,
    PrivateDnsNamespaceChange,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{live_tags, to_tags, wait_operation, ServiceDiscovery};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::aws::validate::check_id;
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivateDnsNamespace {
    /// A DNS name: `morket.local`.
    pub name: String,
    /// The VPC whose resolver answers for the namespace.
    pub vpc: Input<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub tags: Tags,
}

impl PrivateDnsNamespace {
    pub fn new(name: &str, vpc: impl Into<Input<String>>) -> Self {
        PrivateDnsNamespace {
            name: name.into(),
            vpc: vpc.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for PrivateDnsNamespace {
    const TYPE: &'static str = "aws:servicediscovery/PrivateDnsNamespace";
}

impl Resource<PrivateDnsNamespace> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// The private Route 53 zone AWS made for the namespace.
    pub fn hosted_zone(&self) -> Output<String> {
        self.output("hosted_zone")
    }
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
}

/// A DNS name: labels of 1 to 63 letters, digits and `-` (not at either
/// end), at most 253 characters; a trailing dot is allowed.
pub fn check_dns_name(field: &str, name: &str) -> Result<(), ProviderError> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let ok = !trimmed.is_empty()
        && trimmed.len() <= 253
        && trimmed.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            field,
            format!("{name:?}"),
            "expected a DNS name like morket.local (labels of letters, digits and '-')",
        ))
    }
}

async fn get(
    cx: &Call<'_, ServiceDiscovery>,
    id: &str,
) -> Result<Option<Namespace>, ProviderError> {
    Ok(cx
        .find("GetNamespace", |c| c.get_namespace().id(id).send())
        .await?
        .and_then(|o| o.namespace().cloned()))
}

#[async_trait]
impl AwsResource for PrivateDnsNamespace {
    type Service = ServiceDiscovery;
    const SCHEMA: Schema = Schema {
        force_new: &["name", "vpc"],
        unique_name: &["name", "vpc"],
        // GetNamespace does not name the VPC (Terraform keeps its own).
        write_only: &["vpc"],
        terraform: &[Tf {
            resource: "aws_service_discovery_private_dns_namespace",
            args: &[
                ("name", "name"),
                ("vpc", "vpc"),
                ("description", "description"),
                ("tags", "tags"),
            ],
            import_id: "{id}:{vpc}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_dns_name("name", &self.name)?;
        check_id("vpc", &self.vpc, "vpc")?;
        if let Some(d) = &self.description {
            if d.chars().count() > 1024 {
                return Err(ProviderError::invalid(
                    "description",
                    format!("{} characters", d.chars().count()),
                    "at most 1024 characters",
                ));
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, ServiceDiscovery>) -> Result<String, ProviderError> {
        let vpc = self.vpc.require("vpc")?;
        let tags = to_tags(&cx.all_tags(&self.tags));
        // Terraform sends a fresh creator request id per create.
        let token = format!("morket-{:032x}", rand::random::<u128>());
        let made = cx
            .try_send("CreatePrivateDnsNamespace", |c| {
                c.create_private_dns_namespace()
                    .name(&self.name)
                    .vpc(vpc)
                    .set_description(self.description.clone())
                    .creator_request_id(&token)
                    .set_tags(Some(tags.clone()))
                    .send()
            })
            .await;
        let op = match made {
            Ok(o) => o.operation_id().unwrap_or_default().to_string(),
            // Our own namespace from an earlier attempt (by its URN tag):
            // carry on from it; anyone else's stays an error.
            // (AWS refuses the same name in the same VPC as
            // `ConflictingDomainExists`.)
            Err(f) if f.code == "NamespaceAlreadyExists" || f.code == "ConflictingDomainExists" => {
                return self.find(cx).await?.pop().ok_or(f.error);
            }
            Err(f) => return Err(f.error),
        };
        // AWS names the namespace only once the operation has succeeded; a
        // run killed before that finds it again by its URN tag.
        wait_operation(
            cx,
            "private DNS namespace",
            &op,
            OperationTargetType::Namespace,
        )
        .await?
        .ok_or_else(|| {
            cx.fatal(format!(
                "operation {op} succeeded without naming the namespace"
            ))
        })
    }

    async fn read(
        cx: &Call<'_, ServiceDiscovery>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(ns) = get(cx, id).await? else {
            return Ok(None);
        };
        let arn = ns.arn().unwrap_or_default().to_string();
        let zone = ns
            .properties()
            .and_then(|p| p.dns_properties())
            .and_then(|d| d.hosted_zone_id())
            .unwrap_or_default();
        let name = ns.name().unwrap_or_default().to_string();
        let args = PrivateDnsNamespace {
            name: name.clone(),
            // Not readable (write_only): the declaration's value stands.
            vpc: declared.vpc.clone(),
            description: ns
                .description()
                .filter(|d| !d.is_empty())
                .map(str::to_string),
            tags: cx.own_tags(&live_tags(cx, &arn).await?),
        };
        Ok(Some(Live {
            args,
            outputs: json!({"id": id, "arn": arn, "hosted_zone": zone, "name": name}),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, ServiceDiscovery>,
        id: &str,
    ) -> Result<(), ProviderError> {
        if old.description != self.description {
            let change = PrivateDnsNamespaceChange::builder()
                .description(self.description.clone().unwrap_or_default())
                .build();
            let token = format!("morket-{:032x}", rand::random::<u128>());
            let out = cx
                .send("UpdatePrivateDnsNamespace", |c| {
                    c.update_private_dns_namespace()
                        .id(id)
                        .namespace(change.clone())
                        .updater_request_id(&token)
                        .send()
                })
                .await?;
            if let Some(op) = out.operation_id() {
                wait_operation(
                    cx,
                    "private DNS namespace",
                    op,
                    OperationTargetType::Namespace,
                )
                .await?;
            }
        }
        if old.tags != self.tags {
            let ns = get(cx, id)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("namespace {id} is gone")))?;
            cx.update_tags(ns.arn().unwrap_or_default(), &old.tags, &self.tags)
                .await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, ServiceDiscovery>, id: &str) -> Result<(), ProviderError> {
        let out = cx
            .send("DeleteNamespace", |c| c.delete_namespace().id(id).send())
            .await?;
        if let Some(op) = out.operation_id() {
            wait_operation(
                cx,
                "private DNS namespace",
                op,
                OperationTargetType::Namespace,
            )
            .await?;
        }
        Ok(())
    }

    async fn find(&self, cx: &Call<'_, ServiceDiscovery>) -> Result<Vec<String>, ProviderError> {
        let filter = NamespaceFilter::builder()
            .name(NamespaceFilterName::Type)
            .values("DNS_PRIVATE")
            .condition(FilterCondition::Eq)
            .build()
            .map_err(|e| cx.fatal(e.to_string()))?;
        let pages = cx
            .pages(
                "ListNamespaces",
                cx.client()
                    .await
                    .list_namespaces()
                    .filters(filter)
                    .into_paginator()
                    .send(),
            )
            .await?;
        let mut found = Vec::new();
        for ns in pages.iter().flat_map(|p| p.namespaces()) {
            let (Some(id), Some(arn)) = (ns.id(), ns.arn()) else {
                continue;
            };
            let same_name =
                ns.name().map(|n| n.trim_end_matches('.')) == Some(self.name.trim_end_matches('.'));
            if !same_name {
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
        let ok = PrivateDnsNamespace::new("morket.local", "vpc-0abc");
        assert!(ok.check().is_ok());
        let e = PrivateDnsNamespace::new("morket..local", "vpc-0abc")
            .check()
            .unwrap_err()
            .to_string();
        assert!(e.contains("name = \"morket..local\""), "{e}");
        let e = PrivateDnsNamespace::new("morket.local", "subnet-1")
            .check()
            .unwrap_err()
            .to_string();
        assert!(e.contains("vpc = \"subnet-1\""), "{e}");
    }
}
