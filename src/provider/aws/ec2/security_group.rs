//! `aws:ec2/SecurityGroup` (Terraform `aws_security_group`, used in the
//! separate-rule style): the group is created with no inline rules; its rules
//! are `aws:ec2/SecurityGroupRule` resources. AWS gives every new group an
//! allow-all egress rule; it is kept unless `revoke_default_egress`.

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, ResourceType};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{filter, from_tags, Ec2};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::validate::check_id;
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

type Rule = aws_sdk_ec2::types::SecurityGroupRule;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityGroup {
    /// Group name, unique within the VPC; cannot start with `sg-`.
    pub name: String,
    pub description: String,
    pub vpc_id: Input<String>,
    /// Removes the allow-all egress rule AWS adds to every new group.
    pub revoke_default_egress: bool,
    pub tags: Tags,
    /// Read only: rules in the group that no morket resource made (no
    /// `morket:urn` tag; AWS's default egress aside), as `sgr-…: ingress tcp
    /// 22-22 0.0.0.0/0`. Drift reports them; declared empty, so the next
    /// update revokes them. Declare rules as `SecurityGroupRule`s.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmanaged_rules: Vec<String>,
}

impl Default for SecurityGroup {
    fn default() -> Self {
        SecurityGroup {
            name: String::new(),
            description: "Managed by morket-stack".into(),
            vpc_id: Input::default(),
            revoke_default_egress: false,
            tags: Tags::new(),
            unmanaged_rules: Vec::new(),
        }
    }
}

impl SecurityGroup {
    pub fn new(name: &str, vpc_id: impl Into<Input<String>>) -> Self {
        SecurityGroup {
            name: name.into(),
            vpc_id: vpc_id.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for SecurityGroup {
    const TYPE: &'static str = "aws:ec2/SecurityGroup";
}

impl Resource<SecurityGroup> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn owner_id(&self) -> Output<String> {
        self.output("owner_id")
    }
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    pub fn vpc_id(&self) -> Output<String> {
        self.output("vpc_id")
    }
}

/// Characters AWS allows in VPC security group names and descriptions (and
/// in rule descriptions).
pub(crate) fn check_sg_text(field: &str, v: &str, allow_empty: bool) -> Result<(), ProviderError> {
    let bad = |why: &str| ProviderError::invalid(field, format!("{v:?}"), why.to_string());
    if v.is_empty() && !allow_empty {
        return Err(bad("must not be empty"));
    }
    if v.len() > 255 {
        return Err(bad("at most 255 characters"));
    }
    if let Some(c) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(*c)))
    {
        return Err(bad(&format!(
            "character {c:?} is not allowed (a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{{}}!$*)"
        )));
    }
    Ok(())
}

fn is_allow_all_egress(r: &Rule) -> bool {
    r.is_egress() == Some(true)
        && r.ip_protocol() == Some("-1")
        && (r.cidr_ipv4() == Some("0.0.0.0/0") || r.cidr_ipv6() == Some("::/0"))
}

/// Every rule matching `f`, over all pages. A group not visible (or gone)
/// has none.
pub(crate) async fn rules(cx: &Call<'_, Ec2>, f: Filter) -> Result<Vec<Rule>, ProviderError> {
    let pages = cx
        .pages(
            "DescribeSecurityGroupRules",
            cx.client()
                .await
                .describe_security_group_rules()
                .filters(f)
                .into_paginator()
                .send(),
        )
        .await;
    match pages {
        Ok(pages) => Ok(pages
            .iter()
            .flat_map(|p| p.security_group_rules())
            .cloned()
            .collect()),
        Err(ProviderError::NotFound(_)) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The group's egress rules.
async fn egress(cx: &Call<'_, Ec2>, id: &str) -> Result<Vec<Rule>, ProviderError> {
    let all = rules(cx, filter("group-id", [id])).await?;
    Ok(all
        .into_iter()
        .filter(|r| r.is_egress() == Some(true))
        .collect())
}

/// `sgr-1: ingress tcp 22-22 0.0.0.0/0`: a rule as drift shows it.
pub(crate) fn describe_rule(r: &Rule) -> String {
    let dir = if r.is_egress() == Some(true) {
        "egress"
    } else {
        "ingress"
    };
    let peer = r
        .cidr_ipv4()
        .or(r.cidr_ipv6())
        .or(r.prefix_list_id())
        .or(r.referenced_group_info().and_then(|g| g.group_id()))
        .unwrap_or("?");
    format!(
        "{}: {dir} {} {}-{} {peer}",
        r.security_group_rule_id().unwrap_or_default(),
        r.ip_protocol().unwrap_or("-1"),
        r.from_port().unwrap_or(-1),
        r.to_port().unwrap_or(-1),
    )
}

/// Untagged rules of a group: whether AWS's default egress rule is gone,
/// and every other rule no morket resource made.
fn untagged(rules: &[Rule]) -> (bool, Vec<String>) {
    // AWS adds one allow-all egress rule per address family of the VPC.
    let (mut v4, mut v6) = (false, false);
    let mut unmanaged = Vec::new();
    for r in rules
        .iter()
        .filter(|r| !r.tags().iter().any(|t| t.key() == Some(tags::URN_TAG)))
    {
        if !v4 && is_allow_all_egress(r) && r.cidr_ipv4().is_some() {
            v4 = true;
        } else if !v6 && is_allow_all_egress(r) && r.cidr_ipv6().is_some() {
            v6 = true;
        } else {
            unmanaged.push(describe_rule(r));
        }
    }
    unmanaged.sort();
    (!v4 && !v6, unmanaged)
}

/// A described group as read, with its rules.
async fn live(
    cx: &Call<'_, Ec2>,
    id: &str,
    g: &aws_sdk_ec2::types::SecurityGroup,
    rules: &[Rule],
) -> Live<SecurityGroup> {
    let (revoked, unmanaged_rules) = untagged(rules);
    let args = SecurityGroup {
        name: g.group_name().unwrap_or_default().into(),
        description: g.description().unwrap_or_default().into(),
        vpc_id: g.vpc_id().unwrap_or_default().to_string().into(),
        revoke_default_egress: revoked,
        tags: cx.own_tags(&from_tags(g.tags())),
        unmanaged_rules,
    };
    Live {
        args,
        outputs: group_outputs(cx, id, g).await,
    }
}

/// A group's outputs (a default group's too): id, ARN, owner, name, VPC.
pub(crate) async fn group_outputs(
    cx: &Call<'_, Ec2>,
    id: &str,
    g: &aws_sdk_ec2::types::SecurityGroup,
) -> serde_json::Value {
    let owner = g.owner_id().unwrap_or_default();
    let arn = match g.security_group_arn() {
        Some(a) => a.to_string(),
        None => cx.arn("ec2", owner, &format!("security-group/{id}")).await,
    };
    json!({
        "id": id,
        "arn": arn,
        "owner_id": owner,
        "name": g.group_name(),
        "vpc_id": g.vpc_id(),
    })
}

/// The ids of the allow-all egress rules no morket resource made (the one
/// AWS adds to a new group).
async fn default_egress(cx: &Call<'_, Ec2>, id: &str) -> Result<Vec<String>, ProviderError> {
    Ok(egress(cx, id)
        .await?
        .iter()
        .filter(|r| {
            is_allow_all_egress(r) && !r.tags().iter().any(|t| t.key() == Some(tags::URN_TAG))
        })
        .filter_map(|r| r.security_group_rule_id().map(str::to_string))
        .collect())
}

async fn revoke(cx: &Call<'_, Ec2>, id: &str, rules: Vec<String>) -> Result<(), ProviderError> {
    if rules.is_empty() {
        return Ok(());
    }
    cx.send_retrying("RevokeSecurityGroupEgress", &[Retry::NEW_OBJECT], |c| {
        c.revoke_security_group_egress()
            .group_id(id)
            .set_security_group_rule_ids(Some(rules.clone()))
            .send()
    })
    .await
    .map(drop)
}

/// Revokes rules by their `describe_rule` text; a rule already gone is done.
pub(crate) async fn revoke_stray(
    cx: &Call<'_, Ec2>,
    id: &str,
    rules: &[&String],
) -> Result<(), ProviderError> {
    let pick = |dir: &str| -> Vec<String> {
        rules
            .iter()
            .filter_map(|r| r.split_once(": "))
            .filter(|(_, rest)| rest.starts_with(dir))
            .map(|(rule, _)| rule.to_string())
            .collect()
    };
    let live: Vec<String> = super::security_group::rules(cx, filter("group-id", [id]))
        .await?
        .iter()
        .filter_map(|r| r.security_group_rule_id().map(str::to_string))
        .collect();
    let (ingress, egress) = (pick("ingress"), pick("egress"));
    let ingress: Vec<String> = ingress.into_iter().filter(|r| live.contains(r)).collect();
    let egress: Vec<String> = egress.into_iter().filter(|r| live.contains(r)).collect();
    revoke_rules(cx, id, ingress, egress).await
}

/// Revokes the group's rules by id, ingress and egress.
pub(crate) async fn revoke_rules(
    cx: &Call<'_, Ec2>,
    id: &str,
    ingress: Vec<String>,
    egress: Vec<String>,
) -> Result<(), ProviderError> {
    if !ingress.is_empty() {
        cx.send("RevokeSecurityGroupIngress", |c| {
            c.revoke_security_group_ingress()
                .group_id(id)
                .set_security_group_rule_ids(Some(ingress.clone()))
                .send()
        })
        .await?;
    }
    revoke(cx, id, egress).await
}

/// Puts AWS's allow-all egress rule back, unless an allow-all rule is there.
async fn restore_default_egress(cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
    if egress(cx, id).await?.iter().any(is_allow_all_egress) {
        return Ok(());
    }
    let perm = IpPermission::builder()
        .ip_protocol("-1")
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build();
    cx.send("AuthorizeSecurityGroupEgress", |c| {
        c.authorize_security_group_egress()
            .group_id(id)
            .ip_permissions(perm.clone())
            .send()
    })
    .await
    .map(drop)
}

#[async_trait]
impl AwsResource for SecurityGroup {
    type Service = Ec2;
    const SCHEMA: Schema = Schema {
        force_new: &["name", "description", "vpc_id"],
        unique_name: &["name", "vpc_id"],
        terraform: &[Tf {
            resource: "aws_security_group",
            // Terraform always revokes the default egress rule; with
            // revoke_default_egress false the export needs an egress block.
            args: &[
                ("name", "name"),
                ("description", "description"),
                ("vpc_id", "vpc_id"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_sg_text("name", &self.name, false)?;
        if self.name.to_ascii_lowercase().starts_with("sg-") {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", self.name),
                "must not start with \"sg-\"",
            ));
        }
        if self.name.eq_ignore_ascii_case("default") {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", self.name),
                "\"default\" is reserved for the VPC's default group",
            ));
        }
        check_sg_text("description", &self.description, false)?;
        if let Some(r) = self.unmanaged_rules.first() {
            return Err(ProviderError::invalid(
                "unmanaged_rules",
                format!("{r:?}"),
                "is read only (rules made outside morket-stack); declare rules as aws:ec2/SecurityGroupRule",
            ));
        }
        check_id("vpc_id", &self.vpc_id, "vpc")
    }

    async fn create(&self, cx: &Call<'_, Ec2>) -> Result<String, ProviderError> {
        let vpc = self.vpc_id.require("vpc_id")?;
        // Sent once by the SDK: CreateSecurityGroup has no idempotency token
        // (a second send answers InvalidGroup.Duplicate), so the engine looks
        // the group up by its URN tag instead. A replacement keeping the name
        // deletes first (unique_name). A VPC made moments ago may not be
        // visible to this call yet.
        let out = cx
            .send_retrying("CreateSecurityGroup", &[Retry::NEW_OBJECT], |c| {
                c.create_security_group()
                    .group_name(&self.name)
                    .description(&self.description)
                    .vpc_id(vpc)
                    .tag_specifications(cx.tag_spec(ResourceType::SecurityGroup, &self.tags))
                    .customize()
                    .config_override(super::once())
                    .send()
            })
            .await?;
        out.group_id()
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("CreateSecurityGroup returned no group id"))
    }

    async fn after_create(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        if !self.revoke_default_egress {
            return Ok(());
        }
        // The default rule may not be listed just after the create: wait for
        // it rather than keep allow-all egress silently.
        let rules = Wait::new("the group's default egress rule", &[], &["listed"])
            .after_create()
            .until(cx.settings(), || async {
                let rules = default_egress(cx, id).await?;
                Ok(if rules.is_empty() {
                    Seen::Gone
                } else {
                    Seen::State("listed".into(), rules)
                })
            })
            .await?;
        revoke(cx, id, rules).await
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
        match out.security_groups().first() {
            Some(g) => {
                let rules = rules(cx, filter("group-id", [id])).await?;
                Ok(Some(live(cx, id, g, &rules).await))
            }
            None => Ok(None),
        }
    }

    // One DescribeSecurityGroups and one DescribeSecurityGroupRules per 200
    // ids (`Call::describe_many`).
    async fn read_many(
        cx: &Call<'_, Ec2>,
        items: &[(String, Self)],
    ) -> Result<Vec<Option<Live<Self>>>, ProviderError> {
        let found = cx
            .describe_many(
                "DescribeSecurityGroups",
                items.iter().map(|(id, _)| id.as_str()),
                |c, ids| {
                    c.describe_security_groups()
                        .filters(filter("group-id", ids))
                        .into_paginator()
                        .send()
                },
                |page| {
                    page.security_groups()
                        .iter()
                        .filter_map(|g| Some((g.group_id()?.to_string(), g.clone())))
                        .collect()
                },
            )
            .await?;
        let ids: Vec<String> = found.keys().cloned().collect();
        let mut by_group: std::collections::HashMap<String, Vec<Rule>> = Default::default();
        for chunk in ids.chunks(200) {
            for r in rules(cx, filter("group-id", chunk.to_vec())).await? {
                let g = r.group_id().unwrap_or_default().to_string();
                by_group.entry(g).or_default().push(r);
            }
        }
        let mut out = Vec::with_capacity(items.len());
        for (id, _) in items {
            out.push(match found.get(id) {
                Some(g) => {
                    let rules = by_group.get(id).map(Vec::as_slice).unwrap_or_default();
                    Some(live(cx, id, g, rules).await)
                }
                None => None,
            });
        }
        Ok(out)
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        match (old.revoke_default_egress, self.revoke_default_egress) {
            (false, true) => revoke(cx, id, default_egress(cx, id).await?).await?,
            (true, false) => restore_default_egress(cx, id).await?,
            _ => {}
        }
        // Rules made outside morket (recorded by a refresh): revoked.
        let stray: Vec<&String> = old
            .unmanaged_rules
            .iter()
            .filter(|r| !self.unmanaged_rules.contains(r))
            .collect();
        revoke_stray(cx, id, &stray).await?;
        cx.update_tags(id, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        // Network interfaces of deleted load balancers, tasks and data stores
        // keep the group in use for minutes (Terraform retries 15 minutes).
        cx.send_retrying(
            "DeleteSecurityGroup",
            &[Retry::dependency(cx.settings())],
            |c| c.delete_security_group().group_id(id).send(),
        )
        .await
        .map(drop)
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
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_field_and_value() {
        SecurityGroup::new("alb", "vpc-1").check().unwrap();
        SecurityGroup::new("alb", Input::Unknown).check().unwrap();
        let mut cafe = SecurityGroup::new("a", "vpc-1");
        cafe.description = "caf\u{e9}".into();
        for (field, value, g) in [
            ("name", "sg-x", SecurityGroup::new("sg-x", "vpc-1")),
            ("name", "default", SecurityGroup::new("default", "vpc-1")),
            ("description", "caf\u{e9}", cafe),
            ("vpc_id", "subnet-1", SecurityGroup::new("a", "subnet-1")),
        ] {
            let e = g.check().unwrap_err().to_string();
            assert!(e.contains(field) && e.contains(value), "{e}");
        }
        let e = crate::provider::parse::<SecurityGroup>(
            &json!({"name": "a", "vpc_id": "vpc-1", "ingress": []}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("ingress"), "{e}");
    }
}
