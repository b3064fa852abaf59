//! `aws:ec2/RouteTableAssociation` (Terraform `aws_route_table_association`):
//! a subnet's or a gateway's (edge association) route table.
//!
//! Its id is the association id. Moving to another table
//! (ReplaceRouteTableAssociation) makes AWS issue a new association id while
//! the engine keeps the id it recorded at create, so the current association
//! id is the `id` output, and every call uses that output when present.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_ec2::types::RouteTableAssociationStateCode as StateCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::route_table::{check_id, filter, known};
use crate::model::{Input, ResourceArgs};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteTableAssociation {
    pub route_table_id: Input<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<Input<String>>,
    /// An internet or virtual private gateway (edge association).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<Input<String>>,
}

impl RouteTableAssociation {
    /// Associates a subnet with a route table.
    pub fn new(
        route_table_id: impl Into<Input<String>>,
        subnet_id: impl Into<Input<String>>,
    ) -> Self {
        RouteTableAssociation {
            route_table_id: route_table_id.into(),
            subnet_id: Some(subnet_id.into()),
            gateway_id: None,
        }
    }

    /// Associates a gateway with a route table.
    pub fn gateway(
        route_table_id: impl Into<Input<String>>,
        gateway_id: impl Into<Input<String>>,
    ) -> Self {
        RouteTableAssociation {
            route_table_id: route_table_id.into(),
            subnet_id: None,
            gateway_id: Some(gateway_id.into()),
        }
    }
}

impl ResourceArgs for RouteTableAssociation {
    const TYPE: &'static str = "aws:ec2/RouteTableAssociation";
}

/// The association id to use: the `id` output (current) or the recorded id.
fn current_id<'a>(id: &'a str, outputs: &'a Value) -> &'a str {
    outputs
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(id)
}

pub struct RouteTableAssociationProvider {
    aws: Arc<Aws>,
}

impl RouteTableAssociationProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        RouteTableAssociationProvider { aws }
    }

    /// The association `id`, if it exists and is not disassociated.
    async fn describe(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<Option<aws_sdk_ec2::types::RouteTableAssociation>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        let out = match self
            .aws
            .ec2()
            .await
            .describe_route_tables()
            .filters(filter("association.route-table-association-id", id))
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => {
                return match error::map(&ctx.urn, "DescribeRouteTables", e) {
                    ProviderError::NotFound(_) => Ok(None),
                    other => Err(other),
                }
            }
        };
        Ok(out
            .route_tables()
            .iter()
            .flat_map(|t| t.associations())
            .find(|a| a.route_table_association_id() == Some(id))
            .filter(|a| {
                !matches!(
                    a.association_state().and_then(|s| s.state()),
                    Some(StateCode::Disassociated | StateCode::Disassociating)
                )
            })
            .cloned())
    }

    /// Waits until the association is `associated`; fails on `failed` or at the timeout.
    async fn wait_associated(&self, ctx: &Ctx, id: &str) -> Result<(), ProviderError> {
        let s = &self.aws.settings;
        let deadline = Instant::now() + s.wait_timeout;
        loop {
            let state = self
                .describe(ctx, id)
                .await?
                .and_then(|a| a.association_state().and_then(|s| s.state()).cloned());
            match state {
                None | Some(StateCode::Associated) => return Ok(()),
                Some(StateCode::Failed) => {
                    return Err(ProviderError::Fatal(format!(
                        "{}: route table association {id} is in state failed",
                        ctx.urn
                    )))
                }
                Some(other) if Instant::now() >= deadline => {
                    return Err(ProviderError::Fatal(format!(
                        "{}: route table association {id} still {} after {:?}",
                        ctx.urn,
                        other.as_str(),
                        s.wait_timeout
                    )))
                }
                Some(_) => tokio::time::sleep(s.poll_interval).await,
            }
        }
    }

    fn outputs(a: &aws_sdk_ec2::types::RouteTableAssociation) -> Value {
        json!({
            "id": a.route_table_association_id(),
            "route_table_id": a.route_table_id(),
            "state": a.association_state().and_then(|s| s.state()).map(|s| s.as_str()),
        })
    }

    fn live_view(a: &aws_sdk_ec2::types::RouteTableAssociation) -> RouteTableAssociation {
        RouteTableAssociation {
            route_table_id: Input::Value(a.route_table_id().unwrap_or_default().to_string()),
            subnet_id: a.subnet_id().map(|s| Input::Value(s.to_string())),
            gateway_id: a.gateway_id().map(|s| Input::Value(s.to_string())),
        }
    }

    async fn after_change(&self, ctx: &Ctx, id: &str, op: &str) -> Result<Value, ProviderError> {
        self.wait_associated(ctx, id).await?;
        let a = self.describe(ctx, id).await?.ok_or_else(|| {
            ProviderError::Fatal(format!(
                "{}: association {id} not found after {op}",
                ctx.urn
            ))
        })?;
        Ok(Self::outputs(&a))
    }
}

#[async_trait]
impl Provider for RouteTableAssociationProvider {
    fn type_name(&self) -> &'static str {
        RouteTableAssociation::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["subnet_id", "gateway_id"]
    }

    fn outputs_changed_by_update(&self) -> &'static [&'static str] {
        &["id", "route_table_id", "state"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ec2", 20))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let a: RouteTableAssociation = parse(inputs)?;
        check_id("route_table_id", &a.route_table_id, &["rtb-"])?;
        match (&a.subnet_id, &a.gateway_id) {
            (Some(s), None) => check_id("subnet_id", s, &["subnet-"]),
            (None, Some(g)) => check_id("gateway_id", g, &["igw-", "vgw-"]),
            (s, g) => Err(ProviderError::invalid(
                "subnet_id",
                format!(
                    "subnet_id {}, gateway_id {}",
                    if s.is_some() { "set" } else { "unset" },
                    if g.is_some() { "set" } else { "unset" }
                ),
                "set exactly one of subnet_id and gateway_id",
            )),
        }
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let a: RouteTableAssociation = parse(inputs)?;
        let subnet = a
            .subnet_id
            .as_ref()
            .map(|s| known(ctx, "subnet_id", s))
            .transpose()?;
        let gateway = a
            .gateway_id
            .as_ref()
            .map(|s| known(ctx, "gateway_id", s))
            .transpose()?;
        self.aws.limits.ec2_mutating.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .associate_route_table()
            .route_table_id(known(ctx, "route_table_id", &a.route_table_id)?)
            .set_subnet_id(subnet.map(str::to_string))
            .set_gateway_id(gateway.map(str::to_string))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "AssociateRouteTable", e))?;
        let id = out
            .association_id()
            .ok_or_else(|| {
                ProviderError::Fatal(format!(
                    "{}: AssociateRouteTable returned no association id",
                    ctx.urn
                ))
            })?
            .to_string();
        let outputs = self.after_change(ctx, &id, "AssociateRouteTable").await?;
        Ok(Created { id, outputs })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(a) = self.describe(ctx, current_id(id, outputs)).await? else {
            return Ok(None);
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(Self::live_view(&a)).expect("serializable"),
            outputs: Self::outputs(&a),
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
        let (o, n): (RouteTableAssociation, RouteTableAssociation) =
            (parse(old_inputs)?, parse(new_inputs)?);
        let cur = current_id(id, old_outputs);
        if o.route_table_id == n.route_table_id {
            return self.after_change(ctx, cur, "update").await;
        }
        self.aws.limits.ec2_mutating.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .replace_route_table_association()
            .association_id(cur)
            .route_table_id(known(ctx, "route_table_id", &n.route_table_id)?)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "ReplaceRouteTableAssociation", e))?;
        let new_id = out.new_association_id().unwrap_or(cur).to_string();
        self.after_change(ctx, &new_id, "ReplaceRouteTableAssociation")
            .await
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        outputs: &Value,
    ) -> Result<(), ProviderError> {
        self.aws.limits.ec2_mutating.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .disassociate_route_table()
            .association_id(current_id(id, outputs))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match error::map(&ctx.urn, "DisassociateRouteTable", e) {
                ProviderError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Associations carry no tags: the association of the declared subnet
    /// or gateway with the declared table is the one an interrupted create made.
    async fn find_by_urn(&self, ctx: &Ctx, inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        let a: RouteTableAssociation = parse(inputs)?;
        let Some(table) = a.route_table_id.known() else {
            return Ok(Vec::new());
        };
        let subnet = a.subnet_id.as_ref().and_then(Input::known);
        let gateway = a.gateway_id.as_ref().and_then(Input::known);
        if subnet.is_none() && gateway.is_none() {
            return Ok(Vec::new());
        }
        self.aws.limits.ec2_describe.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .describe_route_tables()
            .route_table_ids(table)
            .send()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                return match error::map(&ctx.urn, "DescribeRouteTables", e) {
                    ProviderError::NotFound(_) => Ok(Vec::new()),
                    other => Err(other),
                }
            }
        };
        Ok(out
            .route_tables()
            .iter()
            .flat_map(|t| t.associations())
            .filter(|x| {
                x.subnet_id() == subnet.map(String::as_str)
                    && x.gateway_id() == gateway.map(String::as_str)
                    && !matches!(
                        x.association_state().and_then(|s| s.state()),
                        Some(StateCode::Disassociated | StateCode::Disassociating)
                    )
            })
            .map(|x| Created {
                id: x
                    .route_table_association_id()
                    .unwrap_or_default()
                    .to_string(),
                outputs: Self::outputs(x),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_of_subnet_and_gateway() {
        let p = RouteTableAssociationProvider::new(Arc::new(Aws::new(Default::default())));
        let both =
            json!({"route_table_id": "rtb-1", "subnet_id": "subnet-1", "gateway_id": "igw-1"});
        let e = p.validate(&both).unwrap_err().to_string();
        assert!(e.contains("subnet_id") && e.contains("gateway_id"), "{e}");
        assert!(p.validate(&json!({"route_table_id": "rtb-1"})).is_err());
        let e = p
            .validate(&json!({"route_table_id": "rtb-1", "gateway_id": "nat-1"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nat-1"), "{e}");
        assert!(p
            .validate(&json!({"route_table_id": {"$unknown": true}, "subnet_id": "subnet-1"}))
            .is_ok());
    }
}
