//! `aws:ec2/Route` (Terraform `aws_route`): one IPv4 route in a route table.
//! Its id is `<route table id>_<destination cidr>`, as Terraform's. Routes
//! carry no tags, so adoption after an interrupted create looks the route up
//! by that deterministic id.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::route_table::{check_any_id, describe, describe_many};
use super::Ec2;
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::validate::{check_cidr, check_id};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Route {
    pub route_table_id: Input<String>,
    /// IPv4 destination, e.g. `0.0.0.0/0`.
    pub destination_cidr_block: String,
    /// Internet gateway (`igw-`) or virtual private gateway (`vgw-`).
    pub gateway_id: Option<Input<String>>,
    pub nat_gateway_id: Option<Input<String>>,
    pub egress_only_gateway_id: Option<Input<String>>,
    pub transit_gateway_id: Option<Input<String>>,
    pub vpc_peering_connection_id: Option<Input<String>>,
    pub network_interface_id: Option<Input<String>>,
    /// Gateway Load Balancer endpoint (`vpce-`).
    pub vpc_endpoint_id: Option<Input<String>>,
    pub carrier_gateway_id: Option<Input<String>>,
}

/// A route target: field name, its value, the id prefixes it accepts.
type Target<'a> = (
    &'static str,
    &'a Option<Input<String>>,
    &'static [&'static str],
);

impl Route {
    /// A route through an internet (or virtual private) gateway.
    pub fn via_gateway(
        route_table_id: impl Into<Input<String>>,
        destination_cidr_block: &str,
        gateway_id: impl Into<Input<String>>,
    ) -> Self {
        Route {
            route_table_id: route_table_id.into(),
            destination_cidr_block: destination_cidr_block.into(),
            gateway_id: Some(gateway_id.into()),
            ..Default::default()
        }
    }

    /// A route through a NAT gateway.
    pub fn via_nat_gateway(
        route_table_id: impl Into<Input<String>>,
        destination_cidr_block: &str,
        nat_gateway_id: impl Into<Input<String>>,
    ) -> Self {
        Route {
            route_table_id: route_table_id.into(),
            destination_cidr_block: destination_cidr_block.into(),
            nat_gateway_id: Some(nat_gateway_id.into()),
            ..Default::default()
        }
    }

    /// (field, value, accepted id prefixes) of every target.
    fn targets(&self) -> [Target<'_>; 8] {
        [
            ("gateway_id", &self.gateway_id, &["igw", "vgw"]),
            ("nat_gateway_id", &self.nat_gateway_id, &["nat"]),
            (
                "egress_only_gateway_id",
                &self.egress_only_gateway_id,
                &["eigw"],
            ),
            ("transit_gateway_id", &self.transit_gateway_id, &["tgw"]),
            (
                "vpc_peering_connection_id",
                &self.vpc_peering_connection_id,
                &["pcx"],
            ),
            ("network_interface_id", &self.network_interface_id, &["eni"]),
            ("vpc_endpoint_id", &self.vpc_endpoint_id, &["vpce"]),
            ("carrier_gateway_id", &self.carrier_gateway_id, &["cagw"]),
        ]
    }

    /// The one declared target at apply time: (field, id).
    fn target(&self) -> Result<(&'static str, String), ProviderError> {
        let (field, v) = self
            .targets()
            .into_iter()
            .find_map(|(f, v, _)| v.as_ref().map(|v| (f, v)))
            .ok_or_else(|| ProviderError::invalid("gateway_id", "[]", "no route target"))?;
        Ok((field, v.require(field)?.clone()))
    }

    /// (table, destination) from the id, or from the declaration.
    fn key(&self, id: &str) -> Result<(String, String), ProviderError> {
        match id.split_once('_') {
            Some((t, c)) => Ok((t.to_string(), c.to_string())),
            None => Ok((
                self.route_table_id.require("route_table_id")?.clone(),
                self.destination_cidr_block.clone(),
            )),
        }
    }
}

impl ResourceArgs for Route {
    const TYPE: &'static str = "aws:ec2/Route";
}

impl Resource<Route> {
    pub fn state(&self) -> Output<String> {
        self.output("state")
    }
    pub fn origin(&self) -> Output<String> {
        self.output("origin")
    }
}

pub fn route_id(route_table_id: &str, cidr: &str) -> String {
    format!("{route_table_id}_{cidr}")
}

/// Sets the one target on a CreateRoute or ReplaceRoute builder.
macro_rules! with_target {
    ($req:expr, $field:expr, $id:expr) => {
        match $field {
            "gateway_id" => $req.gateway_id($id),
            "nat_gateway_id" => $req.nat_gateway_id($id),
            "egress_only_gateway_id" => $req.egress_only_internet_gateway_id($id),
            "transit_gateway_id" => $req.transit_gateway_id($id),
            "vpc_peering_connection_id" => $req.vpc_peering_connection_id($id),
            "network_interface_id" => $req.network_interface_id($id),
            "vpc_endpoint_id" => $req.vpc_endpoint_id($id),
            _ => $req.carrier_gateway_id($id),
        }
    };
}

/// The route to `cidr` in table `t` as read; `None` when it has none.
fn live(table: &str, cidr: &str, t: &aws_sdk_ec2::types::RouteTable) -> Option<Live<Route>> {
    let r = t
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some(cidr))?;
    let outputs = json!({
        "id": route_id(table, cidr),
        "route_table_id": table,
        "destination_cidr_block": cidr,
        "state": r.state().map(|s| s.as_str()),
        "origin": r.origin().map(|s| s.as_str()),
        "instance_id": r.instance_id(),
        "instance_owner_id": r.instance_owner_id(),
    });
    Some(Live {
        args: live_view(table, cidr, r),
        outputs,
    })
}

/// The declaration a live route answers to.
fn live_view(table: &str, cidr: &str, r: &aws_sdk_ec2::types::Route) -> Route {
    let s = |v: Option<&str>| v.map(|v| Input::Value(v.to_string()));
    // A Gateway Load Balancer endpoint shows up as a gateway id.
    let (gw, vpce) = match r.gateway_id() {
        Some(g) if g.starts_with("vpce-") => (None, Some(g)),
        Some("local") => (None, None),
        g => (g, None),
    };
    Route {
        route_table_id: Input::Value(table.to_string()),
        destination_cidr_block: cidr.to_string(),
        gateway_id: s(gw),
        nat_gateway_id: s(r.nat_gateway_id()),
        egress_only_gateway_id: s(r.egress_only_internet_gateway_id()),
        transit_gateway_id: s(r.transit_gateway_id()),
        vpc_peering_connection_id: s(r.vpc_peering_connection_id()),
        network_interface_id: s(r.network_interface_id()),
        vpc_endpoint_id: s(vpce),
        carrier_gateway_id: s(r.carrier_gateway_id()),
    }
}

#[async_trait]
impl AwsResource for Route {
    type Service = Ec2;
    const SCHEMA: Schema = Schema {
        force_new: &["route_table_id", "destination_cidr_block"],
        terraform: &[Tf {
            resource: "aws_route",
            args: &[
                ("route_table_id", "route_table_id"),
                ("destination_cidr_block", "destination_cidr_block"),
                ("gateway_id", "gateway_id"),
                ("nat_gateway_id", "nat_gateway_id"),
                ("egress_only_gateway_id", "egress_only_gateway_id"),
                ("transit_gateway_id", "transit_gateway_id"),
                ("vpc_peering_connection_id", "vpc_peering_connection_id"),
                ("network_interface_id", "network_interface_id"),
                ("vpc_endpoint_id", "vpc_endpoint_id"),
                ("carrier_gateway_id", "carrier_gateway_id"),
            ],
            import_id: "{route_table_id}_{destination_cidr_block}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_id("route_table_id", &self.route_table_id, "rtb")?;
        check_cidr(
            "destination_cidr_block",
            &self.destination_cidr_block,
            0..=32,
        )?;
        let set: Vec<&str> = self
            .targets()
            .iter()
            .filter(|(_, v, _)| v.is_some())
            .map(|(f, _, _)| *f)
            .collect();
        if set.len() != 1 {
            return Err(ProviderError::invalid(
                "gateway_id",
                format!("{set:?}"),
                "set exactly one target: gateway_id, nat_gateway_id, egress_only_gateway_id, \
                 transit_gateway_id, vpc_peering_connection_id, network_interface_id, \
                 vpc_endpoint_id or carrier_gateway_id",
            ));
        }
        self.targets()
            .iter()
            .filter_map(|(f, v, p)| v.as_ref().map(|v| check_any_id(f, v, p)))
            .collect()
    }

    async fn create(&self, cx: &Call<'_, Ec2>) -> Result<String, ProviderError> {
        let table = self.route_table_id.require("route_table_id")?;
        let cidr = &self.destination_cidr_block;
        let (field, target) = self.target()?;
        // The table (or the target) made moments ago may not be visible yet:
        // InvalidRouteTableID.NotFound is retried, as Terraform does.
        let out = cx
            .send_retrying("CreateRoute", &[Retry::NEW_OBJECT], |c| {
                let req = c
                    .create_route()
                    .route_table_id(table)
                    .destination_cidr_block(cidr);
                with_target!(req, field, &target).send()
            })
            .await?;
        if out.r#return() == Some(false) {
            return Err(cx.fatal(format!("CreateRoute {table} {cidr} returned false")));
        }
        Ok(route_id(table, cidr))
    }

    async fn read(
        cx: &Call<'_, Ec2>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let (table, cidr) = declared.key(id)?;
        Ok(describe(cx, &table)
            .await?
            .and_then(|t| live(&table, &cidr, &t)))
    }

    // One DescribeRouteTables per 200 tables and page (`describe_many`):
    // routes are read through their table.
    async fn read_many(
        cx: &Call<'_, Ec2>,
        items: &[(String, Self)],
    ) -> Result<Vec<Option<Live<Self>>>, ProviderError> {
        let keys = items
            .iter()
            .map(|(id, declared)| declared.key(id))
            .collect::<Result<Vec<_>, _>>()?;
        let tables = describe_many(cx, keys.iter().map(|(t, _)| t.as_str())).await?;
        Ok(keys
            .iter()
            .map(|(table, cidr)| tables.get(table).and_then(|t| live(table, cidr, t)))
            .collect())
    }

    async fn update(&self, _old: &Self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        // Only the target changes in place (table and destination force a replacement).
        let (table, cidr) = self.key(id)?;
        let (field, target) = self.target()?;
        cx.send("ReplaceRoute", |c| {
            let req = c
                .replace_route()
                .route_table_id(&table)
                .destination_cidr_block(&cidr);
            with_target!(req, field, &target).send()
        })
        .await
        .map(drop)
    }

    async fn delete(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        let (table, cidr) = self.key(id)?;
        cx.send("DeleteRoute", |c| {
            c.delete_route()
                .route_table_id(&table)
                .destination_cidr_block(&cidr)
                .send()
        })
        .await
        .map(drop)
    }

    /// Routes are not taggable: the route of the declared table and
    /// destination, if it has the declared target, is the one an interrupted
    /// create made.
    async fn find(&self, cx: &Call<'_, Ec2>) -> Result<Vec<String>, ProviderError> {
        let Some(table) = self.route_table_id.known() else {
            return Ok(Vec::new());
        };
        let id = route_id(table, &self.destination_cidr_block);
        Ok(match Self::read(cx, &id, self).await? {
            Some(live) if live.args == *self => vec![id],
            _ => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn check(v: Value) -> Result<(), ProviderError> {
        serde_json::from_value::<Route>(v).unwrap().check()
    }

    #[test]
    fn exactly_one_target() {
        let none = json!({"route_table_id": "rtb-1", "destination_cidr_block": "0.0.0.0/0"});
        assert!(check(none).unwrap_err().to_string().contains("[]"));
        let two = json!({"route_table_id": "rtb-1", "destination_cidr_block": "0.0.0.0/0",
            "gateway_id": "igw-1", "nat_gateway_id": "nat-1"});
        let e = check(two).unwrap_err().to_string();
        assert!(
            e.contains("gateway_id") && e.contains("nat_gateway_id"),
            "{e}"
        );
        let one = json!({"route_table_id": {"$unknown": true},
            "destination_cidr_block": "0.0.0.0/0", "nat_gateway_id": {"$unknown": true}});
        assert!(check(one).is_ok());
        let bad = json!({"route_table_id": "rtb-1", "destination_cidr_block": "0.0.0.0/0",
            "nat_gateway_id": "igw-1"});
        let e = check(bad).unwrap_err().to_string();
        assert!(e.contains("nat_gateway_id") && e.contains("igw-1"), "{e}");
        let vgw = json!({"route_table_id": "rtb-1", "destination_cidr_block": "10.0.0.0/8",
            "gateway_id": "vgw-1"});
        assert!(check(vgw).is_ok());
    }

    #[test]
    fn the_id_names_table_and_destination() {
        let r = Route::via_gateway("rtb-1", "0.0.0.0/0", "igw-1");
        assert_eq!(
            r.key("rtb-9_10.0.0.0/8").unwrap(),
            ("rtb-9".to_string(), "10.0.0.0/8".to_string())
        );
        assert_eq!(
            r.key("").unwrap(),
            ("rtb-1".to_string(), "0.0.0.0/0".to_string())
        );
        assert_eq!(r.target().unwrap(), ("gateway_id", "igw-1".to_string()));
    }
}
