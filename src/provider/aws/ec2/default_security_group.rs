//! `aws:ec2/DefaultSecurityGroup` (Terraform `aws_default_security_group`
//! with no rules): takes over the group AWS makes with every VPC and keeps
//! it empty, so anything launched without a group of its own gets no
//! traffic (CIS AWS 5.4). AWS's default rules (ingress from the group
//! itself, egress anywhere) are revoked when it is taken over; rules added
//! later show in `unmanaged_rules` on a refresh or drift, and the next `up`
//! revokes them. The group cannot be deleted: destroying the resource
//! leaves it, empty and without the tags it was given, to go with its VPC
//! (Terraform leaves it too).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::security_group::{describe_rule, group_outputs, revoke_rules, revoke_stray, rules};
use super::{filter, from_tags, Ec2};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::service::Service;
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::check_id;
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DefaultSecurityGroup {
    pub vpc_id: Input<String>,
    pub tags: Tags,
    /// Read only: the group's rules (`sgr-…: ingress -1 -1--1 sg-…`), which
    /// drift reports; declared empty, so the next update revokes them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmanaged_rules: Vec<String>,
}

impl DefaultSecurityGroup {
    pub fn new(vpc_id: impl Into<Input<String>>) -> Self {
        DefaultSecurityGroup {
            vpc_id: vpc_id.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for DefaultSecurityGroup {
    const TYPE: &'static str = "aws:ec2/DefaultSecurityGroup";
}

impl Resource<DefaultSecurityGroup> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
}

/// The id of the VPC's `default` group, once EC2 lists it.
async fn default_group(cx: &Call<'_, Ec2>, vpc: &str) -> Result<Option<String>, ProviderError> {
    let out = cx
        .send("DescribeSecurityGroups", |c| {
            c.describe_security_groups()
                .filters(filter("vpc-id", [vpc]))
                .filters(filter("group-name", ["default"]))
                .send()
        })
        .await?;
    Ok(out
        .security_groups()
        .first()
        .and_then(|g| g.group_id())
        .map(str::to_string))
}

/// Every rule of the group, as `describe_rule` writes it.
async fn all_rules(cx: &Call<'_, Ec2>, id: &str) -> Result<Vec<String>, ProviderError> {
    let mut v: Vec<String> = rules(cx, filter("group-id", [id]))
        .await?
        .iter()
        .map(describe_rule)
        .collect();
    v.sort();
    Ok(v)
}

#[async_trait]
impl AwsResource for DefaultSecurityGroup {
    type Service = Ec2;
    const SCHEMA: Schema = Schema {
        force_new: &["vpc_id"],
        terraform: &[Tf {
            resource: "aws_default_security_group",
            // No ingress or egress blocks: Terraform revokes every rule.
            args: &[("vpc_id", "vpc_id"), ("tags", "tags")],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        if let Some(r) = self.unmanaged_rules.first() {
            return Err(ProviderError::invalid(
                "unmanaged_rules",
                format!("{r:?}"),
                "is read only: the default group is kept empty",
            ));
        }
        check_id("vpc_id", &self.vpc_id, "vpc")
    }

    async fn create(&self, cx: &Call<'_, Ec2>) -> Result<String, ProviderError> {
        let vpc = self.vpc_id.require("vpc_id")?;
        // Made with the VPC, but a VPC moments old may not list it yet.
        Wait::new("the VPC's default security group", &[], &["listed"])
            .after_create()
            .until(cx.settings(), || async {
                Ok(match default_group(cx, vpc).await? {
                    Some(id) => Seen::State("listed".into(), id),
                    None => Seen::Gone,
                })
            })
            .await
    }

    async fn after_create(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        // The URN tag first, so a failure below still leaves it findable.
        Ec2::retag(cx, id, &cx.all_tags(&self.tags), &[]).await?;
        let (egress, ingress): (Vec<_>, Vec<_>) = rules(cx, filter("group-id", [id]))
            .await?
            .into_iter()
            .partition(|r| r.is_egress() == Some(true));
        let ids = |rs: Vec<aws_sdk_ec2::types::SecurityGroupRule>| {
            rs.into_iter()
                .filter_map(|r| r.security_group_rule_id)
                .collect::<Vec<_>>()
        };
        revoke_rules(cx, id, ids(ingress), ids(egress)).await
    }

    async fn read(
        cx: &Call<'_, Ec2>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(out) = cx
            .find("DescribeSecurityGroups", |c| {
                c.describe_security_groups().group_ids(id).send()
            })
            .await?
        else {
            return Ok(None);
        };
        let Some(g) = out.security_groups().first() else {
            return Ok(None);
        };
        Ok(Some(Live {
            args: DefaultSecurityGroup {
                vpc_id: Input::Value(g.vpc_id().unwrap_or_default().to_string()),
                tags: cx.own_tags(&from_tags(g.tags())),
                unmanaged_rules: all_rules(cx, id).await?,
            },
            outputs: group_outputs(cx, id, g).await,
        }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        // Rules recorded by a refresh and not declared (none are): revoked.
        let stray: Vec<&String> = old
            .unmanaged_rules
            .iter()
            .filter(|r| !self.unmanaged_rules.contains(r))
            .collect();
        revoke_stray(cx, id, &stray).await?;
        cx.update_tags(id, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        // EC2 refuses to delete a default group; it goes with its VPC. Ours
        // no more: the tags go (the URN tag too), the rules stay revoked.
        let keys: Vec<String> = cx.all_tags(&self.tags).into_keys().collect();
        Ec2::retag(cx, id, &Tags::new(), &keys).await
    }

    async fn find(&self, cx: &Call<'_, Ec2>) -> Result<Vec<String>, ProviderError> {
        let out = cx
            .send("DescribeSecurityGroups", |c| {
                c.describe_security_groups().filters(cx.urn_filter()).send()
            })
            .await?;
        Ok(out
            .security_groups()
            .iter()
            .filter(|g| g.group_name() == Some("default"))
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_field_and_value() {
        assert!(DefaultSecurityGroup::new("vpc-0123456789abcdef0")
            .check()
            .is_ok());
        let e = DefaultSecurityGroup::new("subnet-1")
            .check()
            .unwrap_err()
            .to_string();
        assert!(e.contains("vpc_id") && e.contains("subnet-1"), "{e}");
        let mut g = DefaultSecurityGroup::new("vpc-0123456789abcdef0");
        g.unmanaged_rules = vec!["sgr-1: ingress tcp 22-22 0.0.0.0/0".into()];
        let e = g.check().unwrap_err().to_string();
        assert!(e.contains("unmanaged_rules"), "{e}");
    }
}
