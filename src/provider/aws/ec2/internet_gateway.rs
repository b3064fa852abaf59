//! `aws:ec2/InternetGateway` (Terraform `aws_internet_gateway`): attached to
//! `vpc_id` when given; a change of VPC detaches and re-attaches in place.

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttachmentStatus, ResourceType};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{filter, from_tags, Ec2};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::check_id;
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InternetGateway {
    /// The VPC to attach to; detached when absent.
    pub vpc_id: Option<Input<String>>,
    pub tags: Tags,
}

impl InternetGateway {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn attached_to(vpc_id: impl Into<Input<String>>) -> Self {
        InternetGateway {
            vpc_id: Some(vpc_id.into()),
            ..Default::default()
        }
    }
}

impl ResourceArgs for InternetGateway {
    const TYPE: &'static str = "aws:ec2/InternetGateway";
}

impl Resource<InternetGateway> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn owner_id(&self) -> Output<String> {
        self.output("owner_id")
    }
}

#[async_trait]
impl AwsResource for InternetGateway {
    type Service = Ec2;
    const SCHEMA: Schema = Schema {
        terraform: &[Tf {
            resource: "aws_internet_gateway",
            args: &[("vpc_id", "vpc_id"), ("tags", "tags")],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        match &self.vpc_id {
            Some(v) => check_id("vpc_id", v, "vpc"),
            None => Ok(()),
        }
    }

    async fn create(&self, cx: &Call<'_, Ec2>) -> Result<String, ProviderError> {
        // Sent once by the SDK: no idempotency token, so the engine retries
        // after a lookup by URN tag instead.
        let out = cx
            .send("CreateInternetGateway", |c| {
                c.create_internet_gateway()
                    .tag_specifications(cx.tag_spec(ResourceType::InternetGateway, &self.tags))
                    .customize()
                    .config_override(super::once())
                    .send()
            })
            .await?;
        out.internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("CreateInternetGateway returned no gateway id"))
    }

    async fn after_create(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        match &self.vpc_id {
            Some(vpc) => attach(cx, id, vpc.require("vpc_id")?).await,
            None => Ok(()),
        }
    }

    async fn read(
        cx: &Call<'_, Ec2>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        match describe(cx, id).await? {
            Some(igw) => Ok(Some(live(cx, id, &igw).await)),
            None => Ok(None),
        }
    }

    // One DescribeInternetGateways per 200 ids (`Call::describe_many`).
    async fn read_many(
        cx: &Call<'_, Ec2>,
        items: &[(String, Self)],
    ) -> Result<Vec<Option<Live<Self>>>, ProviderError> {
        let found = cx
            .describe_many(
                "DescribeInternetGateways",
                items.iter().map(|(id, _)| id.as_str()),
                |c, ids| {
                    c.describe_internet_gateways()
                        .filters(filter("internet-gateway-id", ids))
                        .into_paginator()
                        .send()
                },
                |page| {
                    page.internet_gateways()
                        .iter()
                        .filter_map(|g| Some((g.internet_gateway_id()?.to_string(), g.clone())))
                        .collect()
                },
            )
            .await?;
        let mut out = Vec::with_capacity(items.len());
        for (id, _) in items {
            out.push(match found.get(id) {
                Some(g) => Some(live(cx, id, g).await),
                None => None,
            });
        }
        Ok(out)
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        if old.vpc_id != self.vpc_id {
            let want = self
                .vpc_id
                .as_ref()
                .map(|v| v.require("vpc_id"))
                .transpose()?;
            // Detach from whatever it is attached to live (state may be stale).
            let live = describe(cx, id)
                .await?
                .map(|g| attached_vpcs(&g))
                .ok_or_else(|| ProviderError::NotFound(format!("{id} is gone")))?;
            for vpc in live.iter().filter(|v| Some(*v) != want) {
                detach(cx, id, vpc).await?;
            }
            if let Some(vpc) = want.filter(|w| !live.contains(w)) {
                attach(cx, id, vpc).await?;
            }
        }
        cx.update_tags(id, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        let Some(igw) = describe(cx, id).await? else {
            return Ok(());
        };
        for vpc in attached_vpcs(&igw) {
            detach(cx, id, &vpc).await?;
        }
        cx.send_retrying(
            "DeleteInternetGateway",
            &[Retry::dependency(cx.settings())],
            |c| c.delete_internet_gateway().internet_gateway_id(id).send(),
        )
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Ec2>) -> Result<Vec<String>, ProviderError> {
        let out = cx
            .send("DescribeInternetGateways", |c| {
                c.describe_internet_gateways()
                    .filters(cx.urn_filter())
                    .send()
            })
            .await?;
        Ok(out
            .internet_gateways()
            .iter()
            .filter_map(|g| g.internet_gateway_id().map(str::to_string))
            .collect())
    }
}

/// A described gateway as read.
async fn live(
    cx: &Call<'_, Ec2>,
    id: &str,
    igw: &aws_sdk_ec2::types::InternetGateway,
) -> Live<InternetGateway> {
    let args = InternetGateway {
        vpc_id: attached_vpcs(igw).into_iter().next().map(Input::Value),
        tags: cx.own_tags(&from_tags(igw.tags())),
    };
    let owner = igw.owner_id().unwrap_or_default();
    let outputs = json!({
        "id": id,
        "arn": cx.arn("ec2", owner, &format!("internet-gateway/{id}")).await,
        "owner_id": igw.owner_id(),
    });
    Live { args, outputs }
}

async fn describe(
    cx: &Call<'_, Ec2>,
    id: &str,
) -> Result<Option<aws_sdk_ec2::types::InternetGateway>, ProviderError> {
    let out = cx
        .find("DescribeInternetGateways", |c| {
            c.describe_internet_gateways()
                .internet_gateway_ids(id)
                .send()
        })
        .await?;
    Ok(out.and_then(|o| o.internet_gateways().first().cloned()))
}

/// The VPCs the gateway is attached (or attaching) to.
fn attached_vpcs(igw: &aws_sdk_ec2::types::InternetGateway) -> Vec<String> {
    igw.attachments()
        .iter()
        .filter(|a| {
            !matches!(
                a.state(),
                Some(AttachmentStatus::Detached | AttachmentStatus::Detaching)
            )
        })
        .filter_map(|a| a.vpc_id().map(str::to_string))
        .collect()
}

async fn attach(cx: &Call<'_, Ec2>, id: &str, vpc_id: &str) -> Result<(), ProviderError> {
    // Right after CreateInternetGateway the id may not be visible to this
    // call yet (InvalidInternetGatewayID.NotFound; Terraform retries it too).
    cx.send_retrying("AttachInternetGateway", &[Retry::NEW_OBJECT], |c| {
        c.attach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc_id)
            .send()
    })
    .await
    .map(drop)
}

async fn detach(cx: &Call<'_, Ec2>, id: &str, vpc_id: &str) -> Result<(), ProviderError> {
    // "Network vpc-... has some mapped public address(es)": a NAT gateway or
    // load balancer address in the VPC is still being released.
    let r = cx
        .send_retrying(
            "DetachInternetGateway",
            &[Retry::dependency(cx.settings())],
            |c| {
                c.detach_internet_gateway()
                    .internet_gateway_id(id)
                    .vpc_id(vpc_id)
                    .send()
            },
        )
        .await;
    match r {
        // Already detached from that VPC.
        Err(ProviderError::Fatal(m)) if m.contains("Gateway.NotAttached") => Ok(()),
        r => r.map(drop),
    }
}
