//! `aws:ec2/SecurityGroupRule` (Terraform `aws_security_group_rule`): one
//! ingress or egress permission of a security group. Every field but
//! `description` and `tags` forces a replacement. One resource with several
//! `cidr_blocks` is several AWS rules; its id is their `sgr-` ids joined by `,`.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, UserIdGroupPair,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::security_group::{check_sg_text, rules};
use super::{filter, from_tags, Ec2};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Failure, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::{check_cidr, check_id, in_range, one_of};
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::ProviderError;

type AwsRule = aws_sdk_ec2::types::SecurityGroupRule;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityGroupRule {
    pub security_group_id: Input<String>,
    /// `ingress` or `egress`.
    #[serde(rename = "type")]
    pub rule_type: String,
    /// `tcp`, `udp`, `icmp`, `icmpv6` or `-1` (all).
    pub protocol: String,
    /// Port range start (ICMP: the type, -1 for all).
    pub from_port: i32,
    /// Port range end (ICMP: the code, -1 for all).
    pub to_port: i32,
    // Exactly one of the four sources (destinations for egress).
    pub cidr_blocks: Vec<String>,
    pub ipv6_cidr_blocks: Vec<String>,
    pub source_security_group_id: Option<Input<String>>,
    pub prefix_list_ids: Vec<Input<String>>,
    pub description: Option<String>,
    pub tags: Tags,
}

impl SecurityGroupRule {
    /// A rule with no source yet; set one of `cidr_blocks`,
    /// `ipv6_cidr_blocks`, `source_security_group_id`, `prefix_list_ids`.
    pub fn new(
        rule_type: &str,
        security_group_id: impl Into<Input<String>>,
        protocol: &str,
        from_port: i32,
        to_port: i32,
    ) -> Self {
        SecurityGroupRule {
            security_group_id: security_group_id.into(),
            rule_type: rule_type.into(),
            protocol: protocol.into(),
            from_port,
            to_port,
            ..Default::default()
        }
    }

    pub fn ingress(
        security_group_id: impl Into<Input<String>>,
        protocol: &str,
        from_port: i32,
        to_port: i32,
    ) -> Self {
        Self::new("ingress", security_group_id, protocol, from_port, to_port)
    }

    pub fn egress(
        security_group_id: impl Into<Input<String>>,
        protocol: &str,
        from_port: i32,
        to_port: i32,
    ) -> Self {
        Self::new("egress", security_group_id, protocol, from_port, to_port)
    }

    pub fn with_cidr_blocks(mut self, cidrs: &[&str]) -> Self {
        self.cidr_blocks = cidrs.iter().map(|c| c.to_string()).collect();
        self
    }

    pub fn with_source_security_group_id(mut self, id: impl Into<Input<String>>) -> Self {
        self.source_security_group_id = Some(id.into());
        self
    }

    pub fn with_description(mut self, d: &str) -> Self {
        self.description = Some(d.into());
        self
    }

    fn is_egress(&self) -> bool {
        self.rule_type == "egress"
    }

    /// The rule as one `IpPermission` (one entry per source), with its description.
    fn permission(&self) -> Result<IpPermission, ProviderError> {
        let d = || self.description.clone();
        let mut p = IpPermission::builder().ip_protocol(&self.protocol);
        if self.protocol != "-1" {
            p = p.from_port(self.from_port).to_port(self.to_port);
        }
        let v4 = self
            .cidr_blocks
            .iter()
            .map(|c| IpRange::builder().cidr_ip(c).set_description(d()).build());
        let v6 = self.ipv6_cidr_blocks.iter().map(|c| {
            Ipv6Range::builder()
                .cidr_ipv6(c)
                .set_description(d())
                .build()
        });
        let groups = self
            .source_security_group_id
            .iter()
            .map(|s| {
                Ok(UserIdGroupPair::builder()
                    .group_id(s.require("source_security_group_id")?)
                    .set_description(d())
                    .build())
            })
            .collect::<Result<Vec<_>, ProviderError>>()?;
        let lists = self
            .prefix_list_ids
            .iter()
            .map(|pl| {
                Ok(PrefixListId::builder()
                    .prefix_list_id(pl.require("prefix_list_ids")?)
                    .set_description(d())
                    .build())
            })
            .collect::<Result<Vec<_>, ProviderError>>()?;
        Ok(p.set_ip_ranges(Some(v4.collect()))
            .set_ipv6_ranges(Some(v6.collect()))
            .set_user_id_group_pairs(Some(groups))
            .set_prefix_list_ids(Some(lists))
            .build())
    }

    /// The live AWS rules among `id`'s rule ids, in the id's order.
    async fn live(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<Vec<AwsRule>, ProviderError> {
        let group = self.security_group_id.require("security_group_id")?;
        let all = rules(cx, filter("group-id", [group])).await?;
        Ok(rule_ids(id)
            .filter_map(|i| {
                all.iter()
                    .find(|r| r.security_group_rule_id() == Some(i))
                    .cloned()
            })
            .collect())
    }
}

impl ResourceArgs for SecurityGroupRule {
    const TYPE: &'static str = "aws:ec2/SecurityGroupRule";
}

impl Resource<SecurityGroupRule> {
    pub fn security_group_id(&self) -> Output<String> {
        self.output("security_group_id")
    }
    /// The `sgr-` ids, one per source CIDR.
    pub fn security_group_rule_ids(&self) -> Output<Vec<String>> {
        self.output("security_group_rule_ids")
    }
}

/// Parses `addr/n` as an IPv6 network address.
pub fn check_ipv6_cidr(field: &str, cidr: &str) -> Result<(), ProviderError> {
    let bad = |why: &str| ProviderError::invalid(field, format!("{cidr:?}"), why.to_string());
    let (addr, len) = cidr
        .split_once('/')
        .ok_or_else(|| bad("expected an IPv6 CIDR like 2001:db8::/64"))?;
    let addr: Ipv6Addr = addr.parse().map_err(|_| bad("not an IPv6 address"))?;
    let len: u32 = len
        .parse()
        .map_err(|_| bad("prefix length is not a number"))?;
    in_range(field, len, 0..=128)?;
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    if u128::from(addr) & !mask != 0 {
        return Err(bad("host bits are set; use the network address"));
    }
    Ok(())
}

/// Each entry of a list passes `check` and is listed once.
fn check_list<T: PartialEq + std::fmt::Debug>(
    field: &str,
    list: &[T],
    check: impl Fn(&str, &T) -> Result<(), ProviderError>,
) -> Result<(), ProviderError> {
    list.iter().enumerate().try_for_each(|(i, v)| {
        let f = format!("{field}[{i}]");
        check(&f, v)?;
        if list[..i].contains(v) {
            return Err(ProviderError::invalid(&f, format!("{v:?}"), "listed twice"));
        }
        Ok(())
    })
}

fn normalize_protocol(p: &str) -> String {
    match p {
        "6" => "tcp",
        "17" => "udp",
        "1" => "icmp",
        "58" => "icmpv6",
        "all" => "-1",
        other => other,
    }
    .to_string()
}

fn rule_ids(id: &str) -> impl Iterator<Item = &str> {
    id.split(',').filter(|s| !s.is_empty())
}

/// The message for a rule AWS already has, with what to do about it.
fn duplicate(cx: &Call<'_, Ec2>, f: Failure) -> ProviderError {
    match f.code.as_str() {
        "InvalidPermission.Duplicate" => cx.fatal(format!(
            "{}; a replacement that keeps some of the old rule's sources needs \
             delete_before_replace",
            f.error
        )),
        _ => f.error,
    }
}

#[async_trait]
impl AwsResource for SecurityGroupRule {
    type Service = Ec2;
    const SCHEMA: Schema = Schema {
        force_new: &[
            "security_group_id",
            "type",
            "protocol",
            "from_port",
            "to_port",
            "cidr_blocks",
            "ipv6_cidr_blocks",
            "source_security_group_id",
            "prefix_list_ids",
        ],
        // AWS lists rules in its own order.
        normalize: &[
            ("cidr_blocks", Norm::Set),
            ("ipv6_cidr_blocks", Norm::Set),
            ("prefix_list_ids", Norm::Set),
        ],
        terraform: &[Tf {
            resource: "aws_security_group_rule",
            // aws_security_group_rule has no tags.
            args: &[
                ("security_group_id", "security_group_id"),
                ("type", "type"),
                ("protocol", "protocol"),
                ("from_port", "from_port"),
                ("to_port", "to_port"),
                ("cidr_blocks", "cidr_blocks"),
                ("ipv6_cidr_blocks", "ipv6_cidr_blocks"),
                ("source_security_group_id", "source_security_group_id"),
                ("prefix_list_ids", "prefix_list_ids"),
                ("description", "description"),
            ],
            // The sources after the ports, `_`-joined: CIDRs, IPv6 CIDRs,
            // source group, prefix lists.
            import_id: "{security_group_id}_{type}_{protocol}_{from_port}_{to_port}_{cidr_blocks+ipv6_cidr_blocks+source_security_group_id+prefix_list_ids}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        one_of("type", &self.rule_type, &["ingress", "egress"])?;
        check_id("security_group_id", &self.security_group_id, "sg")?;
        let (from, to) = (self.from_port, self.to_port);
        match self.protocol.as_str() {
            "tcp" | "udp" => {
                in_range("from_port", from, 0..=65535)?;
                in_range("to_port", to, 0..=65535)?;
                in_range("from_port", from, 0..=to)?;
            }
            // The ICMP type and code.
            "icmp" | "icmpv6" => {
                in_range("from_port", from, -1..=255)?;
                in_range("to_port", to, -1..=255)?;
            }
            protocol => {
                one_of(
                    "protocol",
                    protocol,
                    &["tcp", "udp", "icmp", "icmpv6", "-1"],
                )?;
                // Protocol -1 covers every port.
                one_of("from_port", &format!("{from}..{to}"), &["0..0", "-1..-1"])?;
            }
        }
        let sources: Vec<(&str, String)> = [
            (
                "cidr_blocks",
                (!self.cidr_blocks.is_empty()).then(|| format!("{:?}", self.cidr_blocks)),
            ),
            (
                "ipv6_cidr_blocks",
                (!self.ipv6_cidr_blocks.is_empty()).then(|| format!("{:?}", self.ipv6_cidr_blocks)),
            ),
            (
                "source_security_group_id",
                self.source_security_group_id
                    .as_ref()
                    .map(|s| format!("{:?}", s.known().map_or("(unknown)", String::as_str))),
            ),
            (
                "prefix_list_ids",
                (!self.prefix_list_ids.is_empty())
                    .then(|| format!("{} id(s)", self.prefix_list_ids.len())),
            ),
        ]
        .into_iter()
        .filter_map(|(f, v)| v.map(|v| (f, v)))
        .collect();
        match sources.len() {
            1 => {}
            0 => {
                return Err(ProviderError::invalid(
                    "cidr_blocks",
                    "[]",
                    "exactly one of cidr_blocks, ipv6_cidr_blocks, source_security_group_id, \
                     prefix_list_ids is required",
                ))
            }
            _ => {
                let fields: Vec<&str> = sources.iter().map(|(f, _)| *f).collect();
                let values: Vec<&str> = sources.iter().map(|(_, v)| v.as_str()).collect();
                return Err(ProviderError::invalid(
                    &fields.join(" + "),
                    values.join(" + "),
                    "a rule has exactly one source: give only one of cidr_blocks, \
                     ipv6_cidr_blocks, source_security_group_id, prefix_list_ids",
                ));
            }
        }
        check_list("cidr_blocks", &self.cidr_blocks, |f, c| {
            check_cidr(f, c, 0..=32).map(drop)
        })?;
        check_list("ipv6_cidr_blocks", &self.ipv6_cidr_blocks, |f, c| {
            check_ipv6_cidr(f, c)
        })?;
        if let Some(s) = &self.source_security_group_id {
            check_id("source_security_group_id", s, "sg")?;
        }
        check_list("prefix_list_ids", &self.prefix_list_ids, |f, p| {
            check_id(f, p, "pl")
        })?;
        match &self.description {
            Some(d) => check_sg_text("description", d, true),
            None => Ok(()),
        }
    }

    async fn create(&self, cx: &Call<'_, Ec2>) -> Result<String, ProviderError> {
        let group = self.security_group_id.require("security_group_id")?;
        let perm = self.permission()?;
        let spec = cx.tag_spec(ResourceType::SecurityGroupRule, &self.tags);
        // A group (or source group) made moments ago may not be visible yet.
        let retry = [Retry::NEW_OBJECT];
        let created = if self.is_egress() {
            cx.try_send_retrying("AuthorizeSecurityGroupEgress", &retry, |c| {
                c.authorize_security_group_egress()
                    .group_id(group)
                    .ip_permissions(perm.clone())
                    .tag_specifications(spec.clone())
                    .send()
            })
            .await
            .map(|o| o.security_group_rules().to_vec())
        } else {
            cx.try_send_retrying("AuthorizeSecurityGroupIngress", &retry, |c| {
                c.authorize_security_group_ingress()
                    .group_id(group)
                    .ip_permissions(perm.clone())
                    .tag_specifications(spec.clone())
                    .send()
            })
            .await
            .map(|o| o.security_group_rules().to_vec())
        }
        .map_err(|e| duplicate(cx, e))?;
        let ids: Vec<&str> = created
            .iter()
            .filter_map(|r| r.security_group_rule_id())
            .collect();
        if ids.is_empty() {
            return Err(cx.fatal("the authorize call returned no security group rule ids"));
        }
        Ok(ids.join(","))
    }

    async fn read(
        cx: &Call<'_, Ec2>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let found = declared.live(cx, id).await?;
        live(cx, id, declared, &found)
    }

    // One DescribeSecurityGroupRules per 200 rule ids and page (a
    // `security-group-rule-id` filter over every item's rules); a rule
    // counts only in the declared group, as `read`'s `group-id` filter has it.
    async fn read_many(
        cx: &Call<'_, Ec2>,
        items: &[(String, Self)],
    ) -> Result<Vec<Option<Live<Self>>>, ProviderError> {
        for (_, declared) in items {
            declared.security_group_id.require("security_group_id")?;
        }
        let mut ids: Vec<&str> = items.iter().flat_map(|(id, _)| rule_ids(id)).collect();
        ids.sort_unstable();
        ids.dedup();
        let found = cx
            .describe_many(
                "DescribeSecurityGroupRules",
                ids.into_iter(),
                |c, ids| {
                    c.describe_security_group_rules()
                        .filters(filter("security-group-rule-id", ids))
                        .into_paginator()
                        .send()
                },
                |page| {
                    page.security_group_rules()
                        .iter()
                        .filter_map(|r| Some((r.security_group_rule_id()?.to_string(), r.clone())))
                        .collect()
                },
            )
            .await?;
        items
            .iter()
            .map(|(id, declared)| {
                let group = declared.security_group_id.require("security_group_id")?;
                let rules: Vec<AwsRule> = rule_ids(id)
                    .filter_map(|i| found.get(i))
                    .filter(|r| r.group_id() == Some(group.as_str()))
                    .cloned()
                    .collect();
                live(cx, id, declared, &rules)
            })
            .collect()
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        if old.description != self.description {
            // The IpPermissions form (what Terraform sends): it names the rule
            // by its fields, and an omitted description removes it.
            let group = self.security_group_id.require("security_group_id")?;
            let perm = self.permission()?;
            if self.is_egress() {
                cx.send("UpdateSecurityGroupRuleDescriptionsEgress", |c| {
                    c.update_security_group_rule_descriptions_egress()
                        .group_id(group)
                        .ip_permissions(perm.clone())
                        .send()
                })
                .await?;
            } else {
                cx.send("UpdateSecurityGroupRuleDescriptionsIngress", |c| {
                    c.update_security_group_rule_descriptions_ingress()
                        .group_id(group)
                        .ip_permissions(perm.clone())
                        .send()
                })
                .await?;
            }
        }
        for rule in rule_ids(id) {
            cx.update_tags(rule, &old.tags, &self.tags).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        // Only the rules still there: one gone id would fail the whole call.
        let ids: Vec<String> = self
            .live(cx, id)
            .await?
            .iter()
            .filter_map(|r| r.security_group_rule_id().map(str::to_string))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let group = self.security_group_id.require("security_group_id")?;
        if self.is_egress() {
            cx.send("RevokeSecurityGroupEgress", |c| {
                c.revoke_security_group_egress()
                    .group_id(group)
                    .set_security_group_rule_ids(Some(ids.clone()))
                    .send()
            })
            .await
            .map(drop)
        } else {
            cx.send("RevokeSecurityGroupIngress", |c| {
                c.revoke_security_group_ingress()
                    .group_id(group)
                    .set_security_group_rule_ids(Some(ids.clone()))
                    .send()
            })
            .await
            .map(drop)
        }
    }

    async fn find(&self, cx: &Call<'_, Ec2>) -> Result<Vec<String>, ProviderError> {
        // One Authorize call made every rule of one resource: they share the
        // group, direction, protocol and ports.
        type Key = (String, bool, String, i32, i32);
        let mut by_call: BTreeMap<Key, Vec<String>> = BTreeMap::new();
        for r in rules(cx, cx.urn_filter()).await? {
            let key = (
                r.group_id().unwrap_or_default().to_string(),
                r.is_egress() == Some(true),
                r.ip_protocol().unwrap_or_default().to_string(),
                r.from_port().unwrap_or(-1),
                r.to_port().unwrap_or(-1),
            );
            if let Some(id) = r.security_group_rule_id() {
                by_call.entry(key).or_default().push(id.to_string());
            }
        }
        Ok(by_call.into_values().map(|ids| ids.join(",")).collect())
    }
}

/// The resource `id` as read from its live AWS rules `found` (in the id's
/// order); `None` when none is left.
fn live(
    cx: &Call<'_, Ec2>,
    id: &str,
    declared: &SecurityGroupRule,
    found: &[AwsRule],
) -> Result<Option<Live<SecurityGroupRule>>, ProviderError> {
    let Some(first) = found.first() else {
        return Ok(None);
    };
    let group = declared.security_group_id.require("security_group_id")?;
    let protocol = normalize_protocol(first.ip_protocol().unwrap_or("-1"));
    let (from_port, to_port) = if protocol == "-1" {
        // AWS ignores (and reports -1 for) the ports of an all-protocol rule.
        Some((declared.from_port, declared.to_port))
            .filter(|_| declared.protocol == "-1")
            .unwrap_or((-1, -1))
    } else {
        (
            first.from_port().unwrap_or(-1),
            first.to_port().unwrap_or(-1),
        )
    };
    let each = |f: fn(&AwsRule) -> Option<&str>| -> Vec<String> {
        found.iter().filter_map(f).map(str::to_string).collect()
    };
    let args = SecurityGroupRule {
        security_group_id: first.group_id().unwrap_or(group).to_string().into(),
        rule_type: if first.is_egress() == Some(true) {
            "egress"
        } else {
            "ingress"
        }
        .into(),
        protocol,
        from_port,
        to_port,
        cidr_blocks: each(AwsRule::cidr_ipv4),
        ipv6_cidr_blocks: each(AwsRule::cidr_ipv6),
        source_security_group_id: found
            .iter()
            .find_map(|r| r.referenced_group_info()?.group_id())
            .map(|g| g.to_string().into()),
        prefix_list_ids: each(AwsRule::prefix_list_id)
            .into_iter()
            .map(Input::from)
            .collect(),
        description: first
            .description()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        tags: cx.own_tags(&from_tags(first.tags())),
    };
    // The resource keeps its id while some of its rules live on.
    let outputs = json!({
        "id": id,
        "security_group_id": group,
        "security_group_rule_ids": each(AwsRule::security_group_rule_id),
    });
    Ok(Some(Live { args, outputs }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn err(inputs: Value) -> String {
        serde_json::from_value::<SecurityGroupRule>(inputs)
            .unwrap()
            .check()
            .unwrap_err()
            .to_string()
    }

    fn ok(inputs: Value) {
        serde_json::from_value::<SecurityGroupRule>(inputs)
            .unwrap()
            .check()
            .unwrap()
    }

    fn base() -> Value {
        json!({"security_group_id": "sg-1", "type": "ingress", "protocol": "tcp",
               "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"]})
    }

    fn with(k: &str, v: Value) -> Value {
        let mut b = base();
        b[k] = v;
        b
    }

    #[test]
    fn validation_names_field_and_value() {
        ok(base());
        let e = err(with("from_port", json!(70000)));
        assert!(e.contains("from_port") && e.contains("70000"), "{e}");
        let e = err(with("from_port", json!(444)));
        assert!(e.contains("from_port") && e.contains("444"), "{e}");
        let e = err(with("protocol", json!("sctp")));
        assert!(e.contains("protocol") && e.contains("sctp"), "{e}");
        let e = err(with("type", json!("inbound")));
        assert!(e.contains("type") && e.contains("inbound"), "{e}");
        let mut all = with("protocol", json!("-1"));
        all["from_port"] = json!(0);
        all["to_port"] = json!(0);
        ok(all.clone());
        all["to_port"] = json!(65535);
        let e = err(all);
        assert!(e.contains("from_port") && e.contains("0..65535"), "{e}");
        let e = err(with("cidr_blocks", json!(["10.0.0.1/8"])));
        assert!(
            e.contains("cidr_blocks[0]") && e.contains("10.0.0.1/8"),
            "{e}"
        );
        let e = err(with("cidr_blocks", json!(["10.0.0.0/8", "10.0.0.0/8"])));
        assert!(e.contains("cidr_blocks[1]") && e.contains("twice"), "{e}");
        let e = err(with("cidr_blocks", json!([])));
        assert!(
            e.contains("cidr_blocks") && e.contains("exactly one"),
            "{e}"
        );
        let e = err(with("source_security_group_id", json!("sg-2")));
        assert!(
            e.contains("cidr_blocks + source_security_group_id") && e.contains("sg-2"),
            "{e}"
        );
        let mut v6 = with("cidr_blocks", json!([]));
        v6["ipv6_cidr_blocks"] = json!(["2001:db8::/64"]);
        ok(v6.clone());
        v6["ipv6_cidr_blocks"] = json!(["2001:db8::1/64"]);
        let e = err(v6);
        assert!(e.contains("ipv6_cidr_blocks[0]"), "{e}");
        let mut src = with("cidr_blocks", json!([]));
        src["source_security_group_id"] = crate::value::unknown();
        ok(src);
        let mut pl = with("cidr_blocks", json!([]));
        pl["prefix_list_ids"] = json!(["vpc-1"]);
        let e = err(pl);
        assert!(
            e.contains("prefix_list_ids[0]") && e.contains("vpc-1"),
            "{e}"
        );
        // Required fields have no silent default.
        let e = err(json!({"security_group_id": "sg-1", "cidr_blocks": ["0.0.0.0/0"]}));
        assert!(e.contains("type"), "{e}");
    }

    #[test]
    fn the_permission_carries_every_source_and_the_description() {
        let r = SecurityGroupRule::ingress("sg-1", "tcp", 443, 443)
            .with_cidr_blocks(&["10.0.0.0/8", "192.168.0.0/16"])
            .with_description("https");
        let p = r.permission().unwrap();
        assert_eq!((p.from_port(), p.to_port()), (Some(443), Some(443)));
        assert_eq!(p.ip_ranges().len(), 2);
        assert!(p
            .ip_ranges()
            .iter()
            .all(|r| r.description() == Some("https")));
        let all = SecurityGroupRule::egress("sg-1", "-1", 0, 0)
            .with_source_security_group_id("sg-2")
            .permission()
            .unwrap();
        assert_eq!(all.from_port(), None, "no ports for protocol -1");
        assert_eq!(all.user_id_group_pairs()[0].group_id(), Some("sg-2"));
        let unknown = SecurityGroupRule::ingress("sg-1", "tcp", 1, 1)
            .with_source_security_group_id(Input::Unknown)
            .permission();
        assert!(unknown.is_err());
    }
}
