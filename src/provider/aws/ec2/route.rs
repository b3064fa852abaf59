//! `aws:ec2/Route` (Terraform `aws_route`): one IPv4 route in a route table.
//! Its id is `<route table id>_<destination cidr>`, as Terraform's. Routes
//! carry no tags, so adoption after an interrupted create looks the route up
//! by that deterministic id.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::route_table::{check_id, describe_route_table, known};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::validate::check_cidr;
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub route_table_id: Input<String>,
    /// IPv4 destination, e.g. `0.0.0.0/0`.
    pub destination_cidr_block: String,
    /// Internet gateway (`igw-`) or virtual private gateway (`vgw-`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<Input<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<Input<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_only_gateway_id: Option<Input<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit_gateway_id: Option<Input<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_peering_connection_id: Option<Input<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface_id: Option<Input<String>>,
    /// Gateway Load Balancer endpoint (`vpce-`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_endpoint_id: Option<Input<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_gateway_id: Option<Input<String>>,
}

/// A route target: field name, its value, the id prefixes it accepts.
type Target<'a> = (
    &'static str,
    &'a Option<Input<String>>,
    &'static [&'static str],
);

impl Route {
    fn bare(route_table_id: Input<String>, destination_cidr_block: &str) -> Self {
        Route {
            route_table_id,
            destination_cidr_block: destination_cidr_block.into(),
            gateway_id: None,
            nat_gateway_id: None,
            egress_only_gateway_id: None,
            transit_gateway_id: None,
            vpc_peering_connection_id: None,
            network_interface_id: None,
            vpc_endpoint_id: None,
            carrier_gateway_id: None,
        }
    }

    /// A route through an internet (or virtual private) gateway.
    pub fn via_gateway(
        route_table_id: impl Into<Input<String>>,
        destination_cidr_block: &str,
        gateway_id: impl Into<Input<String>>,
    ) -> Self {
        Route {
            gateway_id: Some(gateway_id.into()),
            ..Self::bare(route_table_id.into(), destination_cidr_block)
        }
    }

    /// A route through a NAT gateway.
    pub fn via_nat_gateway(
        route_table_id: impl Into<Input<String>>,
        destination_cidr_block: &str,
        nat_gateway_id: impl Into<Input<String>>,
    ) -> Self {
        Route {
            nat_gateway_id: Some(nat_gateway_id.into()),
            ..Self::bare(route_table_id.into(), destination_cidr_block)
        }
    }

    /// (field, value, accepted id prefixes) of every target.
    fn targets(&self) -> [Target<'_>; 8] {
        [
            ("gateway_id", &self.gateway_id, &["igw-", "vgw-"]),
            ("nat_gateway_id", &self.nat_gateway_id, &["nat-"]),
            (
                "egress_only_gateway_id",
                &self.egress_only_gateway_id,
                &["eigw-"],
            ),
            ("transit_gateway_id", &self.transit_gateway_id, &["tgw-"]),
            (
                "vpc_peering_connection_id",
                &self.vpc_peering_connection_id,
                &["pcx-"],
            ),
            (
                "network_interface_id",
                &self.network_interface_id,
                &["eni-"],
            ),
            ("vpc_endpoint_id", &self.vpc_endpoint_id, &["vpce-"]),
            ("carrier_gateway_id", &self.carrier_gateway_id, &["cagw-"]),
        ]
    }

    fn target_value(&self, ctx: &Ctx, field: &str) -> Result<Option<String>, ProviderError> {
        for (f, v, _) in self.targets() {
            if f == field {
                return match v {
                    Some(i) => Ok(Some(known(ctx, f, i)?.to_string())),
                    None => Ok(None),
                };
            }
        }
        Ok(None)
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

/// Builder calls shared by CreateRoute and ReplaceRoute.
macro_rules! with_target {
    ($req:expr, $r:expr, $ctx:expr) => {
        $req.set_gateway_id($r.target_value($ctx, "gateway_id")?)
            .set_nat_gateway_id($r.target_value($ctx, "nat_gateway_id")?)
            .set_egress_only_internet_gateway_id($r.target_value($ctx, "egress_only_gateway_id")?)
            .set_transit_gateway_id($r.target_value($ctx, "transit_gateway_id")?)
            .set_vpc_peering_connection_id($r.target_value($ctx, "vpc_peering_connection_id")?)
            .set_network_interface_id($r.target_value($ctx, "network_interface_id")?)
            .set_vpc_endpoint_id($r.target_value($ctx, "vpc_endpoint_id")?)
            .set_carrier_gateway_id($r.target_value($ctx, "carrier_gateway_id")?)
    };
}

pub struct RouteProvider {
    aws: Arc<Aws>,
}

impl RouteProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        RouteProvider { aws }
    }

    /// The live route of `table` to `cidr`; `None` when the table or the route is gone.
    async fn find(
        &self,
        ctx: &Ctx,
        table: &str,
        cidr: &str,
    ) -> Result<Option<aws_sdk_ec2::types::Route>, ProviderError> {
        let Some(rt) = describe_route_table(&self.aws, ctx, table).await? else {
            return Ok(None);
        };
        Ok(rt
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some(cidr))
            .cloned())
    }

    fn outputs(table: &str, cidr: &str, r: &aws_sdk_ec2::types::Route) -> Value {
        json!({
            "id": route_id(table, cidr),
            "route_table_id": table,
            "destination_cidr_block": cidr,
            "state": r.state().map(|s| s.as_str()),
            "origin": r.origin().map(|s| s.as_str()),
            "instance_id": r.instance_id(),
            "instance_owner_id": r.instance_owner_id(),
        })
    }

    fn live_view(table: &str, cidr: &str, r: &aws_sdk_ec2::types::Route) -> Route {
        let s = |v: Option<&str>| v.map(|v| Input::Value(v.to_string()));
        // A Gateway Load Balancer endpoint shows up as a gateway id.
        let (gw, vpce) = match r.gateway_id() {
            Some(g) if g.starts_with("vpce-") => (None, Some(g)),
            Some("local") => (None, None),
            g => (g, None),
        };
        Route {
            gateway_id: s(gw),
            nat_gateway_id: s(r.nat_gateway_id()),
            egress_only_gateway_id: s(r.egress_only_internet_gateway_id()),
            transit_gateway_id: s(r.transit_gateway_id()),
            vpc_peering_connection_id: s(r.vpc_peering_connection_id()),
            network_interface_id: s(r.network_interface_id()),
            vpc_endpoint_id: s(vpce),
            carrier_gateway_id: s(r.carrier_gateway_id()),
            ..Route::bare(Input::Value(table.to_string()), cidr)
        }
    }
}

#[async_trait]
impl Provider for RouteProvider {
    fn type_name(&self) -> &'static str {
        Route::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["route_table_id", "destination_cidr_block"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ec2", 20))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let r: Route = parse(inputs)?;
        check_id("route_table_id", &r.route_table_id, &["rtb-"])?;
        check_cidr("destination_cidr_block", &r.destination_cidr_block, 0..=32)?;
        let set: Vec<&str> = r
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
        for (f, v, prefixes) in r.targets() {
            if let Some(v) = v {
                check_id(f, v, prefixes)?;
            }
        }
        Ok(())
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let r: Route = parse(inputs)?;
        let table = known(ctx, "route_table_id", &r.route_table_id)?.to_string();
        let cidr = r.destination_cidr_block.clone();
        self.aws.limits.ec2_mutating.acquire().await;
        let req = self
            .aws
            .ec2()
            .await
            .create_route()
            .route_table_id(&table)
            .destination_cidr_block(&cidr);
        let out = with_target!(req, r, ctx)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateRoute", e))?;
        if out.r#return() == Some(false) {
            return Err(ProviderError::Fatal(format!(
                "{}: CreateRoute {table} {cidr} returned false",
                ctx.urn
            )));
        }
        let live = self.find(ctx, &table, &cidr).await?.ok_or_else(|| {
            ProviderError::Fatal(format!(
                "{}: route {cidr} not found in {table} after CreateRoute",
                ctx.urn
            ))
        })?;
        Ok(Created {
            id: route_id(&table, &cidr),
            outputs: Self::outputs(&table, &cidr, &live),
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        _id: &str,
        inputs: &Value,
        outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let table = outputs["route_table_id"].as_str().map(str::to_string);
        let cidr = outputs["destination_cidr_block"]
            .as_str()
            .map(str::to_string);
        let (table, cidr) = match (table, cidr) {
            (Some(t), Some(c)) => (t, c),
            _ => {
                let r: Route = parse(inputs)?;
                (
                    known(ctx, "route_table_id", &r.route_table_id)?.to_string(),
                    r.destination_cidr_block,
                )
            }
        };
        let Some(live) = self.find(ctx, &table, &cidr).await? else {
            return Ok(None);
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(Self::live_view(&table, &cidr, &live))
                .expect("serializable"),
            outputs: Self::outputs(&table, &cidr, &live),
        }))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _id: &str,
        _old_inputs: &Value,
        new_inputs: &Value,
        _old_outputs: &Value,
    ) -> Result<Value, ProviderError> {
        // Only the target changes in place (table and destination force a replacement).
        let r: Route = parse(new_inputs)?;
        let table = known(ctx, "route_table_id", &r.route_table_id)?.to_string();
        let cidr = r.destination_cidr_block.clone();
        self.aws.limits.ec2_mutating.acquire().await;
        let req = self
            .aws
            .ec2()
            .await
            .replace_route()
            .route_table_id(&table)
            .destination_cidr_block(&cidr);
        with_target!(req, r, ctx)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "ReplaceRoute", e))?;
        match self.find(ctx, &table, &cidr).await? {
            Some(live) => Ok(Self::outputs(&table, &cidr, &live)),
            None => Err(ProviderError::NotFound(format!(
                "{}: route {cidr} in {table} disappeared during update",
                ctx.urn
            ))),
        }
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        _id: &str,
        inputs: &Value,
        outputs: &Value,
    ) -> Result<(), ProviderError> {
        let r: Route = parse(inputs)?;
        let table = match outputs["route_table_id"].as_str() {
            Some(t) => t.to_string(),
            None => known(ctx, "route_table_id", &r.route_table_id)?.to_string(),
        };
        self.aws.limits.ec2_mutating.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .delete_route()
            .route_table_id(&table)
            .destination_cidr_block(&r.destination_cidr_block)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match error::map(&ctx.urn, "DeleteRoute", e) {
                ProviderError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Routes are not taggable: the route of the declared table and
    /// destination, if it exists with the declared target, is the one an
    /// interrupted create made.
    async fn find_by_urn(&self, ctx: &Ctx, inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        let r: Route = parse(inputs)?;
        let Some(table) = r.route_table_id.known() else {
            return Ok(Vec::new());
        };
        let cidr = &r.destination_cidr_block;
        let Some(live) = self.find(ctx, table, cidr).await? else {
            return Ok(Vec::new());
        };
        let view = Self::live_view(table, cidr, &live);
        if serde_json::to_value(&view).ok() != serde_json::to_value(&r).ok() {
            return Ok(Vec::new());
        }
        Ok(vec![Created {
            id: route_id(table, cidr),
            outputs: Self::outputs(table, cidr, &live),
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> RouteProvider {
        RouteProvider::new(Arc::new(Aws::new(Default::default())))
    }

    #[test]
    fn exactly_one_target() {
        let none = json!({"route_table_id": "rtb-1", "destination_cidr_block": "0.0.0.0/0"});
        assert!(p().validate(&none).unwrap_err().to_string().contains("[]"));
        let two = json!({"route_table_id": "rtb-1", "destination_cidr_block": "0.0.0.0/0",
            "gateway_id": "igw-1", "nat_gateway_id": "nat-1"});
        let e = p().validate(&two).unwrap_err().to_string();
        assert!(
            e.contains("gateway_id") && e.contains("nat_gateway_id"),
            "{e}"
        );
        let one = json!({"route_table_id": {"$unknown": true},
            "destination_cidr_block": "0.0.0.0/0", "nat_gateway_id": {"$unknown": true}});
        assert!(p().validate(&one).is_ok());
        let bad = json!({"route_table_id": "rtb-1", "destination_cidr_block": "0.0.0.0/0",
            "nat_gateway_id": "igw-1"});
        let e = p().validate(&bad).unwrap_err().to_string();
        assert!(e.contains("nat_gateway_id") && e.contains("igw-1"), "{e}");
    }
}
