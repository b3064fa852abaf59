//! `aws:ec2/Vpc` (Terraform `aws_vpc`).

use std::net::Ipv4Addr;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, Tenancy, VpcAttributeName};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{from_tags, tag_spec, update_tags, urn_filter};
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{finish_create, parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vpc {
    /// IPv4 CIDR, /16 to /28.
    pub cidr_block: String,
    #[serde(default = "yes")]
    pub enable_dns_support: bool,
    #[serde(default)]
    pub enable_dns_hostnames: bool,
    /// `default` or `dedicated`.
    #[serde(default = "default_tenancy")]
    pub instance_tenancy: String,
    #[serde(default)]
    pub tags: Tags,
}

fn yes() -> bool {
    true
}
fn default_tenancy() -> String {
    "default".into()
}

impl Vpc {
    pub fn new(cidr_block: &str) -> Self {
        Vpc {
            cidr_block: cidr_block.into(),
            enable_dns_support: true,
            enable_dns_hostnames: true,
            instance_tenancy: default_tenancy(),
            tags: Tags::new(),
        }
    }
}

impl ResourceArgs for Vpc {
    const TYPE: &'static str = "aws:ec2/Vpc";
}

impl Resource<Vpc> {
    pub fn cidr_block(&self) -> Output<String> {
        self.output("cidr_block")
    }
    pub fn default_security_group_id(&self) -> Output<String> {
        self.output("default_security_group_id")
    }
    pub fn main_route_table_id(&self) -> Output<String> {
        self.output("main_route_table_id")
    }
}

/// Parses `a.b.c.d/n` and checks the prefix length is within `min..=max`.
pub fn check_cidr(
    field: &str,
    cidr: &str,
    min: u8,
    max: u8,
) -> Result<(Ipv4Addr, u8), ProviderError> {
    let bad = |why: &str| ProviderError::invalid(field, format!("{cidr:?}"), why.to_string());
    let (addr, len) = cidr
        .split_once('/')
        .ok_or_else(|| bad("expected an IPv4 CIDR like 10.0.0.0/16"))?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad("not an IPv4 address"))?;
    let len: u8 = len
        .parse()
        .map_err(|_| bad("prefix length is not a number"))?;
    if len < min || len > max {
        return Err(bad(&format!(
            "prefix length must be between /{min} and /{max}"
        )));
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    if u32::from(addr) & !mask != 0 {
        return Err(bad("host bits are set; use the network address"));
    }
    Ok((addr, len))
}

pub struct VpcProvider {
    aws: Arc<Aws>,
}

impl VpcProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        VpcProvider { aws }
    }

    async fn describe(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<Option<aws_sdk_ec2::types::Vpc>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .describe_vpcs()
            .vpc_ids(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.vpcs().first().cloned()),
            Err(e) => match error::map(&ctx.urn, "DescribeVpcs", e) {
                ProviderError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn attribute(
        &self,
        ctx: &Ctx,
        id: &str,
        name: VpcAttributeName,
    ) -> Result<bool, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .describe_vpc_attribute()
            .vpc_id(id)
            .attribute(name.clone())
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeVpcAttribute", e))?;
        let v = match name {
            VpcAttributeName::EnableDnsHostnames => out.enable_dns_hostnames(),
            _ => out.enable_dns_support(),
        };
        Ok(v.and_then(AttributeBooleanValue::value).unwrap_or(false))
    }

    async fn set_dns(
        &self,
        ctx: &Ctx,
        id: &str,
        support: Option<bool>,
        hostnames: Option<bool>,
    ) -> Result<(), ProviderError> {
        let ec2 = self.aws.ec2().await;
        // One attribute per call: the API refuses both at once.
        if let Some(v) = support {
            self.aws.limits.ec2_mutating.acquire().await;
            ec2.modify_vpc_attribute()
                .vpc_id(id)
                .enable_dns_support(AttributeBooleanValue::builder().value(v).build())
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "ModifyVpcAttribute", e))?;
        }
        if let Some(v) = hostnames {
            self.aws.limits.ec2_mutating.acquire().await;
            ec2.modify_vpc_attribute()
                .vpc_id(id)
                .enable_dns_hostnames(AttributeBooleanValue::builder().value(v).build())
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "ModifyVpcAttribute", e))?;
        }
        Ok(())
    }

    async fn outputs(
        &self,
        ctx: &Ctx,
        vpc: &aws_sdk_ec2::types::Vpc,
    ) -> Result<Value, ProviderError> {
        let id = vpc.vpc_id().unwrap_or_default();
        let ec2 = self.aws.ec2().await;
        self.aws.limits.ec2_describe.acquire().await;
        let sg = ec2
            .describe_security_groups()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("vpc-id")
                    .values(id)
                    .build(),
            )
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("group-name")
                    .values("default")
                    .build(),
            )
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeSecurityGroups", e))?;
        self.aws.limits.ec2_describe.acquire().await;
        let rt = ec2
            .describe_route_tables()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("vpc-id")
                    .values(id)
                    .build(),
            )
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("association.main")
                    .values("true")
                    .build(),
            )
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeRouteTables", e))?;
        Ok(json!({
            "id": id,
            "cidr_block": vpc.cidr_block(),
            "owner_id": vpc.owner_id(),
            "default_security_group_id": sg.security_groups().first().and_then(|g| g.group_id()),
            "main_route_table_id": rt.route_tables().first().and_then(|t| t.route_table_id()),
        }))
    }
}

#[async_trait]
impl Provider for VpcProvider {
    fn type_name(&self) -> &'static str {
        Vpc::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["cidr_block", "instance_tenancy"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ec2", 20))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let v: Vpc = parse(inputs)?;
        check_cidr("cidr_block", &v.cidr_block, 16, 28)?;
        if !matches!(v.instance_tenancy.as_str(), "default" | "dedicated") {
            return Err(ProviderError::invalid(
                "instance_tenancy",
                format!("{:?}", v.instance_tenancy),
                "must be \"default\" or \"dedicated\"",
            ));
        }
        if v.enable_dns_hostnames && !v.enable_dns_support {
            return Err(ProviderError::invalid(
                "enable_dns_hostnames",
                true,
                "needs enable_dns_support = true",
            ));
        }
        tags::validate(&v.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let v: Vpc = parse(inputs)?;
        self.aws.limits.ec2_mutating.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .create_vpc()
            .cidr_block(&v.cidr_block)
            .instance_tenancy(Tenancy::from(v.instance_tenancy.as_str()))
            .tag_specifications(tag_spec(&self.aws, ctx, ResourceType::Vpc, &v.tags))
            .customize()
            .config_override(super::once())
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateVpc", e))?;
        let vpc = out.vpc().ok_or_else(|| {
            ProviderError::Fatal(format!("{}: CreateVpc returned no VPC", ctx.urn))
        })?;
        let id = vpc.vpc_id().unwrap_or_default().to_string();
        // The VPC exists from here on: a failure is a partial create, so the
        // engine records the VPC as it is and finishes it later.
        finish_create(&id, async {
            // New VPCs have DNS support on and hostnames off; change only what differs.
            self.set_dns(
                ctx,
                &id,
                (!v.enable_dns_support).then_some(false),
                v.enable_dns_hostnames.then_some(true),
            )
            .await?;
            let outputs = self.outputs(ctx, vpc).await?;
            Ok(Created {
                id: id.clone(),
                outputs,
            })
        })
        .await
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(vpc) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        let live = Vpc {
            cidr_block: vpc.cidr_block().unwrap_or_default().into(),
            enable_dns_support: self
                .attribute(ctx, id, VpcAttributeName::EnableDnsSupport)
                .await?,
            enable_dns_hostnames: self
                .attribute(ctx, id, VpcAttributeName::EnableDnsHostnames)
                .await?,
            instance_tenancy: vpc
                .instance_tenancy()
                .map(|t| t.as_str().to_string())
                .unwrap_or_else(default_tenancy),
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(vpc.tags())),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: self.outputs(ctx, &vpc).await?,
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
        let (o, n): (Vpc, Vpc) = (parse(old_inputs)?, parse(new_inputs)?);
        // Hostnames off before support off, support on before hostnames on.
        if !n.enable_dns_hostnames && o.enable_dns_hostnames {
            self.set_dns(ctx, id, None, Some(false)).await?;
        }
        if n.enable_dns_support != o.enable_dns_support {
            self.set_dns(ctx, id, Some(n.enable_dns_support), None)
                .await?;
        }
        if n.enable_dns_hostnames && !o.enable_dns_hostnames {
            self.set_dns(ctx, id, None, Some(true)).await?;
        }
        update_tags(&self.aws, ctx, id, &o.tags, &n.tags).await?;
        let _ = old_outputs;
        match self.describe(ctx, id).await? {
            Some(vpc) => self.outputs(ctx, &vpc).await,
            None => Err(ProviderError::NotFound(format!(
                "{}: VPC {id} disappeared during update",
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
        match self.aws.ec2().await.delete_vpc().vpc_id(id).send().await {
            Ok(_) => Ok(()),
            Err(e) => match error::map(&ctx.urn, "DeleteVpc", e) {
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
            .describe_vpcs()
            .filters(urn_filter(ctx))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeVpcs", e))?;
        let mut found = Vec::new();
        for vpc in out.vpcs() {
            found.push(Created {
                id: vpc.vpc_id().unwrap_or_default().to_string(),
                outputs: self.outputs(ctx, vpc).await?,
            });
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_validation_names_field_and_value() {
        assert!(check_cidr("cidr_block", "10.0.0.0/16", 16, 28).is_ok());
        let e = check_cidr("cidr_block", "10.0.0.1/16", 16, 28).unwrap_err();
        assert!(
            e.to_string().contains("cidr_block") && e.to_string().contains("10.0.0.1/16"),
            "{e}"
        );
        assert!(check_cidr("cidr_block", "10.0.0.0/8", 16, 28).is_err());
        assert!(check_cidr("cidr_block", "nope", 16, 28).is_err());
    }
}
