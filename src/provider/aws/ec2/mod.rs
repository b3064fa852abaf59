//! EC2 resource types and their shared helpers (tags, filters, limits).

use std::sync::Arc;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use super::error;
use super::tags::{self, Tags};
use super::Aws;
use crate::provider::{Ctx, ProviderError, Registry};

pub mod eip;
pub mod flow_log;
pub mod instance;
pub mod internet_gateway;
pub mod launch_template;
pub mod nat_gateway;
pub mod route;
pub mod route_table;
pub mod route_table_association;
pub mod security_group;
pub mod security_group_rule;
pub mod subnet;
pub mod volume;
pub mod volume_attachment;
pub mod vpc;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry
        .register(vpc::VpcProvider::new(aws.clone()))
        .register(subnet::SubnetProvider::new(aws.clone()))
        .register(internet_gateway::InternetGatewayProvider::new(aws.clone()))
        .register(eip::EipProvider::new(aws.clone()))
        .register(nat_gateway::NatGatewayProvider::new(aws.clone()))
        .register(route_table::RouteTableProvider::new(aws.clone()))
        .register(route::RouteProvider::new(aws.clone()))
        .register(route_table_association::RouteTableAssociationProvider::new(
            aws.clone(),
        ))
        .register(flow_log::FlowLogProvider::new(aws.clone()))
        .register(security_group::SecurityGroupProvider::new(aws.clone()))
        .register(security_group_rule::SecurityGroupRuleProvider::new(
            aws.clone(),
        ))
        .register(launch_template::LaunchTemplateProvider::new(aws.clone()))
        .register(instance::InstanceProvider::new(aws.clone()))
        .register(volume::VolumeProvider::new(aws.clone()))
        .register(volume_attachment::VolumeAttachmentProvider::new(aws));
}

pub fn to_tags(t: &Tags) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn from_tags(t: &[Tag]) -> Tags {
    t.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

/// Tags for the create call itself, so the resource is never untagged.
pub(crate) fn tag_spec(aws: &Aws, ctx: &Ctx, rt: ResourceType, own: &Tags) -> TagSpecification {
    let all = tags::merged(&aws.settings.default_tags, own, ctx);
    TagSpecification::builder()
        .resource_type(rt)
        .set_tags(Some(to_tags(&all)))
        .build()
}

/// For creates that carry no idempotency token (`CreateVpc`,
/// `CreateInternetGateway`, `AllocateAddress`): the SDK must not send them
/// again on a timeout or a 5xx, which could make a second object. The
/// engine retries instead, after looking the first one up by its URN tag.
pub(crate) fn once() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default()
        .retry_config(aws_smithy_types::retry::RetryConfig::standard().with_max_attempts(1))
}

pub(crate) fn urn_filter(ctx: &Ctx) -> Filter {
    Filter::builder()
        .name(format!("tag:{}", tags::URN_TAG))
        .set_values(Some(ctx.urn_tag_values()))
        .build()
}

/// Applies a change of the resource's own tags (defaults and engine tags stay).
pub(crate) async fn update_tags(
    aws: &Aws,
    ctx: &Ctx,
    id: &str,
    old: &Tags,
    new: &Tags,
) -> Result<(), ProviderError> {
    let (set, remove) = tags::own_changes(&aws.settings.default_tags, old, new, ctx);
    let ec2 = aws.ec2().await;
    if !remove.is_empty() {
        aws.limits.ec2_mutating.acquire().await;
        let t: Vec<Tag> = remove
            .iter()
            .map(|k| Tag::builder().key(k).build())
            .collect();
        ec2.delete_tags()
            .resources(id)
            .set_tags(Some(t))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DeleteTags", e))?;
    }
    if !set.is_empty() {
        aws.limits.ec2_mutating.acquire().await;
        ec2.create_tags()
            .resources(id)
            .set_tags(Some(to_tags(&set)))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateTags", e))?;
    }
    Ok(())
}
