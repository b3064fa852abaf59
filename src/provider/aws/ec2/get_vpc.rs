//! `aws:ec2/getVpc` (Terraform `data "aws_vpc"`): one existing VPC, by id
//! or by tags, for stacks that deploy into a network they do not own. None
//! or several matches fail the preview, naming what was asked.

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
pub struct GetVpc {
    /// `vpc-...`; unset: found by `tags`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tags the VPC must carry (all of them).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl GetVpc {
    pub fn by_id(id: &str) -> Self {
        GetVpc {
            id: Some(id.into()),
            ..Default::default()
        }
    }
    pub fn by_tag(key: &str, value: &str) -> Self {
        GetVpc {
            tags: [(key.to_string(), value.to_string())].into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for GetVpc {
    const TYPE: &'static str = "aws:ec2/getVpc";
}

impl Resource<GetVpc> {
    pub fn cidr_block(&self) -> Output<String> {
        self.output("cidr_block")
    }
}

#[async_trait]
impl AwsLookup for GetVpc {
    type Service = Ec2;
    const TERRAFORM: &'static [Tf] = &[Tf {
        resource: "aws_vpc",
        args: &[("id", "id"), ("tags", "tags")],
        import_id: "",
    }];

    fn check(&self) -> Result<(), ProviderError> {
        match &self.id {
            Some(id) => check_id("id", &Input::Value(id.clone()), "vpc"),
            None if self.tags.is_empty() => Err(ProviderError::invalid(
                "id",
                "(unset)",
                "give the VPC id or the tags that find it",
            )),
            None => Ok(()),
        }
    }

    async fn read(&self, cx: &Call<'_, Ec2>) -> Result<(String, Value), ProviderError> {
        let mut filters = Vec::new();
        if let Some(id) = &self.id {
            filters.push(filter("vpc-id", [id.as_str()]));
        }
        for (k, v) in &self.tags {
            filters.push(filter(&format!("tag:{k}"), [v.as_str()]));
        }
        let client = cx.client().await;
        let pages = cx
            .pages(
                "DescribeVpcs",
                client
                    .describe_vpcs()
                    .set_filters(Some(filters))
                    .into_paginator()
                    .send(),
            )
            .await?;
        let vpcs: Vec<&aws_sdk_ec2::types::Vpc> = pages.iter().flat_map(|p| p.vpcs()).collect();
        let asked = || match &self.id {
            Some(id) => ("id", format!("{id:?}")),
            None => ("tags", format!("{:?}", self.tags)),
        };
        let v = match vpcs.as_slice() {
            [v] => *v,
            [] => {
                let (field, value) = asked();
                return Err(ProviderError::invalid(
                    field,
                    value,
                    "no VPC matches in this region",
                ));
            }
            many => {
                let (field, value) = asked();
                let ids: Vec<&str> = many.iter().filter_map(|v| v.vpc_id()).collect();
                return Err(ProviderError::invalid(
                    field,
                    value,
                    format!(
                        "{} VPCs match ({}); narrow it to one",
                        ids.len(),
                        ids.join(", ")
                    ),
                ));
            }
        };
        let id = v.vpc_id().unwrap_or_default().to_string();
        let owner = v.owner_id().unwrap_or_default();
        Ok((
            id.clone(),
            json!({
                "id": id,
                "arn": cx.arn("ec2", owner, &format!("vpc/{id}")).await,
                "cidr_block": v.cidr_block(),
                "owner_id": owner,
                "is_default": v.is_default(),
            }),
        ))
    }
}
