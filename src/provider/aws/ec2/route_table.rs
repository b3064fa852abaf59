//! `aws:ec2/RouteTable` (Terraform `aws_route_table`, without inline routes:
//! routes are `aws:ec2/Route` resources, associations
//! `aws:ec2/RouteTableAssociation`).

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{from_tags, tag_spec, update_tags, urn_filter};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteTable {
    pub vpc_id: Input<String>,
    #[serde(default)]
    pub tags: Tags,
}

impl RouteTable {
    pub fn new(vpc_id: impl Into<Input<String>>) -> Self {
        RouteTable {
            vpc_id: vpc_id.into(),
            tags: Tags::new(),
        }
    }
}

impl ResourceArgs for RouteTable {
    const TYPE: &'static str = "aws:ec2/RouteTable";
}

impl Resource<RouteTable> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn owner_id(&self) -> Output<String> {
        self.output("owner_id")
    }
    pub fn vpc_id(&self) -> Output<String> {
        self.output("vpc_id")
    }
}

/// Checks that a known id starts with one of `prefixes` (e.g. `vpc-`).
pub(crate) fn check_id(
    field: &str,
    v: &Input<String>,
    prefixes: &[&str],
) -> Result<(), ProviderError> {
    if let Some(s) = v.known() {
        if !prefixes
            .iter()
            .any(|p| s.starts_with(p) && s.len() > p.len())
        {
            return Err(ProviderError::invalid(
                field,
                format!("{s:?}"),
                format!("expected an id starting with {}", prefixes.join(" or ")),
            ));
        }
    }
    Ok(())
}

/// The value of an input at apply time (every reference is resolved then).
pub(crate) fn known<'a>(
    ctx: &Ctx,
    field: &str,
    v: &'a Input<String>,
) -> Result<&'a str, ProviderError> {
    v.known().map(String::as_str).ok_or_else(|| {
        ProviderError::Fatal(format!("{}: {field} is not known at apply time", ctx.urn))
    })
}

/// `arn:<partition>:ec2:<region>:<account>:<what>/<id>`.
pub(crate) async fn ec2_arn(aws: &Aws, account: &str, what: &str, id: &str) -> String {
    let region = aws
        .config()
        .await
        .region()
        .map(|r| r.to_string())
        .unwrap_or_default();
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    format!("arn:{partition}:ec2:{region}:{account}:{what}/{id}")
}

/// One route table by id; `None` when it does not exist.
pub(crate) async fn describe_route_table(
    aws: &Aws,
    ctx: &Ctx,
    id: &str,
) -> Result<Option<aws_sdk_ec2::types::RouteTable>, ProviderError> {
    aws.limits.ec2_describe.acquire().await;
    match aws
        .ec2()
        .await
        .describe_route_tables()
        .route_table_ids(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.route_tables().first().cloned()),
        Err(e) => match error::map(&ctx.urn, "DescribeRouteTables", e) {
            ProviderError::NotFound(_) => Ok(None),
            other => Err(other),
        },
    }
}

pub struct RouteTableProvider {
    aws: Arc<Aws>,
}

impl RouteTableProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        RouteTableProvider { aws }
    }

    async fn outputs(&self, rt: &aws_sdk_ec2::types::RouteTable) -> Value {
        let id = rt.route_table_id().unwrap_or_default();
        let owner = rt.owner_id().unwrap_or_default();
        json!({
            "id": id,
            "arn": ec2_arn(&self.aws, owner, "route-table", id).await,
            "owner_id": owner,
            "vpc_id": rt.vpc_id(),
        })
    }
}

#[async_trait]
impl Provider for RouteTableProvider {
    fn type_name(&self) -> &'static str {
        RouteTable::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["vpc_id"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ec2", 20))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let v: RouteTable = parse(inputs)?;
        check_id("vpc_id", &v.vpc_id, &["vpc-"])?;
        tags::validate(&v.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let v: RouteTable = parse(inputs)?;
        self.aws.limits.ec2_mutating.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .create_route_table()
            .vpc_id(known(ctx, "vpc_id", &v.vpc_id)?)
            .tag_specifications(tag_spec(&self.aws, ctx, ResourceType::RouteTable, &v.tags))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateRouteTable", e))?;
        let rt = out.route_table().ok_or_else(|| {
            ProviderError::Fatal(format!(
                "{}: CreateRouteTable returned no route table",
                ctx.urn
            ))
        })?;
        Ok(Created {
            id: rt.route_table_id().unwrap_or_default().to_string(),
            outputs: self.outputs(rt).await,
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(rt) = describe_route_table(&self.aws, ctx, id).await? else {
            return Ok(None);
        };
        let live = RouteTable {
            vpc_id: rt.vpc_id().unwrap_or_default().to_string().into(),
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(rt.tags())),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: self.outputs(&rt).await,
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
        let (o, n): (RouteTable, RouteTable) = (parse(old_inputs)?, parse(new_inputs)?);
        update_tags(&self.aws, ctx, id, &o.tags, &n.tags).await?;
        match describe_route_table(&self.aws, ctx, id).await? {
            Some(rt) => Ok(self.outputs(&rt).await),
            None => Err(ProviderError::NotFound(format!(
                "{}: route table {id} disappeared during update",
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
            .delete_route_table()
            .route_table_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match error::map(&ctx.urn, "DeleteRouteTable", e) {
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
            .describe_route_tables()
            .filters(urn_filter(ctx))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeRouteTables", e))?;
        let mut found = Vec::new();
        for rt in out.route_tables() {
            found.push(Created {
                id: rt.route_table_id().unwrap_or_default().to_string(),
                outputs: self.outputs(rt).await,
            });
        }
        Ok(found)
    }
}

/// A `Filter` with one value.
pub(crate) fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vpc_id_shape_is_checked_and_unknown_accepted() {
        let p = RouteTableProvider::new(Arc::new(Aws::new(Default::default())));
        let e = p.validate(&json!({"vpc_id": "subnet-1"})).unwrap_err();
        assert!(e.to_string().contains("vpc_id") && e.to_string().contains("subnet-1"));
        assert!(p.validate(&json!({"vpc_id": {"$unknown": true}})).is_ok());
        assert!(p.validate(&json!({"vpc_id": "vpc-123"})).is_ok());
    }
}
