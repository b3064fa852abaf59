//! `aws:ec2/Eip` (Terraform `aws_eip`): an Elastic IP allocated in the VPC
//! domain. Its id is the allocation id.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{from_tags, tag_spec, update_tags, urn_filter};
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eip {
    /// Only `vpc`: EC2-Classic (`standard`) is retired.
    #[serde(default = "default_domain")]
    pub domain: String,
    #[serde(default)]
    pub tags: Tags,
}

fn default_domain() -> String {
    "vpc".into()
}

impl Eip {
    pub fn new() -> Self {
        Eip {
            domain: default_domain(),
            tags: Tags::new(),
        }
    }
}

impl Default for Eip {
    fn default() -> Self {
        Self::new()
    }
}

impl ResourceArgs for Eip {
    const TYPE: &'static str = "aws:ec2/Eip";
}

impl Resource<Eip> {
    pub fn allocation_id(&self) -> Output<String> {
        self.output("allocation_id")
    }
    pub fn public_ip(&self) -> Output<String> {
        self.output("public_ip")
    }
    pub fn association_id(&self) -> Output<String> {
        self.output("association_id")
    }
}

pub struct EipProvider {
    aws: Arc<Aws>,
}

impl EipProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        EipProvider { aws }
    }

    async fn describe(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<Option<aws_sdk_ec2::types::Address>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .describe_addresses()
            .allocation_ids(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.addresses().first().cloned()),
            Err(e) => match error::map(&ctx.urn, "DescribeAddresses", e) {
                ProviderError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    fn outputs(a: &aws_sdk_ec2::types::Address) -> Value {
        let id = a.allocation_id().unwrap_or_default();
        json!({
            "id": id,
            "allocation_id": id,
            "public_ip": a.public_ip(),
            "domain": a.domain().map(|d| d.as_str()),
            "association_id": a.association_id(),
            "network_interface_id": a.network_interface_id(),
            "private_ip": a.private_ip_address(),
            "public_ipv4_pool": a.public_ipv4_pool(),
        })
    }
}

#[async_trait]
impl Provider for EipProvider {
    fn type_name(&self) -> &'static str {
        Eip::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["domain"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ec2", 20))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let e: Eip = parse(inputs)?;
        if e.domain != "vpc" {
            return Err(ProviderError::invalid(
                "domain",
                format!("{:?}", e.domain),
                "must be \"vpc\" (EC2-Classic addresses are retired)",
            ));
        }
        tags::validate(&e.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let e: Eip = parse(inputs)?;
        self.aws.limits.ec2_mutating.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .allocate_address()
            .domain(DomainType::from(e.domain.as_str()))
            .tag_specifications(tag_spec(&self.aws, ctx, ResourceType::ElasticIp, &e.tags))
            .customize()
            .config_override(super::once())
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "AllocateAddress", e))?;
        let id = out
            .allocation_id()
            .ok_or_else(|| {
                ProviderError::Fatal(format!(
                    "{}: AllocateAddress returned no allocation id",
                    ctx.urn
                ))
            })?
            .to_string();
        // The allocate response lacks association fields; describe for the full view.
        let outputs = match self.describe(ctx, &id).await? {
            Some(a) => Self::outputs(&a),
            None => json!({
                "id": id, "allocation_id": id, "public_ip": out.public_ip(),
                "domain": e.domain,
            }),
        };
        Ok(Created { id, outputs })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(a) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        let live = Eip {
            domain: a
                .domain()
                .map(|d| d.as_str().to_string())
                .unwrap_or_else(default_domain),
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(a.tags())),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: Self::outputs(&a),
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
        let (o, n): (Eip, Eip) = (parse(old_inputs)?, parse(new_inputs)?);
        update_tags(&self.aws, ctx, id, &o.tags, &n.tags).await?;
        match self.describe(ctx, id).await? {
            Some(a) => Ok(Self::outputs(&a)),
            None => Err(ProviderError::NotFound(format!(
                "{}: Elastic IP {id} disappeared during update",
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
            .release_address()
            .allocation_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match error::map(&ctx.urn, "ReleaseAddress", e) {
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
            .describe_addresses()
            .filters(urn_filter(ctx))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeAddresses", e))?;
        Ok(out
            .addresses()
            .iter()
            .map(|a| Created {
                id: a.allocation_id().unwrap_or_default().to_string(),
                outputs: Self::outputs(a),
            })
            .collect())
    }
}
