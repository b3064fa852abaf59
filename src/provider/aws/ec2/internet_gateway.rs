//! `aws:ec2/InternetGateway` (Terraform `aws_internet_gateway`): attached to
//! `vpc_id` when given; a change of VPC detaches and re-attaches in place.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttachmentStatus, ResourceType};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::subnet::{check_id, known};
use super::{from_tags, tag_spec, update_tags, urn_filter};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternetGateway {
    /// The VPC to attach to; detached when absent.
    #[serde(default)]
    pub vpc_id: Option<Input<String>>,
    #[serde(default)]
    pub tags: Tags,
}

impl InternetGateway {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn attached_to(vpc_id: impl Into<Input<String>>) -> Self {
        InternetGateway {
            vpc_id: Some(vpc_id.into()),
            tags: Tags::new(),
        }
    }
}

impl ResourceArgs for InternetGateway {
    const TYPE: &'static str = "aws:ec2/InternetGateway";
}

impl Resource<InternetGateway> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn owner_id(&self) -> Output<String> {
        self.output("owner_id")
    }
}

/// The VPCs the gateway is attached (or attaching) to.
fn attached_vpcs(igw: &aws_sdk_ec2::types::InternetGateway) -> Vec<String> {
    igw.attachments()
        .iter()
        .filter(|a| {
            !matches!(
                a.state(),
                Some(AttachmentStatus::Detached | AttachmentStatus::Detaching)
            )
        })
        .filter_map(|a| a.vpc_id().map(str::to_string))
        .collect()
}

pub struct InternetGatewayProvider {
    aws: Arc<Aws>,
}

impl InternetGatewayProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        InternetGatewayProvider { aws }
    }

    async fn describe(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<Option<aws_sdk_ec2::types::InternetGateway>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .describe_internet_gateways()
            .internet_gateway_ids(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.internet_gateways().first().cloned()),
            Err(e) => match error::map(&ctx.urn, "DescribeInternetGateways", e) {
                ProviderError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn attach(&self, ctx: &Ctx, id: &str, vpc_id: &str) -> Result<(), ProviderError> {
        self.aws.limits.ec2_mutating.acquire().await;
        self.aws
            .ec2()
            .await
            .attach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc_id)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "AttachInternetGateway", e))?;
        Ok(())
    }

    /// Detaching from a VPC it is no longer attached to is success.
    async fn detach(&self, ctx: &Ctx, id: &str, vpc_id: &str) -> Result<(), ProviderError> {
        self.aws.limits.ec2_mutating.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .detach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match error::map(&ctx.urn, "DetachInternetGateway", e) {
                ProviderError::NotFound(_) => Ok(()),
                ProviderError::Fatal(m) if m.contains("Gateway.NotAttached") => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn outputs(&self, igw: &aws_sdk_ec2::types::InternetGateway) -> Value {
        let id = igw.internet_gateway_id().unwrap_or_default();
        let owner = igw.owner_id().unwrap_or_default();
        let region = match self.aws.config().await.region() {
            Some(r) => r.to_string(),
            None => self.aws.settings.region.clone().unwrap_or_default(),
        };
        json!({
            "id": id,
            "arn": format!("arn:aws:ec2:{region}:{owner}:internet-gateway/{id}"),
            "owner_id": igw.owner_id(),
        })
    }
}

#[async_trait]
impl Provider for InternetGatewayProvider {
    fn type_name(&self) -> &'static str {
        InternetGateway::TYPE
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ec2", 20))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let g: InternetGateway = parse(inputs)?;
        if let Some(v) = &g.vpc_id {
            check_id("vpc_id", v, "vpc")?;
        }
        tags::validate(&g.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let g: InternetGateway = parse(inputs)?;
        let vpc_id = g
            .vpc_id
            .as_ref()
            .map(|v| known(ctx, "vpc_id", v))
            .transpose()?;
        self.aws.limits.ec2_mutating.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .create_internet_gateway()
            .tag_specifications(tag_spec(
                &self.aws,
                ctx,
                ResourceType::InternetGateway,
                &g.tags,
            ))
            .customize()
            .config_override(super::once())
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateInternetGateway", e))?;
        let igw = out.internet_gateway().ok_or_else(|| {
            ProviderError::Fatal(format!(
                "{}: CreateInternetGateway returned no gateway",
                ctx.urn
            ))
        })?;
        let id = igw.internet_gateway_id().unwrap_or_default().to_string();
        if let Some(vpc) = vpc_id {
            self.attach(ctx, &id, vpc)
                .await
                .map_err(|e| ProviderError::partial(&id, e))?;
        }
        Ok(Created {
            outputs: self.outputs(igw).await,
            id,
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(igw) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        let live = InternetGateway {
            vpc_id: attached_vpcs(&igw).into_iter().next().map(Input::Value),
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(igw.tags())),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: self.outputs(&igw).await,
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
        let (o, n): (InternetGateway, InternetGateway) = (parse(old_inputs)?, parse(new_inputs)?);
        if o.vpc_id != n.vpc_id {
            let want = n
                .vpc_id
                .as_ref()
                .map(|v| known(ctx, "vpc_id", v))
                .transpose()?;
            // Detach from whatever it is live-attached to (state may be stale).
            let live = match self.describe(ctx, id).await? {
                Some(igw) => attached_vpcs(&igw),
                None => {
                    return Err(ProviderError::NotFound(format!(
                        "{}: internet gateway {id} disappeared during update",
                        ctx.urn
                    )))
                }
            };
            for vpc in live.iter().filter(|v| Some(v.as_str()) != want) {
                self.detach(ctx, id, vpc).await?;
            }
            if let Some(vpc) = want.filter(|w| !live.iter().any(|v| v == w)) {
                self.attach(ctx, id, vpc).await?;
            }
        }
        update_tags(&self.aws, ctx, id, &o.tags, &n.tags).await?;
        match self.describe(ctx, id).await? {
            Some(igw) => Ok(self.outputs(&igw).await),
            None => Err(ProviderError::NotFound(format!(
                "{}: internet gateway {id} disappeared during update",
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
        let Some(igw) = self.describe(ctx, id).await? else {
            return Ok(());
        };
        for vpc in attached_vpcs(&igw) {
            self.detach(ctx, id, &vpc).await?;
        }
        self.aws.limits.ec2_mutating.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .delete_internet_gateway()
            .internet_gateway_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match error::map(&ctx.urn, "DeleteInternetGateway", e) {
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
            .describe_internet_gateways()
            .filters(urn_filter(ctx))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeInternetGateways", e))?;
        let mut found = Vec::new();
        for g in out.internet_gateways() {
            found.push(Created {
                id: g.internet_gateway_id().unwrap_or_default().to_string(),
                outputs: self.outputs(g).await,
            });
        }
        Ok(found)
    }
}
