//! `aws:ec2/SecurityGroupRule` (Terraform `aws_security_group_rule`): one
//! ingress or egress permission of a security group. Every field but
//! `description` and `tags` forces a replacement. One resource with several
//! `cidr_blocks` is several AWS rules; its id is their `sgr-` ids joined by `,`.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, UserIdGroupPair,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::security_group::check_sg_text;
use super::{from_tags, tag_spec, update_tags, urn_filter};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::validate::check_cidr;
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    #[serde(default)]
    pub cidr_blocks: Vec<String>,
    #[serde(default)]
    pub ipv6_cidr_blocks: Vec<String>,
    #[serde(default)]
    pub source_security_group_id: Option<Input<String>>,
    #[serde(default)]
    pub prefix_list_ids: Vec<Input<String>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
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
            cidr_blocks: Vec::new(),
            ipv6_cidr_blocks: Vec::new(),
            source_security_group_id: None,
            prefix_list_ids: Vec::new(),
            description: None,
            tags: Tags::new(),
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
    if len > 128 {
        return Err(bad("prefix length must be at most /128"));
    }
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

fn check_prefixed(field: &str, v: &Input<String>, prefix: &str) -> Result<(), ProviderError> {
    match v.known() {
        Some(s) if !s.starts_with(prefix) => Err(ProviderError::invalid(
            field,
            format!("{s:?}"),
            format!("expected an id starting with {prefix:?}"),
        )),
        _ => Ok(()),
    }
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

fn check(r: &SecurityGroupRule) -> Result<(), ProviderError> {
    if !matches!(r.rule_type.as_str(), "ingress" | "egress") {
        return Err(ProviderError::invalid(
            "type",
            format!("{:?}", r.rule_type),
            "must be \"ingress\" or \"egress\"",
        ));
    }
    check_prefixed("security_group_id", &r.security_group_id, "sg-")?;
    let (from, to) = (r.from_port, r.to_port);
    match r.protocol.as_str() {
        "tcp" | "udp" => {
            for (field, p) in [("from_port", from), ("to_port", to)] {
                if !(0..=65535).contains(&p) {
                    return Err(ProviderError::invalid(
                        field,
                        p,
                        "ports are between 0 and 65535",
                    ));
                }
            }
            if from > to {
                return Err(ProviderError::invalid(
                    "from_port",
                    from,
                    format!("must not be greater than to_port ({to})"),
                ));
            }
        }
        "icmp" | "icmpv6" => {
            for (field, p) in [("from_port", from), ("to_port", to)] {
                if !(-1..=255).contains(&p) {
                    return Err(ProviderError::invalid(
                        field,
                        p,
                        "ICMP type (from_port) and code (to_port) are between -1 and 255",
                    ));
                }
            }
        }
        "-1" => {
            if !matches!((from, to), (0, 0) | (-1, -1)) {
                return Err(ProviderError::invalid(
                    "from_port",
                    format!("{from}..{to}"),
                    "protocol \"-1\" covers every port: from_port and to_port must be 0 (or -1)",
                ));
            }
        }
        other => {
            return Err(ProviderError::invalid(
                "protocol",
                format!("{other:?}"),
                "must be \"tcp\", \"udp\", \"icmp\", \"icmpv6\" or \"-1\"",
            ))
        }
    }
    let sources: Vec<(&str, String)> = [
        (
            "cidr_blocks",
            (!r.cidr_blocks.is_empty()).then(|| format!("{:?}", r.cidr_blocks)),
        ),
        (
            "ipv6_cidr_blocks",
            (!r.ipv6_cidr_blocks.is_empty()).then(|| format!("{:?}", r.ipv6_cidr_blocks)),
        ),
        (
            "source_security_group_id",
            r.source_security_group_id
                .as_ref()
                .map(|s| format!("{:?}", s.known().map(String::as_str).unwrap_or("(unknown)"))),
        ),
        (
            "prefix_list_ids",
            (!r.prefix_list_ids.is_empty()).then(|| format!("{} id(s)", r.prefix_list_ids.len())),
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
    for (i, c) in r.cidr_blocks.iter().enumerate() {
        check_cidr(&format!("cidr_blocks[{i}]"), c, 0..=32)?;
        if r.cidr_blocks[..i].contains(c) {
            return Err(ProviderError::invalid(
                &format!("cidr_blocks[{i}]"),
                format!("{c:?}"),
                "listed twice",
            ));
        }
    }
    for (i, c) in r.ipv6_cidr_blocks.iter().enumerate() {
        check_ipv6_cidr(&format!("ipv6_cidr_blocks[{i}]"), c)?;
        if r.ipv6_cidr_blocks[..i].contains(c) {
            return Err(ProviderError::invalid(
                &format!("ipv6_cidr_blocks[{i}]"),
                format!("{c:?}"),
                "listed twice",
            ));
        }
    }
    if let Some(s) = &r.source_security_group_id {
        check_prefixed("source_security_group_id", s, "sg-")?;
    }
    for (i, p) in r.prefix_list_ids.iter().enumerate() {
        check_prefixed(&format!("prefix_list_ids[{i}]"), p, "pl-")?;
    }
    if let Some(d) = &r.description {
        check_sg_text("description", d, true)?;
    }
    tags::validate(&r.tags)
}

fn known<'a>(ctx: &Ctx, field: &str, v: &'a Input<String>) -> Result<&'a str, ProviderError> {
    v.known()
        .map(String::as_str)
        .ok_or_else(|| ProviderError::Fatal(format!("{}: {field} is not known", ctx.urn)))
}

/// The rule as one `IpPermission` (one entry per source), with `description`.
fn permission(
    ctx: &Ctx,
    r: &SecurityGroupRule,
    description: Option<&str>,
) -> Result<IpPermission, ProviderError> {
    let mut p = IpPermission::builder().ip_protocol(&r.protocol);
    if r.protocol != "-1" {
        p = p.from_port(r.from_port).to_port(r.to_port);
    }
    for c in &r.cidr_blocks {
        p = p.ip_ranges(
            IpRange::builder()
                .cidr_ip(c)
                .set_description(description.map(str::to_string))
                .build(),
        );
    }
    for c in &r.ipv6_cidr_blocks {
        p = p.ipv6_ranges(
            Ipv6Range::builder()
                .cidr_ipv6(c)
                .set_description(description.map(str::to_string))
                .build(),
        );
    }
    if let Some(s) = &r.source_security_group_id {
        p = p.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(known(ctx, "source_security_group_id", s)?)
                .set_description(description.map(str::to_string))
                .build(),
        );
    }
    for pl in &r.prefix_list_ids {
        p = p.prefix_list_ids(
            PrefixListId::builder()
                .prefix_list_id(known(ctx, "prefix_list_ids", pl)?)
                .set_description(description.map(str::to_string))
                .build(),
        );
    }
    Ok(p.build())
}

fn rule_ids(id: &str) -> Vec<&str> {
    id.split(',').filter(|s| !s.is_empty()).collect()
}

fn outputs(group_id: &str, ids: &[String]) -> Value {
    json!({
        "id": ids.join(","),
        "security_group_id": group_id,
        "security_group_rule_ids": ids,
    })
}

/// Keeps `live` in the declared order where the entries match (AWS lists
/// rules in its own order).
fn in_declared_order<T: PartialEq + Clone>(live: Vec<T>, declared: &[T]) -> Vec<T> {
    let mut out: Vec<T> = declared
        .iter()
        .filter(|d| live.contains(d))
        .cloned()
        .collect();
    out.extend(live.into_iter().filter(|l| !declared.contains(l)));
    out
}

pub struct SecurityGroupRuleProvider {
    aws: Arc<Aws>,
}

type AwsRule = aws_sdk_ec2::types::SecurityGroupRule;

impl SecurityGroupRuleProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        SecurityGroupRuleProvider { aws }
    }

    /// Every rule matching `filter`, over all pages; a group that is gone has none.
    async fn rules(&self, ctx: &Ctx, filter: Filter) -> Result<Vec<AwsRule>, ProviderError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            self.aws.limits.ec2_describe.acquire().await;
            let out = match self
                .aws
                .ec2()
                .await
                .describe_security_group_rules()
                .filters(filter.clone())
                .set_next_token(token.take())
                .send()
                .await
            {
                Ok(o) => o,
                Err(e) => match error::map(&ctx.urn, "DescribeSecurityGroupRules", e) {
                    ProviderError::NotFound(_) => return Ok(all),
                    other => return Err(other),
                },
            };
            all.extend(out.security_group_rules().iter().cloned());
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(all),
            }
        }
    }

    /// The live rules among `id`'s rule ids, in the id's order.
    async fn live(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        outputs: &Value,
    ) -> Result<(String, Vec<AwsRule>), ProviderError> {
        let group = outputs
            .get("security_group_id")
            .and_then(Value::as_str)
            .or_else(|| inputs.get("security_group_id").and_then(Value::as_str))
            .ok_or_else(|| {
                ProviderError::Fatal(format!("{}: no security_group_id recorded", ctx.urn))
            })?
            .to_string();
        let all = self
            .rules(
                ctx,
                Filter::builder().name("group-id").values(&group).build(),
            )
            .await?;
        let found = rule_ids(id)
            .into_iter()
            .filter_map(|i| {
                all.iter()
                    .find(|r| r.security_group_rule_id() == Some(i))
                    .cloned()
            })
            .collect();
        Ok((group, found))
    }
}

#[async_trait]
impl Provider for SecurityGroupRuleProvider {
    fn type_name(&self) -> &'static str {
        SecurityGroupRule::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &[
            "security_group_id",
            "type",
            "protocol",
            "from_port",
            "to_port",
            "cidr_blocks",
            "ipv6_cidr_blocks",
            "source_security_group_id",
            "prefix_list_ids",
        ]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ec2", 20))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        check(&parse(inputs)?)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let r: SecurityGroupRule = parse(inputs)?;
        let group = known(ctx, "security_group_id", &r.security_group_id)?.to_string();
        let perm = permission(ctx, &r, r.description.as_deref())?;
        let spec = tag_spec(&self.aws, ctx, ResourceType::SecurityGroupRule, &r.tags);
        let ec2 = self.aws.ec2().await;
        let op = if r.rule_type == "egress" {
            "AuthorizeSecurityGroupEgress"
        } else {
            "AuthorizeSecurityGroupIngress"
        };
        let duplicate = |code: Option<&str>| {
            (code == Some("InvalidPermission.Duplicate")).then(|| {
                ProviderError::Fatal(format!(
                    "{}: {op}: the rule already exists in {group}; a replacement that keeps \
                     some of the old rule's sources needs delete_before_replace",
                    ctx.urn
                ))
            })
        };
        self.aws.limits.ec2_mutating.acquire().await;
        let created: Vec<AwsRule> = if r.rule_type == "egress" {
            ec2.authorize_security_group_egress()
                .group_id(&group)
                .ip_permissions(perm)
                .tag_specifications(spec)
                .send()
                .await
                .map_err(|e| duplicate(e.code()).unwrap_or_else(|| error::map(&ctx.urn, op, e)))?
                .security_group_rules()
                .to_vec()
        } else {
            ec2.authorize_security_group_ingress()
                .group_id(&group)
                .ip_permissions(perm)
                .tag_specifications(spec)
                .send()
                .await
                .map_err(|e| duplicate(e.code()).unwrap_or_else(|| error::map(&ctx.urn, op, e)))?
                .security_group_rules()
                .to_vec()
        };
        let ids: Vec<String> = created
            .iter()
            .filter_map(|r| r.security_group_rule_id().map(str::to_string))
            .collect();
        if ids.is_empty() {
            return Err(ProviderError::Fatal(format!(
                "{}: {op} returned no security group rule ids",
                ctx.urn
            )));
        }
        Ok(Created {
            id: ids.join(","),
            outputs: outputs(&group, &ids),
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        outputs_: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let (group, found) = self.live(ctx, id, inputs, outputs_).await?;
        let Some(first) = found.first() else {
            return Ok(None);
        };
        let declared: Option<SecurityGroupRule> = parse(inputs).ok();
        let protocol = normalize_protocol(first.ip_protocol().unwrap_or("-1"));
        let (from_port, to_port) = if protocol == "-1" {
            // AWS ignores (and reports -1 for) the ports of an all-protocol rule.
            declared
                .as_ref()
                .filter(|d| d.protocol == "-1")
                .map(|d| (d.from_port, d.to_port))
                .unwrap_or((-1, -1))
        } else {
            (
                first.from_port().unwrap_or(-1),
                first.to_port().unwrap_or(-1),
            )
        };
        let cidrs: Vec<String> = found
            .iter()
            .filter_map(|r| r.cidr_ipv4().map(str::to_string))
            .collect();
        let cidrs6: Vec<String> = found
            .iter()
            .filter_map(|r| r.cidr_ipv6().map(str::to_string))
            .collect();
        let pls: Vec<Input<String>> = found
            .iter()
            .filter_map(|r| r.prefix_list_id().map(|p| Input::Value(p.to_string())))
            .collect();
        let d = declared.as_ref();
        let live = SecurityGroupRule {
            security_group_id: Input::Value(first.group_id().unwrap_or(&group).to_string()),
            rule_type: if first.is_egress() == Some(true) {
                "egress"
            } else {
                "ingress"
            }
            .into(),
            protocol,
            from_port,
            to_port,
            cidr_blocks: in_declared_order(cidrs, d.map(|d| &d.cidr_blocks[..]).unwrap_or(&[])),
            ipv6_cidr_blocks: in_declared_order(
                cidrs6,
                d.map(|d| &d.ipv6_cidr_blocks[..]).unwrap_or(&[]),
            ),
            source_security_group_id: found
                .iter()
                .find_map(|r| r.referenced_group_info()?.group_id())
                .map(|g| Input::Value(g.to_string())),
            prefix_list_ids: in_declared_order(
                pls,
                d.map(|d| &d.prefix_list_ids[..]).unwrap_or(&[]),
            ),
            description: first
                .description()
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(first.tags())),
        };
        let ids: Vec<String> = found
            .iter()
            .filter_map(|r| r.security_group_rule_id().map(str::to_string))
            .collect();
        let mut outs = outputs(&group, &ids);
        // The resource keeps its id while some of its rules live on.
        outs["id"] = json!(id);
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: outs,
        }))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        id: &str,
        old_inputs: &Value,
        new_inputs: &Value,
        old_outputs: &Value,
    ) -> Result<Value, ProviderError> {
        let (o, n): (SecurityGroupRule, SecurityGroupRule) =
            (parse(old_inputs)?, parse(new_inputs)?);
        let group = known(ctx, "security_group_id", &n.security_group_id)?.to_string();
        if o.description != n.description {
            // The IpPermissions form (what Terraform sends); it names the rule by
            // its fields, and an omitted description removes it.
            let perm = permission(ctx, &n, n.description.as_deref())?;
            let ec2 = self.aws.ec2().await;
            self.aws.limits.ec2_mutating.acquire().await;
            if n.rule_type == "egress" {
                ec2.update_security_group_rule_descriptions_egress()
                    .group_id(&group)
                    .ip_permissions(perm)
                    .send()
                    .await
                    .map_err(|e| {
                        error::map(&ctx.urn, "UpdateSecurityGroupRuleDescriptionsEgress", e)
                    })?;
            } else {
                ec2.update_security_group_rule_descriptions_ingress()
                    .group_id(&group)
                    .ip_permissions(perm)
                    .send()
                    .await
                    .map_err(|e| {
                        error::map(&ctx.urn, "UpdateSecurityGroupRuleDescriptionsIngress", e)
                    })?;
            }
        }
        if o.tags != n.tags {
            for rid in rule_ids(id) {
                update_tags(&self.aws, ctx, rid, &o.tags, &n.tags).await?;
            }
        }
        let ids: Vec<String> = rule_ids(id).into_iter().map(str::to_string).collect();
        let _ = old_outputs;
        Ok(outputs(&group, &ids))
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        outputs_: &Value,
    ) -> Result<(), ProviderError> {
        let (group, found) = self.live(ctx, id, inputs, outputs_).await?;
        let (egress, ingress): (Vec<&AwsRule>, Vec<&AwsRule>) =
            found.iter().partition(|r| r.is_egress() == Some(true));
        let ids = |rs: &[&AwsRule]| -> Vec<String> {
            rs.iter()
                .filter_map(|r| r.security_group_rule_id().map(str::to_string))
                .collect()
        };
        let ec2 = self.aws.ec2().await;
        let not_found = |e: ProviderError| match e {
            ProviderError::NotFound(_) => Ok(()),
            other => Err(other),
        };
        if !ingress.is_empty() {
            self.aws.limits.ec2_mutating.acquire().await;
            if let Err(e) = ec2
                .revoke_security_group_ingress()
                .group_id(&group)
                .set_security_group_rule_ids(Some(ids(&ingress)))
                .send()
                .await
            {
                not_found(error::map(&ctx.urn, "RevokeSecurityGroupIngress", e))?;
            }
        }
        if !egress.is_empty() {
            self.aws.limits.ec2_mutating.acquire().await;
            if let Err(e) = ec2
                .revoke_security_group_egress()
                .group_id(&group)
                .set_security_group_rule_ids(Some(ids(&egress)))
                .send()
                .await
            {
                not_found(error::map(&ctx.urn, "RevokeSecurityGroupEgress", e))?;
            }
        }
        Ok(())
    }

    async fn find_by_urn(&self, ctx: &Ctx, _inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        let found = self.rules(ctx, urn_filter(ctx)).await?;
        // One Authorize call made every rule of one resource: they share the
        // group, direction, protocol and ports.
        type Key = (String, bool, String, i32, i32);
        let mut by_call: BTreeMap<Key, Vec<String>> = BTreeMap::new();
        for r in &found {
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
        Ok(by_call
            .into_iter()
            .map(|((group, ..), ids)| Created {
                id: ids.join(","),
                outputs: outputs(&group, &ids),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(inputs: Value) -> String {
        check(&parse(&inputs).unwrap()).unwrap_err().to_string()
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
        check(&parse(&base()).unwrap()).unwrap();
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
        check(&parse(&all).unwrap()).unwrap();
        all["to_port"] = json!(65535);
        let e = err(all);
        assert!(e.contains("from_port") && e.contains("0..65535"), "{e}");
        let e = err(with("cidr_blocks", json!(["10.0.0.1/8"])));
        assert!(
            e.contains("cidr_blocks[0]") && e.contains("10.0.0.1/8"),
            "{e}"
        );
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
        check(&parse(&v6).unwrap()).unwrap();
        v6["ipv6_cidr_blocks"] = json!(["2001:db8::1/64"]);
        let e = err(v6);
        assert!(e.contains("ipv6_cidr_blocks[0]"), "{e}");
        let mut src = with("cidr_blocks", json!([]));
        src["source_security_group_id"] = crate::value::unknown();
        check(&parse(&src).unwrap()).unwrap();
    }

    #[test]
    fn live_lists_keep_the_declared_order() {
        let live = vec!["b".to_string(), "c".into(), "a".into()];
        let declared = vec!["a".to_string(), "b".into()];
        assert_eq!(in_declared_order(live, &declared), vec!["a", "b", "c"]);
    }
}
