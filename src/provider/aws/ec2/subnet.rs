//! `aws:ec2/Subnet` (Terraform `aws_subnet`).

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{filter, from_tags, Ec2};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::{check_az, check_cidr, check_id};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Subnet {
    pub vpc_id: Input<String>,
    /// IPv4 CIDR inside the VPC's, /16 to /28.
    pub cidr_block: String,
    /// e.g. `us-east-1a`; AWS picks one when absent.
    pub availability_zone: Option<String>,
    pub map_public_ip_on_launch: bool,
    pub tags: Tags,
}

impl Subnet {
    pub fn new(vpc_id: impl Into<Input<String>>, cidr_block: &str) -> Self {
        Subnet {
            vpc_id: vpc_id.into(),
            cidr_block: cidr_block.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for Subnet {
    const TYPE: &'static str = "aws:ec2/Subnet";
}

impl Resource<Subnet> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn vpc_id(&self) -> Output<String> {
        self.output("vpc_id")
    }
    pub fn cidr_block(&self) -> Output<String> {
        self.output("cidr_block")
    }
    pub fn availability_zone(&self) -> Output<String> {
        self.output("availability_zone")
    }
    pub fn availability_zone_id(&self) -> Output<String> {
        self.output("availability_zone_id")
    }
    pub fn owner_id(&self) -> Output<String> {
        self.output("owner_id")
    }
}

#[async_trait]
impl AwsResource for Subnet {
    type Service = Ec2;
    const SCHEMA: Schema = Schema {
        force_new: &["vpc_id", "cidr_block", "availability_zone"],
        // A zone AWS picked is not drift.
        optional_computed: &["availability_zone"],
        terraform: &[Tf {
            resource: "aws_subnet",
            args: &[
                ("vpc_id", "vpc_id"),
                ("cidr_block", "cidr_block"),
                ("availability_zone", "availability_zone"),
                ("map_public_ip_on_launch", "map_public_ip_on_launch"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_id("vpc_id", &self.vpc_id, "vpc")?;
        check_cidr("cidr_block", &self.cidr_block, 16..=28)?;
        match &self.availability_zone {
            Some(az) => check_az("availability_zone", az),
            None => Ok(()),
        }
    }

    async fn create(&self, cx: &Call<'_, Ec2>) -> Result<String, ProviderError> {
        let vpc_id = self.vpc_id.require("vpc_id")?;
        // No idempotency token: sent once, so a lost answer is looked up by
        // URN tag (an SDK resend would get InvalidSubnet.Conflict instead).
        let out = cx
            .send("CreateSubnet", |c| {
                c.create_subnet()
                    .vpc_id(vpc_id)
                    .cidr_block(&self.cidr_block)
                    .set_availability_zone(self.availability_zone.clone())
                    .tag_specifications(cx.tag_spec(ResourceType::Subnet, &self.tags))
                    .customize()
                    .config_override(super::once())
                    .send()
            })
            .await?;
        out.subnet()
            .and_then(|s| s.subnet_id())
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("CreateSubnet returned no subnet id"))
    }

    async fn after_create(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        // A new subnet does not map public IPs; the rest is an update.
        let fresh = Subnet {
            map_public_ip_on_launch: false,
            ..self.clone()
        };
        self.update(&fresh, cx, id).await
    }

    async fn read(
        cx: &Call<'_, Ec2>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let out = cx
            .find("DescribeSubnets", |c| {
                c.describe_subnets().subnet_ids(id).send()
            })
            .await?;
        Ok(out
            .and_then(|o| o.subnets().first().cloned())
            .map(|s| live(cx, &s)))
    }

    // One DescribeSubnets per 200 ids (`Call::describe_many`).
    async fn read_many(
        cx: &Call<'_, Ec2>,
        items: &[(String, Self)],
    ) -> Result<Vec<Option<Live<Self>>>, ProviderError> {
        let found = cx
            .describe_many(
                "DescribeSubnets",
                items.iter().map(|(id, _)| id.as_str()),
                |c, ids| {
                    c.describe_subnets()
                        .filters(filter("subnet-id", ids))
                        .into_paginator()
                        .send()
                },
                |page| {
                    page.subnets()
                        .iter()
                        .filter_map(|s| Some((s.subnet_id()?.to_string(), s.clone())))
                        .collect()
                },
            )
            .await?;
        Ok(items
            .iter()
            .map(|(id, _)| found.get(id).map(|s| live(cx, s)))
            .collect())
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        if old.map_public_ip_on_launch != self.map_public_ip_on_launch {
            let on = AttributeBooleanValue::builder()
                .value(self.map_public_ip_on_launch)
                .build();
            // Right after CreateSubnet the id may not be visible to this call yet.
            cx.send_retrying("ModifySubnetAttribute", &[Retry::NEW_OBJECT], |c| {
                c.modify_subnet_attribute()
                    .subnet_id(id)
                    .map_public_ip_on_launch(on.clone())
                    .send()
            })
            .await?;
        }
        cx.update_tags(id, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        // Network interfaces of deleted data stores and tasks linger.
        cx.send_retrying("DeleteSubnet", &[Retry::dependency(cx.settings())], |c| {
            c.delete_subnet().subnet_id(id).send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Ec2>) -> Result<Vec<String>, ProviderError> {
        let out = cx
            .send("DescribeSubnets", |c| {
                c.describe_subnets().filters(cx.urn_filter()).send()
            })
            .await?;
        Ok(out
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_string))
            .collect())
    }
}

fn live(cx: &Call<'_, Ec2>, s: &aws_sdk_ec2::types::Subnet) -> Live<Subnet> {
    let args = Subnet {
        vpc_id: Input::Value(s.vpc_id().unwrap_or_default().into()),
        cidr_block: s.cidr_block().unwrap_or_default().into(),
        availability_zone: s.availability_zone().map(str::to_string),
        map_public_ip_on_launch: s.map_public_ip_on_launch().unwrap_or(false),
        tags: cx.own_tags(&from_tags(s.tags())),
    };
    let outputs: Value = json!({
        "id": s.subnet_id(),
        "arn": s.subnet_arn(),
        "vpc_id": s.vpc_id(),
        "cidr_block": s.cidr_block(),
        "availability_zone": s.availability_zone(),
        "availability_zone_id": s.availability_zone_id(),
        "owner_id": s.owner_id(),
    });
    Live { args, outputs }
}
