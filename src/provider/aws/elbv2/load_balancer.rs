//! `aws:lb/LoadBalancer` (Terraform `aws_lb`): an application load balancer.
//! The name and the scheme force a replacement (the name first deletes the
//! old one: names are unique per region); subnets, security groups, the IP
//! address type and the attributes (idle timeout, access logs, deletion
//! protection, dropping invalid headers) change in place. Create and update
//! wait until it is `active`; delete waits until it is gone, and deletion
//! protection refuses the delete with an error saying what to change.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancer as SdkLoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum,
    LoadBalancerTypeEnum,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

use super::{
    arn_suffix, check_name, describe_by_arns, own_tags, sdk_tags, tagged_ours, tags_of, Elbv2,
};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::{check_id, in_range, one_of};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadBalancer {
    /// 1 to 32 letters, digits and hyphens; not starting with `internal-`.
    pub name: String,
    /// Internal (private addresses only) rather than internet-facing.
    pub internal: bool,
    /// At least two subnets, in different zones.
    pub subnets: Vec<Input<String>>,
    pub security_groups: Vec<Input<String>>,
    /// `ipv4` or `dualstack`.
    pub ip_address_type: String,
    /// Seconds a connection may stay idle (1 to 4000; AWS's default is 60).
    pub idle_timeout: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_logs: Option<AccessLogs>,
    /// While on, AWS refuses to delete the load balancer.
    pub deletion_protection: bool,
    pub drop_invalid_header_fields: bool,
    pub tags: Tags,
}

/// Access logs to an S3 bucket (whose policy must let the regional ELB
/// account write).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessLogs {
    pub bucket: String,
    pub prefix: String,
    pub enabled: bool,
}

impl Default for AccessLogs {
    fn default() -> Self {
        AccessLogs {
            bucket: String::new(),
            prefix: String::new(),
            enabled: true,
        }
    }
}

impl Default for LoadBalancer {
    fn default() -> Self {
        LoadBalancer {
            name: String::new(),
            internal: false,
            subnets: Vec::new(),
            security_groups: Vec::new(),
            ip_address_type: "ipv4".into(),
            idle_timeout: 60,
            access_logs: None,
            deletion_protection: false,
            drop_invalid_header_fields: false,
            tags: Tags::new(),
        }
    }
}

impl LoadBalancer {
    pub fn new(
        name: &str,
        subnets: Vec<Input<String>>,
        security_groups: Vec<Input<String>>,
    ) -> Self {
        LoadBalancer {
            name: name.into(),
            subnets,
            security_groups,
            ..Default::default()
        }
    }
}

impl ResourceArgs for LoadBalancer {
    const TYPE: &'static str = "aws:lb/LoadBalancer";
}

impl Resource<LoadBalancer> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// `app/<name>/<id>`: the `LoadBalancer` dimension of its CloudWatch metrics.
    pub fn arn_suffix(&self) -> Output<String> {
        self.output("arn_suffix")
    }
    pub fn dns_name(&self) -> Output<String> {
        self.output("dns_name")
    }
    /// The canonical hosted zone id, for Route 53 alias records.
    pub fn zone_id(&self) -> Output<String> {
        self.output("zone_id")
    }
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
}

const IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";
const LOGS_ENABLED: &str = "access_logs.s3.enabled";
const LOGS_BUCKET: &str = "access_logs.s3.bucket";
const LOGS_PREFIX: &str = "access_logs.s3.prefix";
const DELETION_PROTECTION: &str = "deletion_protection.enabled";
const DROP_INVALID: &str = "routing.http.drop_invalid_header_fields.enabled";

/// What provisioning (Terraform: 30 s before the first poll, 10 min) and an
/// update go through before the load balancer is usable.
const ACTIVE: Wait<'static> = Wait {
    delay: Duration::from_secs(30),
    ..Wait::new("load balancer", &["provisioning"], &["active"]).after_create()
};

impl LoadBalancer {
    /// The attributes this declaration sets; against `old`, only those that
    /// changed (all of them on create).
    fn attributes(&self, old: Option<&Self>) -> Vec<LoadBalancerAttribute> {
        let logs = |l: Option<&AccessLogs>| -> Vec<(&'static str, String)> {
            match l {
                Some(l) => vec![
                    (LOGS_ENABLED, l.enabled.to_string()),
                    (LOGS_BUCKET, l.bucket.clone()),
                    (LOGS_PREFIX, l.prefix.clone()),
                ],
                // Turning logs off keeps the bucket AWS has: it may no longer
                // accept an empty one.
                None => vec![(LOGS_ENABLED, "false".into())],
            }
        };
        let all = |d: &Self| {
            let mut v = vec![
                (IDLE_TIMEOUT, d.idle_timeout.to_string()),
                (DELETION_PROTECTION, d.deletion_protection.to_string()),
                (DROP_INVALID, d.drop_invalid_header_fields.to_string()),
            ];
            v.extend(logs(d.access_logs.as_ref()));
            v
        };
        let old = old.map(all);
        all(self)
            .into_iter()
            .filter(|kv| old.as_ref().is_none_or(|o| !o.contains(kv)))
            .map(|(k, v)| LoadBalancerAttribute::builder().key(k).value(v).build())
            .collect()
    }

    async fn set_attributes(
        &self,
        old: Option<&Self>,
        cx: &Call<'_, Elbv2>,
        arn: &str,
    ) -> Result<(), ProviderError> {
        let attrs = self.attributes(old);
        if attrs.is_empty() {
            return Ok(());
        }
        cx.send_retrying("ModifyLoadBalancerAttributes", &[Retry::NEW_OBJECT], |c| {
            c.modify_load_balancer_attributes()
                .load_balancer_arn(arn)
                .set_attributes(Some(attrs.clone()))
                .send()
        })
        .await
        .map(drop)
    }
}

/// The load balancer by ARN; `None` when gone.
async fn by_arn(cx: &Call<'_, Elbv2>, arn: &str) -> Result<Option<SdkLoadBalancer>, ProviderError> {
    Ok(cx
        .find("DescribeLoadBalancers", |c| {
            c.describe_load_balancers().load_balancer_arns(arn).send()
        })
        .await?
        .and_then(|o| o.load_balancers().first().cloned()))
}

/// The load balancer's attributes; `None` when it is gone.
async fn attributes(
    cx: &Call<'_, Elbv2>,
    arn: &str,
) -> Result<Option<Vec<LoadBalancerAttribute>>, ProviderError> {
    Ok(cx
        .find("DescribeLoadBalancerAttributes", |c| {
            c.describe_load_balancer_attributes()
                .load_balancer_arn(arn)
                .send()
        })
        .await?
        .map(|o| o.attributes().to_vec()))
}

/// A load balancer as read: `lb` described, its attributes and own tags.
fn live(
    arn: &str,
    declared: &LoadBalancer,
    lb: &SdkLoadBalancer,
    attrs: &[LoadBalancerAttribute],
    tags: Tags,
) -> Live<LoadBalancer> {
    let attr = |k: &str| {
        attrs
            .iter()
            .find(|a| a.key() == Some(k))
            .and_then(|a| a.value())
    };
    let flag = |k: &str| attr(k) == Some("true");
    let logs_enabled = flag(LOGS_ENABLED);
    // Logs off and not declared: nothing to report (AWS keeps the old bucket).
    let access_logs = (logs_enabled || declared.access_logs.is_some()).then(|| AccessLogs {
        bucket: attr(LOGS_BUCKET).unwrap_or_default().to_string(),
        prefix: attr(LOGS_PREFIX).unwrap_or_default().to_string(),
        enabled: logs_enabled,
    });
    let name = lb.load_balancer_name().unwrap_or_default().to_string();
    let args = LoadBalancer {
        name: name.clone(),
        internal: lb.scheme() == Some(&LoadBalancerSchemeEnum::Internal),
        subnets: lb
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id())
            .map(|s| Input::Value(s.to_string()))
            .collect(),
        security_groups: lb
            .security_groups()
            .iter()
            .map(|s| Input::Value(s.clone()))
            .collect(),
        ip_address_type: lb
            .ip_address_type()
            .map_or("ipv4", |t| t.as_str())
            .to_string(),
        idle_timeout: attr(IDLE_TIMEOUT)
            .and_then(|v| v.parse().ok())
            .unwrap_or(60),
        access_logs,
        deletion_protection: flag(DELETION_PROTECTION),
        drop_invalid_header_fields: flag(DROP_INVALID),
        tags,
    };
    Live {
        args,
        outputs: json!({
            "id": arn,
            "arn": arn,
            "arn_suffix": arn_suffix(arn),
            "name": name,
            "dns_name": lb.dns_name().unwrap_or_default(),
            "zone_id": lb.canonical_hosted_zone_id().unwrap_or_default(),
            "vpc_id": lb.vpc_id().unwrap_or_default(),
        }),
    }
}

/// The load balancer of this name, anyone's.
async fn by_name(
    cx: &Call<'_, Elbv2>,
    name: &str,
) -> Result<Option<SdkLoadBalancer>, ProviderError> {
    Ok(cx
        .find("DescribeLoadBalancers", |c| {
            c.describe_load_balancers().names(name).send()
        })
        .await?
        .and_then(|o| o.load_balancers().first().cloned()))
}

fn state(lb: &SdkLoadBalancer) -> String {
    lb.state()
        .and_then(|s| s.code())
        .map_or("unknown", |c| c.as_str())
        .to_string()
}

async fn wait_active(cx: &Call<'_, Elbv2>, arn: &str) -> Result<(), ProviderError> {
    ACTIVE
        .until(cx.settings(), || async {
            Ok(match by_arn(cx, arn).await? {
                Some(lb) => Seen::State(state(&lb), ()),
                None => Seen::Gone,
            })
        })
        .await
}

fn required_ids(field: &str, v: &[Input<String>]) -> Result<Vec<String>, ProviderError> {
    v.iter()
        .enumerate()
        .map(|(i, s)| Ok(s.require(&format!("{field}[{i}]"))?.clone()))
        .collect()
}

#[async_trait]
impl AwsResource for LoadBalancer {
    type Service = Elbv2;
    const SCHEMA: Schema = Schema {
        force_new: &["name", "internal"],
        unique_name: &["name"],
        normalize: &[("subnets", Norm::Set), ("security_groups", Norm::Set)],
        terraform: &[Tf {
            resource: "aws_lb",
            args: &[
                ("name", "name"),
                ("internal", "internal"),
                ("subnets", "subnets"),
                ("security_groups", "security_groups"),
                ("ip_address_type", "ip_address_type"),
                ("idle_timeout", "idle_timeout"),
                ("access_logs", "access_logs"),
                ("deletion_protection", "enable_deletion_protection"),
                ("drop_invalid_header_fields", "drop_invalid_header_fields"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_name("name", &self.name)?;
        if self.name.starts_with("internal-") {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", self.name),
                "must not start with \"internal-\"",
            ));
        }
        if self.subnets.len() < 2 {
            return Err(ProviderError::invalid(
                "subnets",
                self.subnets.len(),
                "an application load balancer needs at least two subnets, in different zones",
            ));
        }
        for (i, s) in self.subnets.iter().enumerate() {
            check_id(&format!("subnets[{i}]"), s, "subnet")?;
        }
        for (i, s) in self.security_groups.iter().enumerate() {
            check_id(&format!("security_groups[{i}]"), s, "sg")?;
        }
        one_of(
            "ip_address_type",
            &self.ip_address_type,
            &["ipv4", "dualstack"],
        )?;
        in_range("idle_timeout", self.idle_timeout, 1..=4000)?;
        if let Some(l) = &self.access_logs {
            let ok = (3..=63).contains(&l.bucket.len())
                && l.bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
            if !ok {
                return Err(ProviderError::invalid(
                    "access_logs.bucket",
                    format!("{:?}", l.bucket),
                    "an S3 bucket name (3 to 63 lowercase letters, digits, '-' and '.')",
                ));
            }
            if l.prefix.starts_with('/') || l.prefix.ends_with('/') || l.prefix.contains("AWSLogs")
            {
                return Err(ProviderError::invalid(
                    "access_logs.prefix",
                    format!("{:?}", l.prefix),
                    "must not start or end with '/' nor contain AWSLogs",
                ));
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Elbv2>) -> Result<String, ProviderError> {
        // CreateLoadBalancer answers with an existing load balancer of the
        // same name and settings instead of failing: look first, so that
        // only our own is carried on from.
        if let Some(lb) = by_name(cx, &self.name).await? {
            let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
            if tagged_ours(cx, vec![arn.clone()]).await?.is_empty() {
                return Err(cx.fatal(format!(
                    "a load balancer named {:?} already exists and is not this resource's ({arn}); names are unique per region",
                    self.name
                )));
            }
            return Ok(arn);
        }
        let subnets = required_ids("subnets", &self.subnets)?;
        let sgs = required_ids("security_groups", &self.security_groups)?;
        let out = cx
            .send("CreateLoadBalancer", |c| {
                c.create_load_balancer()
                    .name(&self.name)
                    .r#type(LoadBalancerTypeEnum::Application)
                    .scheme(if self.internal {
                        LoadBalancerSchemeEnum::Internal
                    } else {
                        LoadBalancerSchemeEnum::InternetFacing
                    })
                    .ip_address_type(IpAddressType::from(self.ip_address_type.as_str()))
                    .set_subnets(Some(subnets.clone()))
                    .set_security_groups((!sgs.is_empty()).then(|| sgs.clone()))
                    .set_tags(Some(sdk_tags(&cx.all_tags(&self.tags))))
                    .send()
            })
            .await?;
        out.load_balancers()
            .first()
            .and_then(|lb| lb.load_balancer_arn())
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("CreateLoadBalancer returned no load balancer ARN"))
    }

    async fn after_create(&self, cx: &Call<'_, Elbv2>, arn: &str) -> Result<(), ProviderError> {
        // Attributes are a second call; the new ARN may not be visible yet.
        self.set_attributes(None, cx, arn).await?;
        wait_active(cx, arn).await
    }

    async fn read(
        cx: &Call<'_, Elbv2>,
        arn: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(lb) = by_arn(cx, arn).await? else {
            return Ok(None);
        };
        let Some(attrs) = attributes(cx, arn).await? else {
            return Ok(None);
        };
        let tags = own_tags(cx, arn).await?;
        Ok(Some(live(arn, declared, &lb, &attrs, tags)))
    }

    // One DescribeLoadBalancers and one DescribeTags per 20 ARNs; the
    // attributes have no batch form (one DescribeLoadBalancerAttributes each).
    async fn read_many(
        cx: &Call<'_, Elbv2>,
        items: &[(String, Self)],
    ) -> Result<Vec<Option<Live<Self>>>, ProviderError> {
        let arns: Vec<&str> = items.iter().map(|(a, _)| a.as_str()).collect();
        let lbs = describe_by_arns(&arns, |chunk| async move {
            Ok(cx
                .find("DescribeLoadBalancers", |c| {
                    c.describe_load_balancers()
                        .set_load_balancer_arns(Some(chunk.clone()))
                        .send()
                })
                .await?
                .map(|o| {
                    o.load_balancers()
                        .iter()
                        .filter_map(|l| Some((l.load_balancer_arn()?.to_string(), l.clone())))
                        .collect()
                }))
        })
        .await?;
        let mut attrs = BTreeMap::new();
        for arn in lbs.keys() {
            if let Some(a) = attributes(cx, arn).await? {
                attrs.insert(arn.clone(), a);
            }
        }
        let tags = tags_of(cx, &attrs.keys().cloned().collect::<Vec<_>>()).await?;
        Ok(items
            .iter()
            .map(|(arn, declared)| {
                let (lb, a) = (lbs.get(arn)?, attrs.get(arn)?);
                let own = tags.get(arn).map(|t| cx.own_tags(t)).unwrap_or_default();
                Some(live(arn, declared, lb, a, own))
            })
            .collect())
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, Elbv2>,
        arn: &str,
    ) -> Result<(), ProviderError> {
        if old.security_groups != self.security_groups {
            let sgs = required_ids("security_groups", &self.security_groups)?;
            cx.send("SetSecurityGroups", |c| {
                c.set_security_groups()
                    .load_balancer_arn(arn)
                    .set_security_groups(Some(sgs.clone()))
                    .send()
            })
            .await?;
        }
        if old.subnets != self.subnets {
            let subnets = required_ids("subnets", &self.subnets)?;
            cx.send("SetSubnets", |c| {
                c.set_subnets()
                    .load_balancer_arn(arn)
                    .set_subnets(Some(subnets.clone()))
                    .send()
            })
            .await?;
        }
        if old.ip_address_type != self.ip_address_type {
            cx.send("SetIpAddressType", |c| {
                c.set_ip_address_type()
                    .load_balancer_arn(arn)
                    .ip_address_type(IpAddressType::from(self.ip_address_type.as_str()))
                    .send()
            })
            .await?;
        }
        self.set_attributes(Some(old), cx, arn).await?;
        cx.update_tags(arn, &old.tags, &self.tags).await?;
        wait_active(cx, arn).await
    }

    async fn delete(&self, cx: &Call<'_, Elbv2>, arn: &str) -> Result<(), ProviderError> {
        let r = cx
            .try_send("DeleteLoadBalancer", |c| {
                c.delete_load_balancer().load_balancer_arn(arn).send()
            })
            .await;
        match r {
            Ok(_) => {}
            Err(f) if f.code == "OperationNotPermitted" => {
                return Err(cx.fatal(format!(
                    "load balancer {arn} has deletion protection on: set deletion_protection = false and apply before deleting it ({})",
                    f.message
                )))
            }
            Err(f) => return Err(f.error),
        }
        Wait::new(
            "load balancer",
            &["active", "provisioning", "active_impaired", "failed"],
            &[],
        )
        .until_gone(cx.settings(), || async {
            Ok(match by_arn(cx, arn).await? {
                Some(lb) => Seen::State(state(&lb), ()),
                None => Seen::<()>::Gone,
            })
        })
        .await
    }

    async fn find(&self, cx: &Call<'_, Elbv2>) -> Result<Vec<String>, ProviderError> {
        // Names are unique per region: the one of this name, if it is ours.
        let Some(lb) = by_name(cx, &self.name).await? else {
            return Ok(Vec::new());
        };
        tagged_ours(
            cx,
            lb.load_balancer_arn()
                .into_iter()
                .map(str::to_string)
                .collect(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::aws::resource::Typed;
    use crate::provider::aws::Aws;
    use crate::provider::Provider;
    use std::sync::Arc;

    fn p() -> Typed<LoadBalancer> {
        Typed::new(Arc::new(Aws::new(Default::default())))
    }

    fn ok() -> serde_json::Value {
        json!({"name": "morket", "subnets": ["subnet-1a", "subnet-2b"], "security_groups": ["sg-1"]})
    }

    #[test]
    fn validation_names_field_and_value() {
        assert!(p().validate(&ok()).is_ok());
        for (patch, field, value) in [
            (json!({"idle_timeout": 5000}), "idle_timeout", "5000"),
            (json!({"subnets": ["subnet-1a"]}), "subnets", "1"),
            (
                json!({"subnets": ["subnet-1a", "sg-1"]}),
                "subnets[1]",
                "sg-1",
            ),
            (json!({"name": "internal-web"}), "name", "internal-web"),
            (
                json!({"ip_address_type": "ipv6"}),
                "ip_address_type",
                "ipv6",
            ),
            (
                json!({"access_logs": {"bucket": "Logs_Bucket"}}),
                "access_logs.bucket",
                "Logs_Bucket",
            ),
        ] {
            let mut v = ok();
            v.as_object_mut()
                .unwrap()
                .extend(patch.as_object().unwrap().clone());
            let e = p().validate(&v).unwrap_err().to_string();
            assert!(e.contains(field) && e.contains(value), "{e}");
        }
    }

    #[test]
    fn only_changed_attributes_are_sent() {
        let a = LoadBalancer::default();
        assert_eq!(a.attributes(None).len(), 4);
        let mut b = a.clone();
        b.idle_timeout = 120;
        let changed = b.attributes(Some(&a));
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].key(), Some(IDLE_TIMEOUT));
        assert_eq!(changed[0].value(), Some("120"));
    }
}
