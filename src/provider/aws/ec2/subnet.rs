//! `aws:ec2/Subnet` (Terraform `aws_subnet`).

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{from_tags, tag_spec, update_tags, urn_filter};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::validate::check_cidr;
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    pub vpc_id: Input<String>,
    /// IPv4 CIDR inside the VPC's, /16 to /28.
    pub cidr_block: String,
    /// e.g. `us-east-1a`; AWS picks one when absent.
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub map_public_ip_on_launch: bool,
    #[serde(default)]
    pub tags: Tags,
}

impl Subnet {
    pub fn new(vpc_id: impl Into<Input<String>>, cidr_block: &str) -> Self {
        Subnet {
            vpc_id: vpc_id.into(),
            cidr_block: cidr_block.into(),
            availability_zone: None,
            map_public_ip_on_launch: false,
            tags: Tags::new(),
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

/// The value of a reference-able input at apply time (every input is known then).
pub(crate) fn known<'a>(
    ctx: &Ctx,
    field: &str,
    v: &'a Input<String>,
) -> Result<&'a str, ProviderError> {
    v.known().map(String::as_str).ok_or_else(|| {
        ProviderError::Fatal(format!("{}: {field} is not known at apply time", ctx.urn))
    })
}

/// Checks a known id starts with `prefix-` (unknowns and refs pass).
pub(crate) fn check_id(field: &str, v: &Input<String>, prefix: &str) -> Result<(), ProviderError> {
    if let Some(id) = v.known() {
        let ok = id
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('-'))
            .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric()));
        if !ok {
            return Err(ProviderError::invalid(
                field,
                format!("{id:?}"),
                format!("expected an id like {prefix}-0123456789abcdef0"),
            ));
        }
    }
    Ok(())
}

/// `us-east-1a`, `eu-west-2c`, `us-west-2-lax-1a` (local zones).
fn check_az(az: &str) -> Result<(), ProviderError> {
    let ok = az.len() >= 4
        && az
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && az.chars().last().is_some_and(|c| c.is_ascii_lowercase())
        && az.contains('-')
        && az.chars().any(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            "availability_zone",
            format!("{az:?}"),
            "expected a zone name like us-east-1a",
        ))
    }
}

pub struct SubnetProvider {
    aws: Arc<Aws>,
}

impl SubnetProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        SubnetProvider { aws }
    }

    async fn describe(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<Option<aws_sdk_ec2::types::Subnet>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .describe_subnets()
            .subnet_ids(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.subnets().first().cloned()),
            Err(e) => match error::map(&ctx.urn, "DescribeSubnets", e) {
                ProviderError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn set_map_public_ip(&self, ctx: &Ctx, id: &str, v: bool) -> Result<(), ProviderError> {
        self.aws.limits.ec2_mutating.acquire().await;
        self.aws
            .ec2()
            .await
            .modify_subnet_attribute()
            .subnet_id(id)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(v).build())
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "ModifySubnetAttribute", e))?;
        Ok(())
    }

    fn outputs(s: &aws_sdk_ec2::types::Subnet) -> Value {
        json!({
            "id": s.subnet_id(),
            "arn": s.subnet_arn(),
            "vpc_id": s.vpc_id(),
            "cidr_block": s.cidr_block(),
            "availability_zone": s.availability_zone(),
            "availability_zone_id": s.availability_zone_id(),
            "owner_id": s.owner_id(),
        })
    }
}

#[async_trait]
impl Provider for SubnetProvider {
    fn type_name(&self) -> &'static str {
        Subnet::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["vpc_id", "cidr_block", "availability_zone"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ec2", 20))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let s: Subnet = parse(inputs)?;
        check_id("vpc_id", &s.vpc_id, "vpc")?;
        check_cidr("cidr_block", &s.cidr_block, 16..=28)?;
        if let Some(az) = &s.availability_zone {
            check_az(az)?;
        }
        tags::validate(&s.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let s: Subnet = parse(inputs)?;
        let vpc_id = known(ctx, "vpc_id", &s.vpc_id)?;
        self.aws.limits.ec2_mutating.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .create_subnet()
            .vpc_id(vpc_id)
            .cidr_block(&s.cidr_block)
            .set_availability_zone(s.availability_zone.clone())
            .tag_specifications(tag_spec(&self.aws, ctx, ResourceType::Subnet, &s.tags))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateSubnet", e))?;
        let sub = out.subnet().ok_or_else(|| {
            ProviderError::Fatal(format!("{}: CreateSubnet returned no subnet", ctx.urn))
        })?;
        let id = sub.subnet_id().unwrap_or_default().to_string();
        if s.map_public_ip_on_launch {
            self.set_map_public_ip(ctx, &id, true)
                .await
                .map_err(|e| ProviderError::partial(&id, e))?;
        }
        Ok(Created {
            id,
            outputs: Self::outputs(sub),
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(sub) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        // A zone AWS picked is not drift: report it only when one was declared.
        let declared_az = inputs
            .get("availability_zone")
            .is_some_and(|v| !v.is_null());
        let live = Subnet {
            vpc_id: Input::Value(sub.vpc_id().unwrap_or_default().into()),
            cidr_block: sub.cidr_block().unwrap_or_default().into(),
            availability_zone: if declared_az {
                sub.availability_zone().map(str::to_string)
            } else {
                None
            },
            map_public_ip_on_launch: sub.map_public_ip_on_launch().unwrap_or(false),
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(sub.tags())),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: Self::outputs(&sub),
        }))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        id: &str,
        old_inputs: &Value,
        new_inputs: &Value,
        _old_outputs: &Value,
    ) -> Result<Value, ProviderError> {
        let (o, n): (Subnet, Subnet) = (parse(old_inputs)?, parse(new_inputs)?);
        if o.map_public_ip_on_launch != n.map_public_ip_on_launch {
            self.set_map_public_ip(ctx, id, n.map_public_ip_on_launch)
                .await?;
        }
        update_tags(&self.aws, ctx, id, &o.tags, &n.tags).await?;
        match self.describe(ctx, id).await? {
            Some(sub) => Ok(Self::outputs(&sub)),
            None => Err(ProviderError::NotFound(format!(
                "{}: subnet {id} disappeared during update",
                ctx.urn
            ))),
        }
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        self.aws.limits.ec2_mutating.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .delete_subnet()
            .subnet_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match error::map(&ctx.urn, "DeleteSubnet", e) {
                ProviderError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn find_by_urn(&self, ctx: &Ctx, _inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .describe_subnets()
            .filters(urn_filter(ctx))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeSubnets", e))?;
        Ok(out
            .subnets()
            .iter()
            .map(|s| Created {
                id: s.subnet_id().unwrap_or_default().to_string(),
                outputs: Self::outputs(s),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_zones_are_checked() {
        assert!(check_id("vpc_id", &Input::from("vpc-0abc12"), "vpc").is_ok());
        assert!(check_id("vpc_id", &Input::Unknown, "vpc").is_ok());
        let e = check_id("vpc_id", &Input::from("subnet-1"), "vpc").unwrap_err();
        assert!(e.to_string().contains("vpc_id") && e.to_string().contains("subnet-1"));
        assert!(check_az("us-east-1a").is_ok());
        assert!(check_az("us-west-2-lax-1a").is_ok());
        assert!(check_az("US-EAST-1A").is_err());
        assert!(check_az("us-east-1").is_err());
    }
}
