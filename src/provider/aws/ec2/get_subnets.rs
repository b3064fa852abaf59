//! `aws:ec2/getSubnets` (Terraform `data "aws_subnets"`): the existing
//! subnets of a VPC, optionally narrowed by tags (`Tier = private`), sorted
//! by availability zone then id, so their order is stable between runs.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{filter, Ec2};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::lookup::AwsLookup;
use crate::provider::aws::validate::check_id;
use crate::provider::schema::Tf;
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GetSubnets {
    /// The VPC (an id, or a `getVpc` answer).
    pub vpc_id: Input<String>,
    /// Tags every subnet must carry.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl GetSubnets {
    pub fn in_vpc(vpc_id: impl Into<Input<String>>) -> Self {
        GetSubnets {
            vpc_id: vpc_id.into(),
            tags: BTreeMap::new(),
        }
    }
    pub fn tagged(mut self, key: &str, value: &str) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }
}

impl ResourceArgs for GetSubnets {
    const TYPE: &'static str = "aws:ec2/getSubnets";
}

impl Resource<GetSubnets> {
    /// Subnet ids, by zone then id.
    pub fn ids(&self) -> Output<Vec<String>> {
        self.output("ids")
    }
}

#[async_trait]
impl AwsLookup for GetSubnets {
    type Service = Ec2;
    const TERRAFORM: &'static [Tf] = &[Tf {
        resource: "aws_subnets",
        args: &[("tags", "tags")],
        import_id: "",
    }];

    fn check(&self) -> Result<(), ProviderError> {
        check_id("vpc_id", &self.vpc_id, "vpc")
    }

    async fn read(&self, cx: &Call<'_, Ec2>) -> Result<(String, Value), ProviderError> {
        let vpc = self.vpc_id.require("vpc_id")?;
        let mut filters = vec![filter("vpc-id", [vpc.as_str()])];
        for (k, v) in &self.tags {
            filters.push(filter(&format!("tag:{k}"), [v.as_str()]));
        }
        let client = cx.client().await;
        let pages = cx
            .pages(
                "DescribeSubnets",
                client
                    .describe_subnets()
                    .set_filters(Some(filters))
                    .into_paginator()
                    .send(),
            )
            .await?;
        let mut subnets: Vec<(String, String, String)> = pages
            .iter()
            .flat_map(|p| p.subnets())
            .map(|s| {
                (
                    s.availability_zone().unwrap_or_default().to_string(),
                    s.subnet_id().unwrap_or_default().to_string(),
                    s.cidr_block().unwrap_or_default().to_string(),
                )
            })
            .collect();
        subnets.sort();
        Ok((
            vpc.clone(),
            json!({
                "ids": subnets.iter().map(|(_, id, _)| id).collect::<Vec<_>>(),
                "availability_zones": subnets.iter().map(|(az, _, _)| az).collect::<Vec<_>>(),
                "cidr_blocks": subnets.iter().map(|(_, _, c)| c).collect::<Vec<_>>(),
            }),
        ))
    }
}
