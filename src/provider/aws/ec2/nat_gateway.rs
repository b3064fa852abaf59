//! `aws:ec2/NatGateway` (Terraform `aws_nat_gateway`). Creation and deletion
//! are asynchronous in AWS: create waits for `available`, delete for `deleted`.
//! Everything but the tags forces a replacement.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ConnectivityType, NatGatewayState, ResourceType};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::subnet::{check_id, known};
use super::{from_tags, tag_spec, update_tags, urn_filter};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatGateway {
    /// The Elastic IP's allocation id; required for `public`, refused for `private`.
    #[serde(default)]
    pub allocation_id: Option<Input<String>>,
    pub subnet_id: Input<String>,
    /// `public` or `private`.
    #[serde(default = "default_connectivity")]
    pub connectivity_type: String,
    #[serde(default)]
    pub tags: Tags,
}

fn default_connectivity() -> String {
    "public".into()
}

impl NatGateway {
    /// A public NAT gateway in `subnet_id` with the Elastic IP `allocation_id`.
    pub fn new(
        allocation_id: impl Into<Input<String>>,
        subnet_id: impl Into<Input<String>>,
    ) -> Self {
        NatGateway {
            allocation_id: Some(allocation_id.into()),
            subnet_id: subnet_id.into(),
            connectivity_type: default_connectivity(),
            tags: Tags::new(),
        }
    }

    /// A private NAT gateway (no Elastic IP) in `subnet_id`.
    pub fn private(subnet_id: impl Into<Input<String>>) -> Self {
        NatGateway {
            allocation_id: None,
            subnet_id: subnet_id.into(),
            connectivity_type: "private".into(),
            tags: Tags::new(),
        }
    }
}

impl ResourceArgs for NatGateway {
    const TYPE: &'static str = "aws:ec2/NatGateway";
}

impl Resource<NatGateway> {
    pub fn public_ip(&self) -> Output<String> {
        self.output("public_ip")
    }
    pub fn private_ip(&self) -> Output<String> {
        self.output("private_ip")
    }
    pub fn network_interface_id(&self) -> Output<String> {
        self.output("network_interface_id")
    }
    pub fn association_id(&self) -> Output<String> {
        self.output("association_id")
    }
    pub fn vpc_id(&self) -> Output<String> {
        self.output("vpc_id")
    }
}

fn outputs(n: &aws_sdk_ec2::types::NatGateway) -> Value {
    let primary = n
        .nat_gateway_addresses()
        .iter()
        .find(|a| a.is_primary().unwrap_or(true));
    json!({
        "id": n.nat_gateway_id(),
        "allocation_id": primary.and_then(|a| a.allocation_id()),
        "subnet_id": n.subnet_id(),
        "vpc_id": n.vpc_id(),
        "connectivity_type": n.connectivity_type().map(|c| c.as_str()),
        "network_interface_id": primary.and_then(|a| a.network_interface_id()),
        "private_ip": primary.and_then(|a| a.private_ip()),
        "public_ip": primary.and_then(|a| a.public_ip()),
        "association_id": primary.and_then(|a| a.association_id()),
    })
}

fn gone(state: Option<&NatGatewayState>) -> bool {
    matches!(
        state,
        Some(NatGatewayState::Deleted | NatGatewayState::Deleting)
    )
}

pub struct NatGatewayProvider {
    aws: Arc<Aws>,
}

impl NatGatewayProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        NatGatewayProvider { aws }
    }

    async fn describe(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<Option<aws_sdk_ec2::types::NatGateway>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .describe_nat_gateways()
            .nat_gateway_ids(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.nat_gateways().first().cloned()),
            Err(e) => match error::map(&ctx.urn, "DescribeNatGateways", e) {
                ProviderError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    /// Polls until the gateway is `available` (returned) or in a final state
    /// that is not (an error naming it).
    async fn wait_available(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<aws_sdk_ec2::types::NatGateway, ProviderError> {
        let s = &self.aws.settings;
        let deadline = Instant::now() + s.wait_timeout;
        loop {
            let n = self.describe(ctx, id).await?;
            let state = n.as_ref().and_then(|n| n.state().cloned());
            match (n, &state) {
                (Some(n), Some(NatGatewayState::Available)) => return Ok(n),
                (Some(n), Some(NatGatewayState::Failed)) => {
                    return Err(ProviderError::Fatal(format!(
                        "{}: NAT gateway {id} is in state failed: {}: {}",
                        ctx.urn,
                        n.failure_code().unwrap_or("?"),
                        n.failure_message().unwrap_or("")
                    )))
                }
                (Some(_), Some(NatGatewayState::Deleting | NatGatewayState::Deleted))
                | (None, _) => {
                    return Err(ProviderError::Fatal(format!(
                        "{}: NAT gateway {id} is {} while waiting for it to become available",
                        ctx.urn,
                        state.as_ref().map_or("gone", |s| s.as_str())
                    )))
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(ProviderError::Fatal(format!(
                    "{}: NAT gateway {id} still in state {} after {:?} (waiting for available)",
                    ctx.urn,
                    state.as_ref().map_or("unknown", |s| s.as_str()),
                    s.wait_timeout
                )));
            }
            tokio::time::sleep(s.poll_interval).await;
        }
    }

    /// Polls until the gateway is `deleted` or no longer described.
    async fn wait_deleted(&self, ctx: &Ctx, id: &str) -> Result<(), ProviderError> {
        let s = &self.aws.settings;
        let deadline = Instant::now() + s.wait_timeout;
        loop {
            let state = match self.describe(ctx, id).await? {
                None => return Ok(()),
                Some(n) => n.state().cloned(),
            };
            if matches!(state, Some(NatGatewayState::Deleted)) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ProviderError::Fatal(format!(
                    "{}: NAT gateway {id} still in state {} after {:?} (waiting for deleted)",
                    ctx.urn,
                    state.as_ref().map_or("unknown", |s| s.as_str()),
                    s.wait_timeout
                )));
            }
            tokio::time::sleep(s.poll_interval).await;
        }
    }
}

#[async_trait]
impl Provider for NatGatewayProvider {
    fn type_name(&self) -> &'static str {
        NatGateway::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["allocation_id", "subnet_id", "connectivity_type"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ec2", 20))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let n: NatGateway = parse(inputs)?;
        check_id("subnet_id", &n.subnet_id, "subnet")?;
        if let Some(a) = &n.allocation_id {
            check_id("allocation_id", a, "eipalloc")?;
        }
        match (n.connectivity_type.as_str(), &n.allocation_id) {
            ("public", None) => {
                return Err(ProviderError::invalid(
                    "allocation_id",
                    "null",
                    "a public NAT gateway needs an Elastic IP allocation id",
                ))
            }
            ("private", Some(a)) => {
                return Err(ProviderError::invalid(
                    "allocation_id",
                    format!("{:?}", a.known().map_or("(reference)", String::as_str)),
                    "a private NAT gateway takes no Elastic IP",
                ))
            }
            ("public" | "private", _) => {}
            (other, _) => {
                return Err(ProviderError::invalid(
                    "connectivity_type",
                    format!("{other:?}"),
                    "must be \"public\" or \"private\"",
                ))
            }
        }
        tags::validate(&n.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let n: NatGateway = parse(inputs)?;
        let subnet_id = known(ctx, "subnet_id", &n.subnet_id)?;
        let allocation_id = n
            .allocation_id
            .as_ref()
            .map(|a| known(ctx, "allocation_id", a))
            .transpose()?;
        self.aws.limits.ec2_nat.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .create_nat_gateway()
            .subnet_id(subnet_id)
            .set_allocation_id(allocation_id.map(str::to_string))
            .connectivity_type(ConnectivityType::from(n.connectivity_type.as_str()))
            .tag_specifications(tag_spec(&self.aws, ctx, ResourceType::Natgateway, &n.tags))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateNatGateway", e))?;
        let id = out
            .nat_gateway()
            .and_then(|g| g.nat_gateway_id())
            .ok_or_else(|| {
                ProviderError::Fatal(format!("{}: CreateNatGateway returned no gateway", ctx.urn))
            })?
            .to_string();
        let gw = self
            .wait_available(ctx, &id)
            .await
            .map_err(|e| ProviderError::partial(&id, e))?;
        Ok(Created {
            id,
            outputs: outputs(&gw),
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(gw) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        if gone(gw.state()) {
            return Ok(None);
        }
        let out = outputs(&gw);
        let live = NatGateway {
            allocation_id: out["allocation_id"]
                .as_str()
                .map(|s| Input::Value(s.to_string())),
            subnet_id: Input::Value(gw.subnet_id().unwrap_or_default().to_string()),
            connectivity_type: gw
                .connectivity_type()
                .map(|c| c.as_str().to_string())
                .unwrap_or_else(default_connectivity),
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(gw.tags())),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: out,
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
        let (o, n): (NatGateway, NatGateway) = (parse(old_inputs)?, parse(new_inputs)?);
        update_tags(&self.aws, ctx, id, &o.tags, &n.tags).await?;
        match self.describe(ctx, id).await? {
            Some(gw) if !gone(gw.state()) => Ok(outputs(&gw)),
            _ => Err(ProviderError::NotFound(format!(
                "{}: NAT gateway {id} disappeared during update",
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
            .delete_nat_gateway()
            .nat_gateway_id(id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) => match error::map(&ctx.urn, "DeleteNatGateway", e) {
                ProviderError::NotFound(_) => return Ok(()),
                other => return Err(other),
            },
        }
        // The Elastic IP and the subnet stay in use until the gateway is deleted.
        self.wait_deleted(ctx, id).await
    }

    async fn find_by_urn(&self, ctx: &Ctx, _inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .describe_nat_gateways()
            .filter(urn_filter(ctx))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeNatGateways", e))?;
        Ok(out
            .nat_gateways()
            .iter()
            .filter(|g| !gone(g.state()))
            .map(|g| Created {
                id: g.nat_gateway_id().unwrap_or_default().to_string(),
                outputs: outputs(g),
            })
            .collect())
    }
}
