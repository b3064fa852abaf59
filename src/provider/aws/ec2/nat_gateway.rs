//! `aws:ec2/NatGateway` (Terraform `aws_nat_gateway`). Creation and deletion
//! are asynchronous in AWS: create waits for `available`, delete for `deleted`.
//! Everything but the tags forces a replacement.

use async_trait::async_trait;
use aws_sdk_ec2::types::{ConnectivityType, NatGatewayState, ResourceType};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{filter, from_tags, Ec2};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::{check_id, one_of};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NatGateway {
    /// The Elastic IP's allocation id; required for `public`, refused for `private`.
    pub allocation_id: Option<Input<String>>,
    pub subnet_id: Input<String>,
    /// `public` or `private`.
    pub connectivity_type: String,
    pub tags: Tags,
}

impl Default for NatGateway {
    fn default() -> Self {
        NatGateway {
            allocation_id: None,
            subnet_id: Input::default(),
            connectivity_type: "public".into(),
            tags: Tags::new(),
        }
    }
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
            ..Default::default()
        }
    }

    /// A private NAT gateway (no Elastic IP) in `subnet_id`.
    pub fn private(subnet_id: impl Into<Input<String>>) -> Self {
        NatGateway {
            subnet_id: subnet_id.into(),
            connectivity_type: "private".into(),
            ..Default::default()
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

#[async_trait]
impl AwsResource for NatGateway {
    type Service = Ec2;
    const SCHEMA: Schema = Schema {
        force_new: &["allocation_id", "subnet_id", "connectivity_type"],
        terraform: &[Tf {
            resource: "aws_nat_gateway",
            args: &[
                ("allocation_id", "allocation_id"),
                ("subnet_id", "subnet_id"),
                ("connectivity_type", "connectivity_type"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_id("subnet_id", &self.subnet_id, "subnet")?;
        if let Some(a) = &self.allocation_id {
            check_id("allocation_id", a, "eipalloc")?;
        }
        one_of(
            "connectivity_type",
            &self.connectivity_type,
            &["public", "private"],
        )?;
        match (self.connectivity_type.as_str(), &self.allocation_id) {
            ("public", None) => Err(ProviderError::invalid(
                "allocation_id",
                "null",
                "a public NAT gateway needs an Elastic IP allocation id",
            )),
            ("private", Some(a)) => Err(ProviderError::invalid(
                "allocation_id",
                format!("{:?}", a.known().map_or("(reference)", String::as_str)),
                "a private NAT gateway takes no Elastic IP",
            )),
            _ => Ok(()),
        }
    }

    async fn create(&self, cx: &Call<'_, Ec2>) -> Result<String, ProviderError> {
        let subnet_id = self.subnet_id.require("subnet_id")?;
        let allocation_id = self
            .allocation_id
            .as_ref()
            .map(|a| a.require("allocation_id").cloned())
            .transpose()?;
        // The SDK fills in the ClientToken, so its own resends are safe.
        let out = cx
            .send("CreateNatGateway", |c| {
                c.create_nat_gateway()
                    .subnet_id(subnet_id)
                    .set_allocation_id(allocation_id.clone())
                    .connectivity_type(ConnectivityType::from(self.connectivity_type.as_str()))
                    .tag_specifications(cx.tag_spec(ResourceType::Natgateway, &self.tags))
                    .send()
            })
            .await?;
        out.nat_gateway()
            .and_then(|g| g.nat_gateway_id())
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("CreateNatGateway returned no gateway id"))
    }

    async fn after_create(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        // A gateway not yet visible (NatGatewayNotFound) is still pending.
        Wait::new("NAT gateway", &["pending"], &["available"])
            .after_create()
            .until(cx.settings(), || async {
                match describe(cx, id).await? {
                    Some(n) if n.state() == Some(&NatGatewayState::Failed) => {
                        Err(cx.fatal(format!(
                            "NAT gateway {id} is in state failed: {}: {}",
                            n.failure_code().unwrap_or("?"),
                            n.failure_message().unwrap_or("")
                        )))
                    }
                    Some(n) => Ok(Seen::State(state(&n), ())),
                    None => Ok(Seen::Gone),
                }
            })
            .await
    }

    async fn read(
        cx: &Call<'_, Ec2>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        match describe(cx, id).await? {
            Some(n) => Ok(live(cx, id, &n)),
            None => Ok(None),
        }
    }

    // One DescribeNatGateways per 200 ids (`Call::describe_many`).
    async fn read_many(
        cx: &Call<'_, Ec2>,
        items: &[(String, Self)],
    ) -> Result<Vec<Option<Live<Self>>>, ProviderError> {
        let found = cx
            .describe_many(
                "DescribeNatGateways",
                items.iter().map(|(id, _)| id.as_str()),
                |c, ids| {
                    c.describe_nat_gateways()
                        .filter(filter("nat-gateway-id", ids))
                        .into_paginator()
                        .send()
                },
                |page| {
                    page.nat_gateways()
                        .iter()
                        .filter_map(|n| Some((n.nat_gateway_id()?.to_string(), n.clone())))
                        .collect()
                },
            )
            .await?;
        Ok(items
            .iter()
            .map(|(id, _)| found.get(id).and_then(|n| live(cx, id, n)))
            .collect())
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        cx.update_tags(id, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        cx.send("DeleteNatGateway", |c| {
            c.delete_nat_gateway().nat_gateway_id(id).send()
        })
        .await?;
        // The Elastic IP and the subnet stay in use until the gateway is
        // deleted; just after the call it may still show its old state.
        Wait::new("NAT gateway", &["deleting", "available", "pending"], &[])
            .until_gone(cx.settings(), || async {
                Ok(match describe(cx, id).await? {
                    Some(n) if n.state() != Some(&NatGatewayState::Deleted) => {
                        Seen::State(state(&n), ())
                    }
                    _ => Seen::<()>::Gone,
                })
            })
            .await
    }

    async fn find(&self, cx: &Call<'_, Ec2>) -> Result<Vec<String>, ProviderError> {
        let out = cx
            .send("DescribeNatGateways", |c| {
                c.describe_nat_gateways().filter(cx.urn_filter()).send()
            })
            .await?;
        // Deleted gateways stay listed, with the same URN tag, for a while.
        Ok(out
            .nat_gateways()
            .iter()
            .filter(|g| !gone(g.state()))
            .filter_map(|g| g.nat_gateway_id().map(str::to_string))
            .collect())
    }
}

/// A described gateway as read; `None` once it is deleting or deleted.
fn live(
    cx: &Call<'_, Ec2>,
    id: &str,
    n: &aws_sdk_ec2::types::NatGateway,
) -> Option<Live<NatGateway>> {
    if gone(n.state()) {
        return None;
    }
    let primary = n
        .nat_gateway_addresses()
        .iter()
        .find(|a| a.is_primary().unwrap_or(true));
    let allocation_id = primary.and_then(|a| a.allocation_id());
    let args = NatGateway {
        allocation_id: allocation_id.map(|a| Input::Value(a.into())),
        subnet_id: Input::Value(n.subnet_id().unwrap_or_default().into()),
        connectivity_type: n
            .connectivity_type()
            .map_or("public", |c| c.as_str())
            .into(),
        tags: cx.own_tags(&from_tags(n.tags())),
    };
    let outputs = json!({
        "id": id,
        "allocation_id": allocation_id,
        "subnet_id": n.subnet_id(),
        "vpc_id": n.vpc_id(),
        "connectivity_type": n.connectivity_type().map(|c| c.as_str()),
        "network_interface_id": primary.and_then(|a| a.network_interface_id()),
        "private_ip": primary.and_then(|a| a.private_ip()),
        "public_ip": primary.and_then(|a| a.public_ip()),
        "association_id": primary.and_then(|a| a.association_id()),
    });
    Some(Live { args, outputs })
}

async fn describe(
    cx: &Call<'_, Ec2>,
    id: &str,
) -> Result<Option<aws_sdk_ec2::types::NatGateway>, ProviderError> {
    let out = cx
        .find("DescribeNatGateways", |c| {
            c.describe_nat_gateways().nat_gateway_ids(id).send()
        })
        .await?;
    Ok(out.and_then(|o| o.nat_gateways().first().cloned()))
}

fn state(n: &aws_sdk_ec2::types::NatGateway) -> String {
    n.state().map_or("pending", |s| s.as_str()).to_string()
}

fn gone(state: Option<&NatGatewayState>) -> bool {
    matches!(
        state,
        Some(NatGatewayState::Deleted | NatGatewayState::Deleting)
    )
}
