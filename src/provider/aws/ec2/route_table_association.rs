//! `aws:ec2/RouteTableAssociation` (Terraform `aws_route_table_association`):
//! a subnet's or a gateway's (edge association) route table.
//!
//! Its id is the association id made by the create. Moving to another table
//! (ReplaceRouteTableAssociation) gives the association a new id while the
//! engine keeps the recorded one, so the association is looked up by what
//! names it for good: the declared table and subnet (or gateway), which has
//! at most one association. Its current id is the `id` output.

use async_trait::async_trait;
use aws_sdk_ec2::types::RouteTableAssociationStateCode as StateCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::route_table::{check_any_id, describe, describe_many};
use super::Ec2;
use crate::model::{Input, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::validate::check_id;
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

type Association = aws_sdk_ec2::types::RouteTableAssociation;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteTableAssociation {
    pub route_table_id: Input<String>,
    pub subnet_id: Option<Input<String>>,
    /// An internet or virtual private gateway (edge association).
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
            ..Default::default()
        }
    }

    /// Associates a gateway with a route table.
    pub fn gateway(
        route_table_id: impl Into<Input<String>>,
        gateway_id: impl Into<Input<String>>,
    ) -> Self {
        RouteTableAssociation {
            route_table_id: route_table_id.into(),
            gateway_id: Some(gateway_id.into()),
            ..Default::default()
        }
    }

    /// The associated subnet or gateway at apply time: (is a subnet, id).
    fn member(&self) -> Result<(bool, &str), ProviderError> {
        match (&self.subnet_id, &self.gateway_id) {
            (Some(s), _) => Ok((true, s.require("subnet_id")?)),
            (None, Some(g)) => Ok((false, g.require("gateway_id")?)),
            (None, None) => Err(ProviderError::invalid(
                "subnet_id",
                "(unset)",
                "set exactly one of subnet_id and gateway_id",
            )),
        }
    }

    /// This association as it is now on the declared table; `None` when the
    /// table is gone or the subnet (gateway) is not associated with it.
    async fn current(&self, cx: &Call<'_, Ec2>) -> Result<Option<Association>, ProviderError> {
        let (subnet, member) = self.member()?;
        let table = self.route_table_id.require("route_table_id")?;
        Ok(describe(cx, table)
            .await?
            .and_then(|t| on_table(&t, subnet, member)))
    }

    /// Waits until the new association is `associated`. Right after the call
    /// it may not be listed yet: that is not final within the grace.
    async fn wait_associated(&self, cx: &Call<'_, Ec2>) -> Result<(), ProviderError> {
        Wait::new("route table association", &["associating"], &["associated"])
            .after_create()
            .until(cx.settings(), || async {
                Ok(match self.current(cx).await? {
                    Some(a) => Seen::State(state(&a).to_string(), ()),
                    None => Seen::Gone,
                })
            })
            .await
    }
}

impl ResourceArgs for RouteTableAssociation {
    const TYPE: &'static str = "aws:ec2/RouteTableAssociation";
}

fn state(a: &Association) -> &str {
    a.association_state()
        .and_then(|s| s.state())
        .map_or("associated", |s| s.as_str())
}

/// The live association of the subnet (`subnet`) or gateway `member` on
/// table `t`.
fn on_table(t: &aws_sdk_ec2::types::RouteTable, subnet: bool, member: &str) -> Option<Association> {
    t.associations()
        .iter()
        .find(|a| {
            let id = if subnet {
                a.subnet_id()
            } else {
                a.gateway_id()
            };
            id == Some(member)
                && !matches!(
                    a.association_state().and_then(|s| s.state()),
                    Some(StateCode::Disassociated | StateCode::Disassociating)
                )
        })
        .cloned()
}

/// An association as read.
fn live(a: &Association) -> Live<RouteTableAssociation> {
    let args = RouteTableAssociation {
        route_table_id: a.route_table_id().unwrap_or_default().to_string().into(),
        subnet_id: a.subnet_id().map(|s| s.to_string().into()),
        gateway_id: a.gateway_id().map(|s| s.to_string().into()),
    };
    let outputs = json!({
        "id": a.route_table_association_id(),
        "route_table_id": a.route_table_id(),
        "state": state(a),
    });
    Live { args, outputs }
}

fn association_id(a: &Association) -> Result<String, ProviderError> {
    a.route_table_association_id()
        .map(str::to_string)
        .ok_or_else(|| ProviderError::Fatal("the association has no id".into()))
}

#[async_trait]
impl AwsResource for RouteTableAssociation {
    type Service = Ec2;
    const SCHEMA: Schema = Schema {
        force_new: &["subnet_id", "gateway_id"],
        computed_on_update: &["id", "route_table_id", "state"],
        terraform: &[Tf {
            resource: "aws_route_table_association",
            args: &[
                ("route_table_id", "route_table_id"),
                ("subnet_id", "subnet_id"),
                ("gateway_id", "gateway_id"),
            ],
            // A gateway's is `{gateway_id}/{route_table_id}`.
            import_id: "{subnet_id}/{route_table_id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_id("route_table_id", &self.route_table_id, "rtb")?;
        match (&self.subnet_id, &self.gateway_id) {
            (Some(s), None) => check_id("subnet_id", s, "subnet"),
            (None, Some(g)) => check_any_id("gateway_id", g, &["igw", "vgw"]),
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

    async fn create(&self, cx: &Call<'_, Ec2>) -> Result<String, ProviderError> {
        let table = self.route_table_id.require("route_table_id")?;
        let (subnet, member) = self.member()?;
        // A table or subnet made moments ago may not be visible to this call yet.
        let out = cx
            .send_retrying("AssociateRouteTable", &[Retry::NEW_OBJECT], |c| {
                let req = c.associate_route_table().route_table_id(table);
                if subnet {
                    req.subnet_id(member)
                } else {
                    req.gateway_id(member)
                }
                .send()
            })
            .await?;
        out.association_id()
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("AssociateRouteTable returned no association id"))
    }

    async fn after_create(&self, cx: &Call<'_, Ec2>, _id: &str) -> Result<(), ProviderError> {
        self.wait_associated(cx).await
    }

    async fn read(
        cx: &Call<'_, Ec2>,
        _id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        Ok(declared.current(cx).await?.as_ref().map(live))
    }

    // One DescribeRouteTables per 200 declared tables and page
    // (`describe_many`): an association is read through its table.
    async fn read_many(
        cx: &Call<'_, Ec2>,
        items: &[(String, Self)],
    ) -> Result<Vec<Option<Live<Self>>>, ProviderError> {
        let mut keys = Vec::with_capacity(items.len());
        for (_, declared) in items {
            let (subnet, member) = declared.member()?;
            let table = declared.route_table_id.require("route_table_id")?;
            keys.push((table.as_str(), subnet, member));
        }
        let tables = describe_many(cx, keys.iter().map(|(t, _, _)| *t)).await?;
        Ok(keys
            .iter()
            .map(|(table, subnet, member)| {
                let a = on_table(tables.get(*table)?, *subnet, member)?;
                Some(live(&a))
            })
            .collect())
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        if old.route_table_id == self.route_table_id {
            return Ok(());
        }
        let cur = match old.current(cx).await? {
            Some(a) => association_id(&a)?,
            None => id.to_string(),
        };
        let table = self.route_table_id.require("route_table_id")?;
        cx.send("ReplaceRouteTableAssociation", |c| {
            c.replace_route_table_association()
                .association_id(&cur)
                .route_table_id(table)
                .send()
        })
        .await?;
        // The moved association has a new id, not yet visible everywhere.
        self.wait_associated(cx).await
    }

    async fn delete(&self, cx: &Call<'_, Ec2>, _id: &str) -> Result<(), ProviderError> {
        let Some(a) = self.current(cx).await? else {
            return Ok(());
        };
        let cur = association_id(&a)?;
        cx.send("DisassociateRouteTable", |c| {
            c.disassociate_route_table().association_id(&cur).send()
        })
        .await
        .map(drop)
    }

    /// Associations carry no tags: the association of the declared subnet
    /// or gateway with the declared table is the one an interrupted create made.
    async fn find(&self, cx: &Call<'_, Ec2>) -> Result<Vec<String>, ProviderError> {
        if self.route_table_id.known().is_none() || self.member().is_err() {
            return Ok(Vec::new());
        }
        self.current(cx)
            .await?
            .map(|a| association_id(&a))
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: serde_json::Value) -> Result<(), ProviderError> {
        serde_json::from_value::<RouteTableAssociation>(v)
            .unwrap()
            .check()
    }

    #[test]
    fn exactly_one_of_subnet_and_gateway() {
        let both =
            json!({"route_table_id": "rtb-1", "subnet_id": "subnet-1", "gateway_id": "igw-1"});
        let e = check(both).unwrap_err().to_string();
        assert!(e.contains("subnet_id") && e.contains("gateway_id"), "{e}");
        assert!(check(json!({"route_table_id": "rtb-1"})).is_err());
        let e = check(json!({"route_table_id": "rtb-1", "gateway_id": "nat-1"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nat-1"), "{e}");
        assert!(
            check(json!({"route_table_id": {"$unknown": true}, "subnet_id": "subnet-1"})).is_ok()
        );
    }
}
