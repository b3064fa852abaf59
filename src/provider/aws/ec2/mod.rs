//! EC2 resource types and their shared helpers (tags, filters, limits).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::call::Call;
use super::limits::TokenBucket;
use super::lookup::Looked;
use super::resource::Typed;
use super::service::Service;
use super::tags::{self, Tags};
use super::Aws;
use crate::provider::{Ctx, ProviderError, Registry};

/// EC2 as the call helper sees it.
pub struct Ec2;

#[async_trait]
impl Service for Ec2 {
    type Client = aws_sdk_ec2::Client;
    const NAME: &'static str = "ec2";
    const CONCURRENCY: usize = 20;

    async fn client(aws: &Aws) -> &aws_sdk_ec2::Client {
        aws.ec2().await
    }

    // EC2's documented buckets: describes, mutating calls, and NAT creates.
    fn bucket<'a>(aws: &'a Aws, op: &str) -> &'a TokenBucket {
        if op.starts_with("Describe") || op.starts_with("Get") {
            &aws.limits.ec2_describe
        } else if op == "CreateNatGateway" {
            &aws.limits.ec2_nat
        } else {
            &aws.limits.ec2_mutating
        }
    }

    async fn retag(
        cx: &Call<'_, Self>,
        key: &str,
        set: &Tags,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        // A tag call right after a create may not see the new id yet.
        let retry = [super::call::Retry::NEW_OBJECT];
        if !remove.is_empty() {
            let keys: Vec<Tag> = remove
                .iter()
                .map(|k| Tag::builder().key(k).build())
                .collect();
            cx.send_retrying("DeleteTags", &retry, |c| {
                c.delete_tags()
                    .resources(key)
                    .set_tags(Some(keys.clone()))
                    .send()
            })
            .await?;
        }
        if !set.is_empty() {
            cx.send_retrying("CreateTags", &retry, |c| {
                c.create_tags()
                    .resources(key)
                    .set_tags(Some(to_tags(set)))
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

impl<'a> Call<'a, Ec2> {
    /// The described objects among `ids`, by id, with one describe per 200
    /// ids: `describe` makes the paginated request for a chunk (a `*-id`
    /// filter, which unlike the `*Ids` parameter does not fail the whole call
    /// on an id that is gone) and `each` lists a page's `(id, object)`s.
    /// What `read_many` of an EC2 type is built on.
    pub async fn describe_many<O, E, R, T>(
        &self,
        op: &'static str,
        ids: impl Iterator<Item = &str>,
        describe: impl Fn(
            &'a aws_sdk_ec2::Client,
            Vec<String>,
        ) -> PaginationStream<Result<O, SdkError<E, R>>>,
        each: impl Fn(&O) -> Vec<(String, T)>,
    ) -> Result<HashMap<String, T>, ProviderError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let ids: Vec<String> = ids.map(str::to_string).collect();
        let mut found = HashMap::new();
        for chunk in ids.chunks(200) {
            let stream = describe(self.client().await, chunk.to_vec());
            for page in self.pages(op, stream).await? {
                found.extend(each(&page));
            }
        }
        Ok(found)
    }

    /// Tags for the create call itself, so the object is never untagged.
    pub fn tag_spec(&self, rt: ResourceType, own: &Tags) -> TagSpecification {
        TagSpecification::builder()
            .resource_type(rt)
            .set_tags(Some(to_tags(&self.all_tags(own))))
            .build()
    }

    /// The filter that finds this resource's objects by URN tag.
    pub fn urn_filter(&self) -> Filter {
        urn_filter(self.ctx)
    }
}

/// An EC2 filter `name = values`.
pub fn filter(name: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().map(Into::into).collect()))
        .build()
}

pub mod availability_zones;
pub mod default_security_group;
pub mod eip;
pub mod flow_log;
pub mod get_subnets;
pub mod get_vpc;
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
        .register(Typed::<vpc::Vpc>::new(aws.clone()))
        .register(Typed::<subnet::Subnet>::new(aws.clone()))
        .register(Typed::<internet_gateway::InternetGateway>::new(aws.clone()))
        .register(Typed::<eip::Eip>::new(aws.clone()))
        .register(Typed::<nat_gateway::NatGateway>::new(aws.clone()))
        .register(Typed::<route_table::RouteTable>::new(aws.clone()))
        .register(Typed::<route::Route>::new(aws.clone()))
        .register(Typed::<route_table_association::RouteTableAssociation>::new(aws.clone()))
        .register(Typed::<flow_log::FlowLog>::new(aws.clone()))
        .register(Typed::<security_group::SecurityGroup>::new(aws.clone()))
        .register(Typed::<default_security_group::DefaultSecurityGroup>::new(
            aws.clone(),
        ))
        .register(Typed::<security_group_rule::SecurityGroupRule>::new(
            aws.clone(),
        ))
        .register(Typed::<launch_template::LaunchTemplate>::new(aws.clone()))
        .register(Typed::<instance::Instance>::new(aws.clone()))
        .register(Typed::<volume::Volume>::new(aws.clone()))
        .register(Typed::<volume_attachment::VolumeAttachment>::new(
            aws.clone(),
        ))
        .register(Looked::<availability_zones::GetAvailabilityZones>::new(
            aws.clone(),
        ))
        .register(Looked::<get_vpc::GetVpc>::new(aws.clone()))
        .register(Looked::<get_subnets::GetSubnets>::new(aws));
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
