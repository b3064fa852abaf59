//! `aws:route53/Record` (Terraform `aws_route53_record`): one record set
//! (zone + name + type), with values and a TTL or an alias to an AWS name
//! (a load balancer, a distribution). Its id is `ZONE_FQDN_TYPE`, as
//! Terraform's; values, TTL and alias change in place (UPSERT), each change
//! waited for until INSYNC.
//!
//! Records carry no tags, so nothing marks one as ours. Creating over an
//! existing record of the same name and type is refused unless it already
//! holds exactly the declared values (our own from an interrupted attempt,
//! or one that changes nothing) or `allow_overwrite` says to take it over,
//! as Terraform's CREATE does; `find` adopts on the same terms.

use std::net::{Ipv4Addr, Ipv6Addr};

use async_trait::async_trait;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_zone_id, clean_zone_id, normalize_name, wait_insync, Route53};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::validate;
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::ProviderError;

/// Record types Route 53 serves.
pub const TYPES: &[&str] = &[
    "A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SOA", "SPF", "SRV",
    "SSHFP", "SVCB", "TLSA", "TXT",
];

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Record {
    /// The hosted zone (`Z...`).
    pub zone_id: Input<String>,
    /// The record name, fully qualified or relative to the zone (`www`).
    pub name: Input<String>,
    /// One of [`TYPES`].
    pub r#type: String,
    /// Seconds resolvers cache the values (with `records`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    /// The values (with `ttl`); TXT values are quoted for Route 53 unless
    /// they already are.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<Input<String>>,
    /// Instead of `ttl` and `records`: an alias to an AWS name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<Alias>,
    /// Take over an existing record of this name and type.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_overwrite: bool,
}

/// An alias to a load balancer, a distribution, a bucket website...
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Alias {
    /// The target's DNS name (the load balancer's `dns_name`).
    pub name: Input<String>,
    /// The target's hosted zone (the load balancer's `zone_id`;
    /// `Z2FDTNDATAQYW2` for CloudFront).
    pub zone_id: Input<String>,
    pub evaluate_target_health: bool,
}

impl Record {
    /// `ttl` and `records` of type `type`.
    pub fn simple(
        zone_id: impl Into<Input<String>>,
        name: impl Into<Input<String>>,
        r#type: &str,
        ttl: i64,
        records: Vec<Input<String>>,
    ) -> Self {
        Record {
            zone_id: zone_id.into(),
            name: name.into(),
            r#type: r#type.into(),
            ttl: Some(ttl),
            records,
            ..Default::default()
        }
    }

    /// An alias of type `type` (A or AAAA) to `target` in `target_zone`.
    pub fn alias(
        zone_id: impl Into<Input<String>>,
        name: impl Into<Input<String>>,
        r#type: &str,
        target: impl Into<Input<String>>,
        target_zone: impl Into<Input<String>>,
    ) -> Self {
        Record {
            zone_id: zone_id.into(),
            name: name.into(),
            r#type: r#type.into(),
            alias: Some(Alias {
                name: target.into(),
                zone_id: target_zone.into(),
                evaluate_target_health: false,
            }),
            ..Default::default()
        }
    }
}

impl ResourceArgs for Record {
    const TYPE: &'static str = "aws:route53/Record";
}

impl Resource<Record> {
    /// The full name, lower case, without the final dot.
    pub fn fqdn(&self) -> Output<String> {
        self.output("fqdn")
    }
    pub fn zone_id(&self) -> Output<String> {
        self.output("zone_id")
    }
}

/// `ZONE_FQDN_TYPE` → its parts (names may hold `_`; zone ids and types do not).
fn split_id(id: &str) -> Result<(String, String, String), ProviderError> {
    let bad = || ProviderError::Fatal(format!("{id:?} is not a record id (ZONE_NAME_TYPE)"));
    let (zone, rest) = id.split_once('_').ok_or_else(bad)?;
    let (name, ty) = rest.rsplit_once('_').ok_or_else(bad)?;
    Ok((zone.to_string(), name.to_string(), ty.to_string()))
}

/// `name` in `zone`: names not already in the zone are relative to it.
fn expand(name: &str, zone: &str) -> String {
    let (name, zone) = (normalize_name(name), normalize_name(zone));
    if name == zone || name.ends_with(&format!(".{zone}")) {
        name
    } else {
        format!("{name}.{zone}")
    }
}

/// An alias target as compared: lower case, no final dot, no `dualstack.`
/// (Route 53 answers it for load balancers whether or not it was sent).
fn alias_name(n: &str) -> String {
    let n = normalize_name(n);
    n.strip_prefix("dualstack.")
        .map_or(n.clone(), str::to_string)
}

fn is_txt(ty: &str) -> bool {
    ty == "TXT" || ty == "SPF"
}

/// A TXT value as Route 53 takes it: quoted, in strings of at most 255
/// characters (Terraform's expansion).
fn quote_txt(v: &str) -> String {
    if v.starts_with('"') {
        return v.to_string();
    }
    let chars: Vec<char> = v.chars().collect();
    if chars.is_empty() {
        return "\"\"".into();
    }
    chars
        .chunks(255)
        .map(|c| format!("\"{}\"", c.iter().collect::<String>()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A quoted TXT value back in the unquoted form it was declared in.
fn unquote_txt(v: &str) -> String {
    v.split("\" \"")
        .collect::<String>()
        .trim_start_matches('"')
        .trim_end_matches('"')
        .to_string()
}

/// Record names: at most 253 characters of letters, digits, `-`, `_`, `.`
/// and a `*` label.
fn check_name(field: &str, name: &str) -> Result<(), ProviderError> {
    let n = name.trim_end_matches('.');
    let ok = (1..=253).contains(&n.len())
        && n.split('.').all(|l| {
            l == "*"
                || ((1..=63).contains(&l.len())
                    && l.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        });
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            field,
            format!("{name:?}"),
            "expected a DNS name (letters, digits, '-', '_', a '*' label; at most 253 characters)",
        ))
    }
}

/// What a record set holds, as compared for "is this the declared record".
#[derive(Debug, PartialEq)]
enum Content {
    Values(Option<i64>, Vec<String>),
    Alias(String, String, bool),
}

fn content(s: &ResourceRecordSet) -> Content {
    match s.alias_target() {
        Some(a) => Content::Alias(
            alias_name(a.dns_name()),
            a.hosted_zone_id().to_string(),
            a.evaluate_target_health(),
        ),
        None => {
            let mut v: Vec<String> = s
                .resource_records()
                .iter()
                .map(|r| r.value().to_string())
                .collect();
            v.sort();
            Content::Values(s.ttl(), v)
        }
    }
}

async fn zone_name(cx: &Call<'_, Route53>, zone: &str) -> Result<Option<String>, ProviderError> {
    match cx
        .try_send("GetHostedZone", |c| c.get_hosted_zone().id(zone).send())
        .await
    {
        Ok(o) => Ok(o.hosted_zone().map(|z| normalize_name(z.name()))),
        Err(f) if f.code == "NoSuchHostedZone" => Ok(None),
        Err(f) => Err(f.error),
    }
}

/// The record set `fqdn`/`ty` of `zone` (without a set identifier); `None`
/// when it or the zone does not exist.
async fn live_set(
    cx: &Call<'_, Route53>,
    zone: &str,
    fqdn: &str,
    ty: &str,
) -> Result<Option<ResourceRecordSet>, ProviderError> {
    let out = cx
        .try_send("ListResourceRecordSets", |c| {
            c.list_resource_record_sets()
                .hosted_zone_id(zone)
                .start_record_name(fqdn)
                .start_record_type(RrType::from(ty))
                .max_items(10)
                .send()
        })
        .await;
    let out = match out {
        Ok(o) => o,
        Err(f) if f.code == "NoSuchHostedZone" => return Ok(None),
        Err(f) => return Err(f.error),
    };
    Ok(out
        .resource_record_sets()
        .iter()
        .find(|s| {
            normalize_name(s.name()) == fqdn
                && s.r#type().as_str() == ty
                && s.set_identifier().is_none()
        })
        .cloned())
}

/// Sends one change of `set` and waits until it is INSYNC (Route 53's
/// PriorRequestNotComplete counts as throttling: `Call` resends it).
async fn change(
    cx: &Call<'_, Route53>,
    zone: &str,
    action: ChangeAction,
    set: &ResourceRecordSet,
) -> Result<(), ProviderError> {
    let batch = ChangeBatch::builder()
        .changes(
            Change::builder()
                .action(action)
                .resource_record_set(set.clone())
                .build()
                .map_err(|e| cx.fatal(e.to_string()))?,
        )
        .build()
        .map_err(|e| cx.fatal(e.to_string()))?;
    let out = cx
        .send("ChangeResourceRecordSets", |c| {
            c.change_resource_record_sets()
                .hosted_zone_id(zone)
                .change_batch(batch.clone())
                .send()
        })
        .await?;
    match out.change_info() {
        Some(ci) => wait_insync(cx, ci.id()).await,
        None => Ok(()),
    }
}

impl Record {
    /// The record set this declaration makes, named `fqdn`.
    fn to_set(&self, fqdn: &str) -> Result<ResourceRecordSet, ProviderError> {
        let b = ResourceRecordSet::builder()
            .name(fqdn)
            .r#type(RrType::from(self.r#type.as_str()));
        let b = match &self.alias {
            Some(a) => b.alias_target(
                AliasTarget::builder()
                    .dns_name(a.name.require("alias.name")?)
                    .hosted_zone_id(a.zone_id.require("alias.zone_id")?)
                    .evaluate_target_health(a.evaluate_target_health)
                    .build()
                    .map_err(|e| ProviderError::Fatal(e.to_string()))?,
            ),
            None => {
                let mut b = b.set_ttl(self.ttl);
                for (i, r) in self.records.iter().enumerate() {
                    let v = r.require(&format!("records[{i}]"))?;
                    let v = if is_txt(&self.r#type) {
                        quote_txt(v)
                    } else {
                        v.clone()
                    };
                    b = b.resource_records(
                        ResourceRecord::builder()
                            .value(v)
                            .build()
                            .map_err(|e| ProviderError::Fatal(e.to_string()))?,
                    );
                }
                b
            }
        };
        b.build().map_err(|e| ProviderError::Fatal(e.to_string()))
    }

    /// The zone and the full name, asking Route 53 for the zone's name.
    async fn locate(&self, cx: &Call<'_, Route53>) -> Result<(String, String), ProviderError> {
        let zone = clean_zone_id(self.zone_id.require("zone_id")?);
        let name = self.name.require("name")?;
        let zone_name = zone_name(cx, &zone).await?.ok_or_else(|| {
            ProviderError::invalid("zone_id", format!("{zone:?}"), "no such hosted zone")
        })?;
        Ok((zone.clone(), expand(name, &zone_name)))
    }
}

#[async_trait]
impl AwsResource for Record {
    type Service = Route53;
    const SCHEMA: Schema = Schema {
        force_new: &["zone_id", "name", "type"],
        unique_name: &["zone_id", "name", "type"],
        write_only: &["allow_overwrite"],
        normalize: &[("records", Norm::Set)],
        terraform: &[Tf {
            resource: "aws_route53_record",
            args: &[
                ("zone_id", "zone_id"),
                ("name", "name"),
                ("type", "type"),
                ("ttl", "ttl"),
                ("records", "records"),
                ("alias", "alias"),
                ("allow_overwrite", "allow_overwrite"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_zone_id("zone_id", &self.zone_id)?;
        if let Some(n) = self.name.known() {
            check_name("name", n)?;
        }
        validate::one_of("type", &self.r#type, TYPES)?;
        if let Some(ttl) = self.ttl {
            validate::in_range("ttl", ttl, 0..=2_147_483_647)?;
        }
        match &self.alias {
            Some(a) => {
                if self.ttl.is_some() || !self.records.is_empty() {
                    return Err(ProviderError::invalid(
                        "alias",
                        "set",
                        "an alias record takes no ttl and no records",
                    ));
                }
                check_zone_id("alias.zone_id", &a.zone_id)?;
                if let Some(n) = a.name.known() {
                    check_name("alias.name", n)?;
                }
            }
            None => {
                if self.records.is_empty() {
                    return Err(ProviderError::invalid(
                        "records",
                        "[]",
                        "a record needs records (with a ttl) or an alias",
                    ));
                }
                if self.ttl.is_none() {
                    return Err(ProviderError::invalid(
                        "ttl",
                        "null",
                        "required with records",
                    ));
                }
            }
        }
        if self.r#type == "CNAME" && self.records.len() > 1 {
            return Err(ProviderError::invalid(
                "records",
                self.records.len(),
                "a CNAME record has exactly one value",
            ));
        }
        for (i, r) in self.records.iter().enumerate() {
            let Some(v) = r.known() else { continue };
            let field = format!("records[{i}]");
            let bad = |why: &str| ProviderError::invalid(&field, format!("{v:?}"), why.to_string());
            match self.r#type.as_str() {
                "A" if v.parse::<Ipv4Addr>().is_err() => return Err(bad("not an IPv4 address")),
                "AAAA" if v.parse::<Ipv6Addr>().is_err() => return Err(bad("not an IPv6 address")),
                t if is_txt(t) && !v.starts_with('"') && v.contains('"') => {
                    return Err(bad("quote the whole value yourself when it holds quotes"))
                }
                _ if v.is_empty() && !is_txt(&self.r#type) => return Err(bad("empty value")),
                _ => {}
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Route53>) -> Result<String, ProviderError> {
        let (zone, fqdn) = self.locate(cx).await?;
        let id = format!("{zone}_{fqdn}_{}", self.r#type);
        let want = self.to_set(&fqdn)?;
        let action = match live_set(cx, &zone, &fqdn, &self.r#type).await? {
            // Ours from an interrupted attempt, or already what is declared.
            Some(live) if content(&live) == content(&want) => return Ok(id),
            Some(_) if !self.allow_overwrite => {
                return Err(cx.fatal(format!(
                    "a {} record {fqdn} already exists in zone {zone}, with other values; \
                     records carry no tags to tell whose it is: remove it, or set \
                     allow_overwrite to take it over",
                    self.r#type
                )))
            }
            Some(_) => ChangeAction::Upsert,
            None => ChangeAction::Create,
        };
        // The change is waited for here: a record set has no other handle
        // than its change, and a create interrupted before INSYNC is found
        // again by its values.
        match change(cx, &zone, action.clone(), &want).await {
            Err(e)
                if action == ChangeAction::Create && e.to_string().contains("already exists") =>
            {
                match live_set(cx, &zone, &fqdn, &self.r#type).await? {
                    Some(live) if content(&live) == content(&want) => {}
                    Some(_) => return Err(e),
                    // Refused, yet no such record: moto keeps deleted CREATEs
                    // in its journal. Nothing is there to overwrite.
                    None => change(cx, &zone, ChangeAction::Upsert, &want).await?,
                }
            }
            r => r?,
        }
        Ok(id)
    }

    async fn read(
        cx: &Call<'_, Route53>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let (zone, fqdn, ty) = split_id(id)?;
        let Some(live) = live_set(cx, &zone, &fqdn, &ty).await? else {
            return Ok(None);
        };
        // The declared name when it is this record's, relative or not.
        let name = match declared.name.known() {
            Some(d) => {
                let d = normalize_name(d);
                if d == fqdn || fqdn.starts_with(&format!("{d}.")) {
                    declared.name.clone()
                } else {
                    Input::Value(fqdn.clone())
                }
            }
            None => Input::Value(fqdn.clone()),
        };
        let declared_values: Vec<&String> =
            declared.records.iter().filter_map(Input::known).collect();
        let records = live
            .resource_records()
            .iter()
            .map(|r| {
                let v = r.value().to_string();
                let plain = unquote_txt(&v);
                let as_declared = is_txt(&ty)
                    && !declared_values.contains(&&v)
                    && declared_values.contains(&&plain);
                // References resolved at apply are values by now.
                let v = if as_declared { plain } else { v };
                match declared.records.iter().find(|d| d.known() == Some(&v)) {
                    Some(d) => d.clone(),
                    None => Input::Value(v),
                }
            })
            .collect();
        let alias = live.alias_target().map(|a| {
            let d = declared.alias.as_ref();
            let same_name = d
                .and_then(|d| d.name.known())
                .is_some_and(|n| alias_name(n) == alias_name(a.dns_name()));
            Alias {
                name: match d {
                    Some(d) if same_name => d.name.clone(),
                    _ => Input::Value(normalize_name(a.dns_name())),
                },
                zone_id: Input::Value(a.hosted_zone_id().to_string()),
                evaluate_target_health: a.evaluate_target_health(),
            }
        });
        let args = Record {
            zone_id: Input::Value(zone.clone()),
            name,
            r#type: ty.clone(),
            ttl: live.ttl(),
            records,
            alias,
            allow_overwrite: declared.allow_overwrite,
        };
        Ok(Some(Live {
            args,
            outputs: json!({"id": id, "fqdn": fqdn, "zone_id": zone, "name": fqdn, "type": ty}),
        }))
    }

    async fn update(
        &self,
        _old: &Self,
        cx: &Call<'_, Route53>,
        id: &str,
    ) -> Result<(), ProviderError> {
        let (zone, fqdn, _) = split_id(id)?;
        change(cx, &zone, ChangeAction::Upsert, &self.to_set(&fqdn)?).await
    }

    async fn delete(&self, cx: &Call<'_, Route53>, id: &str) -> Result<(), ProviderError> {
        let (zone, fqdn, ty) = split_id(id)?;
        // A DELETE names the record set exactly as it is.
        let Some(live) = live_set(cx, &zone, &fqdn, &ty).await? else {
            return Ok(());
        };
        match change(cx, &zone, ChangeAction::Delete, &live).await {
            Err(e) if e.to_string().contains("not found") => Ok(()),
            r => r,
        }
    }

    async fn find(&self, cx: &Call<'_, Route53>) -> Result<Vec<String>, ProviderError> {
        if self.zone_id.known().is_none() || self.name.known().is_none() {
            return Ok(Vec::new());
        }
        let (zone, fqdn) = match self.locate(cx).await {
            Ok(l) => l,
            Err(ProviderError::InvalidInput { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let Some(live) = live_set(cx, &zone, &fqdn, &self.r#type).await? else {
            return Ok(Vec::new());
        };
        // Without tags: ours is the record holding the declared values (or
        // any, when told to take it over).
        let ours = self.allow_overwrite
            || self
                .to_set(&fqdn)
                .is_ok_and(|want| content(&want) == content(&live));
        Ok(if ours {
            vec![format!("{zone}_{fqdn}_{}", self.r#type)]
        } else {
            Vec::new()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::provider::aws::resource::Typed;
    use crate::provider::aws::Aws;
    use crate::provider::Provider;
    use std::sync::Arc;

    fn p() -> Typed<Record> {
        Typed::new(Arc::new(Aws::new(Default::default())))
    }

    #[test]
    fn validation_names_field_and_value() {
        let ok = json!({"zone_id": "Z1ABC", "name": "www", "type": "A", "ttl": 300,
            "records": ["10.0.0.1"]});
        assert!(p().validate(&ok).is_ok());
        let alias = json!({"zone_id": "Z1ABC", "name": "app.morket.io", "type": "A",
            "alias": {"name": "my-alb-1.eu-west-1.elb.amazonaws.com", "zone_id": "Z32O12XQLNTSW2",
            "evaluate_target_health": true}});
        assert!(p().validate(&alias).is_ok());
        for (bad, field, value) in [
            (
                json!({"zone_id": "zone-1", "name": "a", "type": "A", "ttl": 1, "records": ["10.0.0.1"]}),
                "zone_id",
                "zone-1",
            ),
            (
                json!({"zone_id": "Z1", "name": "a b", "type": "A", "ttl": 1, "records": ["10.0.0.1"]}),
                "name",
                "a b",
            ),
            (
                json!({"zone_id": "Z1", "name": "a", "type": "AA", "ttl": 1, "records": ["10.0.0.1"]}),
                "type",
                "AA",
            ),
            (
                json!({"zone_id": "Z1", "name": "a", "type": "A", "ttl": -1, "records": ["10.0.0.1"]}),
                "ttl",
                "-1",
            ),
            (
                json!({"zone_id": "Z1", "name": "a", "type": "A", "ttl": 1, "records": ["10.0.0.300"]}),
                "records[0]",
                "10.0.0.300",
            ),
            (
                json!({"zone_id": "Z1", "name": "a", "type": "A", "records": ["10.0.0.1"]}),
                "ttl",
                "null",
            ),
            (
                json!({"zone_id": "Z1", "name": "a", "type": "CNAME", "ttl": 1, "records": ["x.io", "y.io"]}),
                "records",
                "2",
            ),
            (
                json!({"zone_id": "Z1", "name": "a", "type": "A", "ttl": 1, "records": ["10.0.0.1"],
                "alias": {"name": "x.io", "zone_id": "Z2", "evaluate_target_health": false}}),
                "alias",
                "set",
            ),
            (
                json!({"zone_id": "Z1", "name": "a", "type": "A"}),
                "records",
                "[]",
            ),
        ] {
            let e = p().validate(&bad).unwrap_err().to_string();
            assert!(e.contains(field) && e.contains(value), "{e}");
        }
    }

    #[test]
    fn ids_names_and_txt_values() {
        assert_eq!(
            split_id("Z1_x_acme.morket.io_CNAME").unwrap(),
            ("Z1".into(), "x_acme.morket.io".into(), "CNAME".into())
        );
        assert_eq!(expand("www", "morket.io."), "www.morket.io");
        assert_eq!(expand("WWW.morket.io.", "morket.io"), "www.morket.io");
        assert_eq!(expand("morket.io", "morket.io"), "morket.io");
        assert_eq!(
            alias_name("dualstack.My-ALB.elb.amazonaws.com."),
            "my-alb.elb.amazonaws.com"
        );
        assert_eq!(quote_txt("v=spf1 -all"), "\"v=spf1 -all\"");
        assert_eq!(quote_txt("\"q\""), "\"q\"");
        let long = "a".repeat(300);
        let q = quote_txt(&long);
        assert!(q.starts_with(&format!("\"{}\" \"", "a".repeat(255))), "{q}");
        assert_eq!(unquote_txt(&q), long);
        assert_eq!(unquote_txt("\"v=spf1 -all\""), "v=spf1 -all");
    }
}
