//! `aws:ec2/RouteTable` (Terraform `aws_route_table`, without inline routes:
//! routes are `aws:ec2/Route` resources, associations
//! `aws:ec2/RouteTableAssociation`).

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use serde::{Deserialize, Serialize};
use serde_json::json;

use std::collections::HashMap;

use super::{filter, from_tags, Ec2};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::check_id;
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteTable {
    pub vpc_id: Input<String>,
    pub tags: Tags,
}

impl RouteTable {
    pub fn new(vpc_id: impl Into<Input<String>>) -> Self {
        RouteTable {
            vpc_id: vpc_id.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for RouteTable {
    const TYPE: &'static str = "aws:ec2/RouteTable";
}

impl Resource<RouteTable> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn owner_id(&self) -> Output<String> {
        self.output("owner_id")
    }
    pub fn vpc_id(&self) -> Output<String> {
        self.output("vpc_id")
    }
}

/// A known id with one of `prefixes` (a gateway is `igw-` or `vgw-`); the
/// error names the first.
pub(crate) fn check_any_id(
    field: &str,
    v: &Input<String>,
    prefixes: &[&str],
) -> Result<(), ProviderError> {
    if prefixes.iter().any(|p| check_id(field, v, p).is_ok()) {
        return Ok(());
    }
    check_id(field, v, prefixes[0])
}

/// One route table by id; `None` when it does not exist. Routes and
/// associations are read through their table.
pub(crate) async fn describe(
    cx: &Call<'_, Ec2>,
    id: &str,
) -> Result<Option<aws_sdk_ec2::types::RouteTable>, ProviderError> {
    Ok(cx
        .find("DescribeRouteTables", |c| {
            c.describe_route_tables().route_table_ids(id).send()
        })
        .await?
        .and_then(|o| o.route_tables().first().cloned()))
}

/// The route tables among `ids`, by id: one DescribeRouteTables per 200 ids
/// and page (a `route-table-id` filter, `Call::describe_many`). What the
/// batched reads of tables, routes and associations share.
pub(crate) async fn describe_many<'i>(
    cx: &Call<'_, Ec2>,
    ids: impl Iterator<Item = &'i str>,
) -> Result<HashMap<String, aws_sdk_ec2::types::RouteTable>, ProviderError> {
    let mut ids: Vec<&str> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    cx.describe_many(
        "DescribeRouteTables",
        ids.into_iter(),
        |c, ids| {
            c.describe_route_tables()
                .filters(filter("route-table-id", ids))
                .into_paginator()
                .send()
        },
        |page| {
            page.route_tables()
                .iter()
                .filter_map(|t| Some((t.route_table_id()?.to_string(), t.clone())))
                .collect()
        },
    )
    .await
}

/// A table as read.
async fn live(
    cx: &Call<'_, Ec2>,
    id: &str,
    t: &aws_sdk_ec2::types::RouteTable,
) -> Live<RouteTable> {
    let owner = t.owner_id().unwrap_or_default();
    let args = RouteTable {
        vpc_id: t.vpc_id().unwrap_or_default().to_string().into(),
        tags: cx.own_tags(&from_tags(t.tags())),
    };
    let outputs = json!({
        "id": id,
        "arn": cx.arn("ec2", owner, &format!("route-table/{id}")).await,
        "owner_id": owner,
        "vpc_id": t.vpc_id(),
    });
    Live { args, outputs }
}

#[async_trait]
impl AwsResource for RouteTable {
    type Service = Ec2;
    const SCHEMA: Schema = Schema {
        force_new: &["vpc_id"],
        terraform: &[Tf {
            resource: "aws_route_table",
            args: &[("vpc_id", "vpc_id"), ("tags", "tags")],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_id("vpc_id", &self.vpc_id, "vpc")
    }

    async fn create(&self, cx: &Call<'_, Ec2>) -> Result<String, ProviderError> {
        let vpc = self.vpc_id.require("vpc_id")?;
        // The SDK fills in the ClientToken, so its own retries make no second
        // table. A VPC made moments ago may not be visible to this call yet.
        let out = cx
            .send_retrying("CreateRouteTable", &[Retry::NEW_OBJECT], |c| {
                c.create_route_table()
                    .vpc_id(vpc)
                    .tag_specifications(cx.tag_spec(ResourceType::RouteTable, &self.tags))
                    .send()
            })
            .await?;
        out.route_table()
            .and_then(|t| t.route_table_id())
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("CreateRouteTable returned no route table id"))
    }

    async fn read(
        cx: &Call<'_, Ec2>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        Ok(match describe(cx, id).await? {
            Some(t) => Some(live(cx, id, &t).await),
            None => None,
        })
    }

    // One DescribeRouteTables per 200 ids and page (`describe_many`).
    async fn read_many(
        cx: &Call<'_, Ec2>,
        items: &[(String, Self)],
    ) -> Result<Vec<Option<Live<Self>>>, ProviderError> {
        let found = describe_many(cx, items.iter().map(|(id, _)| id.as_str())).await?;
        let mut out = Vec::with_capacity(items.len());
        for (id, _) in items {
            out.push(match found.get(id) {
                Some(t) => Some(live(cx, id, t).await),
                None => None,
            });
        }
        Ok(out)
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        cx.update_tags(id, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        cx.send("DeleteRouteTable", |c| {
            c.delete_route_table().route_table_id(id).send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Ec2>) -> Result<Vec<String>, ProviderError> {
        let out = cx
            .send("DescribeRouteTables", |c| {
                c.describe_route_tables().filters(cx.urn_filter()).send()
            })
            .await?;
        Ok(out
            .route_tables()
            .iter()
            .filter_map(|t| t.route_table_id().map(str::to_string))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vpc_id_shape_is_checked_and_unknown_accepted() {
        let e = RouteTable::new("subnet-1").check().unwrap_err().to_string();
        assert!(e.contains("vpc_id") && e.contains("subnet-1"), "{e}");
        assert!(RouteTable::new(Input::Unknown).check().is_ok());
        assert!(RouteTable::new("vpc-123").check().is_ok());
        let e = check_any_id("gateway_id", &"nat-1".into(), &["igw", "vgw"]).unwrap_err();
        assert!(e.to_string().contains("nat-1"), "{e}");
        assert!(check_any_id("gateway_id", &"vgw-1".into(), &["igw", "vgw"]).is_ok());
    }
}
